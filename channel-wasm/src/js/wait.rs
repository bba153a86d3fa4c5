//! Waiting under a caller's control: an `AbortSignal` and a timeout race a
//! call's work, and a relay that cannot be reached because of its CORS
//! settings is told apart from one that is down.

use std::pin::pin;
use std::time::Duration;

use futures::future::{Either, select};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use channel_core::asynchronous::FromPeer;
use channel_http_proto::party::RelayReceiver;

use super::error::{Details, answers_without_cors, from_core, when_aborted};
use crate::FetchClient;

/// `work`, unless `signal` aborts first (then its reason) or `timeout`
/// passes first (then its error). A `work` that loses is dropped: callers
/// only guard what may stop at any point without losing anything.
pub(crate) async fn guarded<T>(
    signal: Option<&JsValue>,
    timeout: Option<(Duration, JsValue)>,
    work: impl Future<Output = Result<T, JsValue>>,
) -> Result<T, JsValue> {
    let aborted = async {
        match signal {
            Some(signal) => match JsFuture::from(when_aborted(signal)).await {
                Err(reason) => reason,
                Ok(value) => value,
            },
            None => futures::future::pending().await,
        }
    };
    let expired = async {
        match timeout {
            Some((after, error)) => {
                crate::fetch::sleep(after).await;
                error
            }
            None => futures::future::pending().await,
        }
    };
    let stop = async {
        match select(pin!(aborted), pin!(expired)).await {
            Either::Left((why, _)) | Either::Right((why, _)) => why,
        }
    };
    match select(pin!(work), pin!(stop)).await {
        Either::Left((result, _)) => result,
        Either::Right((why, _)) => Err(why),
    }
}

/// The next message from `rx`'s peer: the wait for it to begin is guarded
/// (nothing of it has been taken then); once it began it is received whole,
/// at most `max` bytes.
pub(crate) async fn receive(
    rx: &mut FromPeer<RelayReceiver<FetchClient>>,
    phase: &str,
    max: usize,
    signal: Option<&JsValue>,
    timeout: Option<(Duration, JsValue)>,
) -> Result<Vec<u8>, JsValue> {
    let p = rx.peer();
    let mut stream = guarded(signal, timeout, async {
        rx.recv_stream(phase).await.map_err(|e| from_core(&e))
    })
    .await?;
    let too_large = |size: u64| {
        from_core(&channel_core::Error::TooLarge {
            party: p,
            phase: phase.into(),
            size,
            limit: max,
        })
    };
    if let Some(declared) = stream.declared_len().filter(|&d| d > max as u64) {
        stream.skip_rest().await.map_err(|e| from_core(&e))?;
        return Err(too_large(declared));
    }
    let mut out = Vec::with_capacity(stream.declared_len().map_or(0, |d| d as usize));
    // Bounded by the message, which ends or exceeds `max`.
    while let Some(part) = stream.next_part().await.map_err(|e| from_core(&e))? {
        if out.len() + part.len() > max {
            let size = (out.len() + part.len()) as u64;
            stream.skip_rest().await.map_err(|e| from_core(&e))?;
            return Err(too_large(size));
        }
        out.extend_from_slice(&part);
    }
    Ok(out)
}

/// Asks the relay at `url` for its health once: a relay that does not
/// answer this page's origin, but answers a request made without CORS, is
/// a `ChannelError` of kind `"cors"` at once (instead of a minute of
/// retries and a vague network error). Anything else is left to the call,
/// which retries a relay that is down for a while.
pub(crate) async fn check_relay(url: &str) -> Result<(), JsValue> {
    let base = url.trim_end_matches('/');
    let health = format!("{base}/health");
    if gloo_net::http::Request::get(&health).send().await.is_ok() {
        return Ok(());
    }
    let answers = JsFuture::from(answers_without_cors(&health))
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if !answers {
        return Ok(());
    }
    let origin = js_sys::global()
        .dyn_into::<js_sys::Object>()
        .ok()
        .and_then(|g| js_sys::Reflect::get(&g, &"location".into()).ok())
        .and_then(|l| js_sys::Reflect::get(&l, &"origin".into()).ok())
        .and_then(|o| o.as_string())
        .unwrap_or_else(|| "this page's origin".into());
    Err(Details::kind("cors").error(&format!(
        "the relay at {base} answers, but not to {origin}: start it with --cors-origin {origin} \
         (a browser refuses a relay's answers to a page of another origin unless the relay allows it)"
    )))
}
