//! `local up` and the state directory: a corrupt state file, two `local up` on one directory, and
//! the AWS CLI pointed at `local up` by its exports.

use std::ffi::OsStr;
use std::time::Duration;

use aws_sdk_bedrockagentcorecontrol as control;

use super::cli::{Running, export, spawn_up, wait_bounded, xtask};
use super::{ROLE, assert_error, client_script, main_py_zip};

fn state_dir(temp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = temp.path().join("state");
    agentcore_local::prepare_dir(&dir).unwrap();
    dir
}

/// `local up` on a corrupt state file exits 1 before listening, naming the file and the fix.
#[test]
fn local_up_refuses_a_corrupt_state_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = state_dir(&temp);
    std::fs::write(dir.join("control-plane.json"), "{\"runtimes\": {\"x\": 1}}").unwrap();
    let mut running = Running(
        xtask()
            .args(["local", "up", "--dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = wait_bounded(&mut running, Duration::from_secs(120));
    assert_eq!(status.code(), Some(1));
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    running.0.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    running.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(stdout, "", "no exports for a stack that did not start");
    let stderr = stderr.replace(&dir.display().to_string(), "[DIR]");
    insta::assert_snapshot!(stderr, @"error: cannot parse [DIR]/control-plane.json: invalid type: integer `1`, expected struct Runtime; `cargo xtask local reset --dir [DIR]` starts from an empty state (it deletes every local runtime and S3 object)");
}

/// Two `local up` on one directory share its state (the file lock serialises them); a third on a
/// port already taken fails with the flag to change, and the first keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_twice_on_one_directory_shares_the_state() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    let args = [OsStr::new("--transition-delay"), OsStr::new("0"), OsStr::new("--dir"), dir.as_os_str()];
    let (_first, first, first_log) = spawn_up(&args);
    let (_second, second, second_log) = spawn_up(&args);
    let note = format!("local: another local stack runs on {}; this one shares its state", dir.display());
    let logged = |log: &std::sync::mpsc::Receiver<String>| {
        // The startup lines end with "local: ready", printed right after the exports.
        let lines: Vec<String> = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(60)).ok())
            .take(20)
            .take_while(|line| !line.starts_with("local: ready"))
            .collect();
        lines.contains(&note)
    };
    assert!(!logged(&first_log), "the first stack is alone");
    assert!(logged(&second_log), "the second stack says it shares the directory");
    let client = |lines: &[String]| {
        let config = control::config::Builder::new()
            .behavior_version(control::config::BehaviorVersion::latest())
            .http_client(xtask::aws::http_client())
            .region(control::config::Region::new(export(lines, "AWS_REGION")))
            .credentials_provider(agentcore_local::credentials())
            .endpoint_url(export(lines, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"))
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(120)).build(),
            )
            .build();
        control::Client::from_conf(config)
    };
    let container = control::types::AgentRuntimeArtifact::ContainerConfiguration(
        control::types::ContainerConfiguration::builder()
            .container_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1")
            .build()
            .unwrap(),
    );
    let created = client(&first)
        .create_agent_runtime()
        .agent_runtime_name("shared")
        .agent_runtime_artifact(container.clone())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let seen = client(&second).get_agent_runtime().agent_runtime_id(created.agent_runtime_id()).send().await.unwrap();
    assert_eq!(seen.agent_runtime_name(), "shared");
    let err = client(&second)
        .create_agent_runtime()
        .agent_runtime_name("shared")
        .agent_runtime_artifact(container)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "an agent runtime named shared already exists");

    let port = export(&first, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL").rsplit(':').next().unwrap().to_owned();
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::from(xtask())
            .args(["local", "up", "--control-port", &port, "--dir"])
            .arg(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a busy port fails fast")
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&port, "[PORT]");
    assert!(
        stderr.contains("cannot listen on 127.0.0.1:[PORT] for the control plane: pick another port with --control-port or 0 for a free one"),
        "{stderr}"
    );
    let listed = client(&first).list_agent_runtimes().send().await.unwrap();
    assert_eq!(listed.agent_runtimes().len(), 1, "the first server still serves");
}

/// The AWS CLI (v1, botocore) pointed at `local up` by nothing but its exports, through `eval`.
#[test]
fn aws_cli_runs_against_the_exports() {
    let aws = crate::tools::aws_cli();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    let args = [OsStr::new("--transition-delay"), OsStr::new("0"), OsStr::new("--dir"), dir.as_os_str()];
    let (_up, exports, _) = spawn_up(&args);
    let zip = temp.path().join("agent.zip");
    std::fs::write(&zip, main_py_zip()).unwrap();
    let script = r#"
set -eu
aws() { "$AWS_CLI" "$@"; }
eval "$EXPORTS"
aws s3api create-bucket --bucket cli-bucket >/dev/null
aws s3 cp "$ZIP" s3://cli-bucket/agents/cli.zip >/dev/null
aws bedrock-agentcore-control create-agent-runtime --agent-runtime-name from_cli \
  --agent-runtime-artifact '{"codeConfiguration":{"code":{"s3":{"bucket":"cli-bucket","prefix":"agents/cli.zip"}},"runtime":"PYTHON_3_13","entryPoint":["main.py"]}}' \
  --network-configuration '{"networkMode":"PUBLIC"}' \
  --role-arn arn:aws:iam::123456789012:role/AgentCoreRuntimeRole --query agentRuntimeId --output text > "$OUT"
aws bedrock-agentcore-control get-agent-runtime --agent-runtime-id "$(cat "$OUT")" --query status --output text
aws bedrock-agentcore-control list-agent-runtime-endpoints --agent-runtime-id "$(cat "$OUT")" --query 'runtimeEndpoints[].name' --output text
aws bedrock-agentcore-control delete-agent-runtime-endpoint --agent-runtime-id "$(cat "$OUT")" --endpoint-name DEFAULT 2>&1 || true
"#;
    let exports = exports.join("\n");
    let out = temp.path().join("id");
    let vars = [
        ("AWS_CLI", aws.as_os_str()),
        ("EXPORTS", exports.as_ref()),
        ("ZIP", zip.as_os_str()),
        ("OUT", out.as_os_str()),
    ];
    let stdout = client_script(script, temp.path(), &vars);
    insta::assert_snapshot!(stdout, @r"
    READY
    DEFAULT

    An error occurred (ConflictException) when calling the DeleteAgentRuntimeEndpoint operation: default endpoints are removed when you delete the agent runtime; delete the runtime instead
    ");
}
