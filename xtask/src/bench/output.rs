//! Where the bench's reports go: printed, and written with their plot under
//! `target/bench/`.

use std::path::Path;
use std::time::Instant;

/// Prints `text`, writes it to `target/bench/{report}` and the plot `draw`
/// makes to `target/bench/{picture}`, and says so as `command`.
pub fn write(
    command: &str,
    text: &str,
    report: &str,
    picture: &str,
    draw: impl FnOnce(&Path) -> Result<(), String>,
    started: Instant,
) -> Result<(), String> {
    println!("\n{text}");
    let dir = crate::run::root().join("target").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let report = dir.join(report);
    std::fs::write(&report, text).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    let picture = dir.join(picture);
    draw(&picture)?;
    println!(
        "{command}: wrote {} and {} in {:.1?}",
        report.display(),
        picture.display(),
        started.elapsed()
    );
    Ok(())
}
