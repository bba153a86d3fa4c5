//! In one process a message crosses whole: the receiver gets the sender's
//! allocation, and a stream received into one buffer reuses the same memory
//! instead of faulting in fresh pages for every message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::frame::FOOTER_LEN;
use channel_core::{Channel, recv_bytes, recv_bytes_into, send_bytes, send_bytes_owned};
use channel_tokio::TokioChannel;

fn pair(builder: channel_tokio::Builder) -> (TokioChannel, TokioChannel) {
    let mut parties = builder.build().into_iter();
    (parties.next().unwrap(), parties.next().unwrap())
}

#[tokio::test]
async fn a_large_owned_message_arrives_in_the_senders_own_allocation() {
    let (mut a, mut b) = pair(TokioChannel::builder(2));
    let size = 64 << 20;
    let mut msg = Vec::with_capacity(size + FOOTER_LEN);
    msg.resize(size, 0x5A);
    let at = msg.as_ptr();
    send_bytes_owned(&mut a, 1, "big", msg).await.unwrap();
    let got = recv_bytes(&mut b, 0, "big").await.unwrap();
    assert_eq!((got.as_ptr(), got.len()), (at, size));
    assert!(got.iter().all(|&x| x == 0x5A));
}

#[tokio::test]
async fn a_stream_received_into_one_buffer_reuses_its_memory() {
    let (mut a, mut b) = pair(TokioChannel::builder(2));
    // A capacity no fresh chunk buffer has, so that its reuse is visible
    // (an equal address alone could be the allocator reusing freed memory).
    let odd = (5 << 20) + 3;
    let mut buf = Vec::with_capacity(odd);
    let at = buf.as_ptr();
    let mut capacities = Vec::new();
    for round in 0..6u8 {
        let msg = vec![round; 4 << 20];
        send_bytes(&mut a, 1, "stream", &msg).await.unwrap();
        recv_bytes_into(&mut b, 0, "stream", &mut buf)
            .await
            .unwrap();
        assert_eq!(buf, msg, "round {round}");
        capacities.push(buf.capacity());
        if buf.capacity() == odd {
            assert_eq!(buf.as_ptr(), at);
        }
    }
    // Round 0 hands the odd buffer back; the sender copies round 1 into
    // it, and from then on the two buffers take turns.
    let fresh = capacities[0];
    assert_ne!(fresh, odd);
    assert_eq!(capacities, [fresh, odd, fresh, odd, fresh, odd]);
}

#[test]
fn a_buffer_handed_back_serves_the_peers_next_chunk() {
    let (mut a, mut b) = pair(TokioChannel::builder(2));
    let odd = (3 << 20) + 7;
    b.recycle(0, Vec::with_capacity(odd));
    assert_eq!(a.chunk_buffer(1, 2 << 20).capacity(), odd);
    // Taken once: the next chunk gets fresh memory, as does a small one.
    b.recycle(0, Vec::with_capacity(odd));
    assert!(a.chunk_buffer(1, 1000).capacity() < odd);
    assert_eq!(a.chunk_buffer(1, 3 << 20).capacity(), odd);
    assert_eq!(a.chunk_buffer(1, 3 << 20).capacity(), 3 << 20);
}

#[tokio::test]
async fn chunks_are_whole_messages_within_the_queue_bound() {
    let (a, _) = pair(TokioChannel::builder(2));
    assert_eq!(a.chunk_size(), a.max_message_size());
    let (mut a, mut b) = pair(TokioChannel::builder(2).max_queued_bytes(1 << 20));
    assert_eq!(a.chunk_size(), (1 << 20) - FOOTER_LEN);
    let msg = vec![3u8; a.chunk_size()];
    send_bytes(&mut a, 1, "fits", &msg).await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "fits").await.unwrap(), msg);
    // A chosen chunk size stays chosen whatever the limits.
    let (a, _) = pair(
        TokioChannel::builder(2)
            .chunk_size(1000)
            .max_queued_bytes(1 << 20),
    );
    assert_eq!(a.chunk_size(), 1000);
}
