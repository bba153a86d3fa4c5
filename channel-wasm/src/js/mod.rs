//! The JavaScript-facing API: a `RelayChannel` class whose methods return
//! Promises, so a plain web page can take part without writing Rust.
//!
//! Every argument is checked before anything is sent: a wrong type rejects
//! the call's Promise with a `TypeError` (never a silent conversion), a
//! failure with a `ChannelError` (`kind`, `party`, `phase`, `status`; see
//! `js/channel_error.js`). The channel is kept as per-peer halves, each
//! behind its own lock, so a receive waiting for one party never holds up a
//! send, nor a receive from another party.

mod args;
mod codec;
mod error;
mod key;
mod wait;

use std::cell::RefCell;
use std::rc::Rc;

use futures::lock::Mutex;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use channel_core::asynchronous::{FromPeer, Split, ToPeer};
use channel_http_proto::party::{RelayReceiver, RelaySender};

use crate::{
    FetchClient, Invitation, PartyKey, PublicKey, RelayTransport, WasmChannel, WasmOptions,
};
use args::Options;
pub use codec::*;
use error::{Details, from_core, from_http, type_error};
pub use key::JsPartyKey;
use wait::guarded;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of RelayChannel.join. */
export interface JoinOptions {
  /** "auto" (the default: the WebSocket where it can be opened), "websocket" or "long-poll". */
  transport?: "auto" | "websocket" | "long-poll";
  /** How long a receive (and the join's wait for the other parties) waits, in ms (300000). */
  recvTimeoutMs?: number;
  /** How long failed requests to the relay are retried before giving up, in ms (60000). */
  retryForMs?: number;
  /** Stops the join. */
  signal?: AbortSignal;
}

/** Options of RelayChannel.invite. */
export interface InviteOptions {
  /** The relay's operator token, where session creation needs one. */
  operatorToken?: string;
  /** How long failed requests to the relay are retried, in ms (60000). */
  retryForMs?: number;
  signal?: AbortSignal;
}

/** Options of a send, a receive or a flush. */
export interface CallOptions {
  /** Stops the call while it waits to start (and a receive until its message begins). */
  signal?: AbortSignal;
  /** For a receive: how long to wait for the message to begin, in ms. */
  timeoutMs?: number;
}
"#;

type Sender = Rc<Mutex<ToPeer<RelaySender<FetchClient>>>>;
type Receiver = Rc<Mutex<FromPeer<RelayReceiver<FetchClient>>>>;

/// The halves of one party: per peer a sender and a receiver, each locked on
/// its own (`None` at the party's own index). `close` empties both lists:
/// the goodbye goes once the calls still running are done with theirs.
struct Halves {
    senders: RefCell<Vec<Option<Sender>>>,
    receivers: RefCell<Vec<Option<Receiver>>>,
}

impl Halves {
    fn sender(&self, p: usize) -> Result<Sender, JsValue> {
        self.senders
            .borrow()
            .get(p)
            .and_then(Option::clone)
            .ok_or_else(|| closed(p))
    }

    fn receiver(&self, p: usize) -> Result<Receiver, JsValue> {
        self.receivers
            .borrow()
            .get(p)
            .and_then(Option::clone)
            .ok_or_else(|| closed(p))
    }
}

/// One party of a relay session, for JavaScript, sealed end to end.
///
/// ```js
/// import init, { RelayChannel } from "./pkg/channel_wasm.js";
/// await init();
/// // The invitation comes from the application that coordinates the session;
/// // the key is this party's own (PartyKey.toHex()).
/// const ch = await RelayChannel.join(invitationText, privateKeyHex, { recvTimeoutMs: 60_000 });
/// await ch.send(1, new Uint8Array([1, 2, 3]), "round-1");
/// const bytes = await ch.recv(1, "round-1"); // Uint8Array
/// await ch.close();
/// ```
///
/// Joining runs the handshakes with every other party, so it resolves once all
/// of them have joined (or fails after `recvTimeoutMs`). It uses the relay's
/// WebSocket, or its HTTP routes where the WebSocket cannot be opened
/// (`transport` forces one; `ch.transport` says which one is used). Messages
/// of any size (up to 256 MiB) are chunked to the relay's limits. Sends and
/// receives with different parties, and a send and a receive with the same
/// party, run at the same time; calls in the same direction with the same
/// party are served in the order they were made.
#[wasm_bindgen]
pub struct RelayChannel {
    halves: Rc<Halves>,
    party: usize,
    parties: usize,
    transport: RelayTransport,
    max_message_size: usize,
}

#[wasm_bindgen]
impl RelayChannel {
    /// Joins the session of `invitation` (its text, `mpc-invitation-v1.…`)
    /// with this party's private key (64 hex digits, `PartyKey.toHex()`).
    #[wasm_bindgen(unchecked_return_type = "Promise<RelayChannel>")]
    pub fn join(
        #[wasm_bindgen(unchecked_param_type = "string")] invitation: JsValue,
        #[wasm_bindgen(js_name = privateKeyHex, unchecked_param_type = "string")]
        private_key_hex: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JoinOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            Self::join_with(
                &invitation,
                &private_key_hex,
                &options.unwrap_or(JsValue::UNDEFINED),
            )
            .await
            .map(JsValue::from)
        })
    }

    /// [`join`](Self::join) over `way` (`"websocket"`, `"long-poll"` or
    /// `"auto"`): the same as `join(invitation, key, { transport: way })`.
    #[wasm_bindgen(js_name = joinOver, unchecked_return_type = "Promise<RelayChannel>")]
    pub fn join_over(
        #[wasm_bindgen(unchecked_param_type = "string")] invitation: JsValue,
        #[wasm_bindgen(js_name = privateKeyHex, unchecked_param_type = "string")]
        private_key_hex: JsValue,
        #[wasm_bindgen(unchecked_param_type = "\"auto\" | \"websocket\" | \"long-poll\"")]
        way: JsValue,
    ) -> js_sys::Promise {
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"transport".into(), &way);
        Self::join(invitation, private_key_hex, Some(options.into()))
    }

    /// Creates a session on the relay at `relay_url` for the parties whose
    /// public keys are `public_keys` (party `i` at index `i`), and returns
    /// each party's invitation text, to hand to that party.
    #[wasm_bindgen(unchecked_return_type = "Promise<string[]>")]
    pub fn invite(
        #[wasm_bindgen(js_name = relayUrl, unchecked_param_type = "string")] relay_url: JsValue,
        #[wasm_bindgen(js_name = publicKeys, unchecked_param_type = "string[]")]
        public_keys: JsValue,
        #[wasm_bindgen(unchecked_param_type = "InviteOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let call = "RelayChannel.invite";
            let url = relay_url.as_string().ok_or_else(|| {
                type_error(&format!(
                    "{call}: the relay URL must be a string, got {}",
                    args::describe(&relay_url)
                ))
            })?;
            let keys = public_key_list(call, &public_keys)?;
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let options = Options::new(call, &options, &["operatorToken", "retryForMs", "signal"])?;
            let token = options.string("operatorToken")?;
            let mut wasm = WasmOptions::default();
            if let Some(retry) = options.millis("retryForMs")? {
                wasm.retry.give_up_after = retry;
            }
            let signal = options.signal()?;
            wait::check_relay(&url).await?;
            let invitations = guarded(signal.as_ref(), None, async {
                WasmChannel::invite(&url, &keys, token.as_deref(), &wasm)
                    .await
                    .map_err(|e| from_http(&e))
            })
            .await?;
            let texts = Array::new();
            for invitation in invitations {
                texts.push(&invitation.to_text().into());
            }
            Ok(texts.into())
        })
    }

    /// This party's index.
    #[wasm_bindgen(getter)]
    pub fn party(&self) -> usize {
        self.party
    }

    /// The number of parties.
    #[wasm_bindgen(getter)]
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How chunks travel: `"websocket"` or `"long-poll"`.
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> String {
        match self.transport {
            RelayTransport::LongPoll => "long-poll".into(),
            _ => "websocket".into(),
        }
    }

    /// Sends `bytes` (a `Uint8Array`, `ArrayBuffer`, `DataView` or typed
    /// array; a string is a `TypeError`) to `party` in `phase`. Resolves once
    /// the message is on its way (over the WebSocket: queued within the
    /// window; over long-polls: stored by the relay); a failure is reported
    /// by a later call or by [`flush`](Self::flush).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn send(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] party: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer | ArrayBufferView")]
        bytes: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] phase: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let (halves, me, parties) = (self.halves.clone(), self.party, self.parties);
        wasm_bindgen_futures::future_to_promise(async move {
            let call = "send";
            let p = args::peer(call, &party, me, parties)?;
            let msg = args::bytes(call, &bytes)?;
            let phase = args::phase(call, &phase)?;
            let options = Options::new(call, &options.unwrap_or(JsValue::UNDEFINED), &["signal"])?;
            let signal = options.signal()?;
            let half = halves.sender(p)?;
            // Abortable while it waits for the sends before it; once its
            // chunks are handed over, the message goes whole.
            let mut tx = guarded(signal.as_ref(), None, async { Ok(half.lock().await) }).await?;
            tx.send_bytes_owned(&phase, msg)
                .await
                .map_err(|e| from_core(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Receives the next message from `party` in `phase`, as a `Uint8Array`.
    /// `options.timeoutMs` bounds the wait for the message to begin (a
    /// `ChannelError` of kind `"timeout"`), as `options.signal` can stop it;
    /// once it began, the message is received whole.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn recv(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] party: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] phase: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let (halves, me, parties) = (self.halves.clone(), self.party, self.parties);
        let max = self.max_message_size;
        wasm_bindgen_futures::future_to_promise(async move {
            let call = "recv";
            let p = args::peer(call, &party, me, parties)?;
            let phase = args::phase(call, &phase)?;
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let options = Options::new(call, &options, &["signal", "timeoutMs"])?;
            let signal = options.signal()?;
            let timeout = options.millis("timeoutMs")?.map(|after| {
                let details = Details::kind("timeout").party(p as f64).phase(&phase);
                let message = format!(
                    "recv: no message from party {p} began in phase '{phase}' within {after:?}"
                );
                (after, details.error(&message))
            });
            let half = halves.receiver(p)?;
            let mut rx = guarded(signal.as_ref(), None, async { Ok(half.lock().await) }).await?;
            let bytes = wait::receive(&mut rx, &phase, max, signal.as_ref(), timeout).await?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Resolves once the relay stored everything sent so far (call it before
    /// the party's work ends).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let halves = self.halves.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let options =
                Options::new("flush", &options.unwrap_or(JsValue::UNDEFINED), &["signal"])?;
            let signal = options.signal()?;
            guarded(signal.as_ref(), None, flush_all(&halves)).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Flushes, then closes the channel: its peers' receives from this party
    /// fail at once after everything it sent (kind `"peer-gone"`), and every
    /// later call on it fails with kind `"closed"`. Calls still running
    /// finish first.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> js_sys::Promise {
        let halves = self.halves.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let flushed = flush_all(&halves).await;
            halves
                .senders
                .borrow_mut()
                .iter_mut()
                .for_each(|s| *s = None);
            halves
                .receivers
                .borrow_mut()
                .iter_mut()
                .for_each(|r| *r = None);
            flushed?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Every sending half flushed, one after the other.
async fn flush_all(halves: &Halves) -> Result<(), JsValue> {
    let senders: Vec<Sender> = halves.senders.borrow().iter().flatten().cloned().collect();
    for half in senders {
        half.lock().await.flush().await.map_err(|e| from_core(&e))?;
    }
    Ok(())
}

/// The error of a call after `close` (or for a party without a link).
fn closed(p: usize) -> JsValue {
    Details::kind("closed")
        .party(p as f64)
        .error(&format!("the channel to party {p} is closed"))
}

/// Public keys from a JavaScript array of hex strings.
fn public_key_list(call: &str, value: &JsValue) -> Result<Vec<PublicKey>, JsValue> {
    if !Array::is_array(value) {
        return Err(type_error(&format!(
            "{call}: the public keys must be an array of strings, got {}",
            args::describe(value)
        )));
    }
    Array::from(value)
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let text = key.as_string().ok_or_else(|| {
                type_error(&format!(
                    "{call}: public key {i} must be a string, got {}",
                    args::describe(&key)
                ))
            })?;
            text.parse::<PublicKey>().map_err(|e| {
                Details::kind("setup")
                    .party(i as f64)
                    .error(&format!("{call}: public key {i}: {e}"))
            })
        })
        .collect()
}

impl RelayChannel {
    /// What [`join`](Self::join) does, once its arguments are checked.
    async fn join_with(
        invitation: &JsValue,
        private_key_hex: &JsValue,
        options: &JsValue,
    ) -> Result<RelayChannel, JsValue> {
        let call = "RelayChannel.join";
        let text = invitation.as_string().ok_or_else(|| {
            type_error(&format!(
                "{call}: the invitation must be a string, got {}",
                args::describe(invitation)
            ))
        })?;
        let hex = private_key_hex.as_string().ok_or_else(|| {
            type_error(&format!(
                "{call}: the private key must be a string of 64 hex digits, got {}",
                args::describe(private_key_hex)
            ))
        })?;
        let options = Options::new(
            call,
            options,
            &["transport", "recvTimeoutMs", "retryForMs", "signal"],
        )?;
        let mut wasm = WasmOptions::default();
        if let Some(way) = options.string("transport")? {
            wasm.transport = match way.as_str() {
                "auto" => RelayTransport::Auto,
                "websocket" => RelayTransport::WebSocket,
                "long-poll" => RelayTransport::LongPoll,
                other => {
                    return Err(type_error(&format!(
                        "{call}: unknown transport '{other}': one of \"auto\", \"websocket\", \"long-poll\""
                    )));
                }
            };
        }
        if let Some(after) = options.millis("recvTimeoutMs")? {
            wasm.recv_timeout = after;
        }
        if let Some(retry) = options.millis("retryForMs")? {
            wasm.retry.give_up_after = retry;
        }
        let signal = options.signal()?;
        let invitation = Invitation::from_text(&text).map_err(|e| from_http(&e.into()))?;
        let key = PartyKey::from_hex(&hex).map_err(|e| from_http(&e.into()))?;
        wait::check_relay(&invitation.relay).await?;
        let ch = guarded(signal.as_ref(), None, async {
            WasmChannel::join(&invitation, &key, &wasm)
                .await
                .map_err(|e| from_http(&e))
        })
        .await?;
        let (party, parties, transport) = (ch.party(), ch.parties(), ch.transport());
        let max_message_size = channel_core::Channel::max_message_size(&ch);
        let peers = ch.split();
        let mut senders: Vec<Option<Sender>> = (0..parties).map(|_| None).collect();
        for tx in peers.senders {
            let p = tx.peer();
            if let Some(slot) = senders.get_mut(p) {
                *slot = Some(Rc::new(Mutex::new(tx)));
            }
        }
        let mut receivers: Vec<Option<Receiver>> = (0..parties).map(|_| None).collect();
        for rx in peers.receivers {
            let p = rx.peer();
            if let Some(slot) = receivers.get_mut(p) {
                *slot = Some(Rc::new(Mutex::new(rx)));
            }
        }
        Ok(RelayChannel {
            halves: Rc::new(Halves {
                senders: RefCell::new(senders),
                receivers: RefCell::new(receivers),
            }),
            party,
            parties,
            transport,
            max_message_size,
        })
    }
}
