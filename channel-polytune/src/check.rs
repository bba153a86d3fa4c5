//! Ready-made Polytune computations with their expected results, computed in
//! plain Rust: for the tests, the demo, and anyone checking that Polytune runs
//! over their own transport.
//!
//! ```
//! use channel_polytune::check::Computation;
//!
//! let comparison = Computation::largest_of(&[7, 42, 9])?;
//! assert_eq!(comparison.parties(), 3);
//! assert_eq!(comparison.expected(), "1");
//! # Ok::<_, channel_polytune::check::CheckError>(())
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polytune::garble_lang::register_circuit::Circuit;
use polytune::garble_lang::{GarbleProgram, compile};

use crate::{EngineChannel, Sent};

/// Why a computation could not be set up or did not give the expected output.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The Garble program did not compile, or an input did not fit it.
    #[error("the Garble program of '{name}' is wrong: {reason}")]
    Program {
        /// The computation.
        name: &'static str,
        /// Garble's explanation.
        reason: String,
    },
    /// A party's output is not the expected one.
    #[error("party {party} computed {got} in '{name}', expected {expected}")]
    WrongOutput {
        /// The computation.
        name: &'static str,
        /// The party.
        party: usize,
        /// What it computed.
        got: String,
        /// What plain Rust computed.
        expected: String,
    },
}

/// A Garble program, one input per party, and the output plain Rust computed.
#[derive(Debug, Clone)]
pub struct Computation {
    name: &'static str,
    program: Arc<GarbleProgram>,
    circuit: Arc<Circuit>,
    inputs: Vec<Vec<bool>>,
    output_bits: usize,
    expected: String,
}

impl Computation {
    /// Which party holds the largest of `values` (one `u32` per party, at
    /// least two); ties go to the lower index.
    pub fn largest_of(values: &[u32]) -> Result<Self, CheckError> {
        let name = "largest of";
        let n = values.len();
        let mut code = String::from("pub fn main(");
        for p in 0..n {
            let _ = write!(code, "{}v{p}: u32", if p > 0 { ", " } else { "" });
        }
        code.push_str(") -> u8 {\n    let mut best = 0u8;\n    let mut max = v0;\n");
        for p in 1..n {
            let _ = writeln!(code, "    if v{p} > max {{ best = {p}u8; max = v{p}; }}");
        }
        code.push_str("    best\n}\n");
        let inputs: Vec<String> = values.iter().map(|v| format!("{v}u32")).collect();
        let winner = values
            .iter()
            .enumerate()
            .fold((0, 0), |(best, max), (p, &v)| {
                if p == 0 || v > max {
                    (p, v)
                } else {
                    (best, max)
                }
            })
            .0;
        Self::new(name, &code, &inputs, winner.to_string())
    }

    /// Parties 0 and 1 hold vectors of `len` numbers, party 2 an offset; the
    /// output is their dot product plus the offset (as `u32`, wrapping). The
    /// vectors are derived from `seed`.
    pub fn dot_product(len: usize, seed: u32) -> Result<Self, CheckError> {
        let name = "dot product";
        let code = format!(
            "pub fn main(x: [u16; {len}], y: [u16; {len}], offset: u32) -> u32 {{
    let mut sum = offset;
    for i in 0usize..{len}usize {{
        sum = sum + (x[i] as u32) * (y[i] as u32);
    }}
    sum
}}
"
        );
        let mut state = seed;
        let mut next = move || {
            // A small LCG: the inputs only need to vary, not to be random.
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 16) as u16
        };
        let x: Vec<u16> = (0..len).map(|_| next()).collect();
        let y: Vec<u16> = (0..len).map(|_| next()).collect();
        let offset = u32::from(next());
        let expected = x.iter().zip(&y).fold(offset, |sum, (&a, &b)| {
            sum.wrapping_add(u32::from(a) * u32::from(b))
        });
        let array = |v: &[u16]| {
            let items: Vec<String> = v.iter().map(|n| format!("{n}u16")).collect();
            format!("[{}]", items.join(", "))
        };
        let inputs = [array(&x), array(&y), format!("{offset}u32")];
        Self::new(name, &code, &inputs, expected.to_string())
    }

    fn new(
        name: &'static str,
        code: &str,
        inputs: &[String],
        expected: String,
    ) -> Result<Self, CheckError> {
        let bad = |reason: String| CheckError::Program { name, reason };
        let program = compile(code).map_err(|e| bad(e.prettify(code)))?;
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(p, input)| {
                program
                    .parse_arg(p, input)
                    .map(|arg| arg.as_bits())
                    .map_err(|e| bad(e.prettify(input)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ssa = program.circuit.clone().unwrap_ssa();
        let output_bits = ssa.output_gates.len();
        let circuit: Circuit = ssa.into();
        Ok(Self {
            name,
            output_bits,
            program: Arc::new(program),
            circuit: Arc::new(circuit),
            inputs,
            expected,
        })
    }

    /// The computation's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How many parties it takes.
    pub fn parties(&self) -> usize {
        self.inputs.len()
    }

    /// The circuit to hand to `polytune::mpc`.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// Party `p`'s input bits (empty for a party that has no input).
    pub fn input(&self, p: usize) -> &[bool] {
        self.inputs.get(p).map_or(&[], Vec::as_slice)
    }

    /// The output plain Rust computed, as Garble prints it (`1`, `42`).
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// Checks party `party`'s output bits against the expected result.
    pub fn verify(&self, party: usize, output: &[bool]) -> Result<(), CheckError> {
        if output.len() != self.output_bits {
            // Garble would panic decoding it.
            return Err(CheckError::Program {
                name: self.name,
                reason: format!(
                    "party {party}'s output has {} bits, the circuit {}",
                    output.len(),
                    self.output_bits
                ),
            });
        }
        let got = self
            .program
            .parse_output(output)
            .map(|literal| literal.to_string())
            .map_err(|e| CheckError::Program {
                name: self.name,
                reason: format!("party {party}'s output does not decode: {e:?}"),
            })?;
        if got == self.expected {
            Ok(())
        } else {
            Err(CheckError::WrongOutput {
                name: self.name,
                party,
                got,
                expected: self.expected.clone(),
            })
        }
    }
}

/// What one run of a computation gave: each party's traffic, and how long
/// the whole run took.
#[derive(Debug, Clone)]
pub struct Run {
    /// Per party, what it sent through Polytune.
    pub sent: Vec<Sent>,
    /// From the start of the first party to the end of the last.
    pub took: Duration,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A party's engine failed (Polytune's error names the phase; its source
    /// is the channel's error when the transport failed).
    #[error("party {party}'s Polytune run failed: {reason}")]
    Engine {
        /// The party.
        party: usize,
        /// Polytune's error, printed.
        reason: String,
    },
    /// Flushing after the run failed.
    #[error("party {party} could not finish its channel")]
    Finish {
        /// The party.
        party: usize,
        /// The channel's error.
        #[source]
        source: channel_core::Error,
    },
    /// The number of channels is not the computation's number of parties.
    #[error("'{name}' takes {expected} parties, got {got} channels")]
    Parties {
        /// The computation.
        name: &'static str,
        /// Its number of parties.
        expected: usize,
        /// The channels given.
        got: usize,
    },
    /// An output was wrong.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// Runs `computation` with party `i` on `channels[i]` (party 0 evaluates,
/// every party learns the output), all parties concurrently in the calling
/// task, and checks every output against plain Rust.
pub async fn run<C: EngineChannel>(
    computation: &Computation,
    channels: Vec<C>,
) -> Result<Run, RunError> {
    if channels.len() != computation.parties() {
        return Err(RunError::Parties {
            name: computation.name,
            expected: computation.parties(),
            got: channels.len(),
        });
    }
    let everyone: Vec<usize> = (0..computation.parties()).collect();
    let started = Instant::now();
    let parties = channels.into_iter().enumerate().map(|(me, channel)| {
        let everyone = &everyone;
        async move {
            let output = polytune::mpc(
                &channel,
                computation.circuit(),
                computation.input(me),
                0,
                me,
                everyone,
                None,
            )
            .await
            .map_err(|e| RunError::Engine {
                party: me,
                reason: format!("{e:?}"),
            })?;
            let sent = channel
                .finish()
                .await
                .map_err(|source| RunError::Finish { party: me, source })?;
            computation.verify(me, &output)?;
            Ok::<_, RunError>(sent)
        }
    });
    let sent = futures::future::try_join_all(parties).await?;
    Ok(Run {
        sent,
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.
    use super::*;

    /// Garble's own plain evaluation of the circuit agrees with plain Rust,
    /// so a run's check compares against the right number.
    fn plain_output(computation: &Computation) -> Vec<bool> {
        let inputs: Vec<Vec<bool>> = (0..computation.parties())
            .map(|p| computation.input(p).to_vec())
            .collect();
        computation
            .program
            .circuit
            .clone()
            .unwrap_ssa()
            .eval(&inputs)
    }

    #[test]
    fn the_circuits_compute_what_plain_rust_computes() {
        for values in [[5, 1, 2], [1, 9, 2], [1, 2, 9], [7, 7, 1], [0, 0, 0]] {
            let c = Computation::largest_of(&values).unwrap();
            c.verify(0, &plain_output(&c)).unwrap();
        }
        for seed in 0..4 {
            let c = Computation::dot_product(4, seed).unwrap();
            c.verify(0, &plain_output(&c)).unwrap();
        }
    }

    #[test]
    fn a_wrong_output_is_reported_with_both_values() {
        let right = Computation::largest_of(&[1, 9, 2]).unwrap();
        let other = Computation::largest_of(&[9, 1, 2]).unwrap();
        let err = right.verify(2, &plain_output(&other)).unwrap_err();
        match err {
            CheckError::WrongOutput {
                party,
                got,
                expected,
                ..
            } => assert_eq!((party, got.as_str(), expected.as_str()), (2, "0", "1")),
            other => panic!("{other}"),
        }
        let garbage = right.verify(0, &[true]).unwrap_err();
        assert!(matches!(garbage, CheckError::Program { .. }), "{garbage}");
    }
}
