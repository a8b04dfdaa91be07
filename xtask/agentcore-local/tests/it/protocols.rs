//! Runtimes of every protocol AgentCore runs (HTTP, MCP, A2A, AGUI), made through the SDK: the
//! control plane keeps and returns their `protocolConfiguration` and refuses what AWS refuses; the
//! data plane runs each version on its protocol's port and forwards InvokeAgentRuntime to its path,
//! with the MCP headers both ways. The agent is of the standard library only.

use std::time::Duration;

use agentcore_local::{AgentHost, LocalStack};
use aws_sdk_bedrockagentcore::primitives::Blob;
use aws_sdk_bedrockagentcorecontrol as control;
use control::types::{ProtocolConfiguration, ServerProtocol};
use serde_json::{Value, json};

use super::{ROLE, assert_error, code_artifact, control_client, public_network, start, upload, wait_runtime, zip_with};

/// `fixtures/protocol_agent.py`: listens on `AGENT_PORT`, answers any path with what reached it.
const AGENT: &str = include_str!("fixtures/protocol_agent.py");

const SESSION: &str = "local-protocol-session-0123456789abcdef";

/// A runtime of the protocol agent with `protocol` (none: the field left out) and `environment`,
/// READY; its id and ARN.
async fn runtime(
    stack: &LocalStack,
    client: &control::Client,
    name: &str,
    protocol: Option<ProtocolConfiguration>,
    environment: &[(&str, &str)],
) -> (String, String) {
    let key = format!("{name}.zip");
    upload(stack, &key, zip_with(&[("main.py", AGENT)])).await;
    let mut create = client
        .create_agent_runtime()
        .agent_runtime_name(name)
        .agent_runtime_artifact(code_artifact(&key))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .set_protocol_configuration(protocol);
    for (name, value) in environment {
        create = create.environment_variables(*name, *value);
    }
    let created = create.send().await.unwrap();
    let id = created.agent_runtime_id().to_owned();
    wait_runtime(client, &id).await;
    (id, created.agent_runtime_arn().to_owned())
}

fn protocol(server: ServerProtocol, port: Option<i32>, path: Option<&str>) -> Option<ProtocolConfiguration> {
    let config =
        ProtocolConfiguration::builder().server_protocol(server).set_port(port).set_path(path.map(str::to_owned));
    Some(config.build().unwrap())
}

/// What the agent saw of one invocation through the SDK, and the MCP session header it got back.
async fn invoke(stack: &LocalStack, arn: &str, payload: Value, mcp_session: Option<&str>) -> (Value, Option<String>) {
    let call = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(arn)
        .runtime_session_id(SESSION)
        .content_type("application/json")
        .accept("application/json, text/event-stream")
        .set_mcp_session_id(mcp_session.map(str::to_owned))
        .mcp_protocol_version("2025-06-18")
        .mcp_method("tools/list")
        .payload(Blob::new(payload.to_string()));
    let output = tokio::time::timeout(Duration::from_secs(90), call.send())
        .await
        .expect("an invocation answers within 90 s")
        .unwrap_or_else(|err| panic!("{:?}", err.into_service_error()));
    let session = output.mcp_session_id().map(str::to_owned);
    assert_eq!(output.mcp_protocol_version(), Some("2025-06-18"), "the agent's MCP protocol version comes back");
    assert_eq!(output.trace_parent(), Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    let body = output.response.collect().await.unwrap().into_bytes();
    (serde_json::from_slice(&body).unwrap(), session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_protocol_runs_on_its_port_and_path() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let client = control_client(stack).await;
    let tools_list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} });
    let no_ping = ("NO_PING", "1");

    // name, protocolConfiguration, the port the agent binds, the path it must be sent, whether it pings.
    let cases = [
        ("plain_http", None, "8080", "/invocations", true),
        ("declared_http", protocol(ServerProtocol::Http, None, None), "8080", "/invocations", true),
        ("tools_mcp", protocol(ServerProtocol::Mcp, None, None), "8000", "/mcp", false),
        ("second_mcp", protocol(ServerProtocol::Mcp, None, None), "8000", "/mcp", false),
        ("peer_a2a", protocol(ServerProtocol::A2A, None, None), "9000", "/", false),
        ("ui_agui", protocol(ServerProtocol::Agui, None, None), "8080", "/invocations", true),
        ("custom_mcp", protocol(ServerProtocol::Mcp, Some(9100), Some("/v1/tools")), "9100", "/v1/tools", false),
    ];
    let mut arns = Vec::new();
    for (name, config, port, path, pings) in &cases {
        let mut environment = vec![("AGENT_PORT", *port)];
        if !pings {
            environment.push(no_ping);
        }
        let (id, arn) = runtime(stack, &client, name, config.clone(), &environment).await;
        // GetAgentRuntime gives back what the version was made with.
        let got = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
        assert_eq!(got.protocol_configuration(), config.as_ref(), "{name}");
        arns.push((name, arn, *path));
    }

    // Every one at once, each process bound to the port its protocol says, without clashes.
    for (name, arn, path) in &arns {
        let (answer, session) = invoke(stack, arn, tools_list.clone(), None).await;
        assert_eq!(answer["path"], *path, "{name}: {answer}");
        assert_eq!(answer["payload"], tools_list, "{name}");
        assert_eq!(answer["session"], SESSION, "{name}");
        assert_eq!(answer["accept"], "application/json, text/event-stream", "{name}");
        assert_eq!(
            (answer["mcp_protocol_version"].as_str(), answer["mcp_method"].as_str()),
            (Some("2025-06-18"), Some("tools/list"))
        );
        assert_eq!(answer["mcp_session"], Value::Null, "{name}: no session was sent, none is made up");
        assert_eq!(session.as_deref(), Some("agent-made-session"), "{name}: the agent's session comes back");
    }
    assert_eq!(stack.agent_processes().len(), cases.len(), "{:?}", stack.agent_processes());

    // An MCP session goes to the agent and comes back.
    let (_, mcp_arn, _) = &arns[2];
    let (answer, session) = invoke(stack, mcp_arn, tools_list.clone(), Some("client-session-42")).await;
    assert_eq!(
        (answer["mcp_session"].as_str(), session.as_deref()),
        (Some("client-session-42"), Some("client-session-42"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_another_port_than_its_protocols_does_not_start() {
    let harness = start(0).await;
    let stack = &harness.stack;
    stack.set_agent_host(AgentHost { start_timeout: Duration::from_secs(2), ..AgentHost::default() });
    let client = control_client(stack).await;
    // An HTTP server on 8080, declared MCP: AgentCore would look for it on 8000.
    let (_, arn) = runtime(stack, &client, "misplaced", protocol(ServerProtocol::Mcp, None, None), &[]).await;
    let err = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .runtime_session_id(SESSION)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 424, "RuntimeClientError", "did not listen on port 8000 (MCP agent)");

    // An HTTP agent must answer GET /ping with 200; an MCP one need not.
    let (_, arn) = runtime(stack, &client, "no_ping_http", None, &[("AGENT_PORT", "8080"), ("NO_PING", "1")]).await;
    let err = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .runtime_session_id(SESSION)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 424, "RuntimeClientError", "GET /ping did not answer 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_configurations_aws_refuses_are_refused() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let client = control_client(stack).await;
    upload(stack, "a.zip", zip_with(&[("main.py", AGENT)])).await;
    let create = |config: ProtocolConfiguration| {
        client
            .create_agent_runtime()
            .agent_runtime_name("refused")
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
            .network_configuration(public_network())
            .protocol_configuration(config)
            .send()
    };
    let mcp = || ProtocolConfiguration::builder().server_protocol(ServerProtocol::Mcp);
    let err = create(mcp().port(8443).build().unwrap()).await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "port 8443 is reserved by AgentCore");
    let err = create(mcp().port(7999).build().unwrap()).await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "protocolConfiguration.port");
    let err = create(mcp().port(12001).build().unwrap()).await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "protocolConfiguration.port");
    let err = create(mcp().path("mcp").build().unwrap()).await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "protocolConfiguration.path");
    let err = create(mcp().path("/with space").build().unwrap()).await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "protocolConfiguration.path");
    let err = create(ProtocolConfiguration::builder().server_protocol(ServerProtocol::from("GRPC")).build().unwrap())
        .await
        .unwrap_err();
    assert_error(&err, 400, "ValidationException", "protocolConfiguration.serverProtocol");

    // The edges of the range, and a path of the characters the model allows, are taken.
    for (name, port, path) in [("low", 8000, "/a-b.c_d~e/%20"), ("high", 12000, "/")] {
        let config = mcp().port(port).path(path).build().unwrap();
        let created = client
            .create_agent_runtime()
            .agent_runtime_name(name)
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
            .network_configuration(public_network())
            .protocol_configuration(config.clone())
            .send()
            .await
            .unwrap();
        let got = client.get_agent_runtime().agent_runtime_id(created.agent_runtime_id()).send().await.unwrap();
        assert_eq!(got.protocol_configuration(), Some(&config));
    }
}
