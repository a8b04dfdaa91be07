//! One test per documented fact of the control API (shared/reference/agentcore-control-api.md) that
//! the broader scenario tests do not already pin down.

use aws_sdk_bedrockagentcorecontrol as control;
use aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeStatus;
use serde_json::json;

use super::{
    BUCKET, ROLE, assert_error, code_artifact, control_client, create_runtime, public_network, signed, start, upload,
    wait_runtime, zip_with,
};

/// Update is a full replacement: members left out of an update are gone from the new version, and
/// the old version keeps them (versions are immutable). Endpoint changes make no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_replaces_the_whole_configuration() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let protocol =
        control::types::ProtocolConfiguration::builder().server_protocol(control::types::ServerProtocol::Http).build();
    let created = client
        .create_agent_runtime()
        .agent_runtime_name("replaced")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .description("first")
        .environment_variables("MODE", "one")
        .protocol_configuration(protocol.unwrap())
        .send()
        .await
        .unwrap();
    let id = created.agent_runtime_id().to_owned();
    let updated = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!((updated.agent_runtime_version(), updated.status().as_str()), ("2", "UPDATING"));
    assert!(updated.last_updated_at().secs() >= updated.created_at().secs());

    let latest = wait_runtime(&client, &id).await;
    assert_eq!(latest.agent_runtime_version(), "2");
    assert_eq!(latest.description(), None, "an update is not a patch");
    assert!(latest.environment_variables().is_none(), "{latest:?}");
    assert!(latest.protocol_configuration().is_none(), "{latest:?}");
    assert!(latest.network_configuration().is_none(), "{latest:?}");
    let first = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("1").send().await.unwrap();
    assert_eq!(first.description(), Some("first"));
    assert_eq!(first.environment_variables().unwrap().get("MODE").map(String::as_str), Some("one"));
    assert_eq!(first.protocol_configuration().unwrap().server_protocol().as_str(), "HTTP");

    // Creating and updating an endpoint makes no version.
    let endpoint = client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("prod")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.agent_runtime_endpoint_arn(), format!("{}/runtime-endpoint/prod", created.agent_runtime_arn()));
    assert_eq!(endpoint.agent_runtime_arn(), created.agent_runtime_arn());
    client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap();
    let versions = client.list_agent_runtime_versions().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!(versions.agent_runtimes().len(), 2);
    let default =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap();
    assert_eq!(
        default.agent_runtime_endpoint_arn(),
        format!("{}/runtime-endpoint/DEFAULT", created.agent_runtime_arn())
    );
    assert!(default.id().starts_with("DEFAULT-"), "{}", default.id());
}

/// The list summary's `description` is required in the model: present (empty) even when none was set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_always_carry_a_description() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "plain", "a.zip").await;
    for (path, key) in [("/runtimes/", "agentRuntimes"), (&*format!("/runtimes/{id}/versions/"), "agentRuntimes")] {
        let listed = signed(stack, "bedrock-agentcore", "POST", path, "", b"").await.json();
        assert_eq!(listed[key][0]["description"], "", "{listed}");
        assert!(listed.get("nextToken").is_none(), "the last page has no token: {listed}");
    }
}

/// Deletes take their clientToken in the query string; a replay is answered like the first call,
/// even once the resource is gone. Deleting a runtime removes its DEFAULT endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_replay_with_the_same_client_token() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "gone", "a.zip").await;
    let token = "delete-token-00000000000000000000000001";
    let delete = || client.delete_agent_runtime().agent_runtime_id(&id).client_token(token);
    let first = delete().send().await.unwrap();
    assert_eq!((first.status().as_str(), first.agent_runtime_version()), ("DELETING", None));
    let err = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");
    let again = delete().send().await.expect("a replayed delete succeeds");
    assert_eq!(again.status().as_str(), "DELETING");
    let err = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");
    let err =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");

    // An update replayed with its token makes one version, not two.
    let id = create_runtime(&client, "updated_once", "a.zip").await;
    let update = || {
        client
            .update_agent_runtime()
            .agent_runtime_id(&id)
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
            .client_token("update-token-0000000000000000000000001")
    };
    let first = update().send().await.unwrap();
    let again = update().send().await.unwrap();
    assert_eq!((first.agent_runtime_version(), again.agent_runtime_version()), ("2", "2"));
    let versions = client.list_agent_runtime_versions().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!(versions.agent_runtimes().len(), 2);
}

/// A runtime being deleted refuses changes with 409 until it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_being_deleted_refuses_changes() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "leaving", "a.zip").await;
    stack.faults().stuck("DeleteAgentRuntime", 1).unwrap();
    client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    let runtime = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!(runtime.status(), &AgentRuntimeStatus::Deleting);
    let err = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", &format!("agent runtime {id} is being deleted"));
    let err = client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("late").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "is being deleted");
    let listed = client.list_agent_runtimes().send().await.unwrap();
    assert_eq!(listed.agent_runtimes()[0].status().as_str(), "DELETING");
}

/// Quotas default to AWS's: 1,000 runtimes, 1,000 versions, 10 endpoints per runtime (DEFAULT counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_quotas_are_aws_defaults() {
    let defaults = agentcore_local::Quotas::default();
    assert_eq!((defaults.runtimes, defaults.versions_per_runtime, defaults.endpoints_per_runtime), (1000, 1000, 10));
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "many", "a.zip").await;
    for index in 1..10 {
        client.create_agent_runtime_endpoint().agent_runtime_id(&id).name(format!("e{index}")).send().await.unwrap();
    }
    let err = client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("e10").send().await.unwrap_err();
    assert_error(&err, 402, "ServiceQuotaExceededException", "has 10 endpoints (DEFAULT included)");
    // Pages of endpoints: the paginator walks all ten, three at a time.
    let names: Vec<String> = client
        .list_agent_runtime_endpoints()
        .agent_runtime_id(&id)
        .into_paginator()
        .page_size(3)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|endpoint| endpoint.name().to_owned())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(names[0], "DEFAULT");
}

/// Session lifecycle: defaults 900/28,800 s; a lone maxLifetime ≤ 900 sets both; idle ≤ max; only
/// capacity-provider runtimes go beyond 28,800 s (to the model's 1,209,600).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_defaults_and_limits() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let container =
        json!({"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}});
    let create = |name: &str, lifecycle: serde_json::Value, capacity: bool| {
        let mut body = json!({
            "agentRuntimeName": name,
            "agentRuntimeArtifact": container,
            "roleArn": ROLE,
            "lifecycleConfiguration": lifecycle,
        });
        if capacity {
            body["capacityProviderConfiguration"] = json!({
                "capacityProviderArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:capacity-provider/cp-0123456789"
            });
        }
        body.to_string()
    };
    let get_lifecycle = |id: String| async move {
        signed(stack, "bedrock-agentcore", "GET", &format!("/runtimes/{id}/"), "", b"").await.json()
            ["lifecycleConfiguration"]
            .clone()
    };

    let response = signed(
        stack,
        "bedrock-agentcore",
        "PUT",
        "/runtimes/",
        "",
        create("short", json!({"maxLifetime": 600}), false).as_bytes(),
    )
    .await;
    assert_eq!(response.status, 202, "{response:?}");
    let lifecycle = get_lifecycle(response.json()["agentRuntimeId"].as_str().unwrap().to_owned()).await;
    assert_eq!(lifecycle, json!({"idleRuntimeSessionTimeout": 600, "maxLifetime": 600}));

    let body = create("idle_only", json!({"idleRuntimeSessionTimeout": 3600}), false);
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.as_bytes()).await;
    assert_eq!(response.status, 202, "{response:?}");
    let lifecycle = get_lifecycle(response.json()["agentRuntimeId"].as_str().unwrap().to_owned()).await;
    assert_eq!(lifecycle, json!({"idleRuntimeSessionTimeout": 3600, "maxLifetime": 28800}));

    let body = create("long_capacity", json!({"maxLifetime": 86_400}), true);
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.as_bytes()).await;
    assert_eq!(response.status, 202, "capacity-provider runtimes allow days: {response:?}");

    let refused = [
        (json!({"maxLifetime": 1_209_601}), true, "Member must have value less than or equal to 1209600"),
        (json!({"idleRuntimeSessionTimeout": 59}), false, "Member must have value greater than or equal to 60"),
        (json!({"idleRuntimeSessionTimeout": 30_000}), false, "allow at most 28800 seconds"),
        (json!({"idleRuntimeSessionTimeout": 30_000}), true, "must not exceed maxLifetime (28800)"),
    ];
    for (lifecycle, capacity, message) in refused {
        let body = create("refused", lifecycle.clone(), capacity);
        let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.as_bytes()).await;
        assert_eq!(response.status, 400, "{lifecycle}: {response:?}");
        let text = response.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(text.contains(message), "{lifecycle}: {text}");
    }
}

/// A union carries exactly one member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unions_take_exactly_one_member() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let both = json!({
        "agentRuntimeName": "both",
        "roleArn": ROLE,
        "agentRuntimeArtifact": {
            "containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"},
            "codeConfiguration": {"code": {"s3": {"bucket": BUCKET, "prefix": "a.zip"}}, "runtime": "PYTHON_3_12", "entryPoint": ["main.py"]},
        },
    });
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", both.to_string().as_bytes()).await;
    assert_eq!(response.status, 400, "{response:?}");
    let body = response.json();
    assert_eq!(body["fieldList"][0]["name"], "agentRuntimeArtifact", "{body}");
    assert!(body["message"].as_str().unwrap().contains("exactly one of"), "{body}");
}

/// The model lists no 404 for ListAgentRuntimeEndpoints; the stack answers a missing runtime with
/// ResourceNotFoundException anyway, which the Rust SDK surfaces as an unmodeled error with that code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_endpoints_of_a_missing_runtime_is_not_found() {
    let harness = start(0).await;
    let client = control_client(&harness.stack).await;
    let err = client.list_agent_runtime_endpoints().agent_runtime_id("nope-0123456789").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "agent runtime nope-0123456789 does not exist");
}

/// Zip with an entry whose central-directory record claims `claimed` uncompressed bytes.
fn zip_claiming(claimed: u32) -> Vec<u8> {
    let mut bytes = zip_with(&[("main.py", ""), ("big.bin", "x")]);
    let name = b"big.bin";
    let record = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, window)| *window == b"PK\x01\x02")
        .map(|(at, _)| at)
        .find(|at| bytes.get(at + 46..at + 46 + name.len()) == Some(name))
        .expect("the central-directory record of big.bin");
    bytes[record + 24..record + 28].copy_from_slice(&claimed.to_le_bytes());
    bytes
}

/// AgentCore's limit for zipped direct code: 250 MB.
const MAX_ZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// Direct-code limits (250 MB zipped, 750 MB unzipped) and a two-part entry point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_artifact_limits_and_entry_points() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "wrapped.zip", zip_with(&[("main.py", "")])).await;
    upload(stack, "inflated.zip", zip_claiming(751 * 1024 * 1024)).await;
    upload(stack, "huge.zip", zip_with(&[("main.py", "")])).await;
    // A sparse file stands in for a 250 MB upload: the check reads the object's size on disk, where
    // the S3 server keeps it (`s3/<bucket>/<key>` in the state directory).
    let huge = stack.dir().join("s3").join(BUCKET).join("huge.zip");
    let file = std::fs::OpenOptions::new().write(true).open(&huge).unwrap();
    file.set_len(MAX_ZIPPED_BYTES + 1).unwrap();
    drop(file);
    let client = control_client(stack).await;

    let wrapped = control::types::CodeConfiguration::builder()
        .code(control::types::Code::S3(
            control::types::S3Location::builder().bucket(BUCKET).prefix("wrapped.zip").build().unwrap(),
        ))
        .runtime(control::types::AgentManagedRuntimeType::Python313)
        .entry_point("opentelemetry-instrument")
        .entry_point("main.py")
        .build()
        .unwrap();
    let created = client
        .create_agent_runtime()
        .agent_runtime_name("wrapped")
        .agent_runtime_artifact(control::types::AgentRuntimeArtifact::CodeConfiguration(wrapped))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let runtime = wait_runtime(&client, created.agent_runtime_id()).await;
    assert_eq!(runtime.status(), &AgentRuntimeStatus::Ready, "{:?}", runtime.failure_reason());

    for (name, key, reason) in [
        ("inflated", "inflated.zip", "unzips to 787480576 bytes, over the 786432000-byte limit"),
        ("huge", "huge.zip", "is 262144001 bytes, over the 262144000-byte limit for zipped code"),
    ] {
        let id = create_runtime(&client, name, key).await;
        let runtime = wait_runtime(&client, &id).await;
        assert_eq!(runtime.status(), &AgentRuntimeStatus::CreateFailed, "{name}");
        let text = runtime.failure_reason().unwrap_or_default();
        assert!(text.contains(reason), "{name}: {text}");
    }
}

/// A version DEFAULT still serves (the latest failed) cannot be deleted on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_default_serves_cannot_be_deleted() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "fallback", "a.zip").await;
    let failed = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("missing.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.agent_runtime_version(), "2");
    assert_eq!(wait_runtime(&client, &id).await.status(), &AgentRuntimeStatus::UpdateFailed);
    let err = client.delete_agent_runtime().agent_runtime_id(&id).agent_runtime_version("1").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "version 1 of agent runtime");
    assert_error(&err, 409, "ConflictException", "is used by endpoint(s) DEFAULT");
    let default =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap();
    assert_eq!((default.live_version(), default.target_version()), (Some("1"), Some("2")));
}

/// Members newer than the Rust crate (hooksConfiguration, resourceConfigurations) are optional and
/// kept; Update's metadataConfiguration is kept on the new version. Get returns them as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_newer_than_the_rust_crate_are_kept() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let container =
        json!({"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}});
    let hooks = json!({"build": {"warmup": {"action": {"httpPost": {"path": "/warmup"}}}}});
    let resources = json!([{"minimumMemoryInMiB": 2048}]);
    let body = json!({
        "agentRuntimeName": "newer",
        "agentRuntimeArtifact": container,
        "roleArn": ROLE,
        "hooksConfiguration": hooks,
        "resourceConfigurations": resources,
    });
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.to_string().as_bytes()).await;
    assert_eq!(response.status, 202, "{response:?}");
    let id = response.json()["agentRuntimeId"].as_str().unwrap().to_owned();
    let got = signed(stack, "bedrock-agentcore", "GET", &format!("/runtimes/{id}/"), "", b"").await.json();
    assert_eq!((&got["hooksConfiguration"], &got["resourceConfigurations"]), (&hooks, &resources), "{got}");

    let update = json!({
        "agentRuntimeArtifact": container,
        "roleArn": ROLE,
        "metadataConfiguration": {"requireMMDSV2": true},
    });
    let response =
        signed(stack, "bedrock-agentcore", "PUT", &format!("/runtimes/{id}/"), "", update.to_string().as_bytes()).await;
    assert_eq!(response.status, 202, "{response:?}");
    let got = signed(stack, "bedrock-agentcore", "GET", &format!("/runtimes/{id}/"), "", b"").await.json();
    assert_eq!(got["metadataConfiguration"], json!({"requireMMDSV2": true}), "{got}");
    assert!(got.get("hooksConfiguration").is_none(), "an update replaces the whole configuration: {got}");
    // The Rust SDK reads such a version without trouble (it ignores the members it does not know).
    let client = control_client(stack).await;
    let runtime = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("1").send().await.unwrap();
    assert_eq!(runtime.agent_runtime_version(), "1");
}
