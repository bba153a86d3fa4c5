//! The protocol of one lane between two parties, without I/O: what survives
//! reconnects (the chunks sent and not yet acknowledged, the next number
//! expected from the peer, who is done), and what each event means. A
//! transport's link task (e.g. channel-p2p's `link.rs`) reads and writes the
//! stream and feeds every frame and every chunk of the application through
//! here.
//!
//! The rules (see `wire.rs` for the frames):
//! - every stream starts with both sides' HELLO, carrying the next chunk number
//!   each expects and its lane count (which must agree);
//! - a sender numbers its DATA frames and keeps each until the peer's ACK (or
//!   a later HELLO) covers it, and resends the rest on every new stream;
//! - a receiver accepts the next number, acknowledges and drops a lower one (a
//!   resend), and refuses a higher one (a gap): channel-core's
//!   [`seq`](channel_core::transport::seq) rule;
//! - BYE goes out only once the application is done and everything it sent
//!   is acknowledged; the lane is finished when both sides said BYE.

use channel_core::transport::seq::{Arrival, Retained, SeqError, classify};

use crate::wire::{Frame, Payload};

/// A frame that breaks the protocol: the peer is not to be trusted further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The frame is out of place or its numbers are impossible.
    Malformed(String),
    /// The peer uses another number of lanes than this party.
    Lanes {
        /// The peer's lane count.
        theirs: u16,
    },
}

/// What a new stream starts with, once the peer's HELLO is in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resume {
    /// Bytes the HELLO acknowledged (the peer had them already).
    pub released: usize,
    /// Frames to send: every chunk still unacknowledged, then BYE if due.
    pub frames: Vec<Frame>,
}

/// What a frame from the peer brought.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// A chunk for the application.
    pub deliver: Option<Vec<u8>>,
    /// Bytes the frame acknowledged.
    pub released: usize,
    /// The peer said BYE just now (the first time): it sends nothing more,
    /// ever, so its application's channel is gone.
    pub goodbye: bool,
    /// The acknowledged chunks nothing else holds, for their memory to be
    /// reused.
    pub spent: Vec<Vec<u8>>,
}

/// One lane's protocol state.
#[derive(Debug)]
pub struct LinkState {
    lanes: u16,
    /// Chunks sent and not yet acknowledged, numbered.
    sent: Retained<Payload>,
    /// The number of the next chunk expected from the peer.
    next_recv: u64,
    app_done: bool,
    peer_done: bool,
    /// Whether this stream already carries our BYE.
    bye_queued: bool,
}

impl LinkState {
    /// A link of a party that uses `lanes` lanes per pair.
    pub fn new(lanes: u16) -> Self {
        Self {
            lanes,
            sent: Retained::default(),
            next_recv: 0,
            app_done: false,
            peer_done: false,
            bye_queued: false,
        }
    }

    /// Our HELLO for a new stream.
    pub fn hello(&mut self) -> Frame {
        // A new stream carries nothing yet, BYE included.
        self.bye_queued = false;
        Frame::Hello {
            next_expected: self.next_recv,
            lanes: self.lanes,
        }
    }

    /// The peer's first frame on a new stream: drops what it already has and
    /// returns what is to be (re)sent.
    pub fn on_hello(&mut self, frame: Frame) -> Result<Resume, Violation> {
        let next_expected = match frame {
            Frame::Hello {
                next_expected,
                lanes,
            } if lanes == self.lanes => next_expected,
            Frame::Hello { lanes, .. } => return Err(Violation::Lanes { theirs: lanes }),
            other => {
                return Err(Violation::Malformed(format!(
                    "expected HELLO, got {}",
                    describe(&other)
                )));
            }
        };
        let released = self
            .sent
            .ack_below(next_expected)
            .map_err(|e| Violation::Malformed(format!("its HELLO is impossible: {e}")))?;
        let mut frames: Vec<Frame> = self
            .sent
            .iter()
            .map(|(seq, payload)| Frame::Data {
                seq,
                payload: payload.clone(),
            })
            .collect();
        frames.extend(self.bye_if_due());
        Ok(Resume { released, frames })
    }

    /// Numbers and keeps a chunk of the application; returns its DATA frame.
    pub fn send(&mut self, chunk: Vec<u8>) -> Frame {
        let payload = Payload::new(chunk);
        let seq = self.sent.push(payload.clone());
        Frame::Data { seq, payload }
    }

    /// The application will send nothing more; BYE, if everything it sent is
    /// acknowledged already.
    pub fn app_finished(&mut self) -> Option<Frame> {
        self.app_done = true;
        self.bye_if_due()
    }

    /// Whether the application said it is done sending.
    pub fn is_app_done(&self) -> bool {
        self.app_done
    }

    /// A frame from the peer after the HELLOs; `out` gets the frames to answer with.
    pub fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<Received, Violation> {
        let mut received = Received::default();
        match frame {
            Frame::Data { seq, payload } => {
                match classify(self.next_recv, seq) {
                    Ok(Arrival::Next) => {
                        self.next_recv += 1;
                        received.deliver = Some(payload.into_vec());
                    }
                    // A resend of a chunk we have: acknowledge it again, drop it.
                    Ok(Arrival::Duplicate) => {}
                    Err(e) => return Err(Violation::Malformed(e.to_string())),
                }
                out.push(Frame::Ack { seq });
            }
            Frame::Ack { seq } => {
                received.released = self.acknowledged(seq, &mut received.spent)?;
                out.extend(self.bye_if_due());
            }
            Frame::Bye => {
                received.goodbye = !self.peer_done;
                self.peer_done = true;
            }
            // Its arrival is all it says (the link counts every byte heard).
            Frame::Ping => {}
            Frame::Hello { .. } => return Err(Violation::Malformed("a second HELLO".into())),
        }
        Ok(received)
    }

    /// Both sides are done and nothing is unacknowledged: the lane can close.
    pub fn finished(&self) -> bool {
        self.app_done && self.sent.is_empty() && self.peer_done
    }

    /// The peer acknowledged every chunk up to `seq`; their buffers go to
    /// `spent` where nothing else holds them.
    fn acknowledged(&mut self, seq: u64, spent: &mut Vec<Vec<u8>>) -> Result<usize, Violation> {
        let below = seq
            .checked_add(1)
            .ok_or_else(|| Violation::Malformed(format!("acknowledged chunk {seq}")))?;
        let keep = |chunk: Payload| spent.extend(chunk.try_into_vec());
        match self.sent.ack_below_each(below, keep) {
            Ok(released) => Ok(released),
            // An acknowledgement we had already (e.g. from before a reconnect).
            Err(SeqError::Gone { .. }) => Ok(0),
            Err(e) => Err(Violation::Malformed(format!(
                "it acknowledged chunk {seq}: {e}"
            ))),
        }
    }

    fn bye_if_due(&mut self) -> Option<Frame> {
        let due = self.app_done && self.sent.is_empty() && !self.bye_queued;
        self.bye_queued |= due;
        due.then_some(Frame::Bye)
    }
}

/// A frame in an error message (without its payload).
fn describe(frame: &Frame) -> String {
    match frame {
        Frame::Hello { .. } => "HELLO".into(),
        Frame::Data { seq, payload } => format!("DATA {seq} of {} bytes", payload.len()),
        Frame::Ack { seq } => format!("ACK {seq}"),
        Frame::Bye => "BYE".into(),
        Frame::Ping => "PING".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seq: u64, bytes: &[u8]) -> Frame {
        Frame::Data {
            seq,
            payload: Payload::new(bytes.to_vec()),
        }
    }

    fn hello(next_expected: u64) -> Frame {
        Frame::Hello {
            next_expected,
            lanes: 1,
        }
    }

    /// A lane whose first stream is up.
    fn started() -> LinkState {
        let mut state = LinkState::new(1);
        assert_eq!(state.hello(), hello(0));
        assert_eq!(state.on_hello(hello(0)), Ok(Resume::default()));
        state
    }

    #[test]
    fn after_a_reconnect_only_what_the_peer_lacks_is_resent() {
        let mut state = started();
        for (i, chunk) in [&b"aa"[..], b"bbb", b"c"].into_iter().enumerate() {
            assert_eq!(state.send(chunk.to_vec()), data(i as u64, chunk));
        }
        let mut out = Vec::new();
        // The peer acknowledged chunk 0 before the stream broke ...
        assert_eq!(
            state.on_frame(Frame::Ack { seq: 0 }, &mut out),
            Ok(Received {
                deliver: None,
                released: 2,
                goodbye: false,
                // Its buffer, for a later chunk's memory.
                spent: vec![b"aa".to_vec()],
            })
        );
        assert!(out.is_empty());
        // ... and got chunk 1 too, as its HELLO on the new stream says.
        assert_eq!(state.hello(), hello(0));
        assert_eq!(
            state.on_hello(hello(2)),
            Ok(Resume {
                released: 3,
                frames: vec![data(2, b"c")]
            })
        );
        // A second reconnect before any acknowledgement resends the same.
        state.hello();
        assert_eq!(
            state.on_hello(hello(2)).map(|r| r.frames),
            Ok(vec![data(2, b"c")])
        );
    }

    #[test]
    fn an_acknowledged_chunk_still_being_written_is_not_reused() {
        let mut state = started();
        let writing = state.send(b"abc".to_vec());
        let mut out = Vec::new();
        let acked = state.on_frame(Frame::Ack { seq: 0 }, &mut out);
        assert_eq!(acked.map(|r| (r.released, r.spent)), Ok((3, vec![])));
        assert_eq!(writing, data(0, b"abc"), "the frame kept its bytes");
    }

    #[test]
    fn a_resent_chunk_is_acknowledged_again_and_delivered_once() {
        let mut state = started();
        let mut out = Vec::new();
        let first = state.on_frame(data(0, b"x"), &mut out).map(|r| r.deliver);
        assert_eq!(first, Ok(Some(b"x".to_vec())));
        let again = state.on_frame(data(0, b"x"), &mut out).map(|r| r.deliver);
        assert_eq!(again, Ok(None));
        assert_eq!(out, [Frame::Ack { seq: 0 }, Frame::Ack { seq: 0 }]);
        // The next HELLO asks for chunk 1.
        assert_eq!(state.hello(), hello(1));
    }

    #[test]
    fn a_gap_or_an_impossible_acknowledgement_is_a_violation() {
        let mut state = started();
        let mut out = Vec::new();
        assert!(matches!(
            state.on_frame(data(2, b"x"), &mut out),
            Err(Violation::Malformed(m)) if m.contains("skips ahead")
        ));
        // Acknowledging what was never sent must not count as delivery.
        state.send(b"a".to_vec());
        assert!(matches!(
            state.on_frame(Frame::Ack { seq: 5 }, &mut out),
            Err(Violation::Malformed(m)) if m.contains("acknowledged chunk 5")
        ));
        assert!(matches!(
            state.on_frame(Frame::Ack { seq: u64::MAX }, &mut out),
            Err(Violation::Malformed(_))
        ));
        // A peer resuming beyond what was sent, too.
        state.hello();
        assert!(matches!(
            state.on_hello(hello(9)),
            Err(Violation::Malformed(_))
        ));
        // An acknowledgement from before a reconnect is harmless.
        assert_eq!(
            state
                .on_frame(Frame::Ack { seq: 0 }, &mut out)
                .map(|r| r.released),
            Ok(1)
        );
        assert_eq!(
            state
                .on_frame(Frame::Ack { seq: 0 }, &mut out)
                .map(|r| r.released),
            Ok(0)
        );
    }

    #[test]
    fn bye_goes_out_once_and_only_after_everything_is_acknowledged() {
        let mut state = started();
        state.send(b"a".to_vec());
        state.send(b"b".to_vec());
        assert_eq!(state.app_finished(), None, "two chunks are unacknowledged");
        let mut out = Vec::new();
        state.on_frame(Frame::Ack { seq: 0 }, &mut out).ok();
        assert!(out.is_empty());
        state.on_frame(Frame::Ack { seq: 1 }, &mut out).ok();
        assert_eq!(out, [Frame::Bye]);
        out.clear();
        state.on_frame(Frame::Ack { seq: 1 }, &mut out).ok();
        assert!(out.is_empty(), "one BYE per stream");
        assert!(!state.finished(), "the peer is not done yet");
        assert!(state.on_frame(Frame::Bye, &mut out).unwrap().goodbye);
        assert!(state.finished());
        // A BYE resent on a new stream is no second goodbye.
        assert!(!state.on_frame(Frame::Bye, &mut out).unwrap().goodbye);
        // On a new stream the BYE is due again, after the (empty) resends.
        state.hello();
        assert_eq!(
            state.on_hello(hello(2)).map(|r| r.frames),
            Ok(vec![Frame::Bye])
        );
    }

    #[test]
    fn the_handshake_checks_lanes_and_order() {
        let mut state = LinkState::new(3);
        state.hello();
        assert_eq!(
            state.on_hello(hello(0)),
            Err(Violation::Lanes { theirs: 1 })
        );
        assert!(matches!(
            state.on_hello(Frame::Ack { seq: 0 }),
            Err(Violation::Malformed(m)) if m == "expected HELLO, got ACK 0"
        ));
        let mut state = started();
        assert_eq!(
            state.on_frame(hello(0), &mut Vec::new()),
            Err(Violation::Malformed("a second HELLO".into()))
        );
    }
}
