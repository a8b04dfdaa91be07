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
