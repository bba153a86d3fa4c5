//! Running the kit against blocking channels: one thread per party.

use std::sync::mpsc;
use std::time::Instant;

use super::{Board, Check, Failure, Kit, PartyFailure, Plan, Probe, Report};
use crate::BoxError;
use crate::blocking::Channel;
use crate::blocking::kit_party::run_party;

impl Kit {
    /// Runs every selected check against channels from `factory`, blocking form.
    ///
    /// Each party runs on its own thread. If a check stalls, the kit reports it
    /// and returns; the stuck threads are left behind (they cannot be cancelled),
    /// which is why channels must be `Send + 'static`.
    pub fn run_blocking<C, F>(&self, mut factory: F) -> Result<Report, Failure>
    where
        C: Channel + Send + 'static,
        F: FnMut(usize) -> Result<Vec<C>, BoxError>,
    {
        let mut report = Report {
            parties: self.parties,
            passed: Vec::new(),
        };
        for &check in &self.checks {
            let channels = factory(self.parties).map_err(|e| Failure::Setup {
                check,
                error: super::describe(&*e),
            })?;
            self.check_setup(check, channels.len())?;
            let started = Instant::now();
            self.on_threads(check, channels, |inner, plan, board| {
                let mut probe = Probe {
                    inner,
                    me: plan.me,
                    board: board.clone(),
                };
                run_party(&mut probe, plan)
            })?;
            report.passed.push((check, started.elapsed()));
        }
        Ok(report)
    }

    /// Runs `play` for every party of `check` on its own thread, within the
    /// kit's time bound.
    pub(crate) fn on_threads<C: Send + 'static>(
        &self,
        check: Check,
        channels: Vec<C>,
        play: fn(C, Plan, &Board) -> Result<(), String>,
    ) -> Result<(), Failure> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let board = Board::new(self.parties);
        let (done_tx, done_rx) = mpsc::channel();
        for (me, inner) in channels.into_iter().enumerate() {
            let board = board.clone();
            let plan = self.plan(check, me);
            let done_tx = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kit-{check}-party-{me}"))
                .spawn(move || {
                    let outcome = play(inner, plan, &board);
                    board.done(me);
                    // The kit may have given up waiting; nothing to do then.
                    let _ =
                        done_tx.send(outcome.map_err(|error| PartyFailure { party: me, error }));
                });
            if let Err(e) = spawned {
                return Err(Failure::Setup {
                    check,
                    error: format!("could not start a thread for party {me}: {e}"),
                });
            }
        }
        drop(done_tx);
        let mut failures = Vec::new();
        // Bounded: exactly one result per party, each wait bounded by the deadline.
        for _ in 0..self.parties {
            let left = deadline.saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(left) {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => failures.push(failure),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Every unfinished party's thread ended without a result: it panicked.
                    failures.extend(board.unfinished().into_iter().map(|f| PartyFailure {
                        party: f.party,
                        error: format!("panicked while {}", f.error.trim_start_matches("still ")),
                    }));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let mut waiting = board.unfinished();
                    waiting.extend(failures);
                    return Err(Failure::Stalled {
                        check,
                        n: self.parties,
                        after: self.timeout,
                        waiting,
                    });
                }
            }
        }
        if !failures.is_empty() {
            failures.sort_by_key(|f| f.party);
            return Err(Failure::Failed {
                check,
                n: self.parties,
                failures,
            });
        }
        if !failures.is_empty() {
            failures.sort_by_key(|f| f.party);
            return Err(Failure::Failed {
                check,
                n: self.parties,
                failures,
            });
        }
        Ok(())
    }
}
