//! The errors of the JavaScript API: a `ChannelError` (a JS `Error` subclass
//! defined in `js/channel_error.js`) with `kind`, `party`, `phase` and
//! `status`, and `TypeError`s for arguments of the wrong type.

use channel_core::ErrorKind;
use wasm_bindgen::prelude::*;

use crate::HttpError;

#[wasm_bindgen(module = "/js/channel_error.js")]
extern "C" {
    #[wasm_bindgen(js_name = channelError)]
    fn channel_error(
        message: &str,
        kind: &str,
        party: JsValue,
        phase: JsValue,
        status: JsValue,
    ) -> JsValue;
    #[wasm_bindgen(js_name = typeError)]
    fn type_error_js(message: &str) -> JsValue;
    /// A Promise that rejects with the signal's reason once it aborts.
    #[wasm_bindgen(js_name = whenAborted)]
    pub(crate) fn when_aborted(signal: &JsValue) -> js_sys::Promise;
    /// Whether a value is an `AbortSignal`.
    #[wasm_bindgen(js_name = isAbortSignal)]
    pub(crate) fn is_abort_signal(value: &JsValue) -> bool;
    /// Whether the relay answers a request made without CORS.
    #[wasm_bindgen(js_name = answersWithoutCors)]
    pub(crate) fn answers_without_cors(url: &str) -> js_sys::Promise;
}

/// What a `ChannelError` carries besides its message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Details {
    pub(crate) kind: &'static str,
    pub(crate) party: Option<f64>,
    pub(crate) phase: Option<String>,
    pub(crate) status: Option<u16>,
}

impl Details {
    pub(crate) fn kind(kind: &'static str) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    pub(crate) fn party(mut self, party: f64) -> Self {
        self.party = Some(party);
        self
    }

    pub(crate) fn phase(mut self, phase: &str) -> Self {
        self.phase = Some(phase.to_string());
        self
    }

    /// The `ChannelError` with these details and `message`.
    pub(crate) fn error(&self, message: &str) -> JsValue {
        channel_error(
            message,
            self.kind,
            self.party.map_or(JsValue::UNDEFINED, JsValue::from),
            self.phase
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from),
            self.status.map_or(JsValue::UNDEFINED, JsValue::from),
        )
    }
}

/// A `TypeError` for an argument of the wrong type.
pub(crate) fn type_error(message: &str) -> JsValue {
    type_error_js(message)
}

/// The `ChannelError` of a helper's failure (send, receive, flush).
pub(crate) fn from_core(e: &channel_core::Error) -> JsValue {
    let mut details = details_of(e);
    details.party = e.party().map(|p| p as f64);
    let phase = e.phase();
    details.phase = (!phase.is_empty()).then(|| phase.to_string());
    details.error(&channel_core::error_chain(e))
}

/// The `ChannelError` of a relay client's failure (joining, inviting).
pub(crate) fn from_http(e: &HttpError) -> JsValue {
    let mut details = details_of(e);
    details.party = e.party().map(|p| p as f64);
    details.error(&channel_core::error_chain(e))
}

/// The kind and HTTP status of `e`, from the first error in its chain that
/// tells them.
pub(crate) fn details_of(e: &(dyn std::error::Error + 'static)) -> Details {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded by the chain, which ends.
    while let Some(s) = source {
        if let Some(http) = s.downcast_ref::<HttpError>() {
            return http_details(http);
        }
        if let Some(core) = s.downcast_ref::<channel_core::Error>()
            && core.kind() != ErrorKind::Other
        {
            return Details::kind(kind_name(core.kind()));
        }
        if let Some(t) = s.downcast_ref::<channel_core::transport::TransportError>() {
            return Details::kind(kind_name(t.kind()));
        }
        source = s.source();
    }
    Details::kind("other")
}

fn http_details(e: &HttpError) -> Details {
    match e {
        HttpError::Transport(t) => Details::kind(kind_name(t.kind())),
        HttpError::Refused { status, .. } => Details {
            status: Some(*status),
            ..Details::kind("refused")
        },
        HttpError::GaveUp { .. } => Details::kind("unreachable"),
        HttpError::Replaced { .. } => Details::kind("replaced"),
        HttpError::ConflictingResend { .. } | HttpError::Undelivered { .. } => {
            Details::kind("broken")
        }
        HttpError::Protocol(_) => Details::kind("protocol"),
        // A set-up that never reached the relay gave up on a relay that is down.
        HttpError::Setup(why) if why.starts_with(channel_http_proto::ops::UNREACHABLE) => {
            Details::kind("unreachable")
        }
        HttpError::Setup(_) => Details::kind("setup"),
        HttpError::Seal(seal) => seal_details(seal),
        _ => Details::kind("other"),
    }
}

/// A sealing failure: what the transport beneath it says (a handshake that
/// timed out is a timeout), else a failure to authenticate or to start.
fn seal_details(e: &channel_seal::SealError) -> Details {
    use channel_seal::SealError;
    match e {
        SealError::Transport { source, .. } => {
            let inner = details_of(source.as_ref());
            if inner.kind == "other" {
                Details::kind("broken")
            } else {
                inner
            }
        }
        SealError::Setup(_) => Details::kind("setup"),
        SealError::Refused { .. } => Details::kind("refused"),
        _ => Details::kind("unauthentic"),
    }
}

/// The name of a kind in JavaScript.
pub(crate) fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "timeout",
        ErrorKind::PeerGone => "peer-gone",
        ErrorKind::BadParty => "bad-party",
        ErrorKind::QueueFull => "queue-full",
        ErrorKind::TooLarge => "too-large",
        ErrorKind::Malformed => "malformed",
        ErrorKind::Unauthentic => "unauthentic",
        ErrorKind::Aborted => "aborted",
        _ => "other",
    }
}
