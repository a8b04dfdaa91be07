//! The state directory across runs: older, newer and broken state files, a broken faults file, and
//! resets while stacks run.

use agentcore_local::{LocalConfig, LocalStack};

use super::{ROLE, assert_error, client_without_retries, code_artifact, control_client, start_in, wait_runtime};

/// A state file as the first release wrote it: no `format` number, every field present.
const FIRST_FORMAT: &str = include_str!("fixtures/state-format-1.json");

fn state_dir(temp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = temp.path().join("state");
    agentcore_local::prepare_dir(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_from_before_format_numbers_is_read_and_upgraded() {
    let temp = tempfile::tempdir().unwrap();
    let dir = state_dir(&temp);
    let file = dir.join("control-plane.json");
    std::fs::write(&file, FIRST_FORMAT).unwrap();
    let stack = start_in(temp.path(), 0).await;
    let client = control_client(&stack).await;
    let runtime = wait_runtime(&client, "legacy-AbCdE12345").await;
    assert_eq!((runtime.agent_runtime_name(), runtime.status().as_str()), ("legacy", "READY"));
    let prod = client
        .get_agent_runtime_endpoint()
        .agent_runtime_id("legacy-AbCdE12345")
        .endpoint_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!((prod.live_version(), prod.description()), (Some("1"), Some("live")));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), FIRST_FORMAT, "reads do not rewrite the file");

    let updated = client
        .update_agent_runtime()
        .agent_runtime_id("legacy-AbCdE12345")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.agent_runtime_version(), "2");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written["format"], 1, "the first write records the format");
    assert_eq!(written["runtimes"]["legacy-AbCdE12345"]["next_version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_from_a_newer_xtask_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let dir = state_dir(&temp);
    std::fs::write(dir.join("control-plane.json"), r#"{"format": 99, "runtimes": {}, "resources": []}"#).unwrap();
    let err = format!("{:#}", LocalStack::start(LocalConfig::new(&dir)).await.unwrap_err());
    let file = dir.join("control-plane.json");
    assert!(
        err.contains(&format!(
            "{} has state format 99, written by a newer xtask (this one reads formats up to 1)",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("`cargo xtask local reset --dir {}`", dir.display())), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_faults_file_is_refused_at_startup() {
    let temp = tempfile::tempdir().unwrap();
    let dir = state_dir(&temp);
    std::fs::write(dir.join("faults.json"), r#"{"operations": {"GetAgentRuntime": {"throttel": 1}}}"#).unwrap();
    let err = format!("{:#}", LocalStack::start(LocalConfig::new(&dir)).await.unwrap_err());
    assert!(err.contains(&format!("cannot parse {}", dir.join("faults.json").display())), "{err}");
    assert!(err.contains("unknown field `throttel`") && err.contains("fix or delete that file"), "{err}");

    // An operation name with a typo would otherwise inject nothing, silently.
    std::fs::write(dir.join("faults.json"), r#"{"operations": {"ListAgentRuntime": {"throttle": 1}}}"#).unwrap();
    let err = format!("{:#}", LocalStack::start(LocalConfig::new(&dir)).await.unwrap_err());
    assert!(
        err.starts_with(&format!(
            "{}: unknown operation `ListAgentRuntime` for fault injection; use one of CreateAgentRuntime,",
            dir.join("faults.json").display()
        )),
        "{err}"
    );

    // Written while a stack runs: the next request reports it.
    std::fs::remove_file(dir.join("faults.json")).unwrap();
    let stack = LocalStack::start(LocalConfig::new(&dir)).await.unwrap();
    std::fs::write(dir.join("faults.json"), r#"{"operations": {"ListAgentRuntime": {"throttle": 1}}}"#).unwrap();
    let err = client_without_retries(&stack).await.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 500, "InternalServerException", "unknown operation `ListAgentRuntime` for fault injection");
    assert_error(&err, 500, "InternalServerException", "fix or delete faults.json");
}

/// A state file broken while the stack runs: every call is a 500 that names the file and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_broken_while_running_gives_errors_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let stack = start_in(temp.path(), 0).await;
    let file = stack.dir().join("control-plane.json");
    std::fs::write(&file, "{\"runtimes\": [").unwrap();
    let client = client_without_retries(&stack).await;
    let err = client.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 500, "InternalServerException", &format!("cannot parse {}", file.display()));
    assert_error(
        &err,
        500,
        "InternalServerException",
        &format!("`cargo xtask local reset --dir {}`", stack.dir().display()),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"runtimes\": [", "the broken file is left for inspection");
}

/// `local reset` refuses to delete the state from under a running stack, and works once it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_waits_for_running_stacks_to_stop() {
    let temp = tempfile::tempdir().unwrap();
    let first = start_in(temp.path(), 0).await;
    let second = start_in(temp.path(), 0).await;
    let dir = first.dir().to_owned();
    let err = agentcore_local::reset(&dir).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "a local stack is running on {}: stop `cargo xtask local up` (Ctrl-C) or the `--local` command using it, then run this again",
            dir.display()
        )
    );
    first.shutdown().await;
    assert!(agentcore_local::reset(&dir).is_err(), "the second stack still runs");
    drop(second);
    assert!(agentcore_local::reset(&dir).unwrap());
    assert!(!dir.exists());
}
