//! The link task over in-memory streams, no sockets: a link that obtains no
//! stream gives up naming the peer and tells set-up why; two links carry
//! chunks across a stream that breaks, resume on the next one, and finish.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::transport::TransportError;
use channel_core::transport::liveness::KeepAlive;
use channel_link::app::Shared;
use channel_link::error::MeshError;
use channel_link::session::{Delivery, Inbound, Interrupt};
use channel_link::task::{Connector, LinkTask};
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Streams handed over by the test, one per connection; a cut from the test
/// breaks the current one.
struct Handed {
    streams: mpsc::UnboundedReceiver<DuplexStream>,
    cuts: mpsc::UnboundedReceiver<()>,
}

impl Connector for Handed {
    type Stream = DuplexStream;

    async fn obtain(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> Result<Option<DuplexStream>, MeshError> {
        match tokio::time::timeout_at(deadline, self.streams.recv()).await {
            Ok(Some(stream)) => Ok(Some(stream)),
            _ => {
                *last = "the test refused every connection".into();
                Ok(None)
            }
        }
    }

    async fn interrupted(&mut self) -> Interrupt<DuplexStream> {
        match self.cuts.recv().await {
            Some(()) => Interrupt::Broken("cut by the test".into(), None),
            None => std::future::pending().await,
        }
    }
}

struct Ends {
    app_tx: mpsc::UnboundedSender<Vec<u8>>,
    delivered: mpsc::UnboundedReceiver<Delivery>,
    shared: Shared<MeshError>,
    established: oneshot::Receiver<Result<(), String>>,
    streams: mpsc::UnboundedSender<DuplexStream>,
    cut: mpsc::UnboundedSender<()>,
}

fn link(party: usize) -> (LinkTask<Handed>, Ends) {
    let (app_tx, app_rx) = mpsc::unbounded_channel();
    let (to_app, delivered) = mpsc::unbounded_channel();
    let (streams, handed) = mpsc::unbounded_channel();
    let (established_tx, established) = oneshot::channel();
    let (cut, cuts) = mpsc::unbounded_channel();
    let shared = Shared::new(1 << 20);
    let task = LinkTask {
        party,
        lanes: 1,
        connector: Handed {
            streams: handed,
            cuts,
        },
        app_rx,
        to_app,
        inbound: Inbound::default(),
        max_inbound: 1 << 20,
        shared: shared.clone(),
        max_payload: 1 << 16,
        keepalive: KeepAlive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
        },
        connect_timeout: Duration::from_millis(200),
        reconnect_timeout: Duration::from_secs(5),
        established: Some(established_tx),
    };
    let ends = Ends {
        app_tx,
        delivered,
        shared,
        established,
        streams,
        cut,
    };
    (task, ends)
}

#[tokio::test]
async fn a_link_that_obtains_no_stream_gives_up_naming_the_peer() {
    let (task, ends) = link(3);
    tokio::time::timeout(Duration::from_secs(10), task.run())
        .await
        .expect("the link must give up within its connect timeout");
    let why = ends.established.await.unwrap().unwrap_err();
    assert!(why.contains("the test refused every connection"), "{why}");
    match ends.shared.failure() {
        Some(MeshError::PeerLost {
            party: 3, reason, ..
        }) => {
            assert!(
                reason.contains("no connection within the time allowed"),
                "{reason}"
            )
        }
        other => panic!("expected PeerLost for party 3, got {other:?}"),
    }
    drop(ends.app_tx);
}

#[tokio::test]
async fn chunks_cross_a_broken_stream_once_and_both_links_finish() {
    let (a, ea) = link(1);
    let (b, mut eb) = link(0);
    let (sa, sb) = tokio::io::duplex(1 << 10);
    ea.streams.send(sa).unwrap();
    eb.streams.send(sb).unwrap();
    let (ra, rb) = (tokio::spawn(a.run()), tokio::spawn(b.run()));
    for i in 0..50u32 {
        ea.app_tx.send(i.to_le_bytes().to_vec()).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(eb.delivered.recv().await.unwrap());
    }
    assert!(got.iter().all(|d| matches!(d, Delivery::Chunk(_))));
    ea.established.await.unwrap().unwrap();
    // Party 1's side breaks the stream (party 0's sees it end); a new one
    // replaces it.
    ea.cut.send(()).unwrap();
    let (sa, sb) = tokio::io::duplex(1 << 10);
    ea.streams.send(sa).unwrap();
    eb.streams.send(sb).unwrap();
    drop(ea.app_tx);
    drop(eb.app_tx);
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = eb.delivered.recv().await {
            got.push(chunk);
        }
    })
    .await
    .expect("the links did not finish");
    let mut want: Vec<Delivery> = (0..50u32)
        .map(|i| Delivery::Chunk(i.to_le_bytes().to_vec()))
        .collect();
    want.push(Delivery::Goodbye);
    assert_eq!(got, want, "every chunk once, in order, then the goodbye");
    ra.await.unwrap();
    rb.await.unwrap();
    // Each heard the other's goodbye, and its link finished.
    for shared in [&ea.shared, &eb.shared] {
        assert!(
            matches!(
                shared.goodbye(),
                Some(MeshError::PeerLost { ref reason, .. }) if reason == channel_link::app::GOODBYE
            ),
            "{:?}",
            shared.goodbye()
        );
        assert!(
            matches!(
                shared.failure(),
                Some(MeshError::Transport(TransportError::Closed { .. }))
            ),
            "{:?}",
            shared.failure()
        );
    }
    assert_eq!(
        ea.shared
            .sessions
            .load(std::sync::atomic::Ordering::Acquire),
        2,
        "the second stream carried the rest"
    );
}
