//! `cargo xtask local up` and `local reset` as users run them: a real subprocess of the xtask binary.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_bedrockagentcorecontrol as control;

use super::{ROLE, assert_error, main_py_zip};

/// Kills the child when the test ends, whether it passes or panics.
pub(super) struct Running(pub(super) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary in the tests' clean environment: no `GITHUB_*` of a CI running them, no `AWS_*`.
pub(super) fn xtask() -> Command {
    crate::support::xtask_command(&crate::support::repo_root())
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")]
}

/// Waits for the child to exit, polling for at most `limit`; panics (and so kills it) past that.
pub(super) fn wait_bounded(running: &mut Running, limit: Duration) -> std::process::ExitStatus {
    let step = Duration::from_millis(50);
    for _ in 0..(limit.as_millis() / step.as_millis()).max(1) {
        if let Some(status) = running.0.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(step);
    }
    panic!("the process did not exit within {limit:?}");
}

/// The `export` lines `local up` prints: the endpoints of S3, the AgentCore control and data
/// planes and the Bedrock runtime stand-in, two region variables and the credentials.
const EXPORTS: usize = 8;

/// `cargo xtask local up` with `args`, once it has printed its export lines; stderr is drained
/// into the returned receiver so the server never blocks on a full pipe.
pub(super) fn spawn_up(args: &[&std::ffi::OsStr]) -> (Running, Vec<String>, mpsc::Receiver<String>) {
    let mut child =
        xtask().args(["local", "up"]).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let (log_tx, log_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < EXPORTS {
        match lines_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => lines.push(line),
            Err(err) => {
                let log: Vec<String> = log_rx.try_iter().collect();
                panic!("`local up` printed no exports ({err}); stderr:\n{}", log.join("\n"));
            }
        }
    }
    (running, lines, log_rx)
}

/// The value of `export NAME=value` among `lines`.
pub(super) fn export(lines: &[String], name: &str) -> String {
    lines
        .iter()
        .find_map(|line| line.strip_prefix(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_prints_exports_and_serves_until_killed() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    let mut child = xtask()
        .args(["local", "up", "--transition-delay", "0", "--region", "eu-west-1", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let _running = Running(child);
    // Drain stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < EXPORTS {
        let line = lines_rx.recv_timeout(Duration::from_secs(120)).expect("`local up` printed its exports");
        lines.push(line);
    }
    let exports = lines.join("\n");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!(exports, @r"
        export AWS_ENDPOINT_URL_S3=http://127.0.0.1:[PORT]
        export AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL=http://127.0.0.1:[PORT]
        export AWS_ENDPOINT_URL_BEDROCK_AGENTCORE=http://127.0.0.1:[PORT]
        export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:[PORT]
        export AWS_REGION=eu-west-1
        export AWS_DEFAULT_REGION=eu-west-1
        export AWS_ACCESS_KEY_ID=AKIALOCALAGENTCORE01
        export AWS_SECRET_ACCESS_KEY=local-agentcore-secret-key
        ");
    });
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
            .to_owned()
    };

    // Clients configured only from what was printed.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(xtask::aws::http_client())
        .region(aws_config::Region::new(value("AWS_REGION")))
        .credentials_provider(aws_credential_types::Credentials::new(
            value("AWS_ACCESS_KEY_ID"),
            value("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "exports",
        ))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .endpoint_url(value("AWS_ENDPOINT_URL_S3"))
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("up-bucket").send().await.unwrap();
    s3.put_object().bucket("up-bucket").key("a.zip").body(main_py_zip().into()).send().await.unwrap();
    let client = control::Client::from_conf(
        control::config::Builder::from(&config)
            .endpoint_url(value("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"))
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    );
    let artifact = control::types::AgentRuntimeArtifact::CodeConfiguration(
        control::types::CodeConfiguration::builder()
            .code(control::types::Code::S3(
                control::types::S3Location::builder().bucket("up-bucket").prefix("a.zip").build().unwrap(),
            ))
            .runtime(control::types::AgentManagedRuntimeType::Python313)
            .entry_point("main.py")
            .build()
            .unwrap(),
    );
    let created = client
        .create_agent_runtime()
        .agent_runtime_name("from_up")
        .agent_runtime_artifact(artifact)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert!(created.agent_runtime_arn().starts_with("arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/"));
    let runtime = client.get_agent_runtime().agent_runtime_id(created.agent_runtime_id()).send().await.unwrap();
    assert_eq!(runtime.status().as_str(), "READY", "transition delay 0");

    // This process drives the server's faults through the state directory.
    std::fs::write(dir.join("faults.json"), r#"{"operations": {"ListAgentRuntimes": {"internal_error": 1}}}"#).unwrap();
    let err = client.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 500, "InternalServerException", "injected");
    assert_eq!(client.list_agent_runtimes().send().await.unwrap().agent_runtimes().len(), 1);
    assert!(dir.join("control-plane.json").is_file());
}

#[test]
fn local_reset_wipes_only_state_directories() {
    let temp = tempfile::tempdir().unwrap();
    let foreign = temp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "x").unwrap();
    let output = xtask().args(["local", "reset", "--dir"]).arg(&foreign).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&foreign.display().to_string(), "[DIR]");
    insta::assert_snapshot!(stderr, @"error: refusing to delete [DIR]: it has no .agentcore-local file, so it is not a local stack state directory");
    assert!(foreign.join("keep.txt").exists());

    let ours = temp.path().join("ours");
    agentcore_local::prepare_dir(&ours).unwrap();
    let output = xtask().args(["local", "reset", "--dir"]).arg(&ours).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "results only on stdout; progress on stderr");
    assert!(!ours.exists());
    let mut stderr = String::new();
    output.stderr.as_slice().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("wiped"), "{stderr}");
}

#[test]
fn local_up_refuses_bad_flags_before_starting() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    for (flag, value) in [
        ("--transition-delay", "3600001"),
        ("--transition-delay", "-1"),
        ("--s3-port", "70000"),
        ("--control-port", "-2"),
    ] {
        let output = xtask().args(["local", "up", flag, value, "--dir"]).arg(&dir).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{stderr}");
        assert!(!dir.exists(), "nothing is created for bad flags");
    }
    let output = xtask().args(["local", "up", "--transition-delay", "3600001"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(stderr.lines().next().unwrap_or_default(), @"error: invalid value '3600001' for '--transition-delay <MS>': 3600001 is not in 0..=3600000");
}

#[test]
fn local_up_help() {
    let output = xtask().args(["local", "up", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!(help.lines().take_while(|line| !line.contains("--json")).collect::<Vec<_>>().join("\n"));
}

#[test]
fn local_up_stops_cleanly_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let mut child = xtask()
        .args(["local", "up", "--dir"])
        .arg(temp.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let pid = child.id().to_string();
    let running = Running(child);
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines_tx.send(line);
        }
    });
    for _ in 0..6 {
        lines_rx.recv_timeout(Duration::from_secs(120)).expect("the export lines").unwrap();
    }
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let mut running = running;
    let exit = wait_bounded(&mut running, Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}");
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains("local: stopping"), "{log}");
}

/// With `--json`, `local up` prints one object (endpoints, region, state directory and the same
/// variables under `env`), and `local reset` reports what it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_and_reset_with_json() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    let mut child = xtask()
        .args(["--json", "--region", "eu-west-1", "local", "up", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut running = Running(child);
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    for _ in 0..100 {
        let line = lines_rx.recv_timeout(Duration::from_secs(120)).expect("`local up --json` printed its object");
        let done = line == "}";
        text.push_str(&line);
        text.push('\n');
        if done {
            break;
        }
    }
    let ready: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    assert_eq!(ready["env"]["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"], ready["control_endpoint"]);
    assert_eq!(ready["env"]["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"], ready["data_endpoint"]);
    assert_eq!(ready["env"]["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"], ready["model_endpoint"]);
    let shown = text.replace(&dir.display().to_string(), "[DIR]");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!(shown, @r#"
        {
          "dir": "[DIR]",
          "s3_endpoint": "http://127.0.0.1:[PORT]",
          "control_endpoint": "http://127.0.0.1:[PORT]",
          "data_endpoint": "http://127.0.0.1:[PORT]",
          "model_endpoint": "http://127.0.0.1:[PORT]",
          "region": "eu-west-1",
          "env": {
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:[PORT]",
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": "http://127.0.0.1:[PORT]",
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": "http://127.0.0.1:[PORT]",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:[PORT]",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIALOCALAGENTCORE01",
            "AWS_SECRET_ACCESS_KEY": "local-agentcore-secret-key"
          }
        }
        "#);
    });
    let client = control::Client::from_conf(
        control::config::Builder::new()
            .behavior_version(control::config::BehaviorVersion::latest())
            .http_client(xtask::aws::http_client())
            .region(control::config::Region::new(ready["region"].as_str().unwrap().to_owned()))
            .credentials_provider(agentcore_local::credentials())
            .endpoint_url(ready["control_endpoint"].as_str().unwrap())
            .build(),
    );
    assert!(client.list_agent_runtimes().send().await.unwrap().agent_runtimes().is_empty());

    running.0.kill().unwrap();
    wait_bounded(&mut running, Duration::from_secs(60));
    for wiped in [true, false] {
        let output = xtask().args(["--json", "local", "reset", "--dir"]).arg(&dir).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report, serde_json::json!({"dir": dir, "wiped": wiped}));
    }
}
