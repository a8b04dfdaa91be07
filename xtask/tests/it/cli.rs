//! The top-level command line: what `cargo xtask --help` shows users.

use std::path::Path;

use crate::support::{copy_workspace, release_fixture, repo_root, run, snapshot_settings, xtask_command};

/// Runs the binary with no AWS, AgentCore or GitHub variables, so help shows no local values.
fn xtask(args: &[&str]) -> std::process::Output {
    xtask_command(&repo_root()).args(args).output().unwrap()
}

#[test]
fn top_level_help() {
    let output = xtask(&["--help"]);
    assert!(output.status.success());
    snapshot_settings().bind(|| insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap()));
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
    let output = xtask_command(&repo_root())
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

/// Two checkouts of the monorepo, the second with one more agent, and one binary: each run works on
/// the checkout it is started in, found when it runs; a binary that cargo reused from another
/// checkout (what a shared target directory leads to) is refused before anything is read.
#[test]
fn each_checkout_is_found_when_the_command_runs() {
    let temp = tempfile::tempdir().unwrap();
    let source = repo_root().join("tests/fixtures/package/workspace");
    let checkout = |name: &str| {
        let root = temp.path().join(name);
        copy_workspace(&source, &root);
        root
    };
    let (first, second) = (checkout("first"), checkout("second"));
    let extra = second.join("agents/extra_bot");
    std::fs::create_dir_all(&extra).unwrap();
    for file in std::fs::read_dir(second.join("agents/plain_bot")).unwrap().map(Result::unwrap) {
        std::fs::copy(file.path(), extra.join(file.file_name())).unwrap();
    }
    // The selection error lists the agents of the workspace the run found.
    // Found by the binary itself: no AGENTCORE_WORKSPACE, and CARGO_MANIFEST_DIR only where cargo sets it.
    let known_agents = |dir: &Path, cargo_manifest_dir: Option<&Path>| {
        let mut command = xtask_command(dir);
        command.args(["package", "no_such_agent"]).env_remove("AGENTCORE_WORKSPACE");
        if let Some(manifest_dir) = cargo_manifest_dir {
            command.env("CARGO_MANIFEST_DIR", manifest_dir);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8(output.stderr).unwrap()
    };
    let stderr = known_agents(&second.join("agents/plain_bot"), None);
    assert!(stderr.contains("extra_bot") && stderr.contains("fixture_bot"), "{stderr}");
    let stderr = known_agents(&first, None);
    assert!(stderr.contains("fixture_bot") && !stderr.contains("extra_bot"), "{stderr}");

    // `cargo run` in the second checkout of a binary compiled from this repository's xtask/.
    let stderr = known_agents(&second, Some(&second.join("xtask")));
    let compiled_in = repo_root().join("xtask");
    assert!(
        stderr.contains(&format!(
            "this xtask binary was compiled from {} but cargo ran it for {}",
            compiled_in.display(),
            second.join("xtask").display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("fixture_bot"), "refused before reading the workspace: {stderr}");

    // Outside any checkout.
    let outside = temp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let stderr = known_agents(&outside, None);
    assert!(stderr.contains("no monorepo found"), "{stderr}");
}

/// Without any AWS account configured, a command that connects says once that it runs against the
/// bundled local stack; a step that makes no AWS call, such as `github pr-plan`, says nothing of it.
#[test]
fn only_commands_that_connect_note_the_local_stack() {
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, "prompts/echo_bot.txt\n").unwrap();
    let note = "no AWS account is configured";
    let event = repo_root().join("tests/events/pr_opened.json");
    let (ok, stdout, stderr) = run(xtask_command(&release_fixture())
        .args(["github", "pr-plan", "--event"])
        .arg(&event)
        .arg("--changed-files")
        .arg(&changed));
    assert!(ok && stdout.contains("agents: echo_bot"), "{stdout}{stderr}");
    assert!(!stderr.contains(note), "{stderr}");
    let (ok, _, stderr) =
        run(xtask_command(&release_fixture()).args(["status", "--local-dir"]).arg(dir.path().join("state")));
    assert!(ok, "{stderr}");
    assert_eq!(stderr.matches(note).count(), 1, "{stderr}");
}
