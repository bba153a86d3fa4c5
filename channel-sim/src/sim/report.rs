//! What a simulated run did: how long it took, how many rounds, and the bytes
//! on every link in every phase. Recorded by the parties as they receive.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Traffic of one link in one phase, or summed over some.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes carried (what the transport carries: chunks with their footers).
    pub bytes: u64,
    /// Chunks carried.
    pub chunks: u64,
}

impl Traffic {
    fn add(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
        self.chunks += 1;
    }
}

/// One phase of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// The phase's name, as the protocol gave it to the helpers.
    pub name: String,
    /// Its traffic over every link.
    pub traffic: Traffic,
    /// When its first chunk was sent (simulated time since the network was built).
    pub started: Duration,
    /// When its last chunk arrived.
    pub finished: Duration,
    /// Rounds within the phase: the longest chain of its chunks each sent
    /// after receiving the one before.
    pub rounds: u64,
}

/// The result of a simulated run; [`Display`](fmt::Display) prints it as tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimReport {
    /// Parties in the network.
    pub parties: usize,
    /// When the last chunk arrived, in simulated time since the network was
    /// built: the protocol's running time on the network (its computation
    /// counts as instant under a paused clock).
    pub elapsed: Duration,
    /// The longest chain of messages each sent after its sender received the
    /// one before (one round: everyone sends, then everyone receives).
    pub rounds: u64,
    /// Traffic per directed link `(from, to)`.
    pub links: BTreeMap<(usize, usize), Traffic>,
    /// Traffic per phase, in the order phases started.
    pub phases: Vec<Phase>,
    /// Traffic per directed link and phase.
    pub by_link_and_phase: BTreeMap<(usize, usize, String), Traffic>,
}

impl SimReport {
    /// All traffic.
    pub fn total(&self) -> Traffic {
        self.links
            .values()
            .fold(Traffic::default(), |sum, t| Traffic {
                bytes: sum.bytes + t.bytes,
                chunks: sum.chunks + t.chunks,
            })
    }

    /// The phase called `name`.
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Bytes from `from` to `to` in phase `phase`.
    pub fn bytes(&self, from: usize, to: usize, phase: &str) -> u64 {
        self.by_link_and_phase
            .get(&(from, to, phase.to_string()))
            .map_or(0, |t| t.bytes)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "{} parties: {:.1?} simulated, {} rounds, {:.2} MiB in {} chunks",
            self.parties,
            self.elapsed,
            self.rounds,
            mib(total.bytes),
            total.chunks
        )?;
        writeln!(f, "| phase | MiB | chunks | rounds | from | to |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|")?;
        for p in &self.phases {
            writeln!(
                f,
                "| {} | {:.2} | {} | {} | {:.1?} | {:.1?} |",
                p.name,
                mib(p.traffic.bytes),
                p.traffic.chunks,
                p.rounds,
                p.started,
                p.finished
            )?;
        }
        writeln!(f, "| link | MiB | chunks |")?;
        writeln!(f, "|---|---:|---:|")?;
        for ((from, to), t) in &self.links {
            writeln!(f, "| {from} → {to} | {:.2} | {} |", mib(t.bytes), t.chunks)?;
        }
        Ok(())
    }
}

/// What the parties record, shared by all of them.
#[derive(Debug, Default)]
struct Recorder {
    report: SimReport,
    /// Per phase: the lowest depth of its chunks, to count its own rounds.
    first_depth: BTreeMap<String, u64>,
}

/// The handle on a simulated network's record; clone it freely.
#[derive(Debug, Clone, Default)]
pub struct SimStats {
    recorder: Arc<Mutex<Recorder>>,
}

/// One chunk's journey, as recorded when it is sent or received.
pub(crate) struct Hop<'a> {
    pub from: usize,
    pub to: usize,
    pub phase: &'a str,
    pub bytes: usize,
    pub sent: Duration,
    pub arrived: Duration,
    pub depth: u64,
}

impl SimStats {
    pub(crate) fn new(parties: usize) -> Self {
        let stats = Self::default();
        stats.with(|r| r.report.parties = parties);
        stats
    }

    /// What the network has done so far.
    pub fn report(&self) -> SimReport {
        self.with(|r| r.report.clone())
    }

    /// A chunk was sent: its phase started no later than this.
    pub(crate) fn sent(&self, phase: &str, at: Duration, depth: u64) {
        self.with(|r| {
            if r.report.phase(phase).is_none() {
                r.report.phases.push(Phase {
                    name: phase.to_string(),
                    traffic: Traffic::default(),
                    started: at,
                    finished: at,
                    rounds: 0,
                });
            }
            let first = r.first_depth.entry(phase.to_string()).or_insert(depth);
            *first = (*first).min(depth);
        });
    }

    /// A chunk arrived and was received.
    pub(crate) fn received(&self, hop: Hop<'_>) {
        self.with(|r| {
            let first = r
                .first_depth
                .get(hop.phase)
                .copied()
                .unwrap_or(hop.depth)
                .min(hop.depth);
            let report = &mut r.report;
            report.elapsed = report.elapsed.max(hop.arrived);
            report.rounds = report.rounds.max(hop.depth);
            report
                .links
                .entry((hop.from, hop.to))
                .or_default()
                .add(hop.bytes);
            report
                .by_link_and_phase
                .entry((hop.from, hop.to, hop.phase.to_string()))
                .or_default()
                .add(hop.bytes);
            if let Some(p) = report.phases.iter_mut().find(|p| p.name == hop.phase) {
                p.traffic.add(hop.bytes);
                p.started = p.started.min(hop.sent);
                p.finished = p.finished.max(hop.arrived);
                p.rounds = p.rounds.max(hop.depth + 1 - first);
            }
        });
    }

    fn with<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> T {
        // A panicking party cannot leave the record half-written: each
        // update is a few additions.
        let mut recorder = self.recorder.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut recorder)
    }
}
