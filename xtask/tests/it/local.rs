//! Integration tests of `cargo xtask local`: the stack driven through the real AWS SDK clients over HTTP.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use aws_sdk_bedrockagentcorecontrol as control;
use aws_sdk_bedrockagentcorecontrol::types::{
    AgentManagedRuntimeType, AgentRuntimeArtifact, AgentRuntimeStatus, Code, CodeConfiguration, NetworkConfiguration,
    NetworkMode, S3Location,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use xtask::local::{LocalConfig, LocalStack};

const BUCKET: &str = "artifacts-local";
const ROLE: &str = "arn:aws:iam::123456789012:role/AgentCoreRuntimeRole";

/// A stack on free ports with its own temporary state directory.
struct Harness {
    stack: LocalStack,
    _temp: tempfile::TempDir,
}

async fn start(delay_ms: u64) -> Harness {
    let temp = tempfile::tempdir().unwrap();
    let stack = start_in(temp.path(), delay_ms).await;
    Harness { stack, _temp: temp }
}

async fn start_in(dir: &Path, delay_ms: u64) -> LocalStack {
    let mut config = LocalConfig::new(dir.join("state"));
    config.transition_delay = Duration::from_millis(delay_ms);
    LocalStack::start(config).await.unwrap()
}

/// Shared SDK configuration as a user's program builds it: defaults plus static credentials.
async fn sdk_config(stack: &LocalStack) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(stack.region().to_owned()))
        .credentials_provider(xtask::local::credentials())
        .load()
        .await
}

async fn control_client(stack: &LocalStack) -> control::Client {
    let config =
        control::config::Builder::from(&sdk_config(stack).await).endpoint_url(stack.control_endpoint()).build();
    control::Client::from_conf(config)
}

async fn s3_client(stack: &LocalStack) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(stack).await)
        .endpoint_url(stack.s3_endpoint())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A control client that does not retry, so each injected fault is seen once.
async fn client_without_retries(stack: &LocalStack) -> control::Client {
    let config = control::config::Builder::from(&sdk_config(stack).await)
        .endpoint_url(stack.control_endpoint())
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    control::Client::from_conf(config)
}

fn zip_with(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    for (name, content) in entries {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(content.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    buffer.into_inner()
}

async fn upload(stack: &LocalStack, key: &str, body: Vec<u8>) {
    stack.ensure_bucket(BUCKET).await.unwrap();
    s3_client(stack).await.put_object().bucket(BUCKET).key(key).body(body.into()).send().await.unwrap();
}

fn code_artifact(key: &str) -> AgentRuntimeArtifact {
    AgentRuntimeArtifact::CodeConfiguration(
        CodeConfiguration::builder()
            .code(Code::S3(S3Location::builder().bucket(BUCKET).prefix(key).build().unwrap()))
            .runtime(AgentManagedRuntimeType::Python312)
            .entry_point("main.py")
            .build()
            .unwrap(),
    )
}

fn public_network() -> NetworkConfiguration {
    NetworkConfiguration::builder().network_mode(NetworkMode::Public).build().unwrap()
}

async fn create_runtime(client: &control::Client, name: &str, key: &str) -> String {
    let created = client
        .create_agent_runtime()
        .agent_runtime_name(name)
        .agent_runtime_artifact(code_artifact(key))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .send()
        .await
        .unwrap();
    created.agent_runtime_id().to_owned()
}

/// Polls until the runtime leaves CREATING/UPDATING (bounded: 200 polls).
async fn wait_runtime(
    client: &control::Client,
    id: &str,
) -> control::operation::get_agent_runtime::GetAgentRuntimeOutput {
    for _ in 0..200 {
        let runtime = client.get_agent_runtime().agent_runtime_id(id).send().await.unwrap();
        if !matches!(runtime.status(), AgentRuntimeStatus::Creating | AgentRuntimeStatus::Updating) {
            return runtime;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("runtime {id} never left its transitional status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_lifecycle_through_the_sdk() {
    let harness = start(50).await;
    let stack = &harness.stack;
    upload(stack, "agents/a.zip", zip_with(&[("main.py", "print('hi')")])).await;
    let client = control_client(stack).await;

    let created = client
        .create_agent_runtime()
        .agent_runtime_name("echo_pr1")
        .agent_runtime_artifact(code_artifact("agents/a.zip"))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .description("first")
        .tags("team", "agents")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), &AgentRuntimeStatus::Creating);
    assert_eq!(created.agent_runtime_version(), "1");
    let id = created.agent_runtime_id().to_owned();
    let suffix = id.strip_prefix("echo_pr1-").expect("id is <name>-<suffix>");
    assert!(suffix.len() == 10 && suffix.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert_eq!(created.agent_runtime_arn(), format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{id}"));

    let ready = wait_runtime(&client, &id).await;
    assert_eq!(ready.status(), &AgentRuntimeStatus::Ready);
    assert_eq!(ready.description(), Some("first"));
    assert_eq!(ready.lifecycle_configuration().unwrap().max_lifetime(), Some(28_800));

    let default =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap();
    assert_eq!(default.live_version(), Some("1"));
    assert_eq!(default.status().as_str(), "READY");

    let updated = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("agents/a.zip"))
        .role_arn(ROLE)
        .network_configuration(public_network())
        .description("second")
        .send()
        .await
        .unwrap();
    assert_eq!(updated.agent_runtime_version(), "2");
    assert_eq!(updated.status(), &AgentRuntimeStatus::Updating);
    let ready = wait_runtime(&client, &id).await;
    assert_eq!(ready.agent_runtime_version(), "2");
    let first = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("1").send().await.unwrap();
    assert_eq!(first.description(), Some("first"), "versions are immutable");

    let versions = client.list_agent_runtime_versions().agent_runtime_id(&id).send().await.unwrap();
    let numbers: Vec<&str> = versions.agent_runtimes().iter().map(|v| v.agent_runtime_version()).collect();
    assert_eq!(numbers, ["2", "1"]);

    let endpoint = client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("prod")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.target_version(), "1");
    let listed = client.list_agent_runtime_endpoints().agent_runtime_id(&id).send().await.unwrap();
    let names: Vec<&str> = listed.runtime_endpoints().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["DEFAULT", "prod"]);

    let runtimes = client.list_agent_runtimes().send().await.unwrap();
    assert_eq!(runtimes.agent_runtimes().len(), 1);
    assert_eq!(runtimes.agent_runtimes()[0].agent_runtime_version(), "2");

    let err = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err().into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");

    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap();
    for _ in 0..200 {
        let listed = client.list_agent_runtime_endpoints().agent_runtime_id(&id).send().await.unwrap();
        if listed.runtime_endpoints().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let deleted = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!(deleted.status().as_str(), "DELETING");
    for _ in 0..200 {
        match client.get_agent_runtime().agent_runtime_id(&id).send().await {
            Ok(runtime) => assert_eq!(runtime.status().as_str(), "DELETING"),
            Err(err) => {
                let err = err.into_service_error();
                assert!(err.is_resource_not_found_exception(), "{err:?}");
                assert_eq!(err.code(), Some("ResourceNotFoundException"));
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("runtime {id} was never deleted");
}
