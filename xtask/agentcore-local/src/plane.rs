//! The control plane's world: runtimes, immutable versions and endpoints, with statuses derived lazily
//! from timestamps so any process reading the state file sees the same thing.

use std::collections::BTreeMap;
use std::path::Path;

use agentcore_model::rules::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::faults::{self, Quotas, ResourceFate};
use super::store::{self, rfc3339};

const DEFAULT_ENDPOINT: &str = "DEFAULT";
/// Account id in every ARN the local stack makes.
const ACCOUNT_ID: &str = "123456789012";
/// Page size of list operations when the caller sends no maxResults.
const DEFAULT_PAGE_SIZE: usize = 10;
/// Client tokens remembered for idempotent replays; older ones are forgotten first.
const MAX_TOKENS: usize = 1_000;

/// An API error as the control plane reports it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) reason: Option<&'static str>,
    pub(crate) fields: Vec<super::model::FieldError>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), reason: None, fields: Vec::new() }
    }
    pub(crate) fn validation(reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { reason: Some(reason), ..ApiError::new(400, "ValidationException", message) }
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "ResourceNotFoundException", message)
    }
    fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "ConflictException", message)
    }
    fn quota(message: impl Into<String>) -> ApiError {
        ApiError::new(402, "ServiceQuotaExceededException", message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalServerException", message)
    }
}

/// A status change in progress: transitional until `ready_at`, or forever when `stuck`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transition {
    ready_at: i64,
    #[serde(default)]
    stuck: bool,
}

impl Transition {
    fn new(now: i64, delay_ms: i64, fate: &ResourceFate) -> Transition {
        Transition { ready_at: now + delay_ms, stuck: fate.stuck }
    }
    fn pending(&self, now: i64) -> bool {
        self.stuck || now < self.ready_at
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Version {
    number: u32,
    /// The full request configuration of this version (immutable).
    config: Map<String, Value>,
    created_at: i64,
    transition: Transition,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    deleting: Option<Transition>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Endpoint {
    name: String,
    id: String,
    arn: String,
    #[serde(default)]
    description: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// Pinned version; unused for DEFAULT, which follows the latest version.
    target: u32,
    /// The version serving while a change is in progress or after it failed.
    #[serde(default)]
    previous_live: Option<u32>,
    #[serde(default)]
    updating: bool,
    transition: Transition,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    deleting: Option<Transition>,
    /// Why the deletion failed (a `fail` fault on DeleteAgentRuntimeEndpoint): once `deleting` is
    /// over, the endpoint stays, DELETE_FAILED, until it is deleted again.
    #[serde(default)]
    delete_failure: Option<String>,
}

impl Endpoint {
    /// DELETING or DELETE_FAILED while the endpoint is being (or failed to be) deleted.
    fn delete_status(&self, now: i64) -> Option<&'static str> {
        let deleting = self.deleting.as_ref()?;
        match &self.delete_failure {
            Some(_) if !deleting.pending(now) => Some("DELETE_FAILED"),
            _ => Some("DELETING"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Runtime {
    id: String,
    name: String,
    arn: String,
    workload_identity_arn: String,
    created_at: i64,
    #[serde(default)]
    tags: Map<String, Value>,
    next_version: u32,
    versions: BTreeMap<u32, Version>,
    endpoints: BTreeMap<String, Endpoint>,
    #[serde(default)]
    deleting: Option<Transition>,
    /// Why the deletion failed (a `fail` fault on DeleteAgentRuntime): once `deleting` is over, the
    /// runtime stays, DELETE_FAILED, until it is deleted again.
    #[serde(default)]
    delete_failure: Option<String>,
}

/// A remembered idempotent request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub(crate) fingerprint: String,
    pub(crate) status: u16,
    pub(crate) response: Value,
    pub(crate) at: i64,
}

/// The layout of the state file this build writes. Files from before the number was recorded are
/// format 1; a change that older builds cannot read raises it (and `load_state` migrates older files).
const STATE_FORMAT: u64 = 1;

/// Everything the control plane persists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default = "first_format")]
    format: u64,
    #[serde(default)]
    runtimes: BTreeMap<String, Runtime>,
    #[serde(default)]
    pub(crate) tokens: BTreeMap<String, TokenRecord>,
}

impl Default for State {
    fn default() -> State {
        State { format: STATE_FORMAT, runtimes: BTreeMap::new(), tokens: BTreeMap::new() }
    }
}

fn first_format() -> u64 {
    1
}

/// Reads the state file (an empty state when there is none), refusing a file this build cannot read.
pub(crate) fn load_state(path: &Path) -> anyhow::Result<State> {
    let raw: Value = store::read_json(path)?;
    if raw.is_null() {
        return Ok(State::default());
    }
    let format = match raw.get("format") {
        None => first_format(),
        Some(value) => value
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("{}: `format` is {value}, not a format number", path.display()))?,
    };
    if format > STATE_FORMAT {
        anyhow::bail!(
            "{} has state format {format}, written by a newer xtask (this one reads formats up to {STATE_FORMAT})",
            path.display()
        );
    }
    let mut state: State =
        serde_json::from_value(raw).map_err(|err| anyhow::anyhow!("cannot parse {}: {err}", path.display()))?;
    // Older formats are read as they are and written back in the current one.
    state.format = STATE_FORMAT;
    Ok(state)
}

/// The settings an operation runs with.
pub(crate) struct Env<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) region: &'a str,
    pub(crate) delay_ms: i64,
    pub(crate) now: i64,
    pub(crate) quotas: Quotas,
}

impl Env<'_> {
    fn fate(&self, operation: &str) -> Result<ResourceFate, ApiError> {
        faults::draw_fate(self.dir, operation)
            .map_err(|err| ApiError::internal(format!("{err:#}; fix or delete faults.json in the state directory")))
    }
}

impl State {
    /// Forgets resources whose deletion has finished; `true` when something was forgotten.
    fn purge(&mut self, now: i64) -> bool {
        let before = self.size();
        let done = |deleting: &Option<Transition>| deleting.as_ref().is_some_and(|t| !t.pending(now));
        self.runtimes.retain(|_, runtime| runtime.delete_failure.is_some() || !done(&runtime.deleting));
        for runtime in self.runtimes.values_mut() {
            runtime.versions.retain(|_, version| !done(&version.deleting));
            runtime.endpoints.retain(|_, endpoint| endpoint.delete_failure.is_some() || !done(&endpoint.deleting));
        }
        if self.tokens.len() > MAX_TOKENS {
            let mut ages: Vec<(i64, String)> = self.tokens.iter().map(|(k, v)| (v.at, k.clone())).collect();
            ages.sort();
            for (_, key) in ages.into_iter().take(self.tokens.len() - MAX_TOKENS) {
                self.tokens.remove(&key);
            }
        }
        self.size() != before
    }

    fn size(&self) -> (usize, usize) {
        let items = self.runtimes.values().map(|r| 1 + r.versions.len() + r.endpoints.len()).sum();
        (items, self.tokens.len())
    }
}

fn random_suffix() -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(10).map(char::from).collect()
}

fn runtime_mut<'a>(state: &'a mut State, id: &str) -> Result<&'a mut Runtime, ApiError> {
    state.runtimes.get_mut(id).ok_or_else(|| ApiError::not_found(format!("agent runtime {id} does not exist")))
}

fn runtime_ref<'a>(state: &'a State, id: &str) -> Result<&'a Runtime, ApiError> {
    state.runtimes.get(id).ok_or_else(|| ApiError::not_found(format!("agent runtime {id} does not exist")))
}

fn not_deleting(runtime: &Runtime) -> Result<(), ApiError> {
    if runtime.delete_failure.is_some() && runtime.deleting.is_some() {
        return Err(ApiError::conflict(format!(
            "agent runtime {} is DELETE_FAILED or being deleted; delete it again",
            runtime.id
        )));
    }
    if runtime.deleting.is_some() {
        return Err(ApiError::conflict(format!("agent runtime {} is being deleted", runtime.id)));
    }
    Ok(())
}

fn str_of<'a>(input: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn parse_version(text: &str) -> u32 {
    text.parse().unwrap_or(0) // the model's pattern admits only 1..=99999
}

impl Version {
    fn status(&self, now: i64) -> &'static str {
        if self.deleting.is_some() {
            "DELETING"
        } else if self.transition.pending(now) {
            if self.number == 1 { "CREATING" } else { "UPDATING" }
        } else if self.failure.is_some() {
            if self.number == 1 { "CREATE_FAILED" } else { "UPDATE_FAILED" }
        } else {
            "READY"
        }
    }
    fn ready(&self, now: i64) -> bool {
        self.status(now) == "READY"
    }
    fn failure(&self, now: i64) -> Option<&str> {
        if self.transition.pending(now) { None } else { self.failure.as_deref() }
    }
}

impl Runtime {
    /// The version an endpoint may target: one that exists and is not being deleted.
    fn endpoint_target(&self, wanted: &str) -> Result<u32, ApiError> {
        let number = parse_version(wanted);
        match self.versions.get(&number) {
            Some(version) if version.deleting.is_none() => Ok(number),
            _ => Err(ApiError::not_found(format!("agent runtime {} has no version {wanted}", self.id))),
        }
    }

    fn latest(&self) -> &Version {
        self.versions.values().next_back().expect("a runtime always keeps its latest version")
    }

    fn status(&self, now: i64) -> &'static str {
        self.delete_status(now).unwrap_or_else(|| self.latest().status(now))
    }

    /// DELETING or DELETE_FAILED while the runtime is being (or failed to be) deleted.
    fn delete_status(&self, now: i64) -> Option<&'static str> {
        let deleting = self.deleting.as_ref()?;
        match &self.delete_failure {
            Some(_) if !deleting.pending(now) => Some("DELETE_FAILED"),
            _ => Some("DELETING"),
        }
    }

    /// The highest READY version below `below`, which keeps serving while a newer one rolls out.
    fn ready_before(&self, below: u32, now: i64) -> Option<u32> {
        self.versions.range(..below).rev().find(|(_, v)| v.ready(now)).map(|(n, _)| *n)
    }

    /// (status, live, target, failure) of an endpoint.
    fn endpoint_view(&self, endpoint: &Endpoint, now: i64) -> (&'static str, Option<u32>, u32, Option<String>) {
        if endpoint.name == DEFAULT_ENDPOINT {
            let latest = self.latest();
            let previous = self.ready_before(latest.number, now);
            let status = self.delete_status(now).unwrap_or_else(|| latest.status(now));
            return match status {
                "READY" => (status, Some(latest.number), latest.number, None),
                _ => (status, previous, latest.number, latest.failure(now).map(str::to_owned)),
            };
        }
        let target_version = self.versions.get(&endpoint.target);
        let target_failure =
            target_version.and_then(|v| v.failure(now).map(|reason| format!("version {} failed: {reason}", v.number)));
        // An endpoint cannot go live on a version that is still being built.
        let target_pending = target_version.is_some_and(|v| v.transition.pending(now));
        let (in_progress, failed) =
            if endpoint.updating { ("UPDATING", "UPDATE_FAILED") } else { ("CREATING", "CREATE_FAILED") };
        let (status, live, failure) = if endpoint.transition.pending(now) {
            (in_progress, endpoint.previous_live, None)
        } else if let Some(failure) = endpoint.failure.clone().or(target_failure) {
            (failed, endpoint.previous_live, Some(failure))
        } else if target_pending {
            (in_progress, endpoint.previous_live, None)
        } else {
            ("READY", Some(endpoint.target), None)
        };
        if self.deleting.is_some() {
            return ("DELETING", live, endpoint.target, None);
        }
        match endpoint.delete_status(now) {
            Some("DELETE_FAILED") => return ("DELETE_FAILED", live, endpoint.target, endpoint.delete_failure.clone()),
            Some(deleting) => return (deleting, live, endpoint.target, None),
            None => {}
        }
        (status, live, endpoint.target, failure)
    }

    /// The version an endpoint serves now.
    fn endpoint_live(&self, endpoint: &Endpoint, now: i64) -> Option<u32> {
        self.endpoint_view(endpoint, now).1
    }

    fn endpoint_json(&self, endpoint: &Endpoint, now: i64, full: bool) -> Value {
        let (status, live, target, failure) = self.endpoint_view(endpoint, now);
        let updated_at = if endpoint.name == DEFAULT_ENDPOINT {
            self.latest().created_at.max(endpoint.updated_at)
        } else {
            endpoint.updated_at
        };
        let mut out = json!({
            "name": endpoint.name,
            "id": endpoint.id,
            "agentRuntimeEndpointArn": endpoint.arn,
            "agentRuntimeArn": self.arn,
            "status": status,
            "targetVersion": target.to_string(),
            "createdAt": rfc3339(endpoint.created_at),
            "lastUpdatedAt": rfc3339(updated_at),
        });
        if let Some(live) = live {
            out["liveVersion"] = live.to_string().into();
        }
        if let Some(description) = &endpoint.description {
            out["description"] = description.clone().into();
        }
        if full && let Some(failure) = failure {
            out["failureReason"] = failure.into();
        }
        out
    }

    fn summary_json(&self, version: &Version, now: i64) -> Value {
        json!({
            "agentRuntimeArn": self.arn,
            "agentRuntimeId": self.id,
            "agentRuntimeVersion": version.number.to_string(),
            "agentRuntimeName": self.name,
            "description": str_of(&version.config, "description").unwrap_or_default(),
            "lastUpdatedAt": rfc3339(version.created_at),
            "status": self.delete_status(now).unwrap_or_else(|| version.status(now)),
        })
    }

    fn workload_identity(&self) -> Value {
        json!({ "workloadIdentityArn": self.workload_identity_arn })
    }
}

/// Members of a create/update request that make up a version's configuration: those GetAgentRuntime
/// returns (per the model), without nulls.
fn version_config(input: &Map<String, Value>) -> Map<String, Value> {
    let model = super::model::model();
    let returned = model.shape("GetAgentRuntimeResponse").and_then(|shape| shape.get("members"));
    let mut config = input.clone();
    config.retain(|key, value| {
        !value.is_null()
            && !matches!(key.as_str(), "agentRuntimeName" | "agentRuntimeId")
            && returned.is_some_and(|members| members.get(key).is_some())
    });
    config.values_mut().for_each(strip_nulls);
    config
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, v| !v.is_null());
            object.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn field_error(name: &str, message: String) -> ApiError {
    let mut error = ApiError::validation("FieldValidationFailed", format!("1 validation error detected: {message}"));
    error.fields.push(super::model::FieldError { name: name.to_owned(), message: message.clone(), rule: message });
    error
}

/// Lifecycle settings as Get returns them (AWS fills in its defaults).
fn lifecycle_with_defaults(config: &Map<String, Value>) -> Value {
    let given = config.get("lifecycleConfiguration").and_then(Value::as_object);
    let max = given.and_then(|l| l.get("maxLifetime")).and_then(Value::as_i64);
    let idle = given.and_then(|l| l.get("idleRuntimeSessionTimeout")).and_then(Value::as_i64);
    let max_lifetime = max.unwrap_or(DEFAULT_MAX_LIFETIME);
    let idle = idle.unwrap_or(max_lifetime.min(DEFAULT_IDLE_TIMEOUT));
    json!({ "idleRuntimeSessionTimeout": idle, "maxLifetime": max_lifetime })
}

pub(crate) fn create_runtime(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
    artifact_failure: Option<String>,
) -> Result<(u16, Value), ApiError> {
    let name = str_of(input, "agentRuntimeName").unwrap_or_default();
    if let Some(existing) = state.runtimes.values().find(|runtime| runtime.name == name) {
        return Err(ApiError::conflict(format!(
            "an agent runtime named {name} already exists ({}, status {})",
            existing.id,
            existing.status(env.now)
        )));
    }
    if state.runtimes.len() >= env.quotas.runtimes {
        return Err(ApiError::quota(format!(
            "the account has {} agent runtimes, the quota in this region; delete one or raise the quota",
            state.runtimes.len()
        )));
    }
    let fate = env.fate("CreateAgentRuntime")?;
    let id = format!("{name}-{}", random_suffix());
    let arn = format!("arn:aws:bedrock-agentcore:{}:{ACCOUNT_ID}:runtime/{id}", env.region);
    let version = Version {
        number: 1,
        config: version_config(input),
        created_at: env.now,
        transition: Transition::new(env.now, env.delay_ms, &fate),
        failure: fate.failure.clone().or(artifact_failure),
        deleting: None,
    };
    let default_endpoint = Endpoint {
        name: DEFAULT_ENDPOINT.to_owned(),
        id: format!("{DEFAULT_ENDPOINT}-{}", random_suffix()),
        arn: format!("{arn}/runtime-endpoint/{DEFAULT_ENDPOINT}"),
        description: None,
        created_at: env.now,
        updated_at: env.now,
        target: 1,
        previous_live: None,
        updating: false,
        transition: Transition { ready_at: env.now, stuck: false },
        failure: None,
        deleting: None,
        delete_failure: None,
    };
    let runtime = Runtime {
        workload_identity_arn: format!(
            "arn:aws:bedrock-agentcore:{}:{ACCOUNT_ID}:workload-identity-directory/default/workload-identity/{id}",
            env.region
        ),
        id: id.clone(),
        name: name.to_owned(),
        arn: arn.clone(),
        created_at: env.now,
        tags: input.get("tags").and_then(Value::as_object).cloned().unwrap_or_default(),
        next_version: 2,
        versions: BTreeMap::from([(1, version)]),
        endpoints: BTreeMap::from([(DEFAULT_ENDPOINT.to_owned(), default_endpoint)]),
        deleting: None,
        delete_failure: None,
    };
    let response = json!({
        "agentRuntimeArn": arn,
        "agentRuntimeId": id,
        "agentRuntimeVersion": "1",
        "createdAt": rfc3339(env.now),
        "status": "CREATING",
        "workloadIdentityDetails": runtime.workload_identity(),
    });
    state.runtimes.insert(id, runtime);
    Ok((202, response))
}

/// Adds READY runtimes called `names`, as if made long ago: an account that already holds them. Each
/// goes through `create_runtime`, so taken names and the runtime quota are refused as usual.
pub(crate) fn preload_runtimes(state: &mut State, env: &Env, names: &[String]) -> Result<(), ApiError> {
    let ready = Env { delay_ms: 0, ..*env };
    for name in names {
        let input = json!({
            "agentRuntimeName": name,
            "agentRuntimeArtifact": { "codeConfiguration": {
                "code": { "s3": { "bucket": "preloaded", "prefix": format!("{name}/code.zip") } },
                "runtime": "PYTHON_3_12",
                "entryPoint": ["main.py"],
            } },
            "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/PreloadedRuntimeRole"),
            "networkConfiguration": { "networkMode": "PUBLIC" },
            "description": "preloaded",
        });
        let Value::Object(input) = input else { unreachable!("a JSON object literal") };
        create_runtime(state, &ready, &input, None)?;
    }
    Ok(())
}

pub(crate) fn update_runtime(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
    artifact_failure: Option<String>,
) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let runtime = runtime_mut(state, id)?;
    not_deleting(runtime)?;
    let latest = runtime.latest();
    let status = latest.status(env.now);
    if matches!(status, "CREATING" | "UPDATING") {
        return Err(ApiError::conflict(format!(
            "agent runtime {id} is {status} (version {}); wait until it leaves that status before updating it",
            latest.number
        )));
    }
    if runtime.versions.len() >= env.quotas.versions_per_runtime {
        return Err(ApiError::quota(format!(
            "agent runtime {id} has {} versions, the quota per runtime; delete old versions or raise the quota",
            runtime.versions.len()
        )));
    }
    let fate = env.fate("UpdateAgentRuntime")?;
    let number = runtime.next_version;
    runtime.next_version += 1;
    runtime.versions.insert(
        number,
        Version {
            number,
            config: version_config(input),
            created_at: env.now,
            transition: Transition::new(env.now, env.delay_ms, &fate),
            failure: fate.failure.clone().or(artifact_failure),
            deleting: None,
        },
    );
    Ok((
        202,
        json!({
            "agentRuntimeArn": runtime.arn,
            "agentRuntimeId": runtime.id,
            "agentRuntimeVersion": number.to_string(),
            "createdAt": rfc3339(runtime.created_at),
            "lastUpdatedAt": rfc3339(env.now),
            "status": "UPDATING",
            "workloadIdentityDetails": runtime.workload_identity(),
        }),
    ))
}

pub(crate) fn get_runtime(state: &State, env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let runtime = runtime_ref(state, id)?;
    let version = match str_of(input, "agentRuntimeVersion") {
        None => runtime.latest(),
        Some(wanted) => runtime
            .versions
            .get(&parse_version(wanted))
            .ok_or_else(|| ApiError::not_found(format!("agent runtime {id} has no version {wanted}")))?,
    };
    let mut out = version.config.clone();
    let status = runtime.delete_status(env.now).unwrap_or_else(|| version.status(env.now));
    let fields = json!({
        "agentRuntimeArn": runtime.arn,
        "agentRuntimeName": runtime.name,
        "agentRuntimeId": runtime.id,
        "agentRuntimeVersion": version.number.to_string(),
        "createdAt": rfc3339(runtime.created_at),
        "lastUpdatedAt": rfc3339(version.created_at),
        "status": status,
        "lifecycleConfiguration": lifecycle_with_defaults(&version.config),
        "workloadIdentityDetails": runtime.workload_identity(),
    });
    out.extend(fields.as_object().cloned().unwrap_or_default());
    let failure = match status {
        "DELETE_FAILED" => runtime.delete_failure.as_deref(),
        _ => version.failure(env.now),
    };
    if let Some(failure) = failure {
        out.insert("failureReason".into(), failure.into());
    }
    Ok((200, Value::Object(out)))
}

pub(crate) fn delete_runtime(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let runtime = runtime_mut(state, id)?;
    let now = env.now;
    if let Some(wanted) = str_of(input, "agentRuntimeVersion") {
        // One version of a runtime (the model's `version` query parameter). What AWS refuses, as its
        // documentation and the whole-runtime delete's rules imply (docs/local-stack.md): a version
        // that does not exist (or whose deletion finished) is 404; the runtime being deleted, its
        // latest version (DEFAULT follows it, so also its only one), and a version an endpoint
        // serves or is moving to (an endpoint being deleted included) are 409. A version already
        // being deleted answers DELETING again.
        let number = parse_version(wanted);
        if !runtime.versions.contains_key(&number) {
            return Err(ApiError::not_found(format!("agent runtime {id} has no version {wanted}")));
        }
        not_deleting(runtime)?;
        if runtime.versions.len() == 1 {
            return Err(ApiError::conflict(format!(
                "version {number} is the only version of agent runtime {id}; delete the whole runtime instead"
            )));
        }
        if runtime.latest().number == number {
            return Err(ApiError::conflict(format!(
                "version {number} is the latest version of agent runtime {id} and the DEFAULT endpoint serves it; delete the whole runtime instead"
            )));
        }
        // DEFAULT counts too when it still serves an older version because the latest one failed.
        let users: Vec<String> = runtime
            .endpoints
            .values()
            .filter(|e| {
                (e.name != DEFAULT_ENDPOINT && e.target == number) || runtime.endpoint_live(e, now) == Some(number)
            })
            .map(|e| e.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "version {number} of agent runtime {id} is used by endpoint(s) {}; point them elsewhere first",
                users.join(", ")
            )));
        }
        let fate = env.fate("DeleteAgentRuntime")?;
        let version = runtime.versions.get_mut(&number).expect("checked above");
        if version.deleting.is_none() {
            version.deleting = Some(Transition::new(now, env.delay_ms, &fate));
        }
        return Ok((
            202,
            json!({ "status": "DELETING", "agentRuntimeId": id, "agentRuntimeVersion": number.to_string() }),
        ));
    }
    let named: Vec<String> = runtime
        .endpoints
        .values()
        .filter(|e| e.name != DEFAULT_ENDPOINT)
        .map(|e| match runtime.endpoint_view(e, now).0 {
            "DELETING" => format!("{} (still DELETING; wait until it is gone)", e.name),
            "DELETE_FAILED" => format!("{} (DELETE_FAILED; delete it again)", e.name),
            _ => e.name.clone(),
        })
        .collect();
    if !named.is_empty() {
        return Err(ApiError::conflict(format!(
            "agent runtime {id} has endpoints that must be deleted first: {}",
            named.join(", ")
        )));
    }
    // A first delete, or another try after DELETE_FAILED; a delete in progress is left alone.
    if runtime.deleting.is_none() || runtime.delete_status(now) == Some("DELETE_FAILED") {
        let fate = env.fate("DeleteAgentRuntime")?;
        runtime.deleting = Some(Transition::new(now, env.delay_ms, &fate));
        runtime.delete_failure = fate.failure;
    }
    Ok((202, json!({ "status": "DELETING", "agentRuntimeId": id })))
}

/// Opaque page tokens: the hex of the last key served.
fn encode_token(key: &str) -> String {
    hex::encode(format!("v1:{key}"))
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").map(str::to_owned))
        .ok_or_else(|| {
            let mut error = field_error("nextToken", "nextToken is not a token this service returned".to_owned());
            error.reason = Some("FieldValidationFailed");
            error
        })
}

/// One page of `items` (sorted by key) after the caller's token.
fn page<T>(items: Vec<(String, T)>, input: &Map<String, Value>) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = input.get("maxResults").and_then(Value::as_u64).map(|n| n as usize).unwrap_or(DEFAULT_PAGE_SIZE);
    let after = str_of(input, "nextToken").filter(|t| !t.is_empty()).map(decode_token).transpose()?;
    let mut rest: Vec<(String, T)> =
        items.into_iter().filter(|(key, _)| after.as_ref().is_none_or(|after| key > after)).collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let token = if more { rest.last().map(|(key, _)| encode_token(key)) } else { None };
    Ok((rest.into_iter().map(|(_, item)| item).collect(), token))
}

fn with_token(mut out: Value, token: Option<String>) -> Value {
    if let Some(token) = token {
        out["nextToken"] = token.into();
    }
    out
}

pub(crate) fn list_runtimes(state: &State, env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let items = state
        .runtimes
        .values()
        .map(|runtime| (runtime.id.clone(), runtime.summary_json(runtime.latest(), env.now)))
        .collect();
    let (rows, token) = page(items, input)?;
    Ok((200, with_token(json!({ "agentRuntimes": rows }), token)))
}

pub(crate) fn list_versions(state: &State, env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let runtime = runtime_ref(state, id)?;
    // Newest first; zero-padded keys keep the token order numeric.
    let items = runtime
        .versions
        .values()
        .rev()
        .map(|version| (format!("{:05}", 99_999 - version.number), runtime.summary_json(version, env.now)))
        .collect();
    let (rows, token) = page(items, input)?;
    Ok((200, with_token(json!({ "agentRuntimes": rows }), token)))
}

pub(crate) fn create_endpoint(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let name = str_of(input, "name").unwrap_or_default();
    let runtime = runtime_mut(state, id)?;
    not_deleting(runtime)?;
    if name == DEFAULT_ENDPOINT {
        return Err(ApiError::conflict(
            "DEFAULT is reserved: AgentCore creates it with the runtime and moves it to every new version",
        ));
    }
    if let Some(existing) = runtime.endpoints.get(name) {
        let (status, ..) = runtime.endpoint_view(existing, env.now);
        return Err(ApiError::conflict(format!(
            "agent runtime {id} already has an endpoint named {name} (status {status})"
        )));
    }
    if runtime.endpoints.len() >= env.quotas.endpoints_per_runtime {
        return Err(ApiError::quota(format!(
            "agent runtime {id} has {} endpoints (DEFAULT included), the quota per runtime; delete one or raise the quota",
            runtime.endpoints.len()
        )));
    }
    let target = match str_of(input, "agentRuntimeVersion") {
        None => runtime.latest().number,
        Some(wanted) => runtime.endpoint_target(wanted)?,
    };
    let fate = env.fate("CreateAgentRuntimeEndpoint")?;
    let arn = format!("{}/runtime-endpoint/{name}", runtime.arn);
    let endpoint = Endpoint {
        name: name.to_owned(),
        id: format!("{name}-{}", random_suffix()),
        arn: arn.clone(),
        description: str_of(input, "description").map(str::to_owned),
        created_at: env.now,
        updated_at: env.now,
        target,
        previous_live: None,
        updating: false,
        transition: Transition::new(env.now, env.delay_ms, &fate),
        failure: fate.failure.clone(),
        deleting: None,
        delete_failure: None,
    };
    runtime.endpoints.insert(name.to_owned(), endpoint);
    Ok((
        202,
        json!({
            "targetVersion": target.to_string(),
            "agentRuntimeEndpointArn": arn,
            "agentRuntimeArn": runtime.arn,
            "agentRuntimeId": runtime.id,
            "endpointName": name,
            "status": "CREATING",
            "createdAt": rfc3339(env.now),
        }),
    ))
}

pub(crate) fn update_endpoint(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let name = str_of(input, "endpointName").unwrap_or_default();
    let now = env.now;
    let runtime = runtime_mut(state, id)?;
    not_deleting(runtime)?;
    let Some(endpoint) = runtime.endpoints.get(name) else {
        return Err(ApiError::not_found(format!("agent runtime {id} has no endpoint named {name}")));
    };
    if name == DEFAULT_ENDPOINT {
        return Err(ApiError::conflict(
            "the DEFAULT endpoint always serves the latest version and cannot be updated; update the runtime or use a named endpoint",
        ));
    }
    let (status, live, ..) = runtime.endpoint_view(endpoint, now);
    if matches!(status, "CREATING" | "UPDATING" | "DELETING") {
        return Err(ApiError::conflict(format!(
            "endpoint {name} of agent runtime {id} is {status}; wait until it leaves that status before updating it"
        )));
    }
    if status == "DELETE_FAILED" {
        return Err(ApiError::conflict(format!(
            "endpoint {name} of agent runtime {id} is DELETE_FAILED; delete it again before anything else"
        )));
    }
    let target = match str_of(input, "agentRuntimeVersion") {
        None => endpoint.target,
        Some(wanted) => runtime.endpoint_target(wanted)?,
    };
    let fate = env.fate("UpdateAgentRuntimeEndpoint")?;
    let runtime_arn = runtime.arn.clone();
    let endpoint = runtime.endpoints.get_mut(name).expect("checked above");
    endpoint.previous_live = live;
    endpoint.target = target;
    endpoint.updating = true;
    endpoint.updated_at = now;
    endpoint.transition = Transition::new(now, env.delay_ms, &fate);
    endpoint.failure = fate.failure.clone();
    if let Some(description) = str_of(input, "description") {
        endpoint.description = Some(description.to_owned());
    }
    let mut out = json!({
        "targetVersion": target.to_string(),
        "agentRuntimeEndpointArn": endpoint.arn,
        "agentRuntimeArn": runtime_arn,
        "status": "UPDATING",
        "createdAt": rfc3339(endpoint.created_at),
        "lastUpdatedAt": rfc3339(now),
    });
    if let Some(live) = live {
        out["liveVersion"] = live.to_string().into();
    }
    Ok((202, out))
}

pub(crate) fn get_endpoint(state: &State, env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let name = str_of(input, "endpointName").unwrap_or_default();
    let runtime = runtime_ref(state, id)?;
    let endpoint = runtime
        .endpoints
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("agent runtime {id} has no endpoint named {name}")))?;
    Ok((200, runtime.endpoint_json(endpoint, env.now, true)))
}

pub(crate) fn delete_endpoint(
    state: &mut State,
    env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let name = str_of(input, "endpointName").unwrap_or_default();
    let runtime = runtime_mut(state, id)?;
    if !runtime.endpoints.contains_key(name) {
        return Err(ApiError::not_found(format!("agent runtime {id} has no endpoint named {name}")));
    }
    if name == DEFAULT_ENDPOINT {
        return Err(ApiError::conflict(
            "default endpoints are removed when you delete the agent runtime; delete the runtime instead",
        ));
    }
    let endpoint = runtime.endpoints.get_mut(name).expect("checked above");
    // A first delete, or another try after DELETE_FAILED; a delete in progress is left alone.
    if endpoint.deleting.is_none() || endpoint.delete_status(env.now) == Some("DELETE_FAILED") {
        let fate = env.fate("DeleteAgentRuntimeEndpoint")?;
        endpoint.deleting = Some(Transition::new(env.now, env.delay_ms, &fate));
        endpoint.delete_failure = fate.failure;
    }
    Ok((202, json!({ "status": "DELETING", "agentRuntimeId": id, "endpointName": name })))
}

pub(crate) fn list_endpoints(state: &State, env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let id = str_of(input, "agentRuntimeId").unwrap_or_default();
    let runtime = runtime_ref(state, id)?;
    let items = runtime
        .endpoints
        .values()
        .map(|endpoint| (endpoint.name.clone(), runtime.endpoint_json(endpoint, env.now, false)))
        .collect();
    let (rows, token) = page(items, input)?;
    Ok((200, with_token(json!({ "runtimeEndpoints": rows }), token)))
}

/// The id of the runtime whose ARN is `arn`: the resources the local stack tags are runtimes.
fn runtime_id_by_arn(state: &State, arn: &str) -> Result<String, ApiError> {
    let runtime = state.runtimes.values().find(|runtime| runtime.arn == arn);
    runtime
        .map(|runtime| runtime.id.clone())
        .ok_or_else(|| ApiError::not_found(format!("no taggable resource {arn}: no agent runtime has that ARN")))
}

/// The runtime a tagging request's `resourceArn` names, and that ARN.
fn tagged_mut<'s, 'i>(
    state: &'s mut State,
    input: &'i Map<String, Value>,
) -> Result<(&'i str, &'s mut Runtime), ApiError> {
    let arn = str_of(input, "resourceArn").unwrap_or_default();
    let id = runtime_id_by_arn(state, arn)?;
    Ok((arn, runtime_mut(state, &id)?))
}

/// The tags of a runtime (TagsMap allows 50).
const MAX_TAGS: usize = 50;

pub(crate) fn tag_resource(
    state: &mut State,
    _env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let (arn, runtime) = tagged_mut(state, input)?;
    let mut tags = runtime.tags.clone();
    tags.extend(input.get("tags").and_then(Value::as_object).cloned().unwrap_or_default());
    if tags.len() > MAX_TAGS {
        return Err(field_error(
            "tags",
            format!("{arn} would have {} tags; a resource has at most {MAX_TAGS}", tags.len()),
        ));
    }
    runtime.tags = tags;
    Ok((204, json!({})))
}

pub(crate) fn untag_resource(
    state: &mut State,
    _env: &Env,
    input: &Map<String, Value>,
) -> Result<(u16, Value), ApiError> {
    let (_, runtime) = tagged_mut(state, input)?;
    for key in input.get("tagKeys").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        runtime.tags.remove(key);
    }
    Ok((204, json!({})))
}

pub(crate) fn list_tags(state: &State, _env: &Env, input: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    let arn = str_of(input, "resourceArn").unwrap_or_default();
    let runtime = runtime_ref(state, &runtime_id_by_arn(state, arn)?)?;
    Ok((200, json!({ "tags": runtime.tags })))
}

/// What an invocation runs: one version of a runtime, as an endpoint serves it now.
#[derive(Debug, Clone)]
pub(crate) struct InvocationTarget {
    pub(crate) runtime_id: String,
    pub(crate) runtime_name: String,
    pub(crate) endpoint: String,
    pub(crate) version: u32,
    /// The version's configuration, as its create or update request gave it.
    pub(crate) config: Map<String, Value>,
}

/// The runtime a data-plane path label names: its ARN (URL-encoded by the SDKs), or its id with
/// `accountId`. Another region or account is a runtime this stack does not have.
pub(crate) fn runtime_id_of(label: &str, account_id: Option<&str>, region: &str) -> Result<String, ApiError> {
    if let Some(rest) = label.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [_partition, service, arn_region, account, resource] = parts.as_slice() else {
            return Err(ApiError::validation("FieldValidationFailed", format!("{label} is not an agent runtime ARN")));
        };
        let Some(id) = resource.strip_prefix("runtime/").filter(|id| !id.is_empty() && !id.contains('/')) else {
            return Err(ApiError::validation(
                "FieldValidationFailed",
                format!(
                    "{label} is not an agent runtime ARN (arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>)"
                ),
            ));
        };
        if *service != "bedrock-agentcore" || *arn_region != region || *account != ACCOUNT_ID {
            return Err(ApiError::not_found(format!(
                "no agent runtime {label}: the local stack holds the runtimes of account {ACCOUNT_ID} in {region}"
            )));
        }
        return Ok((*id).to_owned());
    }
    match account_id {
        None => Err(ApiError::validation(
            "FieldValidationFailed",
            format!("{label} is a runtime id, which needs the accountId query parameter; or pass the runtime's ARN"),
        )),
        Some(account) if account != ACCOUNT_ID => {
            Err(ApiError::not_found(format!("no agent runtime {label} in account {account}")))
        }
        Some(_) => Ok(label.to_owned()),
    }
}

/// The version the endpoint `qualifier` (DEFAULT when absent) of runtime `id` serves now.
pub(crate) fn invocation_target(
    state: &State,
    now: i64,
    id: &str,
    qualifier: Option<&str>,
) -> Result<InvocationTarget, ApiError> {
    let runtime =
        state.runtimes.get(id).filter(|runtime| runtime.deleting.is_none()).ok_or_else(|| {
            ApiError::not_found(format!("no agent runtime {id}: it does not exist or is being deleted"))
        })?;
    let name = qualifier.unwrap_or(DEFAULT_ENDPOINT);
    let Some(endpoint) = runtime.endpoints.get(name) else {
        let hint = if name.chars().all(|c| c.is_ascii_digit()) {
            "; the qualifier is an endpoint name, not a version: point an endpoint at the version to call it"
        } else {
            ""
        };
        return Err(ApiError::not_found(format!("agent runtime {} has no endpoint named {name}{hint}", runtime.name)));
    };
    let (status, live, _, failure) = runtime.endpoint_view(endpoint, now);
    if status == "DELETING" {
        return Err(ApiError::not_found(format!("endpoint {name} of agent runtime {} is being deleted", runtime.name)));
    }
    if status == "DELETE_FAILED" {
        return Err(ApiError::not_found(format!(
            "endpoint {name} of agent runtime {} is DELETE_FAILED; delete it again",
            runtime.name
        )));
    }
    let Some(version) = live else {
        if status.ends_with("_FAILED") {
            return Err(ApiError::not_found(format!(
                "endpoint {name} of agent runtime {} serves no version: it is {status} ({})",
                runtime.name,
                failure.as_deref().unwrap_or("no failure reason")
            )));
        }
        return Err(ApiError::new(
            409,
            "RetryableConflictException",
            format!(
                "endpoint {name} of agent runtime {} is {status} and serves no version yet; retry once it is READY",
                runtime.name
            ),
        ));
    };
    let config = runtime.versions.get(&version).map(|v| v.config.clone()).ok_or_else(|| {
        ApiError::internal(format!(
            "endpoint {name} of agent runtime {} serves version {version}, which is gone",
            runtime.name
        ))
    })?;
    Ok(InvocationTarget {
        runtime_id: runtime.id.clone(),
        runtime_name: runtime.name.clone(),
        endpoint: name.to_owned(),
        version,
        config,
    })
}

/// How to start over when the state directory `dir` cannot be read.
pub(crate) fn reset_hint(dir: &Path) -> String {
    format!(
        "`cargo xtask local reset --dir {}` starts from an empty state (it deletes every local runtime and S3 object)",
        dir.display()
    )
}

/// Loads the state, runs `f`, and saves the state when `f` succeeds and may have changed it (`write`)
/// or deletions finished by `now` were forgotten; all under the directory lock.
pub(crate) fn transact<T>(
    dir: &Path,
    write: bool,
    now: i64,
    f: impl FnOnce(&mut State) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let internal = |err: anyhow::Error| ApiError::internal(format!("local state: {err:#}; {}", reset_hint(dir)));
    store::with_lock(dir, || {
        let path = dir.join(store::STATE_FILE);
        let mut state = parsed::load(&path).map_err(internal)?;
        let purged = state.purge(now);
        let result = f(&mut state);
        if purged || (write && result.is_ok()) {
            store::write_json(&path, &state).map_err(internal)?;
            parsed::keep(&path, state);
        }
        result
    })
    .map_err(internal)?
}

/// The states this process last read or wrote, so a request that finds the state file as it was
/// left skips parsing it: an account of 1,000 runtimes is a megabyte of JSON, read on every request.
/// "As it was left" is the file's identity: every write renames a new file into place (a new inode),
/// and an edit by hand changes the size or the modification time.
mod parsed {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError};

    use super::{State, load_state};

    /// States kept, most recent last: a few stacks per process at most, except in tests.
    const KEPT: usize = 8;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Stamp {
        device: u64,
        inode: u64,
        size: u64,
        modified: Option<std::time::SystemTime>,
    }

    static KEPT_STATES: Mutex<Vec<(PathBuf, Stamp, State)>> = Mutex::new(Vec::new());

    fn stamp(path: &Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (metadata.dev(), metadata.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        Some(Stamp { device, inode, size: metadata.len(), modified: metadata.modified().ok() })
    }

    /// The state in `path`: a copy of the one kept when the file is unchanged, else parsed (and kept).
    pub(super) fn load(path: &Path) -> anyhow::Result<State> {
        let Some(now) = stamp(path) else { return load_state(path) };
        {
            let kept = KEPT_STATES.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, _, state)) = kept.iter().find(|(kept, stamp, _)| kept == path && *stamp == now) {
                return Ok(state.clone());
            }
        }
        let state = load_state(path)?;
        remember(path, now, state.clone());
        Ok(state)
    }

    /// Keeps `state`, just written to `path`.
    pub(super) fn keep(path: &Path, state: State) {
        if let Some(now) = stamp(path) {
            remember(path, now, state);
        }
    }

    fn remember(path: &Path, stamp: Stamp, state: State) {
        let mut kept = KEPT_STATES.lock().unwrap_or_else(PoisonError::into_inner);
        kept.retain(|(kept, _, _)| kept != path);
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((path.to_owned(), stamp, state));
    }
}
