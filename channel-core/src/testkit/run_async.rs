//! Running the kit against async channels: all parties interleaved in one task.

use std::pin::pin;

use futures::future::{Either, join_all, select};
use web_time::Instant;

use super::{Board, Check, Failure, Kit, PartyFailure, Plan, Probe, Report};
use crate::BoxError;
use crate::asynchronous::Channel;
use crate::asynchronous::kit_party::run_party;

impl Kit {
    /// Runs every selected check against channels from `factory`, async form.
    ///
    /// The parties of a check run concurrently in the calling task (no spawning, so
    /// neither the channels nor their futures need to be `Send`: this runs in a
    /// browser too). The timer is runtime-independent.
    pub async fn run_async<C, F>(&self, mut factory: F) -> Result<Report, Failure>
    where
        C: Channel,
        F: AsyncFnMut(usize) -> Result<Vec<C>, BoxError>,
    {
        let mut report = Report {
            parties: self.parties,
            passed: Vec::new(),
        };
        for &check in &self.checks {
            let channels = factory(self.parties).await.map_err(|e| Failure::Setup {
                check,
                error: super::describe(&*e),
            })?;
            self.check_setup(check, channels.len())?;
            let started = Instant::now();
            self.interleaved(check, channels, async |inner, plan, board| {
                let mut probe = Probe {
                    inner,
                    me: plan.me,
                    board,
                };
                run_party(&mut probe, plan).await
            })
            .await?;
            report.passed.push((check, started.elapsed()));
        }
        Ok(report)
    }

    /// Runs each of `checks` on fresh channels from `factory`, `play` for
    /// every party, and adds it to `report` (the split and sub-channel
    /// checks, after the whole kit).
    pub(crate) async fn extra_checks<C, F, P>(
        &self,
        checks: &[Check],
        factory: &mut F,
        report: &mut Report,
        play: P,
    ) -> Result<(), Failure>
    where
        F: AsyncFnMut(usize) -> Result<Vec<C>, crate::BoxError>,
        P: AsyncFn(C, Plan, Board) -> Result<(), String>,
    {
        for &check in checks {
            let channels = factory(self.parties).await.map_err(|e| Failure::Setup {
                check,
                error: super::describe(&*e),
            })?;
            self.check_setup(check, channels.len())?;
            let started = Instant::now();
            self.interleaved(check, channels, &play).await?;
            report.passed.push((check, started.elapsed()));
        }
        Ok(())
    }

    /// Runs `play` for every party of `check`, all interleaved in this task,
    /// within the kit's time bound.
    pub(crate) async fn interleaved<C, P>(
        &self,
        check: Check,
        channels: Vec<C>,
        play: P,
    ) -> Result<(), Failure>
    where
        P: AsyncFn(C, Plan, Board) -> Result<(), String>,
    {
        let board = Board::new(self.parties);
        let play = &play;
        let parties = channels.into_iter().enumerate().map(|(me, inner)| {
            let board = board.clone();
            let plan = self.plan(check, me);
            async move {
                let outcome = play(inner, plan, board.clone()).await;
                board.done(me);
                outcome.map_err(|error| PartyFailure { party: me, error })
            }
        });
        let all = pin!(join_all(parties));
        let deadline = pin!(futures_timer::Delay::new(self.timeout));
        let outcomes = match select(all, deadline).await {
            Either::Left((outcomes, _)) => outcomes,
            Either::Right(((), _)) => {
                return Err(Failure::Stalled {
                    check,
                    n: self.parties,
                    after: self.timeout,
                    waiting: board.unfinished(),
                });
            }
        };
        let failures: Vec<PartyFailure> = outcomes.into_iter().filter_map(Result::err).collect();
        if !failures.is_empty() {
            return Err(Failure::Failed {
                check,
                n: self.parties,
                failures,
            });
        }
        Ok(())
    }
}
