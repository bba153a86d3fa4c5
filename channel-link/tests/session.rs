//! Sessions over an in-memory duplex stream, no sockets: chunks cross once
//! and in order and both sides finish; a peer that falls silent ends the
//! session as broken within the keepalive bound; a transport's interrupt ends
//! it at once; a broken stream resumes on the next one without loss or
//! duplication.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::transport::BufferPool;
use channel_core::transport::liveness::KeepAlive;
use channel_link::link_state::LinkState;
use channel_link::session::{self, AppEnds, Delivery, Ended, Events, Inbound, Interrupt, Limits};
use tokio::sync::{mpsc, oneshot};

type Stream = tokio::io::DuplexStream;

struct TestEvents {
    interrupt: Option<oneshot::Receiver<()>>,
    released: usize,
    silent: bool,
}

impl TestEvents {
    fn new() -> Self {
        Self {
            interrupt: None,
            released: 0,
            silent: false,
        }
    }
}

impl Events for TestEvents {
    type Stream = Stream;

    async fn interrupted(&mut self) -> Interrupt<Stream> {
        match self.interrupt.as_mut() {
            Some(rx) => {
                let _ = rx.await;
                self.interrupt = None;
                Interrupt::Broken("interrupted by the test".into(), None)
            }
            None => std::future::pending().await,
        }
    }

    fn silent(&mut self) {
        self.silent = true;
    }

    fn released(&mut self, bytes: usize) {
        self.released += bytes;
    }
}

fn limits() -> Limits {
    Limits {
        max_payload: 1 << 20,
        keepalive: KeepAlive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(400),
        },
        handshake_timeout: Duration::from_secs(5),
    }
}

/// One side of a link: its state, its application ends, its events.
struct Side {
    state: LinkState,
    app_tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    from_app: mpsc::UnboundedReceiver<Vec<u8>>,
    to_app: mpsc::UnboundedSender<Delivery>,
    delivered: mpsc::UnboundedReceiver<Delivery>,
    inbound: Inbound,
    buffers: BufferPool,
    events: TestEvents,
}

impl Side {
    fn new() -> Self {
        let (app_tx, from_app) = mpsc::unbounded_channel();
        let (to_app, delivered) = mpsc::unbounded_channel();
        Self {
            state: LinkState::new(1),
            app_tx: Some(app_tx),
            from_app,
            to_app,
            delivered,
            inbound: Inbound::default(),
            buffers: BufferPool::default(),
            events: TestEvents::new(),
        }
    }

    fn send(&self, chunk: &[u8]) {
        self.app_tx.as_ref().unwrap().send(chunk.to_vec()).unwrap();
    }

    async fn run(&mut self, stream: Stream) -> Ended<Stream> {
        let app = AppEnds {
            from_app: &mut self.from_app,
            to_app: &self.to_app,
            inbound: &self.inbound,
            max_inbound: usize::MAX,
            buffers: &self.buffers,
        };
        session::run(stream, &mut self.state, app, limits(), &mut self.events).await
    }

    fn take_delivered(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Ok(chunk) = self.delivered.try_recv() {
            out.push(chunk);
        }
        out
    }
}

fn pipe() -> (Stream, Stream) {
    tokio::io::duplex(64 * 1024)
}

/// Both applications are done sending: on a new stream, both sessions
/// finish (within 10 s).
async fn both_finish_on_a_new_stream(a: &mut Side, b: &mut Side) {
    a.app_tx = None;
    b.app_tx = None;
    let (sa, sb) = pipe();
    let (ea, eb) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(a.run(sa), b.run(sb))
    })
    .await
    .expect("the sessions did not finish within 10 s");
    assert!(matches!(ea, Ended::Finished), "{ea:?}");
    assert!(matches!(eb, Ended::Finished), "{eb:?}");
}

fn numbered(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(|i| i.to_le_bytes().to_vec()).collect()
}

/// `chunks` delivered, then the peer's goodbye if `goodbye`.
fn delivered(chunks: Vec<Vec<u8>>, goodbye: bool) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = chunks.into_iter().map(Delivery::Chunk).collect();
    if goodbye {
        out.push(Delivery::Goodbye);
    }
    out
}

#[tokio::test]
async fn chunks_cross_once_in_order_and_both_sides_finish() {
    let (mut a, mut b) = (Side::new(), Side::new());
    for chunk in numbered(0..100) {
        a.send(&chunk);
    }
    b.send(b"back");
    both_finish_on_a_new_stream(&mut a, &mut b).await;
    // Each side's goodbye comes after everything it sent.
    assert_eq!(b.take_delivered(), delivered(numbered(0..100), true));
    assert_eq!(a.take_delivered(), delivered(vec![b"back".to_vec()], true));
    assert_eq!(a.events.released, 400, "every byte sent was acknowledged");
}

#[tokio::test]
async fn chunk_memory_is_reused_acknowledged_chunks_and_reads_alike() {
    let (mut a, mut b) = (Side::new(), Side::new());
    let big = vec![9u8; 1 << 20];
    a.send(&big);
    // b holds a spare buffer (as one its application gave back would be).
    let spare = Vec::with_capacity(1 << 20);
    let at = spare.as_ptr();
    b.buffers.give(spare);
    both_finish_on_a_new_stream(&mut a, &mut b).await;
    let got = b.take_delivered();
    match got.first() {
        Some(Delivery::Chunk(chunk)) => {
            assert_eq!(chunk, &big);
            assert_eq!(chunk.as_ptr(), at, "read into the spare buffer");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.buffers.spare_bytes(), 0, "the spare was taken");
    assert_eq!(
        a.buffers.spare_bytes(),
        1 << 20,
        "the acknowledged chunk is kept for the next"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_ends_the_session_as_broken_within_the_bound() {
    let mut a = Side::new();
    let (sa, mut sb) = pipe();
    // The peer says HELLO and then nothing at all, ever.
    let peer = tokio::spawn(async move {
        let mut state = LinkState::new(1);
        channel_link::wire::write_frame(&mut sb, &state.hello())
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::flush(&mut sb).await.unwrap();
        // Keep the stream open.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(sb);
    });
    let started = tokio::time::Instant::now();
    let ended = a.run(sa).await;
    let took = started.elapsed();
    assert!(
        matches!(&ended, Ended::Broken(why, None) if why.contains("nothing heard")),
        "{ended:?}"
    );
    assert!(a.events.silent, "the transport was told");
    assert!(
        took >= limits().keepalive.timeout && took <= limits().keepalive.timeout * 2,
        "{took:?}"
    );
    peer.abort();
}

#[tokio::test]
async fn an_interrupt_breaks_the_session_and_the_next_stream_resumes_exactly_once() {
    let (mut a, mut b) = (Side::new(), Side::new());
    for chunk in numbered(0..10) {
        a.send(&chunk);
    }
    let (interrupt, rx) = oneshot::channel();
    b.events.interrupt = Some(rx);

    // First stream: b is interrupted once the first chunks arrived.
    let (sa, sb) = pipe();
    let first = async {
        let run_a = a.run(sa);
        let run_b = b.run(sb);
        let trigger = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = interrupt.send(());
        };
        let (ea, eb, ()) = tokio::join!(run_a, run_b, trigger);
        (ea, eb)
    };
    let (ea, eb) = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .unwrap();
    assert!(
        matches!(&eb, Ended::Broken(why, None) if why.contains("interrupted")),
        "{eb:?}"
    );
    // Its end of the stream went with its session, so a's broke too.
    assert!(matches!(ea, Ended::Broken(..)), "{ea:?}");
    let before = b.take_delivered();
    assert_eq!(before, delivered(numbered(0..10), false));

    // More chunks, then a second stream: nothing is lost or delivered twice.
    for chunk in numbered(10..20) {
        a.send(&chunk);
    }
    both_finish_on_a_new_stream(&mut a, &mut b).await;
    assert_eq!(b.take_delivered(), delivered(numbered(10..20), true));
}
