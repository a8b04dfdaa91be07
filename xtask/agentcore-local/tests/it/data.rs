//! The data plane: InvokeAgentRuntime through the real SDK client runs the version the qualifier's
//! endpoint serves, with agents of the standard library only (no dependencies to install), and the
//! Bedrock runtime stand-in they would call.

use std::time::Duration;

use agentcore_local::{AgentHost, LocalStack};
use aws_sdk_bedrockagentcore::primitives::Blob;
use aws_sdk_bedrockagentcorecontrol as control;
use serde_json::{Value, json};

use super::{
    Harness, ROLE, assert_error, assert_raw_error, code_artifact, control_client, public_network, raw, start, upload,
    wait_runtime, zip_with,
};

/// The test agent (`fixtures/http_agent.py`): the standard library's HTTP server on port 8080.
const AGENT: &str = include_str!("fixtures/http_agent.py");

const SESSION: &str = "local-test-session-0123456789abcdefghij";

fn agent_zip(greeting: &str) -> Vec<u8> {
    zip_with(&[("main.py", AGENT), ("greeting.txt", greeting)])
}

/// Creates a runtime from `key` with `environment`, and waits until it is READY.
async fn runtime(client: &control::Client, name: &str, key: &str, environment: &[(&str, &str)]) -> (String, String) {
    let mut create = client
        .create_agent_runtime()
        .agent_runtime_name(name)
        .agent_runtime_artifact(code_artifact(key))
        .role_arn(ROLE)
        .network_configuration(public_network());
    for (name, value) in environment {
        create = create.environment_variables(*name, *value);
    }
    let created = create.send().await.unwrap();
    let id = created.agent_runtime_id().to_owned();
    wait_runtime(client, &id).await;
    (id, created.agent_runtime_arn().to_owned())
}

/// A stack with one READY runtime `name` of the test agent saying `greeting`: the harness, the
/// runtime's id and its ARN.
async fn one_agent(name: &str, greeting: &str) -> (Harness, String, String) {
    let harness = start(0).await;
    let key = format!("{name}.zip");
    upload(&harness.stack, &key, agent_zip(greeting)).await;
    let (id, arn) = runtime(&control_client(&harness.stack).await, name, &key, &[]).await;
    (harness, id, arn)
}

async fn update(client: &control::Client, id: &str, key: &str) {
    client
        .update_agent_runtime()
        .agent_runtime_id(id)
        .agent_runtime_artifact(code_artifact(key))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .environment_variables("MODE", "updated")
        .send()
        .await
        .unwrap();
    wait_runtime(client, id).await;
}

async fn point(client: &control::Client, id: &str, endpoint: &str, version: &str, create: bool) {
    if create {
        let call = client.create_agent_runtime_endpoint().agent_runtime_id(id).name(endpoint);
        call.agent_runtime_version(version).send().await.unwrap();
    } else {
        let call = client.update_agent_runtime_endpoint().agent_runtime_id(id).endpoint_name(endpoint);
        call.agent_runtime_version(version).send().await.unwrap();
    }
    for _ in 0..200 {
        let state = client.get_agent_runtime_endpoint().agent_runtime_id(id).endpoint_name(endpoint).send().await;
        if state.is_ok_and(|state| state.status().as_str() == "READY" && state.live_version() == Some(version)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("endpoint {endpoint} never served version {version}");
}

/// Invokes through the SDK; the answer's body, content type and session.
async fn invoke(
    stack: &LocalStack,
    arn: &str,
    qualifier: Option<&str>,
    payload: Value,
) -> Result<(Vec<u8>, String, String), String> {
    let call = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(arn)
        .set_qualifier(qualifier.map(str::to_owned))
        .runtime_session_id(SESSION)
        .content_type("application/json")
        .payload(Blob::new(payload.to_string()));
    let output = tokio::time::timeout(Duration::from_secs(90), call.send())
        .await
        .expect("an invocation answers within 90 s")
        .map_err(|err| format!("{:?}", err.into_service_error()))?;
    let content_type = output.content_type().to_owned();
    let session = output.runtime_session_id().unwrap_or_default().to_owned();
    let body = output.response.collect().await.unwrap().into_bytes().to_vec();
    Ok((body, content_type, session))
}

async fn answer(stack: &LocalStack, arn: &str, qualifier: Option<&str>) -> Value {
    let (body, content_type, session) = invoke(stack, arn, qualifier, json!({ "prompt": "hello" })).await.unwrap();
    assert_eq!((content_type.as_str(), session.as_str()), ("application/json", SESSION));
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_runs_the_version_its_endpoint_serves() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let client = control_client(stack).await;
    upload(stack, "greeter/v1.zip", agent_zip("one")).await;
    upload(stack, "greeter/v2.zip", agent_zip("two")).await;
    let (id, arn) = runtime(&client, "greeter", "greeter/v1.zip", &[("MODE", "first")]).await;

    let first = answer(stack, &arn, None).await;
    assert_eq!((first["greeting"].as_str(), first["prompt"].as_str()), (Some("one"), Some("hello")), "{first}");
    assert_eq!(first["session"], SESSION, "the session header reaches the agent");
    assert_eq!(first["mode"], "first", "the version's environment variables reach the agent");
    assert_eq!(first["key"], agentcore_local::ACCESS_KEY_ID, "the agent gets the stack's credentials only");
    assert_eq!(first["bedrock"], stack.model_endpoint());

    // DEFAULT follows the latest version; a named endpoint stays where it was pointed.
    update(&client, &id, "greeter/v2.zip").await;
    point(&client, &id, "prod", "1", true).await;
    assert_eq!(answer(stack, &arn, None).await["greeting"], "two");
    assert_eq!(answer(stack, &arn, Some("DEFAULT")).await["mode"], "updated");
    let prod = answer(stack, &arn, Some("prod")).await;
    assert_eq!(prod["greeting"], "one");
    assert_eq!(prod["pid"], first["pid"], "a warm version keeps its process");
    point(&client, &id, "prod", "2", false).await;
    assert_eq!(answer(stack, &arn, Some("prod")).await["greeting"], "two", "promoting changes which code answers");
    point(&client, &id, "prod", "1", false).await;
    assert_eq!(answer(stack, &arn, Some("prod")).await["greeting"], "one", "rolling back too");

    // One process per version, each on a port of its own; the id with accountId works like the ARN.
    let processes = stack.agent_processes();
    assert_eq!(processes.iter().map(|p| p.version).collect::<Vec<_>>(), [1, 2], "{processes:?}");
    assert_ne!(processes[0].port, processes[1].port);
    let by_id = raw_invoke(stack, &format!("/runtimes/{id}/invocations?accountId=123456789012"), b"{}").await;
    assert_eq!(by_id.status, 200, "{by_id:?}");

    // Several agents at once, without port clashes.
    upload(stack, "other/v1.zip", agent_zip("other")).await;
    let (_, other) = runtime(&client, "other_agent", "other/v1.zip", &[]).await;
    let (a, b) = tokio::join!(answer(stack, &other, None), answer(stack, &arn, None));
    assert_eq!((a["greeting"].as_str(), b["greeting"].as_str()), (Some("other"), Some("two")));
    assert_eq!(stack.agent_processes().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_answers_and_the_agents_own_failures() {
    let (harness, _, arn) = one_agent("streamer", "hi").await;
    let stack = &harness.stack;

    let (body, content_type, _) = invoke(stack, &arn, None, json!({ "stream": true })).await.unwrap();
    assert_eq!(content_type, "text/event-stream");
    let events: Vec<&str> =
        std::str::from_utf8(&body).unwrap().lines().filter_map(|line| line.strip_prefix("data: ")).collect();
    assert_eq!(events, [r#"{"part": 0}"#, r#"{"part": 1}"#, r#"{"part": 2}"#]);

    let err = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .runtime_session_id(SESSION)
        .payload(Blob::new(r#"{"fail": true}"#))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 424, "RuntimeClientError", "Received error (500) from runtime streamer v1");
    assert_error(&err, 424, "RuntimeClientError", "the agent failed on purpose");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_cannot_start_answers_with_its_output_not_a_hang() {
    let harness = start(0).await;
    let stack = &harness.stack;
    stack.set_agent_host(AgentHost { start_timeout: Duration::from_secs(3), ..AgentHost::default() });
    let client = control_client(stack).await;
    let broken = "import json\nprint('loading the agent', flush=True)\nimport no_such_module_here\n";
    upload(stack, "broken.zip", zip_with(&[("main.py", broken)])).await;
    let (_, arn) = runtime(&client, "broken", "broken.zip", &[]).await;
    let started = std::time::Instant::now();
    let err = invoke(stack, &arn, None, json!({})).await.unwrap_err();
    assert!(err.contains("RuntimeClientError") && err.contains("Runtime initialization failed"), "{err}");
    assert!(err.contains("loading the agent") && err.contains("No module named 'no_such_module_here'"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());

    // A process that never listens is stopped at the start timeout.
    upload(stack, "silent.zip", zip_with(&[("main.py", "import time\ntime.sleep(600)\n")])).await;
    let (_, silent) = runtime(&client, "silent", "silent.zip", &[]).await;
    let err = invoke(stack, &silent, None, json!({})).await.unwrap_err();
    assert!(err.contains("did not listen on port 8080"), "{err}");
    assert!(stack.agent_processes().is_empty());

    // Dependencies need uv, which this stack was not given: the error says how to give it one.
    let with_dependency = zip_with(&[("main.py", AGENT), ("greeting.txt", "x"), ("six-1.17.0.dist-info/METADATA", "")]);
    upload(stack, "needs-uv.zip", with_dependency).await;
    let (_, needs_uv) = runtime(&client, "needs_uv", "needs-uv.zip", &[]).await;
    let err = invoke(stack, &needs_uv, None, json!({})).await.unwrap_err();
    assert!(err.contains("1 dependencies must be installed") && err.contains("cargo xtask"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_processes_stop_and_come_back_and_the_stack_stops_them_all() {
    let (harness, _, arn) = one_agent("idler", "idle").await;
    let stack = &harness.stack;
    stack.set_agent_host(AgentHost { idle_timeout: Some(Duration::from_millis(400)), ..AgentHost::default() });
    let first = answer(stack, &arn, None).await["pid"].as_u64().unwrap();
    for _ in 0..100 {
        if stack.agent_processes().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stack.agent_processes().is_empty(), "an idle process is stopped");
    wait_gone(first as u32).await;
    let second = answer(stack, &arn, None).await["pid"].as_u64().unwrap();
    assert_ne!(first, second, "the next call starts it again");

    let Harness { stack, _temp } = harness;
    stack.shutdown().await;
    wait_gone(second as u32).await;
}

/// Waits until process `pid` has ended (gone, or a zombie its parent has yet to reap).
async fn wait_gone(pid: u32) {
    for _ in 0..100 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat) if stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("process {pid} still runs");
}

async fn raw_invoke(stack: &LocalStack, target: &str, body: &[u8]) -> super::RawResponse {
    let endpoint = stack.data_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (date, authorization) =
        agentcore_local::sign("POST", path, query, host, body, stack.region(), "bedrock-agentcore");
    let headers = [
        ("x-amz-date", date),
        ("authorization", authorization),
        ("x-amzn-bedrock-agentcore-runtime-session-id", SESSION.to_owned()),
    ];
    raw(&endpoint, "POST", target, &headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_errors_are_the_models() {
    let (harness, id, arn) = one_agent("errors", "e").await;
    let stack = &harness.stack;
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");

    let missing =
        raw_invoke(stack, &format!("/runtimes/{}/invocations", encoded.replace(&id, "gone-0123456789")), b"{}").await;
    assert_raw_error(&missing, 404, "ResourceNotFoundException", "no agent runtime gone-0123456789");
    let no_endpoint = raw_invoke(stack, &format!("/runtimes/{encoded}/invocations?qualifier=prod"), b"{}").await;
    assert_raw_error(&no_endpoint, 404, "ResourceNotFoundException", "has no endpoint named prod");
    let version = raw_invoke(stack, &format!("/runtimes/{encoded}/invocations?qualifier=1"), b"{}").await;
    assert_raw_error(&version, 404, "ResourceNotFoundException", "not a version");
    let no_account = raw_invoke(stack, &format!("/runtimes/{id}/invocations"), b"{}").await;
    assert_raw_error(&no_account, 400, "ValidationException", "accountId");
    let other_region =
        raw_invoke(stack, &format!("/runtimes/{}/invocations", encoded.replace("us-east-1", "eu-west-1")), b"{}").await;
    assert_raw_error(&other_region, 404, "ResourceNotFoundException", "123456789012 in us-east-1");

    // The session id is 33 to 256 characters (SessionType); the SDK leaves the check to the service.
    let short = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .runtime_session_id("too-short")
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap_err();
    assert_error(&short, 400, "ValidationException", "runtimeSessionId");

    // Signed for another service: refused before anything runs.
    let endpoint = stack.data_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let target = format!("/runtimes/{encoded}/invocations");
    let (date, authorization) = agentcore_local::sign("POST", &target, "", host, b"{}", stack.region(), "bedrock");
    let wrong = raw(&endpoint, "POST", &target, &[("x-amz-date", date), ("authorization", authorization)], b"{}").await;
    assert_raw_error(&wrong, 403, "InvalidSignatureException", "bedrock-agentcore");
    assert!(stack.agent_processes().is_empty(), "nothing was started for refused calls");

    // Anything else is refused on loopback: agents' other AWS calls land here.
    let other = raw(&endpoint, "POST", "/", &[], b"Action=GetCallerIdentity").await;
    assert_raw_error(&other, 404, "UnknownOperationException", "the local stack serves no POST /");

    // Injected throttling, as for the control plane's operations.
    stack.faults().throttle("InvokeAgentRuntime", 1).unwrap();
    let throttled = raw_invoke(stack, &format!("/runtimes/{encoded}/invocations"), b"{}").await;
    assert_raw_error(&throttled, 429, "ThrottlingException", "InvokeAgentRuntime");
    assert_eq!(raw_invoke(stack, &format!("/runtimes/{encoded}/invocations"), b"{}").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bedrock_stand_in_answers_converse_with_what_it_received() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let endpoint = stack.model_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let path = "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse";
    let body = json!({
        "system": [{ "text": "You are a test prompt." }],
        "messages": [{ "role": "user", "content": [{ "text": "Tell me about cheese." }] }],
    })
    .to_string();
    let (date, authorization) =
        agentcore_local::sign("POST", path, "", host, body.as_bytes(), stack.region(), "bedrock");
    let headers = [("x-amz-date", date), ("authorization", authorization), ("content-type", "application/json".into())];
    let response = raw(&endpoint, "POST", path, &headers, body.as_bytes()).await;
    assert_eq!(response.status, 200, "{response:?}");
    let answer = response.json();
    assert_eq!(
        answer["output"]["message"]["content"][0]["text"],
        "stand-in model us.anthropic.claude-haiku-4-5-20251001-v1:0; system prompt: You are a test prompt.; \
         last user message: Tell me about cheese."
    );
    assert_eq!(answer["stopReason"], "end_turn");

    let (date, authorization) =
        agentcore_local::sign("POST", path, "", host, body.as_bytes(), stack.region(), "bedrock-agentcore");
    let wrong =
        raw(&endpoint, "POST", path, &[("x-amz-date", date), ("authorization", authorization)], body.as_bytes()).await;
    assert_raw_error(&wrong, 403, "InvalidSignatureException", "'bedrock'");
}
