//! Integration tests of the local stack, compiled into one binary: the stack driven through the real
//! AWS SDK clients over HTTP, raw requests, the model, reference facts and the state directory.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack};
use aws_sdk_bedrockagentcorecontrol as control;
use aws_sdk_bedrockagentcorecontrol::types::{
    AgentManagedRuntimeType, AgentRuntimeArtifact, AgentRuntimeStatus, Code, CodeConfiguration, NetworkConfiguration,
    NetworkMode, S3Location,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod conformance;
mod data;
mod protocols;
mod reference;
mod settings;
mod state;
mod versions;

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

/// Shared SDK configuration as a user's program builds it: defaults plus static credentials, and an
/// operation timeout so a stuck server fails the test instead of hanging it.
async fn sdk_config(stack: &LocalStack) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .region(aws_config::Region::new(stack.region().to_owned()))
        .credentials_provider(agentcore_local::credentials())
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(120)).build(),
        )
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

/// Asserts an SDK error's HTTP status, error code and a fragment of its message.
fn assert_error<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    status: u16,
    code: &str,
    message: &str,
) where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + HttpStatus,
{
    let raw = err.raw_response().unwrap_or_else(|| panic!("no HTTP response: {err:?}"));
    assert_eq!(raw.status_code(), status, "{err:?}");
    let service = err.as_service_error().unwrap_or_else(|| panic!("not a service error: {err:?}"));
    assert_eq!(service.code(), Some(code), "{err:?}");
    let text = service.message().unwrap_or_default();
    assert!(text.contains(message), "message {text:?} lacks {message:?}");
}

trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_and_not_found() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "dup", "a.zip").await;

    let err = client
        .create_agent_runtime()
        .agent_runtime_name("dup")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "an agent runtime named dup already exists");
    assert!(err.into_service_error().is_conflict_exception());

    let err =
        client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "default endpoints are removed when you delete the agent runtime");

    let err = client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("DEFAULT").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "DEFAULT is reserved");

    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap();
    let err = client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "already has an endpoint named prod");

    let err = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "has endpoints that must be deleted first: prod");

    let err = client.get_agent_runtime().agent_runtime_id("nope-0123456789").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "agent runtime nope-0123456789 does not exist");
    let err = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("9").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 9");
    let err =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("staging").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no endpoint named staging");
    let err = client
        .update_agent_runtime()
        .agent_runtime_id("gone-0123456789")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");
    let err = client.delete_agent_runtime().agent_runtime_id("gone-0123456789").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "does not exist");
    let err = client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("old")
        .agent_runtime_version("7")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_give_402() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    stack
        .faults()
        .set_quotas(agentcore_local::Quotas { runtimes: 1, versions_per_runtime: 2, endpoints_per_runtime: 2 })
        .unwrap();
    let client = control_client(stack).await;
    let id = create_runtime(&client, "only", "a.zip").await;

    let err = client
        .create_agent_runtime()
        .agent_runtime_name("second")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 402, "ServiceQuotaExceededException", "the account has 1 agent runtimes");
    assert!(err.into_service_error().is_service_quota_exceeded_exception());

    let update = || {
        client
            .update_agent_runtime()
            .agent_runtime_id(&id)
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
    };
    update().send().await.unwrap();
    let err = update().send().await.unwrap_err();
    assert_error(&err, 402, "ServiceQuotaExceededException", "has 2 versions");

    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap();
    let err = client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("beta").send().await.unwrap_err();
    assert_error(&err, 402, "ServiceQuotaExceededException", "has 2 endpoints (DEFAULT included)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_carry_reason_and_fields() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let client = control_client(stack).await;
    let err = client
        .create_agent_runtime()
        .agent_runtime_name("has-hyphens")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 400, "ValidationException", "2 validation errors detected");
    let control::operation::create_agent_runtime::CreateAgentRuntimeError::ValidationException(validation) =
        err.into_service_error()
    else {
        panic!("not a typed ValidationException");
    };
    assert_eq!(validation.reason().as_str(), "FieldValidationFailed");
    let mut fields: Vec<&str> = validation.field_list().iter().map(|f| f.name()).collect();
    fields.sort();
    assert_eq!(fields, ["agentRuntimeName", "roleArn"]);
    assert!(validation.field_list()[0].message().contains("regular expression pattern"));

    // Semantic rules the model cannot express.
    let err = client
        .create_agent_runtime()
        .agent_runtime_name("lifecycle")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .lifecycle_configuration(
            control::types::LifecycleConfiguration::builder()
                .idle_runtime_session_timeout(3600)
                .max_lifetime(1800)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_error(
        &err,
        400,
        "ValidationException",
        "idleRuntimeSessionTimeout (3600) must not exceed maxLifetime (1800)",
    );

    let err = client
        .create_agent_runtime()
        .agent_runtime_name("lifecycle")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .lifecycle_configuration(control::types::LifecycleConfiguration::builder().max_lifetime(86_400).build())
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 400, "ValidationException", "runtimes without a capacity provider allow at most 28800 seconds");
    let control::operation::create_agent_runtime::CreateAgentRuntimeError::ValidationException(validation) =
        err.into_service_error()
    else {
        panic!("not a ValidationException");
    };
    assert_eq!(validation.field_list()[0].name(), "lifecycleConfiguration.maxLifetime");

    let ports = control::types::PortRange::builder().from(8400).to(8500).build().unwrap();
    let err = client
        .create_agent_runtime()
        .agent_runtime_name("ports")
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .allowed_ports(control::types::AllowedPort::Port(8080))
        .allowed_ports(control::types::AllowedPort::PortRange(ports))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 400, "ValidationException", "port 8443 is reserved by AgentCore");

    let err = client.list_agent_runtimes().max_results(500).send().await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "Member must have value less than or equal to 100");
    let err = client.list_agent_runtimes().next_token("forged").send().await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "nextToken is not a token this service returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_throttle_fail_and_delay() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let client = client_without_retries(stack).await;
    let faults = stack.faults();

    faults.throttle("ListAgentRuntimes", 1).unwrap();
    let err = client.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 429, "ThrottlingException", "Rate exceeded");
    assert!(err.into_service_error().is_throttling_exception());
    client.list_agent_runtimes().send().await.expect("one throttle only");

    faults.internal_error("ListAgentRuntimes", 1).unwrap();
    let err = client.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 500, "InternalServerException", "internal error in ListAgentRuntimes");
    client.list_agent_runtimes().send().await.expect("one failure only");

    // The SDK's standard retries absorb two throttles (three attempts in all).
    faults.throttle("ListAgentRuntimes", 2).unwrap();
    control_client(stack).await.list_agent_runtimes().send().await.expect("retried past the throttles");
    assert_eq!(faults.load().unwrap().operations["ListAgentRuntimes"].throttle, 0);

    // Latency: a client whose attempt timeout is shorter than the injected delay times out.
    faults.latency("GetAgentRuntime", Duration::from_millis(3000)).unwrap();
    let impatient = control::Client::from_conf(
        client
            .config()
            .to_builder()
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(200))
                    .build(),
            )
            .build(),
    );
    let err = impatient.get_agent_runtime().agent_runtime_id("slow-0123456789").send().await.unwrap_err();
    assert!(matches!(err, aws_smithy_runtime_api::client::result::SdkError::TimeoutError(_)), "{err:?}");

    // A broken faults file is reported, naming the file and the fix.
    std::fs::write(faults.path(), r#"{"operations": {"ListAgentRuntimes": {"throttel": 1}}}"#).unwrap();
    let err = client.list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 500, "InternalServerException", "unknown field `throttel`");
    assert_error(&err, 500, "InternalServerException", "fix or delete faults.json");
    faults.clear().unwrap();
    client.list_agent_runtimes().send().await.expect("faults cleared");

    let err = faults.throttle("StopRuntimeSession", 1).unwrap_err().to_string();
    assert!(err.contains("unknown operation `StopRuntimeSession`"), "{err}");
    assert!(err.contains("ListAgentRuntimes") && err.contains("InvokeAgentRuntime"), "{err}");
}

/// The clock offset puts what the control plane makes meanwhile in the past (or the future): its
/// timestamps move, its transitions and deletions still finish, and 0 puts the clock back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_can_be_set_back() {
    let harness = start(30).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let days = |n: i64| n * 86_400_000;
    let age_days = |time: &aws_smithy_types::DateTime| {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        (now.secs() - time.secs()) as f64 / 86_400.0
    };
    stack.faults().set_clock_offset(-days(20)).unwrap();
    assert_eq!(stack.faults().load().unwrap().clock_offset_ms, -days(20));
    let old = create_runtime(&client, "old", "a.zip").await;
    let runtime = wait_runtime(&client, &old).await;
    assert_eq!(runtime.status(), &AgentRuntimeStatus::Ready);
    let age = age_days(runtime.last_updated_at());
    assert!((19.9..20.1).contains(&age), "{age} days");
    stack.faults().set_clock_offset(0).unwrap();
    let new = create_runtime(&client, "new", "a.zip").await;
    wait_runtime(&client, &new).await;
    let listed = client.list_agent_runtimes().send().await.unwrap();
    let ages: Vec<(String, i64)> = listed
        .agent_runtimes()
        .iter()
        .map(|runtime| (runtime.agent_runtime_name().to_owned(), age_days(runtime.last_updated_at()).round() as i64))
        .collect();
    assert!(ages.contains(&("old".to_owned(), 20)) && ages.contains(&("new".to_owned(), 0)), "{ages:?}");
    // A clock ahead of the wall clock still finishes deletions.
    stack.faults().set_clock_offset(days(3)).unwrap();
    client.delete_agent_runtime().agent_runtime_id(&old).send().await.unwrap();
    for _ in 0..200 {
        match client.get_agent_runtime().agent_runtime_id(&old).send().await {
            Err(err) if err.code() == Some("ResourceNotFoundException") => break,
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    let err = client.get_agent_runtime().agent_runtime_id(&old).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    stack.faults().clear().unwrap();
    assert_eq!(stack.faults().load().unwrap().clock_offset_ms, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_stuck_and_failed_versions() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    stack.faults().stuck("CreateAgentRuntime", 1).unwrap();
    let stuck = create_runtime(&client, "stuck", "a.zip").await;
    let fine = create_runtime(&client, "fine", "a.zip").await;
    assert_eq!(wait_runtime(&client, &fine).await.status(), &AgentRuntimeStatus::Ready);
    let runtime = client.get_agent_runtime().agent_runtime_id(&stuck).send().await.unwrap();
    assert_eq!(runtime.status(), &AgentRuntimeStatus::Creating, "stays CREATING");

    stack.faults().fail("UpdateAgentRuntime", 1, "the role cannot be assumed").unwrap();
    client
        .update_agent_runtime()
        .agent_runtime_id(&fine)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let failed = wait_runtime(&client, &fine).await;
    assert_eq!(failed.status(), &AgentRuntimeStatus::UpdateFailed);
    assert_eq!(failed.failure_reason(), Some("the role cannot be assumed"));
    let default =
        client.get_agent_runtime_endpoint().agent_runtime_id(&fine).endpoint_name("DEFAULT").send().await.unwrap();
    assert_eq!(default.live_version(), Some("1"), "DEFAULT keeps serving the last good version");
    assert_eq!(default.target_version(), Some("2"));
    assert_eq!(default.status().as_str(), "UPDATE_FAILED");
    assert_eq!(default.failure_reason(), Some("the role cannot be assumed"));

    // A failed endpoint update leaves the previous version live.
    client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&fine)
        .name("prod")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    stack.faults().fail("UpdateAgentRuntimeEndpoint", 1, "rollout failed").unwrap();
    client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&fine)
        .endpoint_name("prod")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap();
    let prod = client.get_agent_runtime_endpoint().agent_runtime_id(&fine).endpoint_name("prod").send().await.unwrap();
    assert_eq!(prod.status().as_str(), "UPDATE_FAILED");
    assert_eq!((prod.live_version(), prod.target_version()), (Some("1"), Some("2")));
    assert_eq!(prod.failure_reason(), Some("rollout failed"));

    // A stuck delete never finishes.
    stack.faults().stuck("DeleteAgentRuntimeEndpoint", 1).unwrap();
    client.delete_agent_runtime_endpoint().agent_runtime_id(&fine).endpoint_name("prod").send().await.unwrap();
    let prod = client.get_agent_runtime_endpoint().agent_runtime_id(&fine).endpoint_name("prod").send().await.unwrap();
    assert_eq!(prod.status().as_str(), "DELETING", "stays DELETING with a zero delay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stack_stops_it() {
    let harness = start(0).await;
    let endpoints = [harness.stack.s3_endpoint(), harness.stack.control_endpoint()];
    for endpoint in &endpoints {
        tokio::net::TcpStream::connect(endpoint.strip_prefix("http://").unwrap()).await.expect("listening");
    }
    drop(harness);
    for endpoint in &endpoints {
        let address = endpoint.strip_prefix("http://").unwrap();
        let mut refused = false;
        // Aborted server tasks release their sockets on the runtime's next turn; poll a bounded number of times.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(address).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "{endpoint} still accepts connections");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_artifacts_are_checked() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "good.zip", zip_with(&[("main.py", ""), ("lib/util.py", "")])).await;
    upload(stack, "nested.zip", zip_with(&[("src/main.py", "")])).await;
    upload(stack, "text.zip", b"not a zip".to_vec()).await;
    let client = control_client(stack).await;
    let cases = [
        ("good", "good.zip", None),
        ("missing", "missing.zip", Some("was not found: no such object in the local S3")),
        ("nested", "nested.zip", Some("has no entry point `main.py` at the root of the zip")),
        ("text", "text.zip", Some("is not a valid zip file")),
    ];
    for (name, key, failure) in cases {
        let id = create_runtime(&client, name, key).await;
        let runtime = wait_runtime(&client, &id).await;
        match failure {
            None => assert_eq!(runtime.status(), &AgentRuntimeStatus::Ready, "{name}"),
            Some(reason) => {
                assert_eq!(runtime.status(), &AgentRuntimeStatus::CreateFailed, "{name}");
                let text = runtime.failure_reason().unwrap_or_default();
                assert!(text.contains(reason) && text.contains(&format!("s3://{BUCKET}/{key}")), "{name}: {text}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tokens_make_calls_idempotent() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let token = "token-0000000000000000000000000000001";
    let create = |name: &'static str| {
        client
            .create_agent_runtime()
            .agent_runtime_name(name)
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
            .client_token(token)
    };
    let first = create("same").send().await.unwrap();
    let again = create("same").send().await.unwrap();
    assert_eq!(first.agent_runtime_id(), again.agent_runtime_id(), "a replay returns the first result");
    let err = create("other").send().await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "clientToken was already used with different parameters");
    let control::operation::create_agent_runtime::CreateAgentRuntimeError::ValidationException(validation) =
        err.into_service_error()
    else {
        panic!("not a ValidationException");
    };
    assert_eq!(validation.reason().as_str(), "IdempotentParameterMismatchException");
    assert_eq!(client.list_agent_runtimes().send().await.unwrap().agent_runtimes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_paginate() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let mut ids = Vec::new();
    for index in 0..7 {
        ids.push(create_runtime(&client, &format!("agent_{index}"), "a.zip").await);
    }
    ids.sort();
    let first = client.list_agent_runtimes().max_results(3).send().await.unwrap();
    assert_eq!(first.agent_runtimes().len(), 3);
    let token = first.next_token().expect("more pages").to_owned();
    let pages: Vec<_> = client.list_agent_runtimes().into_paginator().page_size(3).send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 3);
    let last = pages.last().unwrap().as_ref().unwrap();
    assert_eq!(last.agent_runtimes().len(), 1);
    assert!(last.next_token().is_none(), "the last page has no token");
    let mut listed: Vec<String> = pages
        .iter()
        .flat_map(|page| page.as_ref().unwrap().agent_runtimes().iter().map(|r| r.agent_runtime_id().to_owned()))
        .collect();
    listed.sort();
    assert_eq!(listed, ids);
    let second = client.list_agent_runtimes().max_results(3).next_token(token).send().await.unwrap();
    assert_ne!(second.agent_runtimes()[0].agent_runtime_id(), first.agent_runtimes()[0].agent_runtime_id());
}

/// A response read off the wire by [`raw`].
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection, so tests control every header (bounded by a timeout).
pub async fn raw(endpoint: &str, method: &str, target: &str, headers: &[(&str, String)], body: &[u8]) -> RawResponse {
    tokio::time::timeout(Duration::from_secs(60), raw_unbounded(endpoint, method, target, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {target} got no answer within 60 s"))
}

async fn raw_unbounded(
    endpoint: &str,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    RawResponse { status, headers, body: bytes[split + 4..].to_vec() }
}

/// A raw control-plane request signed with the stack's credentials for `service`.
pub async fn signed(
    stack: &LocalStack,
    service: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> RawResponse {
    let endpoint = stack.control_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let (date, authorization) = agentcore_local::sign(method, path, query, host, body, stack.region(), service);
    let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let mut headers = vec![("x-amz-date", date), ("authorization", authorization)];
    if !body.is_empty() {
        headers.push(("content-type", "application/json".to_owned()));
    }
    raw(&endpoint, method, &target, &headers, body).await
}

fn assert_raw_error(response: &RawResponse, status: u16, code: &str, message: &str) {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("x-amzn-errortype"), Some(code), "{response:?}");
    let body = response.json();
    let text = body["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "message {text:?} lacks {message:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_must_be_signed_for_agentcore_with_our_key() {
    let harness = start(0).await;
    let stack = &harness.stack;

    let ok = signed(stack, "bedrock-agentcore", "POST", "/runtimes/", "", b"").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["agentRuntimes"], serde_json::json!([]));

    let wrong_service = signed(stack, "bedrock-agentcore-control", "POST", "/runtimes/", "", b"").await;
    assert_raw_error(
        &wrong_service,
        403,
        "InvalidSignatureException",
        "scoped to correct service: 'bedrock-agentcore'",
    );

    let unsigned = raw(&stack.control_endpoint(), "POST", "/runtimes/", &[], b"").await;
    assert_raw_error(&unsigned, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");

    let foreign_key = [
        ("x-amz-date", "20250101T000000Z".to_owned()),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20250101/us-east-1/bedrock-agentcore/aws4_request, SignedHeaders=host;x-amz-date, Signature=00".to_owned(),
        ),
    ];
    let response = raw(&stack.control_endpoint(), "POST", "/runtimes/", &foreign_key, b"").await;
    assert_raw_error(&response, 403, "UnrecognizedClientException", "accepts only access key AKIALOCALAGENTCORE01");

    // A signature over different content: the body was changed after signing.
    let endpoint = stack.control_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let (date, authorization) =
        agentcore_local::sign("PUT", "/runtimes/", "", host, b"{}", stack.region(), "bedrock-agentcore");
    let tampered =
        raw(&endpoint, "PUT", "/runtimes/", &[("x-amz-date", date), ("authorization", authorization)], b"{\"x\":1}")
            .await;
    assert_raw_error(&tampered, 403, "InvalidSignatureException", "signature we calculated does not match");

    // The S3 SDK signs for `s3`: pointed at the control plane, it is refused with the same message.
    let s3_at_control = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(stack).await)
            .endpoint_url(stack.control_endpoint())
            .force_path_style(true)
            .build(),
    );
    let err = s3_at_control.list_buckets().send().await.unwrap_err();
    let raw_response = err.raw_response().expect("an HTTP response");
    assert_eq!(raw_response.status().as_u16(), 403);
    assert_eq!(raw_response.headers().get("x-amzn-errortype"), Some("InvalidSignatureException"));
    let body = std::str::from_utf8(raw_response.body().bytes().unwrap()).unwrap();
    assert!(body.contains("'bedrock-agentcore' (the request was signed for 's3')"), "{body}");

    // The control plane signed correctly but with another secret is refused too.
    let config = control::config::Builder::from(&sdk_config(stack).await)
        .endpoint_url(stack.control_endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            agentcore_local::ACCESS_KEY_ID,
            "wrong-secret",
            None,
            None,
            "test",
        ))
        .build();
    let err = control::Client::from_conf(config).list_agent_runtimes().send().await.unwrap_err();
    assert_error(&err, 403, "InvalidSignatureException", "signature we calculated does not match");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_checks_signatures_and_conditional_writes() {
    let harness = start(0).await;
    let stack = &harness.stack;
    stack.ensure_bucket(BUCKET).await.unwrap();
    stack.ensure_bucket(BUCKET).await.expect("ensure_bucket is idempotent");
    let s3 = s3_client(stack).await;
    s3.put_object()
        .bucket(BUCKET)
        .key("records/1.json")
        .if_none_match("*")
        .body(b"one".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("records/1.json")
        .if_none_match("*")
        .body(b"two".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    assert_eq!(err.code(), Some("PreconditionFailed"));
    // A client configured only from the shared config (no path-style flag) works too: the SDK
    // addresses buckets by path when the endpoint is an IP address.
    let plain = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(stack).await).endpoint_url(stack.s3_endpoint()).build(),
    );
    let object = plain.get_object().bucket(BUCKET).key("records/1.json").send().await.unwrap();
    assert_eq!(object.body.collect().await.unwrap().into_bytes().as_ref(), b"one");

    // Concurrent conditional creates of one key: exactly one wins.
    let attempts = (0..8).map(|index| {
        let s3 = s3.clone();
        tokio::spawn(async move {
            s3.put_object()
                .bucket(BUCKET)
                .key("records/race.json")
                .if_none_match("*")
                .body(format!("{index}").into_bytes().into())
                .send()
                .await
                .is_ok()
        })
    });
    let mut winners = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        winners += usize::from(attempt.await.unwrap());
    }
    assert_eq!(winners, 1);

    let config = aws_sdk_s3::config::Builder::from(&sdk_config(stack).await)
        .endpoint_url(stack.s3_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_credential_types::Credentials::new("AKIAOTHER", "other", None, None, "test"))
        .build();
    let err = aws_sdk_s3::Client::from_conf(config).list_buckets().send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_persists_across_restarts_and_faults_file_is_read_per_request() {
    let temp = tempfile::tempdir().unwrap();
    let stack = start_in(temp.path(), 0).await;
    upload(&stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(&stack).await;
    let id = create_runtime(&client, "kept", "a.zip").await;
    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap();
    let first_port = stack.control_endpoint();
    stack.shutdown().await;

    let stack = start_in(temp.path(), 0).await;
    assert_ne!(stack.control_endpoint(), first_port);
    let client = control_client(&stack).await;
    let runtime = wait_runtime(&client, &id).await;
    assert_eq!(runtime.agent_runtime_name(), "kept");
    let endpoint =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap();
    assert_eq!(endpoint.target_version(), Some("1"));
    let object = s3_client(&stack).await.head_object().bucket(BUCKET).key("a.zip").send().await.unwrap();
    assert!(object.content_length().unwrap() > 0);

    // Another process configures faults by writing the file; the next request sees them.
    let path = temp.path().join("state").join("faults.json");
    std::fs::write(&path, r#"{"operations": {"GetAgentRuntime": {"throttle": 1}}}"#).unwrap();
    let err = client_without_retries(&stack).await.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 429, "ThrottlingException", "Rate exceeded");
    let left: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(left["operations"]["GetAgentRuntime"]["throttle"], 0);
    stack.shutdown().await;

    agentcore_local::reset(&temp.path().join("state")).unwrap();
    assert!(!temp.path().join("state").exists());
    let foreign = temp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    let err = agentcore_local::reset(&foreign).unwrap_err().to_string();
    assert!(err.contains("not a local stack state directory"), "{err}");
    assert!(foreign.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_pin_versions_and_roll_forward() {
    let harness = start(0).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "pinned", "a.zip").await;
    let update = || {
        client
            .update_agent_runtime()
            .agent_runtime_id(&id)
            .agent_runtime_artifact(code_artifact("a.zip"))
            .role_arn(ROLE)
    };
    // Without a version, an endpoint pins the latest version at creation time.
    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap();
    update().send().await.unwrap();
    update().send().await.unwrap();
    let get = |name: &'static str| client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name(name);
    let prod = get("prod").send().await.unwrap();
    assert_eq!((prod.live_version(), prod.target_version()), (Some("1"), Some("1")));
    let default = get("DEFAULT").send().await.unwrap();
    assert_eq!((default.live_version(), default.target_version()), (Some("3"), Some("3")));

    let moved = client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .agent_runtime_version("3")
        .description("release 3")
        .send()
        .await
        .unwrap();
    assert_eq!((moved.live_version(), moved.target_version()), (Some("1"), Some("3")));
    assert_eq!(moved.status().as_str(), "UPDATING");
    let prod = get("prod").send().await.unwrap();
    assert_eq!((prod.live_version(), prod.target_version()), (Some("3"), Some("3")));
    assert_eq!(prod.description(), Some("release 3"));

    let err = client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("DEFAULT")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "DEFAULT endpoint always serves the latest version");
    let err = client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .agent_runtime_version("8")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 8");

    // Deleting single versions: not the latest, not one an endpoint uses.
    let delete_version =
        |version: &'static str| client.delete_agent_runtime().agent_runtime_id(&id).agent_runtime_version(version);
    let err = delete_version("3").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "is the latest version");
    client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap();
    let err = delete_version("2").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "is used by endpoint(s) prod");
    let deleted = delete_version("1").send().await.unwrap();
    assert_eq!((deleted.status().as_str(), deleted.agent_runtime_version()), ("DELETING", Some("1")));
    let versions = client.list_agent_runtime_versions().agent_runtime_id(&id).send().await.unwrap();
    let numbers: Vec<&str> = versions.agent_runtimes().iter().map(|v| v.agent_runtime_version()).collect();
    assert_eq!(numbers, ["3", "2"], "version 1 is gone after the (zero) delay");
    update().send().await.unwrap();
    assert_eq!(wait_runtime(&client, &id).await.agent_runtime_version(), "4", "numbers are never reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_take_the_configured_delay() {
    let harness = start(60_000).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = create_runtime(&client, "slow", "a.zip").await;
    let runtime = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!(runtime.status(), &AgentRuntimeStatus::Creating);
    let default =
        client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("DEFAULT").send().await.unwrap();
    assert_eq!(default.status().as_str(), "CREATING");
    assert_eq!(default.live_version(), None, "nothing serves yet");
    let err = client
        .update_agent_runtime()
        .agent_runtime_id(&id)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 409, "ConflictException", "is CREATING (version 1); wait until it leaves that status");
    client.create_agent_runtime_endpoint().agent_runtime_id(&id).name("prod").send().await.unwrap();
    let err =
        client.update_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "endpoint prod of agent runtime");
    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap();
    let prod = client.get_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap();
    assert_eq!(prod.status().as_str(), "DELETING");
    let err = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "must be deleted first: prod (still DELETING; wait until it is gone)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stacks_share_one_state_directory() {
    let temp = tempfile::tempdir().unwrap();
    let first = start_in(temp.path(), 0).await;
    let second = start_in(temp.path(), 0).await;
    upload(&first, "a.zip", zip_with(&[("main.py", "")])).await;
    let clients = [control_client(&first).await, control_client(&second).await];
    let mut tasks = Vec::new();
    for index in 0..16 {
        let client = clients[index % 2].clone();
        tasks.push(tokio::spawn(async move { create_runtime(&client, &format!("shared_{index}"), "a.zip").await }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // No lost update: every create of either server is in the shared state.
    let listed = clients[1].list_agent_runtimes().max_results(100).send().await.unwrap();
    assert_eq!(listed.agent_runtimes().len(), 16);
    let runtime = wait_runtime(&clients[0], listed.agent_runtimes()[0].agent_runtime_id()).await;
    assert_eq!(
        runtime.status(),
        &AgentRuntimeStatus::Ready,
        "the artifact uploaded through one server is seen by the other"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_aws_style_errors() {
    let harness = start(0).await;
    let stack = &harness.stack;
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", b"{not json").await;
    assert_raw_error(&response, 400, "ValidationException", "the request body is not valid JSON");
    assert_eq!(response.json()["reason"], "CannotParse");
    // Unknown members are ignored and nulls mean absent; Get returns only the model's members.
    let body = serde_json::json!({
        "agentRuntimeName": "raw_agent",
        "agentRuntimeArtifact": {"containerConfiguration": {"containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1"}},
        "roleArn": ROLE,
        "description": null,
        "bogus": 1,
    });
    let response = signed(stack, "bedrock-agentcore", "PUT", "/runtimes/", "", body.to_string().as_bytes()).await;
    assert_eq!(response.status, 202, "{response:?}");
    let id = response.json()["agentRuntimeId"].as_str().unwrap().to_owned();
    let got = signed(stack, "bedrock-agentcore", "GET", &format!("/runtimes/{id}/"), "", b"").await.json();
    assert_eq!(got["agentRuntimeArtifact"], body["agentRuntimeArtifact"]);
    assert_eq!(got["roleArn"], ROLE);
    assert!(got.get("bogus").is_none() && got.get("description").is_none(), "{got}");
    assert_eq!(
        got["lifecycleConfiguration"],
        serde_json::json!({"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800})
    );

    let response = signed(stack, "bedrock-agentcore", "GET", "/gateways/", "", b"").await;
    assert_raw_error(
        &response,
        404,
        "UnknownOperationException",
        "no runtime, runtime-endpoint or tagging operation is served at GET /gateways/",
    );
    let endpoint = stack.control_endpoint();
    let host = endpoint.strip_prefix("http://").unwrap();
    let (date, authorization) =
        agentcore_local::sign("PUT", "/runtimes/", "", host, b"{}", stack.region(), "bedrock-agentcore");
    let declared =
        ("x-amz-content-sha256", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".to_owned());
    let response =
        raw(&endpoint, "PUT", "/runtimes/", &[("x-amz-date", date), ("authorization", authorization), declared], b"[]")
            .await;
    assert_raw_error(&response, 403, "InvalidSignatureException", "x-amz-content-sha256 header does not match");
    let response = signed(stack, "bedrock-agentcore", "POST", "/runtimes/", "maxResults=ten", b"").await;
    assert_raw_error(&response, 400, "ValidationException", "query parameter maxResults=ten is not an integer");
    let stale = [
        ("x-amz-date", "20200101T000000Z".to_owned()),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20200101/us-east-1/bedrock-agentcore/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
                agentcore_local::ACCESS_KEY_ID
            ),
        ),
    ];
    let response = raw(&stack.control_endpoint(), "POST", "/runtimes/", &stale, b"").await;
    assert_raw_error(&response, 403, "InvalidSignatureException", "Signature expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_through_two_stacks_stay_intact() {
    let temp = tempfile::tempdir().unwrap();
    let first = start_in(temp.path(), 0).await;
    let second = start_in(temp.path(), 0).await;
    first.ensure_bucket(BUCKET).await.unwrap();
    let clients = [s3_client(&first).await, s3_client(&second).await];
    let mut uploads = Vec::new();
    for index in 0..24 {
        let client = clients[index % 2].clone();
        // Distinct sizes and contents, large enough that writes overlap.
        let body = vec![index as u8; 256 * 1024 + index * 1000];
        uploads.push(tokio::spawn(async move {
            client.put_object().bucket(BUCKET).key(format!("objects/{index}")).body(body.into()).send().await.unwrap();
        }));
    }
    for upload in uploads {
        upload.await.unwrap();
    }
    for index in 0..24 {
        let object = clients[0].get_object().bucket(BUCKET).key(format!("objects/{index}")).send().await.unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.len(), 256 * 1024 + index * 1000, "object {index}");
        assert!(bytes.iter().all(|b| *b == index as u8), "object {index} holds another upload's bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_reported_with_the_flag_to_change() {
    let temp = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = LocalConfig::new(temp.path().join("state"));
    config.control_port = busy.local_addr().unwrap().port();
    let err = format!("{:#}", LocalStack::start(config).await.unwrap_err());
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{} for the control plane",
            busy.local_addr().unwrap().port()
        )),
        "{err}"
    );
    assert!(err.contains("pick another port with --control-port or 0 for a free one"), "{err}");
    assert!(!temp.path().join("state").exists(), "a failed start leaves no state directory behind");

    let mut config = LocalConfig::new(temp.path().join("state"));
    (config.s3_port, config.control_port) = (45_678, 45_678);
    let err = format!("{:#}", LocalStack::start(config).await.unwrap_err());
    assert_eq!(
        err,
        "the S3 server and the control plane cannot share port 45678: give --s3-port and --control-port different ports, or 0 for free ones"
    );

    let file = temp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = format!("{:#}", LocalStack::start(LocalConfig::new(&file)).await.unwrap_err());
    assert!(
        err.ends_with("a-file is not a directory: pass a directory (new or empty) for the local stack state"),
        "{err}"
    );
    let err = agentcore_local::reset(&file).unwrap_err().to_string();
    assert!(err.contains("it is not a directory"), "{err}");
    assert!(file.is_file());

    let foreign = temp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = format!("{:#}", LocalStack::start(LocalConfig::new(&foreign)).await.unwrap_err());
    assert!(err.contains("is not empty and is not a local stack state directory"), "{err}");
}
