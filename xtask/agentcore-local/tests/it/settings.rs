//! A runtime's settings beyond code and role (VPC, lifecycle, JWT authorizer, request headers,
//! platform version, allowed ports, minimum memory), tags, and DELETE_FAILED: accepted and returned
//! as AgentCore does, and refused where AgentCore refuses.

use aws_sdk_bedrockagentcorecontrol::operation::list_tags_for_resource as control_tags;
use aws_sdk_bedrockagentcorecontrol::types::{
    AllowedPort, AuthorizerConfiguration, CustomJwtAuthorizerConfiguration, LifecycleConfiguration,
    NetworkConfiguration, NetworkMode, PortRange, RequestHeaderConfiguration, VpcConfig,
};
use serde_json::json;

use super::{
    BUCKET, ROLE, assert_error, assert_raw_error, code_artifact, control_client, create_runtime, signed, start, upload,
    wait_runtime, zip_with,
};

const SUBNET: &str = "subnet-0123456789abcdef0";
const GROUP: &str = "sg-0123456789abcdef0";
const DISCOVERY: &str = "https://idp.example.com/.well-known/openid-configuration";

fn vpc() -> NetworkConfiguration {
    let config = VpcConfig::builder().subnets(SUBNET).security_groups(GROUP).build().unwrap();
    NetworkConfiguration::builder().network_mode(NetworkMode::Vpc).network_mode_config(config).build().unwrap()
}

/// Every setting given on create comes back from GetAgentRuntime, on the latest version and on that
/// version by number; an update without them makes a version without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_setting_is_returned_as_given() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let jwt = CustomJwtAuthorizerConfiguration::builder()
        .discovery_url(DISCOVERY)
        .allowed_clients("web")
        .allowed_scopes("agent/invoke")
        .build()
        .unwrap();
    let created = client
        .create_agent_runtime()
        .agent_runtime_name("configured")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .network_configuration(vpc())
        .lifecycle_configuration(
            LifecycleConfiguration::builder().idle_runtime_session_timeout(600).max_lifetime(3600).build(),
        )
        .authorizer_configuration(AuthorizerConfiguration::CustomJwtAuthorizer(jwt))
        .request_header_configuration(RequestHeaderConfiguration::RequestHeaderAllowlist(vec![
            "Authorization".into(),
            "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant".into(),
        ]))
        .platform_version("V2")
        .allowed_ports(AllowedPort::Port(8081))
        .allowed_ports(AllowedPort::PortRange(PortRange::builder().from(9000).to(9010).build().unwrap()))
        .send()
        .await
        .unwrap();
    let id = created.agent_runtime_id().to_owned();
    let latest = wait_runtime(&client, &id).await;
    let first = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("1").send().await.unwrap();
    for runtime in [&latest, &first] {
        let network = runtime.network_configuration().unwrap();
        assert_eq!(network.network_mode(), &NetworkMode::Vpc);
        assert_eq!(network.network_mode_config().unwrap().subnets(), [SUBNET]);
        let lifecycle = runtime.lifecycle_configuration().unwrap();
        assert_eq!((lifecycle.idle_runtime_session_timeout(), lifecycle.max_lifetime()), (Some(600), Some(3600)));
        let AuthorizerConfiguration::CustomJwtAuthorizer(jwt) = runtime.authorizer_configuration().unwrap() else {
            panic!("a JWT authorizer")
        };
        assert_eq!((jwt.discovery_url(), jwt.allowed_clients()), (DISCOVERY, &["web".to_owned()][..]));
        let headers = runtime.request_header_configuration().unwrap().as_request_header_allowlist().unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(runtime.platform_version(), Some("V2"));
        assert_eq!(runtime.allowed_ports().len(), 2);
    }

    // The SDK cannot send resourceConfigurations (botocore has it, the crate does not): raw.
    let body = json!({
        "agentRuntimeArtifact": {"codeConfiguration": {"code": {"s3": {"bucket": BUCKET, "prefix": "a.zip"}},
            "runtime": "PYTHON_3_14", "entryPoint": ["main.py"]}},
        "roleArn": ROLE,
        "resourceConfigurations": [{"minimumMemoryInMiB": 4096}],
    });
    let path = format!("/runtimes/{id}/");
    let updated = signed(stack, "bedrock-agentcore", "PUT", &path, "", body.to_string().as_bytes()).await;
    assert_eq!(updated.status, 202, "{updated:?}");
    wait_runtime(&client, &id).await;
    let second = signed(stack, "bedrock-agentcore", "GET", &path, "version=2", b"").await.json();
    assert_eq!(second["resourceConfigurations"], json!([{"minimumMemoryInMiB": 4096}]));
    assert_eq!(second["agentRuntimeArtifact"]["codeConfiguration"]["runtime"], "PYTHON_3_14");
    assert!(second.get("networkConfiguration").is_none(), "an update is a full replacement: {second}");
    assert!(second.get("platformVersion").is_none() && second.get("authorizerConfiguration").is_none());
    // AgentCore's lifecycle defaults fill in what was not given.
    assert_eq!(second["lifecycleConfiguration"], json!({"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}));
    harness.stack.shutdown().await;
}

/// What AgentCore refuses beyond the model's own constraints comes back as one ValidationException
/// naming each field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_rules_are_enforced() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let body = json!({
        "agentRuntimeName": "refused",
        "agentRuntimeArtifact": {"codeConfiguration": {"code": {"s3": {"bucket": BUCKET, "prefix": "a.zip"}},
            "runtime": "PYTHON_3_13", "entryPoint": ["main.py"]}},
        "roleArn": ROLE,
        "networkConfiguration": {"networkMode": "VPC", "networkModeConfig": {"subnets": ["subnet-1"], "securityGroups": [GROUP]}},
        "requestHeaderConfiguration": {"requestHeaderAllowlist": ["Authorization", "Host"]},
        "platformVersion": "V9",
        "allowedPorts": [{"port": 8443}, {"portRange": {"from": 9000, "to": 9100}}, {"port": 9050}],
    });
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.to_string().as_bytes()).await;
    assert_raw_error(&response, 400, "ValidationException", "6 validation errors detected");
    let fields: Vec<String> = response.json()["fieldList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        [
            "networkConfiguration.networkModeConfig.subnets.1.member",
            "allowedPorts.1.member",
            "allowedPorts.3.member",
            "requestHeaderConfiguration.requestHeaderAllowlist.1.member",
            "requestHeaderConfiguration.requestHeaderAllowlist.2.member",
            "platformVersion",
        ]
    );
    let body = json!({
        "agentRuntimeName": "vpc_without_subnets",
        "agentRuntimeArtifact": {"codeConfiguration": {"code": {"s3": {"bucket": BUCKET, "prefix": "a.zip"}},
            "runtime": "PYTHON_3_13", "entryPoint": ["main.py"]}},
        "roleArn": ROLE,
        "networkConfiguration": {"networkMode": "VPC"},
    });
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.to_string().as_bytes()).await;
    assert_raw_error(&response, 400, "ValidationException", "networkMode VPC needs a networkModeConfig");
    harness.stack.shutdown().await;
}

/// Tags: set by create, listed, added, changed and removed by ARN; an unknown ARN is 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_set_listed_and_removed_by_arn() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let created = client
        .create_agent_runtime()
        .agent_runtime_name("tagged")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .tags("team", "fun")
        .tags("cost", "1")
        .send()
        .await
        .unwrap();
    let arn = created.agent_runtime_arn();
    let tags = |output: control_tags::ListTagsForResourceOutput| {
        let mut tags: Vec<(String, String)> = output.tags().cloned().unwrap_or_default().into_iter().collect();
        tags.sort();
        tags
    };
    let listed = client.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert_eq!(tags(listed), [("cost".into(), "1".into()), ("team".into(), "fun".into())]);
    client.tag_resource().resource_arn(arn).tags("team", "serious").tags("owner", "me").send().await.unwrap();
    client.untag_resource().resource_arn(arn).tag_keys("cost").tag_keys("absent").send().await.unwrap();
    let listed = client.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert_eq!(tags(listed), [("owner".into(), "me".into()), ("team".into(), "serious".into())]);

    let unknown = format!("{}-other", arn);
    let err = client.list_tags_for_resource().resource_arn(&unknown).send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "no agent runtime has that ARN");
    let err = client.tag_resource().resource_arn(arn).tags("bad!key", "x").send().await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "tags.key");
    let counts = stack.control_requests();
    assert_eq!((counts.get("TagResource"), counts.get("UntagResource"), counts.get("ListTagsForResource")), (2, 1, 3));
    harness.stack.shutdown().await;
}

/// A delete that fails leaves the runtime DELETE_FAILED with a reason; deleting again removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delete_is_delete_failed_until_deleted_again() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "stubborn", "a.zip").await;
    wait_runtime(&client, &id).await;
    stack.faults().fail("DeleteAgentRuntime", 1, "network interfaces are still in use").unwrap();
    client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    let runtime = wait_runtime(&client, &id).await;
    assert_eq!(runtime.status().as_str(), "DELETE_FAILED");
    assert_eq!(runtime.failure_reason(), Some("network interfaces are still in use"));
    let listed = client.list_agent_runtimes().send().await.unwrap();
    assert_eq!(listed.agent_runtimes()[0].status().as_str(), "DELETE_FAILED");
    let err = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "DELETE_FAILED");

    client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    for _ in 0..200 {
        if client.get_agent_runtime().agent_runtime_id(&id).send().await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let err = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");
    harness.stack.shutdown().await;
}

/// A failed endpoint delete leaves the endpoint DELETE_FAILED with a reason: it cannot be moved, it
/// keeps its runtime from being deleted (the error names it), and deleting it again removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_endpoint_delete_is_delete_failed_until_deleted_again() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "stubborn", "a.zip").await;
    wait_runtime(&client, &id).await;
    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("live").send().await.unwrap();
    stack.faults().fail("DeleteAgentRuntimeEndpoint", 1, "the endpoint's network interfaces are in use").unwrap();
    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("live").send().await.unwrap();
    let endpoint =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("live").send().await.unwrap();
    assert_eq!(endpoint.status().as_str(), "DELETE_FAILED");
    assert_eq!(endpoint.failure_reason(), Some("the endpoint's network interfaces are in use"));
    let listed = client.list_agent_runtime_endpoints().agent_runtime_id(&id).send().await.unwrap();
    let statuses: Vec<(&str, &str)> =
        listed.runtime_endpoints().iter().map(|e| (e.name(), e.status().as_str())).collect();
    assert_eq!(statuses, [("DEFAULT", "READY"), ("live", "DELETE_FAILED")]);
    let err = client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("live")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "is DELETE_FAILED; delete it again");
    let err = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "live (DELETE_FAILED; delete it again)");
    let arn = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap().agent_runtime_arn().to_owned();
    let err = stack
        .data_client()
        .invoke_agent_runtime()
        .agent_runtime_arn(&arn)
        .qualifier("live")
        .runtime_session_id("a-session-of-at-least-33-characters")
        .payload(aws_smithy_types::Blob::new("{}"))
        .send()
        .await
        .unwrap_err();
    let err = format!("{:?}", err.into_service_error());
    assert!(err.contains("ResourceNotFoundException") && err.contains("is DELETE_FAILED; delete it again"), "{err}");

    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("live").send().await.unwrap();
    let err = client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("live").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "no endpoint named live");
    client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    harness.stack.shutdown().await;
}
