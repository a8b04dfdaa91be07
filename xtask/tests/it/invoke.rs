//! `cargo xtask invoke`, the binary as users run it, against a local stack this test starts and
//! points the binary at through the stack's `AWS_ENDPOINT_URL_*` exports (so the agent processes
//! stay warm between commands): every real agent answering from the version its endpoint serves,
//! and each failure with its cause and fix, on test agents of the standard library only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentcore_local::{AgentHost, LocalConfig, LocalStack, UvSource};
use aws_sdk_bedrockagentcorecontrol as control;
use serde_json::Value;
use xtask::agents::Protocol;
use xtask::package::{PackageOptions, PackageTuning, package_agent_with};
use xtask::smoke::SmokeTest;

use crate::support::{
    copy_workspace, ctx, release_fixture, release_snapshot_settings, repo_root, run, run_async, xtask_command,
};

/// The standard-library test agent of the stack's own tests.
const HTTP_AGENT: &str = include_str!("../../agentcore-local/tests/it/fixtures/http_agent.py");

/// A stack in `dir` that installs agents' dependencies with the tests' uv, into the repository's
/// cache of host virtualenvs (shared by every run, as `cargo xtask` shares it).
async fn stack(dir: &Path, region: &str) -> LocalStack {
    let stack = LocalStack::start(LocalConfig {
        transition_delay: Duration::from_millis(50),
        region: region.to_owned(),
        ..LocalConfig::new(dir)
    })
    .await
    .unwrap();
    stack.set_agent_host(AgentHost {
        uv: Some(UvSource::path(crate::tools::uv())),
        venvs: Some(repo_root().join("target/agentcore/host-venvs")),
        ..AgentHost::default()
    });
    stack
}

/// Runs the binary in the workspace at `root` against `stack`: success, stdout, stderr.
async fn xtask(root: &Path, stack: &LocalStack, args: &[&str]) -> (bool, String, String) {
    let mut command = xtask_command(root);
    command.envs(stack.env_exports()).args(args);
    run_async(command).await
}

/// `invoke … --json`, which must succeed: its one object.
async fn invoke_json(root: &Path, stack: &LocalStack, args: &[&str]) -> Value {
    let mut all = vec!["invoke", "--json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = xtask(root, stack, &all).await;
    assert!(ok, "{all:?} failed:\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

/// Packages every agent of the workspace at `root` into `out`, its dependencies from the
/// repository's cache (filled on the first run, from PyPI).
fn package_all(root: &Path, out: &Path) -> PathBuf {
    let ctx = ctx(root, Default::default());
    let options = PackageOptions { out_dir: out.to_path_buf(), prompt_override: None };
    let tuning = PackageTuning {
        deps_dir: Some(repo_root().join("target/agentcore/deps")),
        uv: Some(crate::tools::uv()),
        ..PackageTuning::default()
    };
    for agent in xtask::agents::discover(root, &ctx.settings).unwrap() {
        package_agent_with(&ctx, &agent, &options, &tuning).unwrap_or_else(|err| panic!("{}: {err:#}", agent.name));
    }
    out.to_path_buf()
}

/// Deploys every agent from the zips in `zips`, for pull request 7 and for prod.
async fn deploy_all(root: &Path, stack: &LocalStack, zips: &str) {
    for target in [&["--pr", "7"][..], &["--prod"][..]] {
        let args = [&["deploy", "--all", "--package-dir", zips][..], target].concat();
        let (ok, _, stderr) = xtask(root, stack, &args).await;
        assert!(ok, "{args:?} failed:\n{stderr}");
    }
}

/// The start of an agent's prompt as the stand-in model shows it: its first line, at most 60 characters.
fn prompt_head(root: &Path, agent: &str) -> String {
    let prompt = std::fs::read_to_string(root.join(format!("prompts/{agent}.txt"))).unwrap();
    prompt.lines().next().unwrap_or_default().chars().take(60).collect()
}

/// Every agent `agents/` holds, deployed for a pull request and for prod, answers from the version
/// its endpoint serves: a prompt changed between two versions shows in the stand-in model's answer
/// on the PR at once, and on prod only once promoted, and no more after a rollback. An HTTP agent is
/// sent a prompt, which reaches the model; an agent of another protocol is sent its smoke test's
/// payload (its protocol's default unless `[smoke]` gives one), and its answer must pass that test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_agent_answers_from_the_version_its_endpoint_serves() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    copy_workspace(&repo_root(), &root);
    let settings = ctx(&root, Default::default()).settings;
    let all = xtask::agents::discover(&root, &settings).unwrap();
    let agents: Vec<String> = all.iter().map(|agent| agent.name.clone()).collect();
    assert!(!agents.is_empty(), "no agent under agents/ to invoke");
    let stack = stack(&temp.path().join("state"), &settings.region).await;
    stack.ensure_bucket(&settings.bucket).await.unwrap();
    let first_heads: Vec<String> = agents.iter().map(|agent| prompt_head(&root, agent)).collect();

    let zips = package_all(&root, &temp.path().join("zips-1"));
    let zips = zips.to_str().unwrap();
    deploy_all(&root, &stack, zips).await;
    let (ok, _, stderr) = xtask(&root, &stack, &["promote", "--all", "--version", "1"]).await;
    assert!(ok, "{stderr}");

    // Each call is checked for the version served and, for an HTTP agent, for what reached the
    // model: the packaged prompt (a different one per version) and the request.
    let check = async |agent: &str, target: &[&str], version: &str, head: &str| {
        let manifest = all.iter().find(|known| known.name == agent).unwrap();
        let prompt = format!("hello from the invoke test to {agent}");
        let smoke = SmokeTest::for_agent(manifest);
        let payload = smoke.payload.to_string();
        let mut args = match manifest.protocol() {
            Protocol::Http => vec![agent, "--prompt", &prompt],
            _ => vec![agent, "--payload", &payload],
        };
        args.extend_from_slice(target);
        let answer = invoke_json(&root, &stack, &args).await;
        let context = format!("{agent} {target:?}: {answer:#}");
        assert_eq!((answer["status"].as_u64(), answer["version"].as_str()), (Some(200), Some(version)), "{context}");
        if manifest.protocol() != Protocol::Http {
            assert_eq!(smoke.judge(200, &answer["body"]), None, "{context}");
            return;
        }
        let body = answer["body"].to_string();
        assert!(body.contains("stand-in model "), "{context}");
        assert!(body.contains(&format!("system prompt: {}", head.replace('"', "\\\""))), "{context}");
        assert!(body.contains(&format!("last user message: {prompt}")), "{context}");
    };
    for (agent, head) in agents.iter().zip(&first_heads) {
        check(agent, &["--pr", "7"], "1", head).await;
        check(agent, &["--prod"], "1", head).await;
    }

    // A new prompt makes version 2 of both runtimes.
    let second_heads: Vec<String> = agents.iter().map(|agent| format!("Second prompt of {agent}.")).collect();
    for (agent, head) in agents.iter().zip(&second_heads) {
        let file = root.join(format!("prompts/{agent}.txt"));
        let prompt = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{head}\n{prompt}")).unwrap();
    }
    let zips = package_all(&root, &temp.path().join("zips-2"));
    let zips = zips.to_str().unwrap();
    deploy_all(&root, &stack, zips).await;
    for (agent, (first, second)) in agents.iter().zip(first_heads.iter().zip(&second_heads)) {
        check(agent, &["--pr", "7"], "2", second).await;
        check(agent, &["--prod"], "1", first).await;
        check(agent, &["--prod", "--endpoint", "DEFAULT"], "2", second).await;
    }
    let (ok, _, stderr) = xtask(&root, &stack, &["promote", "--all", "--version", "2", "--expect-live", "1"]).await;
    assert!(ok, "{stderr}");
    for (agent, second) in agents.iter().zip(&second_heads) {
        check(agent, &["--prod"], "2", second).await;
    }
    let (ok, _, stderr) = xtask(&root, &stack, &["rollback", "--all"]).await;
    assert!(ok, "{stderr}");
    for (agent, first) in agents.iter().zip(&first_heads) {
        check(agent, &["--prod"], "1", first).await;
    }
    // One process per version that answered: each agent's versions 1 and 2, at once.
    assert_eq!(stack.agent_processes().len(), agents.len() * 4, "{:?}", stack.agent_processes());
    stack.shutdown().await;
}

fn http_agent_zip(greeting: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in [("main.py", HTTP_AGENT), ("greeting.txt", greeting)] {
        writer.start_file(name, options).unwrap();
        std::io::Write::write_all(&mut writer, content.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Creates runtime `name` from `code` (a zip, uploaded to the stack's S3) and waits until READY.
async fn runtime(stack: &LocalStack, name: &str, code: Vec<u8>) -> String {
    let bucket = "invoke-tests";
    stack.ensure_bucket(bucket).await.unwrap();
    let key = format!("{name}/code.zip");
    stack.s3_client().put_object().bucket(bucket).key(&key).body(code.into()).send().await.unwrap();
    let client = stack.control_client();
    let artifact = control::types::AgentRuntimeArtifact::CodeConfiguration(
        control::types::CodeConfiguration::builder()
            .code(control::types::Code::S3(
                control::types::S3Location::builder().bucket(bucket).prefix(key).build().unwrap(),
            ))
            .runtime(control::types::AgentManagedRuntimeType::Python312)
            .entry_point("main.py")
            .build()
            .unwrap(),
    );
    let created = client
        .create_agent_runtime()
        .agent_runtime_name(name)
        .agent_runtime_artifact(artifact)
        .role_arn("arn:aws:iam::123456789012:role/AgentCoreRuntimeRole")
        .network_configuration(
            control::types::NetworkConfiguration::builder()
                .network_mode(control::types::NetworkMode::Public)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = created.agent_runtime_id().to_owned();
    for _ in 0..200 {
        let runtime = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
        if runtime.status().as_str() == "READY" {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("runtime {name} never became READY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stream_and_failures_name_the_cause_and_the_fix() {
    let temp = tempfile::tempdir().unwrap();
    let root = release_fixture();
    let stack = stack(&temp.path().join("state"), "us-east-1").await;
    let id = runtime(&stack, "greeter", http_agent_zip("hi there")).await;
    let fails = |args: &'static [&'static str]| {
        let stack = &stack;
        let root = &root;
        async move {
            let (ok, stdout, stderr) = xtask(root, stack, args).await;
            assert!(!ok, "{args:?} succeeded: {stdout}");
            stderr
        }
    };

    // Human output: JSON pretty-printed, server-sent events line by line; the session on stderr.
    let (ok, stdout, stderr) = xtask(&root, &stack, &["invoke", "--runtime", "greeter", "--prompt", "hi"]).await;
    assert!(ok, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((answer["greeting"].as_str(), answer["prompt"].as_str()), (Some("hi there"), Some("hi")));
    assert!(stdout.starts_with("{\n  \""), "pretty-printed: {stdout}");
    let session = stderr.lines().find_map(|line| line.split("--session ").nth(1)).expect("the session is printed");
    assert_eq!(answer["session"], session, "{stderr}");
    assert!(stderr.contains("invoke: greeter on DEFAULT, version 1, session xtask-"), "{stderr}");
    let own_session = "a-session-of-my-own-0123456789abcdef";
    let args = ["invoke", "--runtime", "greeter", "--payload", r#"{"stream": true}"#, "--session", own_session];
    let (ok, stdout, stderr) = xtask(&root, &stack, &args).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "{\n  \"part\": 0\n}\n{\n  \"part\": 1\n}\n{\n  \"part\": 2\n}\n");
    assert!(!stderr.contains("continue this conversation"), "a given session is not announced: {stderr}");

    let args =
        ["invoke", "--runtime", "greeter", "--json", "--payload", r#"{"stream": true}"#, "--session", own_session];
    let (ok, stdout, stderr) = xtask(&root, &stack, &args).await;
    assert!(ok, "{stderr}");
    let shown =
        regex::Regex::new(r#""latency_ms": \d+"#).unwrap().replace(&stdout, r#""latency_ms": [MS]"#).into_owned();
    release_snapshot_settings().bind(|| insta::assert_snapshot!("invoke_stream_json", shown));

    // The agent's own failure: AgentCore's 424 with the agent's message.
    let err = fails(&["invoke", "--runtime", "greeter", "--payload", r#"{"fail": true}"#]).await;
    assert!(err.contains("RuntimeClientError: Received error (500) from runtime greeter v1"), "{err}");
    assert!(err.contains("the agent failed on purpose") && err.contains("fix its code or settings"), "{err}");

    // No answer in time.
    let err = fails(&["invoke", "--runtime", "greeter", "--payload", r#"{"sleep": 5}"#, "--timeout", "1"]).await;
    assert!(
        err.contains("no complete answer from greeter on DEFAULT within 1 s") && err.contains("--timeout"),
        "{err}"
    );

    // Throttling outlasting the SDK's retries (three attempts).
    stack.faults().throttle("InvokeAgentRuntime", 3).unwrap();
    let err = fails(&["invoke", "--runtime", "greeter"]).await;
    assert!(err.contains("ThrottlingException") && err.contains("wait a moment and call again"), "{err}");

    // Code that does not start: its own output says why, and nothing hangs.
    let broken = {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer.start_file("main.py", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut writer, b"raise SystemExit('the agent cannot start: MODEL_ID is missing')\n")
            .unwrap();
        writer.finish().unwrap().into_inner()
    };
    runtime(&stack, "crasher", broken).await;
    let err = fails(&["invoke", "--runtime", "crasher"]).await;
    assert!(err.contains("Runtime initialization failed") && err.contains("MODEL_ID is missing"), "{err}");

    // Unknown runtimes, agents and endpoints, before any call.
    let err = fails(&["invoke", "--runtime", "nobody_home"]).await;
    assert!(err.contains("there is no runtime nobody_home: `cargo xtask status` lists"), "{err}");
    let err = fails(&["invoke", "--runtime", "greeter", "--qualifier", "prod"]).await;
    assert!(
        err.contains("runtime greeter has no endpoint prod (it has DEFAULT): call one of those with --qualifier"),
        "{err}"
    );
    let err = fails(&["invoke", "no_such_agent", "--pr", "1"]).await;
    assert!(err.contains("no agent named `no_such_agent`"), "{err}");
    let err = fails(&["invoke", "echo_bot", "--pr", "3"]).await;
    assert!(
        err.contains("there is no runtime echo_bot_pr_3: deploy it with `cargo xtask deploy echo_bot --pr 3`"),
        "{err}"
    );

    // An endpoint that serves no version yet.
    stack.faults().stuck("CreateAgentRuntimeEndpoint", 1).unwrap();
    let client = stack.control_client();
    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("canary").send().await.unwrap();
    let err = fails(&["invoke", "--runtime", "greeter", "--qualifier", "canary"]).await;
    assert!(
        err.contains("endpoint canary of runtime greeter is CREATING") && err.contains("wait until it is READY"),
        "{err}"
    );
    stack.shutdown().await;
}

#[test]
fn invoke_help() {
    let (ok, stdout, stderr) = run(xtask_command(&release_fixture()).args(["invoke", "--help"]));
    assert!(ok, "{stderr}");
    let own = stdout.split("      --json").next().unwrap().to_owned();
    release_snapshot_settings().bind(|| insta::assert_snapshot!("help_invoke", own));
}

/// `deploy --smoke` on a copy of the release fixture: `echo_bot` (the standard-library test agent,
/// with a `[smoke]` table) passes its smoke test; `weather_report_bot`, broken at import, fails
/// its default one, and the deploy fails with it while still reporting the version it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_smoke_tests_each_version_it_made() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    copy_workspace(&release_fixture(), &root);
    let echo = root.join("agents/echo_bot");
    std::fs::write(echo.join("main.py"), HTTP_AGENT).unwrap();
    std::fs::write(echo.join("greeting.txt"), "hello from the smoke test\n").unwrap();
    let manifest = std::fs::read_to_string(echo.join("agent.toml")).unwrap();
    let smoke = "\n[smoke]\npayload = { prompt = \"are you there?\" }\ntimeout_secs = 30\nexpect = \"/greeting\"\n";
    std::fs::write(echo.join("agent.toml"), manifest + smoke).unwrap();
    std::fs::write(root.join("agents/weather_report_bot/main.py"), "import no_such_module_at_all\n").unwrap();
    let settings = ctx(&root, Default::default()).settings;
    let stack = stack(&temp.path().join("state"), &settings.region).await;
    stack.ensure_bucket(&settings.bucket).await.unwrap();
    let zips = package_all(&root, &temp.path().join("zips"));
    let zips = zips.to_str().unwrap();

    let args = ["deploy", "--all", "--pr", "5", "--package-dir", zips, "--smoke", "--json"];
    let (ok, stdout, stderr) = xtask(&root, &stack, &args).await;
    assert!(!ok, "a failed smoke test fails the deploy: {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"));
    let [echo, weather] = [&report["results"][0], &report["results"][1]];
    assert_eq!((echo["name"].as_str(), echo["ok"].as_bool()), (Some("echo_bot"), Some(true)), "{report:#}");
    let smoke = &echo["outcome"]["smoke"];
    assert_eq!((smoke["passed"].as_bool(), smoke["status"].as_u64()), (Some(true), Some(200)), "{report:#}");
    assert_eq!((smoke["qualifier"].as_str(), smoke["version"].as_str()), (Some("DEFAULT"), Some("1")));
    assert!(smoke["answer"].as_str().unwrap().contains("hello from the smoke test"), "{report:#}");
    assert!(smoke["answer"].as_str().unwrap().contains("are you there?"), "the manifest's payload: {report:#}");
    assert!(smoke.get("reason").is_none(), "{report:#}");

    assert_eq!((weather["name"].as_str(), weather["ok"].as_bool()), (Some("weather_report_bot"), Some(false)));
    assert_eq!(weather["outcome"]["version"].as_str(), Some("1"), "the version made is still reported");
    let smoke = &weather["outcome"]["smoke"];
    assert_eq!(smoke["passed"].as_bool(), Some(false), "{report:#}");
    let reason = smoke["reason"].as_str().unwrap();
    assert!(reason.contains("no_such_module_at_all"), "the agent's own output says why: {reason}");
    let error = weather["error"].as_str().unwrap();
    assert!(error.starts_with("the smoke test of version 1 failed: "), "{error}");
    assert_eq!(report["failed"].as_u64(), Some(1));

    // The table has a SMOKE column; a deploy without --smoke neither tests nor shows one.
    let args = ["deploy", "--all", "--pr", "5", "--package-dir", zips, "--smoke"];
    let (ok, stdout, stderr) = xtask(&root, &stack, &args).await;
    assert!(!ok, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert!(header.starts_with("AGENT ") && header.ends_with("  SMOKE"), "{stdout}");
    let row = stdout.lines().find(|line| line.starts_with("weather_report_bot ")).unwrap();
    assert!(
        row.contains("FAIL ") && row.ends_with("before it answered GET /ping; its last output:"),
        "one line: {row}"
    );
    assert!(stdout.contains(" pass ") && stdout.contains(" FAIL "), "{stdout}");
    assert!(stdout.contains("FAILED weather_report_bot: the smoke test of version 1 failed"), "{stdout}");
    let args = ["deploy", "echo_bot", "--pr", "5", "--package-dir", zips, "--json"];
    let (ok, stdout, stderr) = xtask(&root, &stack, &args).await;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("smoke"), "{stdout}");

    // `github pr-deploy --smoke`: the comment shows each test, the agent's text fenced.
    let changed = temp.path().join("changed.txt");
    std::fs::write(&changed, "agents/echo_bot/main.py\nagents/weather_report_bot/main.py\n").unwrap();
    let comment = temp.path().join("comment.md");
    let event = repo_root().join("tests/events/pr_opened.json");
    let args = [
        "github",
        "pr-deploy",
        "--event",
        event.to_str().unwrap(),
        "--changed-files",
        changed.to_str().unwrap(),
        "--package-dir",
        zips,
        "--smoke",
        "--out",
        comment.to_str().unwrap(),
    ];
    let (ok, _, stderr) = xtask(&root, &stack, &args).await;
    assert!(
        !ok && stderr.contains("the smoke test failed for weather_report_bot (the PR comment says why)"),
        "{stderr}"
    );
    let comment = std::fs::read_to_string(&comment).unwrap();
    let section = &comment[comment.find("### Smoke tests").expect(&comment)..];
    assert!(section.contains("- `echo_bot` pass in "), "{comment}");
    assert!(section.contains("\"greeting\":\"hello from the smoke test\""), "{comment}");
    assert!(section.contains("- `weather_report_bot` **fail** in "), "{comment}");
    assert!(section.contains("No module named 'no_such_module_at_all'"), "{comment}");
    stack.shutdown().await;
}

/// An agent on the standard library that answers its first call and fails every later one: it
/// passes a promotion's first smoke test and fails the second.
const FAILS_FROM_THE_SECOND_CALL: &str = r#"
import json
from http.server import BaseHTTPRequestHandler, HTTPServer

CALLS = [0]


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, {"status": "Healthy"})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        CALLS[0] += 1
        if CALLS[0] > 1:
            return self.answer(500, {"error": "worn out after one call"})
        self.answer(200, {"fresh": True})


HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"#;

/// `promote`'s smoke gate on a copy of the release fixture: a version that is not the latest is
/// tested on a temporary endpoint, removed afterwards; one that fails before the move is not made
/// live; one that fails on the endpoint after the move is moved back, both moves recorded;
/// `--no-smoke` skips the gate and the record says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_smoke_tests_before_and_after_the_move() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    copy_workspace(&release_fixture(), &root);
    let echo = root.join("agents/echo_bot");
    std::fs::write(echo.join("main.py"), HTTP_AGENT).unwrap();
    std::fs::write(echo.join("greeting.txt"), "hello from prod\n").unwrap();
    let manifest = std::fs::read_to_string(echo.join("agent.toml")).unwrap();
    std::fs::write(echo.join("agent.toml"), manifest.clone() + "\n[smoke]\nexpect = \"/greeting\"\n").unwrap();
    std::fs::write(root.join("agents/weather_report_bot/main.py"), FAILS_FROM_THE_SECOND_CALL).unwrap();
    let settings = ctx(&root, Default::default()).settings;
    let stack = stack(&temp.path().join("state"), &settings.region).await;
    stack.ensure_bucket(&settings.bucket).await.unwrap();
    let zips = package_all(&root, &temp.path().join("zips"));
    let zips = zips.to_str().unwrap();
    for force in [&[][..], &["--force"][..]] {
        let args = [&["deploy", "--all", "--prod", "--package-dir", zips][..], force].concat();
        let (ok, _, stderr) = xtask(&root, &stack, &args).await;
        assert!(ok, "{stderr}");
    }
    let client = stack.control_client();
    let endpoints = async |runtime: &str| -> Vec<(String, Option<String>)> {
        let runtimes = client.list_agent_runtimes().send().await.unwrap();
        let id =
            runtimes.agent_runtimes().iter().find(|r| r.agent_runtime_name() == runtime).unwrap().agent_runtime_id();
        let listed = client.list_agent_runtime_endpoints().agent_runtime_id(id).send().await.unwrap();
        let mut names: Vec<(String, Option<String>)> = listed
            .runtime_endpoints()
            .iter()
            .filter(|endpoint| endpoint.status().as_str() != "DELETING")
            .map(|endpoint| (endpoint.name().to_owned(), endpoint.live_version().map(str::to_owned)))
            .collect();
        names.sort();
        names
    };

    // Version 1 is not the latest: tested on a temporary endpoint, which is gone afterwards.
    let (ok, stdout, stderr) = xtask(&root, &stack, &["promote", "echo_bot", "--version", "1", "--json"]).await;
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let smoke = &report["results"][0]["outcome"]["smoke"];
    assert!(smoke["before"]["qualifier"].as_str().unwrap().starts_with("smoke_v1_"), "{report:#}");
    assert_eq!((smoke["before"]["passed"].as_bool(), smoke["before"]["version"].as_str()), (Some(true), Some("1")));
    assert_eq!((smoke["after"]["qualifier"].as_str(), smoke["after"]["passed"].as_bool()), (Some("prod"), Some(true)));
    assert!(stderr.contains("on a temporary endpoint, smoke_v1_"), "{stderr}");
    let expected = vec![("DEFAULT".to_owned(), Some("2".to_owned())), ("prod".to_owned(), Some("1".to_owned()))];
    assert_eq!(endpoints("echo_bot_prod").await, expected, "the temporary endpoint is removed");

    // A version failing its test before the move is not made live.
    std::fs::write(echo.join("agent.toml"), manifest + "\n[smoke]\nexpect = \"/no_such_key\"\n").unwrap();
    let (ok, stdout, stderr) = xtask(&root, &stack, &["promote", "echo_bot", "--version", "2"]).await;
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("the smoke test of version 2 of echo_bot_prod on DEFAULT failed, so prod was not moved")
            && stdout.contains("nothing at JSON pointer `/no_such_key`"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(endpoints("echo_bot_prod").await[1], ("prod".to_owned(), Some("1".to_owned())));

    // --no-smoke skips the gate; then a version passing its first test and failing on the endpoint
    // is moved back, and both moves are recorded.
    let (ok, _, stderr) =
        xtask(&root, &stack, &["promote", "weather_report_bot", "--version", "1", "--no-smoke"]).await;
    assert!(ok && stderr.contains("no smoke gate (--no-smoke)"), "{stderr}");
    let (ok, stdout, stderr) = xtask(&root, &stack, &["promote", "weather_report_bot", "--version", "2"]).await;
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("the smoke test of prod of weather_report_bot_prod failed after it moved to version 2")
            && stdout.contains("worn out after one call")
            && stdout.contains("prod was moved back to version 1 (both moves recorded: "),
        "{stdout}\n{stderr}"
    );
    assert_eq!(endpoints("weather_report_bot_prod").await[1], ("prod".to_owned(), Some("1".to_owned())));
    let listed = stack
        .s3_client()
        .list_objects_v2()
        .bucket(&settings.bucket)
        .prefix("weather_report_bot_prod/promotions/prod/")
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for object in listed.contents() {
        let got =
            stack.s3_client().get_object().bucket(&settings.bucket).key(object.key().unwrap()).send().await.unwrap();
        let record: Value = serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
        records.push((record["kind"].clone(), record["to_version"].clone(), record["smoke"].clone()));
    }
    assert_eq!(
        records,
        [
            ("promote".into(), "1".into(), "skipped (--no-smoke)".into()),
            ("promote".into(), "2".into(), "passed".into()),
            (
                "rollback".into(),
                "1".into(),
                "moved back: the smoke test of prod at version 2 failed after the move".into()
            ),
        ],
        "{records:?}"
    );
    stack.shutdown().await;
}
