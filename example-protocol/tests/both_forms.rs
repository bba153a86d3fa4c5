//! The one protocol source, run in both forms: async parties on tokio tasks and
//! blocking parties on threads compute the same result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

const INPUTS: [[u64; 3]; 4] = [[1, 2, 3], [10, 20, 30], [100, 200, 300], [u64::MAX, 0, 7]];

fn expected() -> Vec<u64> {
    (0..3)
        .map(|k| INPUTS.iter().fold(0u64, |acc, v| acc.wrapping_add(v[k])))
        .collect()
}

fn random(seed: u64) -> impl FnMut() -> u64 {
    let mut r = seed;
    move || {
        r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        r
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_parties_on_tokio() {
    let tasks: Vec<_> = channel_tokio::TokioChannel::network(4)
        .into_iter()
        .enumerate()
        .map(|(me, mut ch)| {
            tokio::spawn(async move {
                example_protocol::asynchronous::vector_sum(
                    &mut ch,
                    me,
                    4,
                    &INPUTS[me],
                    random(me as u64),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), expected());
    }
}

#[test]
fn blocking_parties_on_threads() {
    let threads: Vec<_> = channel_std::StdChannel::network(4)
        .into_iter()
        .enumerate()
        .map(|(me, mut ch)| {
            std::thread::spawn(move || {
                example_protocol::blocking::vector_sum(
                    &mut ch,
                    me,
                    4,
                    &INPUTS[me],
                    random(me as u64),
                )
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), expected());
    }
}

#[tokio::test]
async fn a_vector_of_the_wrong_length_is_a_typed_error() {
    // Party 1 holds a shorter vector than party 0 expects.
    let mut net = channel_tokio::TokioChannel::network(2);
    let mut one = net.pop().unwrap();
    let mut zero = net.pop().unwrap();
    let (zero, _one) = tokio::join!(
        example_protocol::asynchronous::vector_sum(&mut zero, 0, 2, &[1, 2, 3], random(1)),
        example_protocol::asynchronous::vector_sum(&mut one, 1, 2, &[1, 2], random(2)),
    );
    assert!(matches!(
        zero,
        Err(channel_core::Error::WrongLength {
            party: 1,
            expected: 3,
            actual: 2,
            ..
        })
    ));
}
