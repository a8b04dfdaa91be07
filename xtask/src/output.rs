//! Output: results on stdout (human or JSON), progress on stderr, and GitHub Actions outputs.

use std::fmt::Display;
use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

/// Progress for humans; never on stdout, which carries results only.
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!($($arg)*) };
}
pub(crate) use progress;

/// Prints a result: pretty JSON with `--json`, else its `Display`.
pub(crate) fn emit<T: Serialize + Display>(json: bool, value: &T) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, value)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{value}")?;
    }
    stdout.flush()?;
    Ok(())
}

/// Appends `key` to `$GITHUB_OUTPUT` when running inside GitHub Actions (multi-line safe).
pub(crate) fn github_output(key: &str, value: &str) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT") else { return Ok(()) };
    let delimiter = format!("AGENTCORE_EOF_{}", rand::random::<u64>());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open $GITHUB_OUTPUT ({})", std::path::Path::new(&path).display()))?;
    writeln!(file, "{key}<<{delimiter}\n{value}\n{delimiter}")?;
    Ok(())
}

/// Appends markdown to `$GITHUB_STEP_SUMMARY` when running inside GitHub Actions.
pub(crate) fn step_summary(markdown: &str) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .context("cannot open $GITHUB_STEP_SUMMARY")?;
    writeln!(file, "{markdown}")?;
    Ok(())
}
