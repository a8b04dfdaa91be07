//! Output: results on stdout (human or JSON), progress on stderr, and GitHub Actions outputs.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;

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

/// Where a GitHub Actions step's outputs and summary go: the files `$GITHUB_OUTPUT` and
/// `$GITHUB_STEP_SUMMARY` name. The CLI reads them from its environment once, into the context; a
/// context built any other way (the tests calling a command in-process) has none, so it never
/// writes into the files of the CI job that runs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubFiles {
    /// `$GITHUB_OUTPUT`: the step's outputs, `key<<DELIMITER` blocks.
    pub output: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`: markdown shown on the run's page.
    pub step_summary: Option<PathBuf>,
}

impl GithubFiles {
    /// The files this process's environment names: set inside GitHub Actions, else none.
    pub(crate) fn from_env() -> GithubFiles {
        GithubFiles {
            output: std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }
}

/// Appends `key` to the step's outputs, if it has an output file (multi-line safe).
pub(crate) fn github_output(github: &GithubFiles, key: &str, value: &str) -> Result<()> {
    let Some(path) = &github.output else { return Ok(()) };
    let delimiter = format!("AGENTCORE_EOF_{}", rand::random::<u64>());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open $GITHUB_OUTPUT ({})", path.display()))?;
    writeln!(file, "{key}<<{delimiter}\n{value}\n{delimiter}")?;
    Ok(())
}

/// Appends markdown to the step's summary, if it has a summary file.
pub(crate) fn step_summary(github: &GithubFiles, markdown: &str) -> Result<()> {
    let Some(path) = &github.step_summary else { return Ok(()) };
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(path).context("cannot open $GITHUB_STEP_SUMMARY")?;
    writeln!(file, "{markdown}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs and summary are appended to the files given, and without files go nowhere.
    #[test]
    fn github_files_are_written_where_given_and_only_there() {
        let dir = tempfile::tempdir().unwrap();
        let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
        let files = GithubFiles { output: Some(output.clone()), step_summary: Some(summary.clone()) };
        github_output(&files, "result", "line one\nline two").unwrap();
        github_output(&files, "failed", "0").unwrap();
        step_summary(&files, "### cargo xtask deploy").unwrap();
        step_summary(&files, "done").unwrap();
        github_output(&GithubFiles::default(), "result", "elsewhere").unwrap();
        step_summary(&GithubFiles::default(), "elsewhere").unwrap();

        let text = std::fs::read_to_string(&output).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let delimiter = lines[0].strip_prefix("result<<").unwrap();
        assert_eq!(&lines[1..4], ["line one", "line two", delimiter]);
        let delimiter = lines[4].strip_prefix("failed<<").unwrap();
        assert_eq!(&lines[5..], ["0", delimiter]);
        assert_eq!(std::fs::read_to_string(&summary).unwrap(), "### cargo xtask deploy\ndone\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "nothing else written");
    }
}
