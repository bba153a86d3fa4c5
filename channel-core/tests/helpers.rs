//! The message helpers on top of a scripted transport: typed errors for bad input,
//! limits before allocation, metrics, and identical behaviour of both forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::collections::VecDeque;

use channel_core::transport::TransportError;
use channel_core::{Error, Limited, Metered, RecvInfo, SendInfo, blocking};

/// Plays back whatever frames the test queued, and records what was sent.
#[derive(Default)]
struct Scripted {
    inbox: VecDeque<Vec<u8>>,
    sent: Vec<(usize, Vec<u8>, SendInfo)>,
}

impl Scripted {
    fn with_inbox(frames: Vec<Vec<u8>>) -> Self {
        Self {
            inbox: frames.into(),
            sent: Vec::new(),
        }
    }
    /// Moves everything sent into the inbox, as if a peer echoed it.
    fn echo(&mut self) {
        self.inbox.extend(self.sent.drain(..).map(|(_, f, _)| f));
    }
}

impl channel_core::Channel for Scripted {
    type SendError = TransportError;
    type RecvError = TransportError;
    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), TransportError> {
        self.sent.push((p, msg, info));
        Ok(())
    }
    async fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
        self.inbox
            .pop_front()
            .ok_or(TransportError::Closed { party: p })
    }
}

impl blocking::Channel for Scripted {
    type SendError = TransportError;
    type RecvError = TransportError;
    fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), TransportError> {
        self.sent.push((p, msg, info));
        Ok(())
    }
    fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
        self.inbox
            .pop_front()
            .ok_or(TransportError::Closed { party: p })
    }
}

/// The frames `c` handed its transport so far.
fn sent_frames(c: &Limited<Scripted>) -> Vec<Vec<u8>> {
    c.inner().sent.iter().map(|(_, f, _)| f.clone()).collect()
}

fn footer(total: u64, index: u32, count: u32) -> Vec<u8> {
    let mut f = total.to_le_bytes().to_vec();
    f.extend_from_slice(&index.to_le_bytes());
    f.extend_from_slice(&count.to_le_bytes());
    f.push(1);
    f
}

#[test]
fn garbage_from_a_peer_is_a_malformed_error_naming_party_and_phase() {
    let mut ch = Scripted::with_inbox(vec![b"not a frame".to_vec()]);
    let err = blocking::recv_bytes(&mut ch, 3, "triples").unwrap_err();
    assert!(matches!(err, Error::Malformed { party: 3, .. }), "{err:?}");
    assert_eq!(err.phase(), "triples");
    assert_eq!(
        err.to_string(),
        "malformed frame from party 3 in phase 'triples'"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(
        source,
        "frame of 11 bytes is shorter than the 17-byte footer"
    );
}

#[test]
fn a_huge_claimed_size_is_refused_before_allocating() {
    let mut ch = Scripted::with_inbox(vec![footer(1 << 60, 0, u32::MAX)]);
    let err = blocking::recv_bytes(&mut ch, 1, "p").unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { size, limit, .. } if size == 1 << 60 && limit == channel_core::DEFAULT_MAX_MESSAGE_SIZE),
        "{err:?}"
    );
}

#[test]
fn the_receive_limit_is_configurable() {
    let mut sender = Limited::new(Scripted::default()).with_chunk_size(100);
    blocking::send_bytes(&mut sender, 1, "p", &[5u8; 1000]).unwrap();
    let frames: Vec<Vec<u8>> = sender
        .into_inner()
        .sent
        .into_iter()
        .map(|(_, f, _)| f)
        .collect();
    assert_eq!(frames.len(), 10);

    let mut small = Limited::new(Scripted::with_inbox(frames.clone())).with_max_message_size(999);
    let err = blocking::recv_bytes(&mut small, 1, "p").unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 1000,
                limit: 999,
                ..
            }
        ),
        "{err:?}"
    );

    let mut enough = Limited::new(Scripted::with_inbox(frames)).with_max_message_size(1000);
    assert_eq!(
        blocking::recv_bytes(&mut enough, 1, "p").unwrap(),
        vec![5u8; 1000]
    );
}

#[test]
fn sending_beyond_the_limit_fails_without_sending() {
    let mut ch = Limited::new(Scripted::default()).with_max_message_size(10);
    let err = blocking::send_to(&mut ch, 2, "p", &vec![0u8; 100]).unwrap_err();
    // 8-byte length prefix + 100 bytes.
    assert!(
        matches!(
            err,
            Error::TooLarge {
                party: 2,
                size: 108,
                limit: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(ch.into_inner().sent.is_empty());
}

#[test]
fn a_closed_transport_keeps_its_error_as_the_source() {
    let mut ch = Scripted::default();
    let err = blocking::recv_from::<_, u64>(&mut ch, 4, "open").unwrap_err();
    assert!(matches!(err, Error::Recv { party: 4, .. }), "{err:?}");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(
        source.downcast_ref::<TransportError>(),
        Some(&TransportError::Closed { party: 4 })
    );
}

#[test]
fn typed_messages_span_chunks_and_send_infos_count_them() {
    let value: Vec<u64> = (0..100).collect();
    let mut ch = Limited::new(Scripted::default()).with_chunk_size(64);
    blocking::send_to(&mut ch, 1, "mul", &value).unwrap();
    let infos: Vec<(usize, usize, usize)> = ch
        .inner()
        .sent
        .iter()
        .map(|(_, _, i)| (i.chunk(), i.total(), i.remaining()))
        .collect();
    // 8 + 800 bytes in 64-byte chunks: 13 chunks.
    assert_eq!(infos.len(), 13);
    assert_eq!(infos[0], (0, 13, 12));
    assert_eq!(infos[12], (12, 13, 0));
    ch.inner_mut().echo();
    let back: Vec<u64> = blocking::recv_vec_from(&mut ch, 1, "mul", 100).unwrap();
    assert_eq!(back, value);
}

#[test]
fn metered_counts_per_party_and_phase() {
    let mut ch = Metered::new(Limited::new(Scripted::default()).with_chunk_size(10));
    blocking::send_bytes(&mut ch, 1, "a", &[0u8; 25]).unwrap(); // 3 chunks
    blocking::send_bytes(&mut ch, 2, "b", &[0u8; 5]).unwrap(); // 1 chunk
    ch.inner_mut().inner_mut().echo();
    assert_eq!(blocking::recv_bytes(&mut ch, 1, "a").unwrap().len(), 25);
    assert_eq!(blocking::recv_bytes(&mut ch, 1, "a").unwrap().len(), 5);

    let stats = ch.stats();
    let footer = channel_core::frame::FOOTER_LEN as u64;
    assert_eq!(stats.party(1).messages_sent, 1);
    assert_eq!(stats.party(1).chunks_sent, 3);
    assert_eq!(stats.party(1).bytes_sent, 25 + 3 * footer);
    assert_eq!(stats.party(2).bytes_sent, 5 + footer);
    assert_eq!(stats.party(1).messages_received, 2);
    assert_eq!(stats.phase("a").messages_received, 2);
    assert_eq!(stats.phase("b").messages_sent, 1);
    assert_eq!(stats.total().chunks_received, 4);
    let table = stats.to_string();
    assert!(
        table.contains("phase 'a'") && table.contains("party 2"),
        "{table}"
    );
    assert_eq!(ch.take_stats().total().messages_sent, 2);
    assert_eq!(ch.stats().total(), Default::default());
}

#[test]
fn both_forms_produce_the_same_frames() {
    let value = ("same source", vec![1u16, 2, 3], Some(9u8));
    let mut a = Limited::new(Scripted::default()).with_chunk_size(7);
    futures::executor::block_on(channel_core::send_to(&mut a, 1, "x", &value)).unwrap();
    let mut b = Limited::new(Scripted::default()).with_chunk_size(7);
    blocking::send_to(&mut b, 1, "x", &value).unwrap();
    assert_eq!(sent_frames(&a), sent_frames(&b));
    assert!(sent_frames(&a).len() > 1);
}

#[test]
fn tiny_and_empty_typed_values_roundtrip() {
    let mut ch = Scripted::default();
    blocking::send_to(&mut ch, 1, "t", &()).unwrap();
    blocking::send_to(&mut ch, 1, "t", &Vec::<u8>::new()).unwrap();
    blocking::send_to(&mut ch, 1, "t", &true).unwrap();
    ch.echo();
    blocking::recv_from::<_, ()>(&mut ch, 1, "t").unwrap();
    assert!(
        blocking::recv_from::<_, Vec<u8>>(&mut ch, 1, "t")
            .unwrap()
            .is_empty()
    );
    assert!(blocking::recv_from::<_, bool>(&mut ch, 1, "t").unwrap());
}

#[test]
fn a_lying_length_prefix_is_a_codec_error() {
    // A Vec<u64> claiming 2^61 elements in a 9-byte message.
    let mut payload = (1u64 << 61).to_le_bytes().to_vec();
    payload.push(0);
    let mut frame = payload.clone();
    frame.extend_from_slice(&footer(payload.len() as u64, 0, 1));
    let mut ch = Scripted::with_inbox(vec![frame]);
    let err = blocking::recv_from::<_, Vec<u64>>(&mut ch, 1, "p").unwrap_err();
    assert!(matches!(err, Error::Codec { party: 1, .. }), "{err:?}");
}

#[test]
fn trailing_bytes_are_a_codec_error() {
    let mut ch = Scripted::default();
    blocking::send_to(&mut ch, 1, "p", &7u64).unwrap();
    ch.echo();
    let err = blocking::recv_from::<_, u32>(&mut ch, 1, "p").unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err:?}");
}

#[test]
fn an_owned_message_that_fits_a_chunk_reaches_the_transport_without_a_copy() {
    let mut ch = Limited::new(Scripted::default()).with_chunk_size(64);
    let mut msg = Vec::with_capacity(40 + channel_core::frame::FOOTER_LEN);
    msg.extend_from_slice(&[7u8; 40]);
    let at = msg.as_ptr();
    blocking::send_bytes_owned(&mut ch, 1, "owned", msg).unwrap();
    let sent = &ch.inner().sent;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1.as_ptr(),
        at,
        "the very buffer, footer appended in place"
    );
    ch.inner_mut().echo();
    // And what arrives is that buffer again, opened in place.
    let got = blocking::recv_bytes(&mut ch, 1, "owned").unwrap();
    assert_eq!(got, vec![7u8; 40]);
    assert_eq!(got.as_ptr(), at);
}

#[test]
fn an_owned_message_longer_than_a_chunk_is_split_like_a_borrowed_one() {
    let msg: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
    let mut owned = Limited::new(Scripted::default()).with_chunk_size(64);
    futures::executor::block_on(channel_core::send_bytes_owned(
        &mut owned,
        1,
        "x",
        msg.clone(),
    ))
    .unwrap();
    let mut borrowed = Limited::new(Scripted::default()).with_chunk_size(64);
    blocking::send_bytes(&mut borrowed, 1, "x", &msg).unwrap();
    assert_eq!(sent_frames(&owned), sent_frames(&borrowed));
    assert_eq!(sent_frames(&owned).len(), 4);
    owned.inner_mut().echo();
    assert_eq!(blocking::recv_bytes(&mut owned, 1, "x").unwrap(), msg);
    // The size limit holds for owned messages too.
    let mut small = Limited::new(Scripted::default()).with_max_message_size(10);
    let e = blocking::send_bytes_owned(&mut small, 1, "big", vec![0; 11]).unwrap_err();
    assert_eq!(e.kind(), channel_core::ErrorKind::TooLarge, "{e}");
    assert!(small.inner().sent.is_empty());
}

#[test]
fn a_message_of_several_chunks_is_assembled_in_the_callers_buffer() {
    let mut tx = Limited::new(Scripted::default()).with_chunk_size(10);
    let msg: Vec<u8> = (0..95).collect();
    blocking::send_bytes(&mut tx, 1, "into", &msg).unwrap();
    let mut rx = Scripted::with_inbox(sent_frames(&tx));
    let mut buf = Vec::with_capacity(500);
    buf.extend_from_slice(b"stale");
    let at = buf.as_ptr();
    blocking::recv_bytes_into(&mut rx, 0, "into", &mut buf).unwrap();
    assert_eq!((buf.as_ptr(), &buf[..]), (at, &msg[..]));
}

#[test]
fn a_failed_receive_into_a_buffer_leaves_it_empty_and_names_the_party() {
    let mut rx = Scripted::with_inbox(vec![b"garbage".to_vec()]);
    let mut buf = b"old".to_vec();
    let err = blocking::recv_bytes_into(&mut rx, 3, "into", &mut buf).unwrap_err();
    assert!(matches!(err, Error::Malformed { party: 3, .. }), "{err:?}");
    assert!(buf.is_empty());
}
