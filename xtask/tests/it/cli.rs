//! The top-level command line: what `cargo xtask --help` shows users.

use std::process::Command;

/// Runs the binary with no AWS, AgentCore or GitHub variables, so help shows no local values.
fn xtask(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("AWS_") || name.starts_with("AGENTCORE_") || name.starts_with("GITHUB_") {
            command.env_remove(&*name);
        }
    }
    command.args(args).env("COLUMNS", "100").output().unwrap()
}

#[test]
fn top_level_help() {
    let output = xtask(&["--help"]);
    assert!(output.status.success());
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn usage_errors_exit_with_2() {
    let output = xtask(&["deploy", "--pr", "1", "--prod"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_failed_command_leaves_an_error_output_and_summary_in_github_actions() {
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary) = (dir.path().join("output"), dir.path().join("summary"));
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["package", "no_such_agent"])
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let outputs = std::fs::read_to_string(outputs).unwrap();
    assert!(outputs.starts_with("error<<") && outputs.contains("no agent named `no_such_agent`"), "{outputs}");
    let summary = std::fs::read_to_string(summary).unwrap();
    assert!(summary.contains("### cargo xtask failed") && summary.contains("```text\n"), "{summary}");
}
