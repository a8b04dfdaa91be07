//! AWS access: one place builds the SDK clients from a given configuration (profile, region,
//! endpoints, retries, timeouts), plus the small typed layer every release command shares:
//! pagination, waits and error context. Whether a command talks to AWS or to the bundled local
//! stack is decided above this module (`connect`).

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime::GetAgentRuntimeOutput;
use aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime_endpoint::GetAgentRuntimeEndpointOutput;
use aws_sdk_bedrockagentcorecontrol::types::{
    AgentRuntime, AgentRuntimeArtifact, AgentRuntimeEndpoint, AgentRuntimeStatus, Code,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::settings::Settings;

pub mod index;

/// How long to wait for AgentCore to settle, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    /// Give up after this long (`--timeout`).
    pub timeout: Duration,
    /// First pause between two polls; it grows by half each time up to `max_interval`.
    pub first_interval: Duration,
    /// Longest pause between two polls. Under a second, so READY is noticed within one.
    pub max_interval: Duration,
}

impl Default for WaitPolicy {
    fn default() -> WaitPolicy {
        WaitPolicy {
            timeout: Duration::from_secs(900),
            first_interval: Duration::from_millis(150),
            max_interval: Duration::from_millis(800),
        }
    }
}

/// The SDK clients every AWS command uses, built from one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub control: aws_sdk_bedrockagentcorecontrol::Client,
    /// The data plane (InvokeAgentRuntime), from the same configuration (`AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`
    /// overrides its endpoint). `None` where no data-plane endpoint is known: clients of a local
    /// stack built from its S3 and control endpoints alone.
    pub data: Option<aws_sdk_bedrockagentcore::Client>,
    /// The artifact bucket (settings or --bucket).
    pub bucket: String,
    /// Deadline and poll pacing of every wait.
    pub wait: WaitPolicy,
    /// This command run's listing of the account's runtimes, shared by the clones.
    pub runtimes: std::sync::Arc<index::RuntimeIndex>,
}

impl AwsClients {
    /// The same clients for another command run: its runtimes are listed afresh.
    pub fn new_run(&self) -> AwsClients {
        AwsClients { runtimes: Default::default(), ..self.clone() }
    }
}

/// Variables that send an SDK somewhere else than AWS; with any of them set, S3 uses path-style
/// addressing because `bucket.127.0.0.1` does not resolve.
const ENDPOINT_VARIABLES: &[&str] = &["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"];

/// A role to assume for every call, with the session name CloudTrail shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssumeRole {
    pub(crate) role_arn: String,
    pub(crate) session_name: String,
}

/// Clients for AWS itself: the standard credential chain (or `profile`), `region`, and `endpoint_url`
/// or the `AWS_ENDPOINT_URL*` variables when given; with `assume_role`, the credentials of that
/// role, assumed through STS with those. Credentials are resolved up front, so a missing login or a
/// role that cannot be assumed fails here with the fix.
pub(crate) async fn connect(
    region: &str,
    profile: Option<&str>,
    assume_role: Option<&AssumeRole>,
    endpoint_url: Option<&str>,
    bucket: &str,
) -> Result<AwsClients> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(aws_config::Region::new(region.to_owned()))
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let mut config = loader.load().await;
    if let Some(assume) = assume_role {
        // STS is reached with the configuration above: its region, HTTPS client, retries and
        // (with --endpoint-url) endpoint; the role's credentials are refreshed before they expire.
        let provider = aws_config::sts::AssumeRoleProvider::builder(&assume.role_arn)
            .session_name(&assume.session_name)
            .configure(&config)
            .build()
            .await;
        config = config
            .into_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .build();
    }
    check_credentials(&config, profile, assume_role).await?;
    let path_style = endpoint_url.is_some() || ENDPOINT_VARIABLES.iter().any(|name| std::env::var_os(name).is_some());
    Ok(clients_from_config(&config, bucket, path_style))
}

/// The HTTPS client of every SDK client: rustls with the *ring* provider, which compiles in a
/// fraction of the time of the SDK's default aws-lc (see docs/benchmarks.md, "Build time").
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// Clients from an already built configuration (tests and the local stack use this too).
pub(crate) fn clients_from_config(config: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> AwsClients {
    AwsClients {
        s3: aws_sdk_s3::Client::from_conf(s3_builder(config, path_style).build()),
        control: aws_sdk_bedrockagentcorecontrol::Client::new(config),
        data: Some(data_client(config, None)),
        bucket: bucket.to_owned(),
        wait: WaitPolicy::default(),
        runtimes: Default::default(),
    }
}

/// The data-plane client of `config`, at `endpoint` when given. An invocation may stream for
/// minutes, so no attempt timeout cuts it (the caller bounds the whole call), and it is retried at
/// most twice, for throttling and AgentCore's own failures only, as the SDK retries.
pub fn data_client(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_bedrockagentcore::Client {
    let builder = aws_sdk_bedrockagentcore::config::Builder::from(config)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(10)).build());
    let builder = match endpoint {
        Some(endpoint) => builder.endpoint_url(endpoint),
        None => builder,
    };
    aws_sdk_bedrockagentcore::Client::from_conf(builder.build())
}

fn s3_builder(config: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        // Code zips may be up to 250 MB: give one upload attempt far longer than a control call.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(600))
                .build(),
        )
}

/// Standard retries, with more attempts than the SDK's 3: the control plane throttles at a few
/// requests per second and agents run in parallel.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5))
}

pub(crate) fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}

/// Resolves credentials once up front, so a missing login fails with the fix instead of deep inside
/// the first call.
async fn check_credentials(
    config: &aws_config::SdkConfig,
    profile: Option<&str>,
    assume_role: Option<&AssumeRole>,
) -> Result<()> {
    let fix = "configure credentials with `aws configure` (or `aws sso login`), choose them with `--profile NAME`, or run against the bundled stack with `--local`";
    let Some(provider) = config.credentials_provider() else {
        bail!("no AWS credentials provider is configured; {fix}")
    };
    match tokio::time::timeout(Duration::from_secs(30), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => {
            let profile = profile.map(|name| format!(" (profile `{name}`)")).unwrap_or_default();
            if let Some(assume) = assume_role {
                bail!(
                    "cannot assume role {}{profile}: {}; allow `sts:AssumeRole` on it for the credentials found (its trust \
                     policy must name them), or log in with credentials that may",
                    assume.role_arn,
                    error_chain(&err)
                );
            }
            let reason = match &err {
                aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_) => {
                    "none found in the environment, the AWS config files, web identity, ECS or EC2 instance metadata"
                        .to_owned()
                }
                other => error_chain(other),
            };
            Err(anyhow!("cannot load AWS credentials{profile}: {reason}; {fix}"))
        }
        Err(_) => bail!("loading AWS credentials took over 30 s; {fix}"),
    }
}

/// An error and its sources, by their `Display` only (the SDK's debug dumps are unreadable).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Clients for a local stack at the given endpoints, signing with the static `credentials` it accepts.
pub async fn local_clients(
    s3_endpoint: &str,
    control_endpoint: &str,
    region: &str,
    bucket: &str,
    credentials: aws_credential_types::Credentials,
) -> AwsClients {
    // `empty_test_environment` keeps a developer's own AWS_* variables and profiles out of it.
    let config = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .http_client(http_client())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await;
    let mut clients = clients_from_config(&config, bucket, true);
    clients.data = None;
    clients.s3 = aws_sdk_s3::Client::from_conf(s3_builder(&config, true).endpoint_url(s3_endpoint).build());
    let control_config =
        aws_sdk_bedrockagentcorecontrol::config::Builder::from(&config).endpoint_url(control_endpoint).build();
    clients.control = aws_sdk_bedrockagentcorecontrol::Client::from_conf(control_config);
    clients
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The AWS error code of a failed call, if the service answered.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    match err {
        SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
        _ => None,
    }
}

/// The HTTP status of a failed call, if the service answered.
pub fn http_status<E, R: HttpStatus>(err: &SdkError<E, R>) -> Option<u16> {
    match err {
        SdkError::ServiceError(service) => Some(service.raw().status_code()),
        _ => None,
    }
}

/// Lets `http_status` read the raw response of any SDK error.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Turns an SDK error into one that names what was done, to what, AWS's code and the fix.
/// `action` is the IAM action (e.g. `bedrock-agentcore:CreateAgentRuntime`), named on AccessDenied.
pub(crate) fn explain<E, R>(err: SdkError<E, R>, action: &str, resource: &str) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let operation = action.rsplit(':').next().unwrap_or(action);
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("UnknownError").to_owned();
            let message = service.err().message().unwrap_or("no message").to_owned();
            // AWS names the action it refused when it was not the call's own (iam:PassRole on the
            // runtime's role, kms:Decrypt on the bucket's key): name that one.
            let fix = fix_for(&code, denied_action(&message).unwrap_or(action));
            let text = format!("{operation} on {resource} failed: {code}: {message}; {fix}");
            if is_throttling(&code) { anyhow::Error::new(Throttled(text)) } else { anyhow!(text) }
        }
        SdkError::TimeoutError(_) => anyhow!(
            "{operation} on {resource} timed out; check the network and the endpoint (--endpoint-url, AWS_ENDPOINT_URL*), then re-run"
        ),
        SdkError::DispatchFailure(failure) => {
            let detail = error_chain(&err);
            if detail.contains("credentials") || detail.contains("Credentials") {
                anyhow!(
                    "{operation} on {resource} failed: no usable AWS credentials ({detail}); run `aws configure`, pass `--profile NAME`, or use `--local`"
                )
            } else if failure.is_io() || failure.is_timeout() {
                anyhow!(
                    "{operation} on {resource} failed: cannot reach the endpoint ({detail}); check --endpoint-url / AWS_ENDPOINT_URL* and the network"
                )
            } else {
                anyhow!("{operation} on {resource} failed: {detail}")
            }
        }
        _ => {
            let detail = error_chain(&err);
            if detail.contains("credentials") {
                anyhow!(
                    "{operation} on {resource} failed: no usable AWS credentials ({detail}); run `aws configure`, pass `--profile NAME`, or use `--local`"
                )
            } else {
                anyhow!("{operation} on {resource} failed: {detail}")
            }
        }
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(code, "ThrottlingException" | "SlowDown" | "TooManyRequestsException")
}

/// An error that is throttling still, after the SDK's retries. Waits treat it as "not yet".
#[derive(Debug)]
pub(crate) struct Throttled(pub(crate) String);

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Throttled {}

/// `Ok(None)` for a throttled poll: waits poll again later anyway, so throttling that outlasted the
/// SDK's retries (its retry quota is shared by every agent polling in parallel) is not a failure.
fn unless_throttled<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is::<Throttled>() => Ok(None),
        Err(err) => Err(err),
    }
}

/// The action in AWS's "… is not authorized to perform: iam:PassRole on resource: …".
fn denied_action(message: &str) -> Option<&str> {
    let rest = message.split_once("perform: ")?.1;
    let action = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
    let (service, operation) = action.split_once(':')?;
    let plain = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (plain(service) && plain(operation)).then_some(action)
}

fn fix_for(code: &str, action: &str) -> String {
    match code {
        "AccessDeniedException" | "AccessDenied" | "Forbidden" => {
            format!("allow `{action}` for your IAM identity (or pick another one with --profile)")
        }
        "ThrottlingException" | "SlowDown" | "TooManyRequestsException" => {
            "still throttled after retries; lower --max-parallel or re-run later".to_owned()
        }
        "ServiceQuotaExceededException" => {
            "a quota is used up: see `cargo xtask status`, remove stale PR runtimes with `cargo xtask cleanup --stale`, or request an increase".to_owned()
        }
        "ValidationException" => "AgentCore refused the request; check the agent's agent.toml and the settings".to_owned(),
        "ResourceNotFoundException" | "NoSuchKey" | "NotFound" => "it does not exist (anymore); re-run to converge".to_owned(),
        "NoSuchBucket" => "create the bucket, or point at another one with --bucket / AGENTCORE_BUCKET".to_owned(),
        "ConflictException" => "another change to it is in progress; wait until it is READY and re-run".to_owned(),
        "InternalServerException" | "InternalError" | "ServiceUnavailable" => {
            "AWS kept failing after retries; re-run later".to_owned()
        }
        "UnrecognizedClientException" | "InvalidSignatureException" | "MissingAuthenticationTokenException" | "InvalidClientTokenId" | "InvalidAccessKeyId" | "SignatureDoesNotMatch"
        | "ExpiredToken" | "ExpiredTokenException" => {
            "the credentials were refused; refresh them (`aws configure` / `aws sso login`), pass --profile, or use --local".to_owned()
        }
        _ => "see the AWS message above".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Runtimes and endpoints

/// Every runtime in the account and region (all pages).
pub async fn list_runtimes(aws: &AwsClients) -> Result<Vec<AgentRuntime>> {
    aws.control
        .list_agent_runtimes()
        .into_paginator()
        .page_size(100)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:ListAgentRuntimes", "the account's runtimes"))
}

/// The runtime called `name`, found through a paginated listing of its own. Commands look runtimes
/// up through [`index`] instead, which lists once per run.
pub async fn find_runtime(aws: &AwsClients, name: &str) -> Result<Option<AgentRuntime>> {
    Ok(list_runtimes(aws).await?.into_iter().find(|runtime| runtime.agent_runtime_name() == name))
}

/// Every version of a runtime (all pages), oldest first.
pub async fn list_versions(aws: &AwsClients, runtime_id: &str) -> Result<Vec<AgentRuntime>> {
    let mut versions = aws
        .control
        .list_agent_runtime_versions()
        .agent_runtime_id(runtime_id)
        .into_paginator()
        .page_size(100)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:ListAgentRuntimeVersions", &format!("runtime {runtime_id}")))?;
    versions.sort_by_key(|version| version_number(version.agent_runtime_version()));
    Ok(versions)
}

/// Every endpoint of a runtime, DEFAULT included (all pages).
pub async fn list_endpoints(aws: &AwsClients, runtime_id: &str) -> Result<Vec<AgentRuntimeEndpoint>> {
    aws.control
        .list_agent_runtime_endpoints()
        .agent_runtime_id(runtime_id)
        .into_paginator()
        .page_size(100)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:ListAgentRuntimeEndpoints", &format!("runtime {runtime_id}")))
}

/// A runtime (its latest version, or `version`), or `None` when it does not exist.
pub async fn get_runtime(
    aws: &AwsClients,
    runtime_id: &str,
    version: Option<&str>,
) -> Result<Option<GetAgentRuntimeOutput>> {
    match aws
        .control
        .get_agent_runtime()
        .agent_runtime_id(runtime_id)
        .set_agent_runtime_version(version.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => Ok(Some(output)),
        Err(err) if error_code(&err).as_deref() == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => {
            let resource = match version {
                Some(version) => format!("runtime {runtime_id} version {version}"),
                None => format!("runtime {runtime_id}"),
            };
            Err(explain(err, "bedrock-agentcore:GetAgentRuntime", &resource))
        }
    }
}

/// A runtime (its latest version, or `version`) as AgentCore's JSON, or `None` when it does not
/// exist: every member the service returns, the ones this crate's model predates included
/// (`resourceConfigurations`).
pub async fn get_runtime_json(
    aws: &AwsClients,
    runtime_id: &str,
    version: Option<&str>,
) -> Result<Option<serde_json::Value>> {
    let body = std::sync::Arc::new(std::sync::Mutex::new(None));
    let sent = aws
        .control
        .get_agent_runtime()
        .agent_runtime_id(runtime_id)
        .set_agent_runtime_version(version.map(str::to_owned))
        .customize()
        .interceptor(KeepBody(body.clone()))
        .send()
        .await;
    match sent {
        Ok(_) => {
            let bytes = body.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().unwrap_or_default();
            let json = serde_json::from_slice(&bytes)
                .map_err(|err| anyhow!("GetAgentRuntime on runtime {runtime_id} answered with invalid JSON: {err}"))?;
            Ok(Some(json))
        }
        Err(err) if error_code(&err).as_deref() == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(explain(err, "bedrock-agentcore:GetAgentRuntime", &format!("runtime {runtime_id}"))),
    }
}

/// Keeps the body of the response it sees (read once the SDK has loaded it whole).
#[derive(Debug)]
struct KeepBody(std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "KeepBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let bytes = context.response().body().bytes().map(<[u8]>::to_vec);
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = bytes;
        Ok(())
    }
}

/// Makes a request's JSON body exactly `expected` (plus the `clientToken` the SDK adds): members the
/// SDK could not set are added, and a body that differs from `expected` in anything else is not
/// sent. So what goes out is the input that was validated, byte for byte in meaning.
#[derive(Debug)]
pub(crate) struct ExactBody {
    pub(crate) expected: serde_json::Map<String, serde_json::Value>,
}

impl Intercept for ExactBody {
    fn name(&self) -> &'static str {
        "ExactBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let sent: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(request.body().bytes().ok_or("the request body is a stream")?)?;
        let mut body = self.expected.clone();
        for (key, value) in &sent {
            if key == "clientToken" {
                body.insert(key.clone(), value.clone());
            } else if self.expected.get(key) != Some(value) {
                return Err(
                    format!("the SDK built `{key}` as {value}, not as validated; this is a bug in xtask").into()
                );
            }
        }
        for key in self.expected.keys() {
            if !sent.contains_key(key) && !SDK_LACKS.contains(&key.as_str()) {
                return Err(format!("the SDK left out `{key}`, which was validated; this is a bug in xtask").into());
            }
        }
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = aws_smithy_types::body::SdkBody::from(bytes);
        Ok(())
    }
}

/// Create/UpdateAgentRuntime members botocore's model has and this SDK crate (1.97) does not.
const SDK_LACKS: &[&str] = &["resourceConfigurations"];

/// The tags on a resource (`arn`).
pub(crate) async fn list_tags(aws: &AwsClients, arn: &str) -> Result<std::collections::BTreeMap<String, String>> {
    let output = aws
        .control
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:ListTagsForResource", arn))?;
    Ok(output.tags().cloned().unwrap_or_default().into_iter().collect())
}

/// Adds or changes `tags` on a resource.
pub(crate) async fn tag(aws: &AwsClients, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> Result<()> {
    aws.control
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:TagResource", arn))?;
    Ok(())
}

/// Removes the tags `keys` from a resource.
pub(crate) async fn untag(aws: &AwsClients, arn: &str, keys: &[String]) -> Result<()> {
    aws.control
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map_err(|err| explain(err, "bedrock-agentcore:UntagResource", arn))?;
    Ok(())
}

/// An endpoint, or `None` when it does not exist.
pub async fn get_endpoint(
    aws: &AwsClients,
    runtime_id: &str,
    endpoint: &str,
) -> Result<Option<GetAgentRuntimeEndpointOutput>> {
    match aws.control.get_agent_runtime_endpoint().agent_runtime_id(runtime_id).endpoint_name(endpoint).send().await {
        Ok(output) => Ok(Some(output)),
        Err(err) if error_code(&err).as_deref() == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(explain(
            err,
            "bedrock-agentcore:GetAgentRuntimeEndpoint",
            &format!("endpoint {endpoint} of runtime {runtime_id}"),
        )),
    }
}

/// Deletes one version of a runtime (DeleteAgentRuntime with its `version`); AgentCore answers
/// DELETING and removes it shortly after. A version, or runtime, that is gone already counts as
/// deleted, so a re-run converges.
pub(crate) async fn delete_version(aws: &AwsClients, runtime_id: &str, runtime_name: &str, version: u32) -> Result<()> {
    let deleted = aws
        .control
        .delete_agent_runtime()
        .agent_runtime_id(runtime_id)
        .agent_runtime_version(version.to_string())
        .send()
        .await;
    match deleted {
        Ok(_) => Ok(()),
        Err(err) if error_code(&err).as_deref() == Some("ResourceNotFoundException") => Ok(()),
        Err(err) => Err(explain(
            err,
            "bedrock-agentcore:DeleteAgentRuntime",
            &format!("version {version} of runtime {runtime_name} ({runtime_id})"),
        )),
    }
}

/// The version an endpoint serves, or `None` when the endpoint does not exist or serves none yet.
pub(crate) async fn live_version(aws: &AwsClients, runtime_id: &str, endpoint: &str) -> Result<Option<u32>> {
    let state = get_endpoint(aws, runtime_id, endpoint).await?;
    Ok(state.and_then(|state| state.live_version().map(version_number)))
}

/// The S3 key a runtime version runs from.
pub(crate) fn artifact_key(artifact: Option<&AgentRuntimeArtifact>) -> Option<String> {
    match artifact? {
        AgentRuntimeArtifact::CodeConfiguration(code) => match code.code()? {
            Code::S3(location) => Some(location.prefix().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// A version string as a number (0 when AgentCore sent something else).
pub(crate) fn version_number(version: &str) -> u32 {
    version.parse().unwrap_or(0)
}

pub(crate) fn is_failed(status: &AgentRuntimeStatus) -> bool {
    matches!(
        status,
        AgentRuntimeStatus::CreateFailed | AgentRuntimeStatus::UpdateFailed | AgentRuntimeStatus::DeleteFailed
    )
}

pub(crate) fn is_transitional(status: &AgentRuntimeStatus) -> bool {
    matches!(status, AgentRuntimeStatus::Creating | AgentRuntimeStatus::Updating | AgentRuntimeStatus::Deleting)
}

/// Poll pacing: starts short so a quick transition is noticed at once, grows to `max_interval`.
pub(crate) struct Poll {
    started: tokio::time::Instant,
    interval: Duration,
    policy: WaitPolicy,
}

impl Poll {
    pub(crate) fn new(policy: WaitPolicy) -> Poll {
        Poll { started: tokio::time::Instant::now(), interval: policy.first_interval, policy }
    }

    /// Sleeps before the next poll; `Err` with `what` once the deadline has passed.
    pub(crate) async fn wait(&mut self, what: impl FnOnce() -> String) -> Result<()> {
        let elapsed = self.started.elapsed();
        if elapsed >= self.policy.timeout {
            bail!("{} after {} s (--timeout)", what(), self.policy.timeout.as_secs_f64().round());
        }
        let pause = self.interval.min(self.policy.timeout - elapsed);
        tokio::time::sleep(pause).await;
        self.interval = next_interval(self.interval, &self.policy);
        Ok(())
    }
}

fn next_interval(interval: Duration, policy: &WaitPolicy) -> Duration {
    (interval * 3 / 2).min(policy.max_interval)
}

/// Waits until `version` of the runtime is READY; fails with AWS's reason on *_FAILED.
pub(crate) async fn wait_runtime_ready(
    aws: &AwsClients,
    runtime_id: &str,
    name: &str,
    version: &str,
) -> Result<GetAgentRuntimeOutput> {
    let mut poll = Poll::new(aws.wait);
    loop {
        let Some(polled) = unless_throttled(get_runtime(aws, runtime_id, Some(version)).await)? else {
            poll.wait(|| format!("runtime {name} ({runtime_id}) version {version}: still throttled")).await?;
            continue;
        };
        let Some(runtime) = polled else {
            bail!("runtime {name} ({runtime_id}) version {version} disappeared while waiting for it to become READY")
        };
        let status = runtime.status().clone();
        if status == AgentRuntimeStatus::Ready {
            return Ok(runtime);
        }
        if is_failed(&status) {
            bail!(
                "runtime {name} ({runtime_id}) version {version} is {status}: {}; fix the cause and deploy again",
                runtime.failure_reason().unwrap_or("AgentCore gave no failureReason")
            );
        }
        poll.wait(|| {
            format!(
                "runtime {name} ({runtime_id}) version {version} is still {status}; nothing was deleted: check it with `cargo xtask status` and re-run, or raise --timeout"
            )
        })
        .await?;
    }
}

/// Waits until the runtime's latest version has left CREATING/UPDATING (any end state).
pub(crate) async fn wait_runtime_settled(
    aws: &AwsClients,
    runtime_id: &str,
    name: &str,
) -> Result<Option<GetAgentRuntimeOutput>> {
    let mut poll = Poll::new(aws.wait);
    loop {
        let Some(runtime) = unless_throttled(get_runtime(aws, runtime_id, None).await)? else {
            poll.wait(|| format!("runtime {name} ({runtime_id}): still throttled")).await?;
            continue;
        };
        match &runtime {
            Some(found) if is_transitional(found.status()) => {
                let status = found.status().clone();
                poll.wait(|| format!("runtime {name} ({runtime_id}) is still {status}")).await?;
            }
            _ => return Ok(runtime),
        }
    }
}

/// Waits until the endpoint is READY and serving `version`; fails with AWS's reason on *_FAILED.
pub async fn wait_endpoint_live(
    aws: &AwsClients,
    runtime_id: &str,
    runtime_name: &str,
    endpoint: &str,
    version: &str,
) -> Result<GetAgentRuntimeEndpointOutput> {
    let mut poll = Poll::new(aws.wait);
    loop {
        let Some(polled) = unless_throttled(get_endpoint(aws, runtime_id, endpoint).await)? else {
            poll.wait(|| format!("endpoint {endpoint} of runtime {runtime_name}: still throttled")).await?;
            continue;
        };
        let Some(state) = polled else {
            bail!(
                "endpoint {endpoint} of runtime {runtime_name} disappeared while waiting for it to serve version {version}"
            )
        };
        let status = state.status().clone();
        if status.as_str() == "READY" && state.live_version() == Some(version) {
            return Ok(state);
        }
        if status.as_str().ends_with("_FAILED") {
            bail!(
                "endpoint {endpoint} of runtime {runtime_name} is {status}: {}; it serves version {}",
                state.failure_reason().unwrap_or("AgentCore gave no failureReason"),
                state.live_version().unwrap_or("none")
            );
        }
        let live = state.live_version().unwrap_or("none").to_owned();
        poll.wait(|| {
            format!("endpoint {endpoint} of runtime {runtime_name} is still {status} (live version {live}, wanted {version})")
        })
        .await?;
    }
}

/// Waits until the endpoint is gone (404).
pub async fn wait_endpoint_gone(aws: &AwsClients, runtime_id: &str, runtime_name: &str, endpoint: &str) -> Result<()> {
    wait_gone(aws, &format!("endpoint {endpoint} of runtime {runtime_name}"), async || {
        let state = get_endpoint(aws, runtime_id, endpoint).await?;
        Ok(state.map(|state| (state.status().as_str().to_owned(), state.failure_reason().map(str::to_owned))))
    })
    .await
}

/// Waits until the runtime is gone (404).
pub(crate) async fn wait_runtime_gone(aws: &AwsClients, runtime_id: &str, name: &str) -> Result<()> {
    wait_gone(aws, &format!("runtime {name} ({runtime_id})"), async || {
        let state = get_runtime(aws, runtime_id, None).await?;
        Ok(state.map(|state| (state.status().as_str().to_owned(), state.failure_reason().map(str::to_owned))))
    })
    .await
}

/// Polls `probe` (status and failureReason, or `None` once 404) until `what` is gone; DELETE_FAILED
/// ends the wait with AWS's reason.
async fn wait_gone(
    aws: &AwsClients,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<Option<(String, Option<String>)>>,
) -> Result<()> {
    let mut poll = Poll::new(aws.wait);
    loop {
        let Some(polled) = unless_throttled(probe().await)? else {
            poll.wait(|| format!("{what}: still throttled")).await?;
            continue;
        };
        let Some((status, failure)) = polled else { return Ok(()) };
        if status == "DELETE_FAILED" {
            bail!("deleting {what} failed: {}", failure.as_deref().unwrap_or("AgentCore gave no failureReason"));
        }
        poll.wait(|| format!("{what} is still {status}")).await?;
    }
}

/// What a named endpoint of an agent's prod runtime serves now (for the workflows).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct EndpointState {
    pub runtime_name: String,
    pub(crate) runtime_id: String,
    pub(crate) endpoint: String,
    pub status: crate::report::Status,
    pub live_version: Option<String>,
    pub(crate) target_version: Option<String>,
    /// The runtime's latest version.
    pub latest_version: String,
}

/// The state of `endpoint` (default: the prod endpoint) on `agent`'s prod runtime. `Ok(None)` when
/// the runtime or the endpoint does not exist yet.
pub async fn prod_endpoint_state(
    settings: &Settings,
    aws: &AwsClients,
    agent: &str,
    endpoint: Option<&str>,
) -> Result<Option<EndpointState>> {
    let runtime_name = settings.scheme().runtime_name(agent, crate::naming::Target::Prod)?;
    let endpoint = endpoint.unwrap_or(&settings.prod_endpoint);
    let Some(runtime) = index::runtime(aws, &runtime_name).await? else { return Ok(None) };
    let latest = get_runtime(aws, &runtime.id, None).await?;
    let Some(state) = get_endpoint(aws, &runtime.id, endpoint).await? else { return Ok(None) };
    Ok(Some(EndpointState {
        runtime_name,
        runtime_id: runtime.id,
        endpoint: endpoint.to_owned(),
        status: state.status().as_str().into(),
        live_version: state.live_version().map(str::to_owned),
        target_version: state.target_version().map(str::to_owned),
        latest_version: latest.map(|latest| latest.agent_runtime_version().to_owned()).unwrap_or_default(),
    }))
}

/// PR runtimes whose pull request is not in `open_prs`. Only names the naming scheme produced are
/// ever selected; anything else in the account is left alone.
pub(crate) fn stale_runtimes(
    scheme: &crate::naming::Scheme,
    runtime_names: &[String],
    open_prs: &[u64],
) -> Vec<String> {
    runtime_names
        .iter()
        .filter(|name| matches!(scheme.parse(name), Some((_, crate::naming::Target::Pr(number))) if !open_prs.contains(&number)))
        .cloned()
        .collect()
}

/// The runtimes of one pull request, by name, among `runtime_names`.
pub fn pr_runtimes(scheme: &crate::naming::Scheme, runtime_names: &[String], pr: u64) -> Vec<String> {
    runtime_names
        .iter()
        .filter(|name| matches!(scheme.parse(name), Some((_, crate::naming::Target::Pr(number))) if number == pr))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_selection_only_takes_scheme_names() {
        let scheme = crate::naming::Scheme::new("{agent}_{target}", "prod").unwrap();
        let names: Vec<String> =
            ["bot_pr_1", "bot_pr_2", "bot_prod", "other_pr_3", "handmade", "bot_pr_02", "x_pr_1_prod"]
                .iter()
                .map(|name| name.to_string())
                .collect();
        assert_eq!(stale_runtimes(&scheme, &names, &[2]), vec!["bot_pr_1", "other_pr_3"]);
        assert_eq!(stale_runtimes(&scheme, &names, &[1, 2, 3]), Vec::<String>::new());
        assert_eq!(pr_runtimes(&scheme, &names, 1), vec!["bot_pr_1"]);
    }

    #[test]
    fn access_denied_names_the_action() {
        assert!(
            fix_for("AccessDeniedException", "bedrock-agentcore:CreateAgentRuntime")
                .contains("bedrock-agentcore:CreateAgentRuntime")
        );
        assert!(fix_for("NoSuchBucket", "s3:PutObject").contains("--bucket"));
        let pass_role = "User: arn:aws:sts::123456789012:assumed-role/ci/gh is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/AgentCoreRuntimeRole";
        assert_eq!(denied_action(pass_role), Some("iam:PassRole"));
        assert_eq!(denied_action("Access Denied"), None);
        assert_eq!(denied_action("not authorized to perform this action"), None);
    }

    #[test]
    fn artifact_key_reads_the_s3_prefix() {
        use aws_sdk_bedrockagentcorecontrol::types::{AgentManagedRuntimeType, CodeConfiguration, S3Location};
        let location = S3Location::builder().bucket("b").prefix("rt/v2/code.zip").build().unwrap();
        let code = CodeConfiguration::builder()
            .code(Code::S3(location))
            .runtime(AgentManagedRuntimeType::Python312)
            .entry_point("main.py")
            .build()
            .unwrap();
        let artifact = AgentRuntimeArtifact::CodeConfiguration(code);
        assert_eq!(artifact_key(Some(&artifact)).as_deref(), Some("rt/v2/code.zip"));
        assert_eq!(artifact_key(None), None);
    }

    #[test]
    fn poll_interval_grows_to_the_cap() {
        let policy = WaitPolicy::default();
        let mut interval = policy.first_interval;
        let mut seen = vec![interval];
        for _ in 0..8 {
            interval = next_interval(interval, &policy);
            seen.push(interval);
        }
        assert_eq!(seen[1], Duration::from_millis(225));
        assert_eq!(*seen.last().unwrap(), Duration::from_millis(800));
        assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[tokio::test]
    async fn poll_stops_at_the_deadline() {
        let mut poll = Poll::new(WaitPolicy { timeout: Duration::ZERO, ..WaitPolicy::default() });
        let err = poll.wait(|| "runtime x is still UPDATING".to_owned()).await.unwrap_err();
        assert_eq!(err.to_string(), "runtime x is still UPDATING after 0 s (--timeout)");
    }
}
