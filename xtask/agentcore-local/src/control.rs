//! The control-plane HTTP server: restJson1 routing per the model, SigV4 checks, faults, idempotency.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::model::{Location, Model, model};
use super::plane::{self, ApiError, Env};
use super::uri::{parse_query, percent_decode};
use super::{artifact, faults, sigv4, store};

/// The signing name requests must be signed for (not the endpoint prefix).
const SIGNING_SERVICE: &str = "bedrock-agentcore";

/// Shared by every connection of one control-plane server.
#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) dir: PathBuf,
    pub(crate) region: String,
    pub(crate) delay: Duration,
    /// Log each request on stderr (`local up` does; an in-process stack stays quiet).
    pub(crate) log: bool,
    /// Every request served, by operation; the stack hands out copies.
    pub(crate) requests: Arc<Mutex<RequestCounts>>,
}

/// Requests a control plane received, by operation (`Unknown` for paths it serves none at), retries
/// and refused requests included: what an account's request rate limits would see.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts(BTreeMap<String, u64>);

impl RequestCounts {
    /// The requests for `operation` (0 when none).
    pub fn get(&self, operation: &str) -> u64 {
        self.0.get(operation).copied().unwrap_or(0)
    }

    /// The requests for every operation.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The requests received since `earlier`, an earlier copy from the same stack.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts(
            self.0
                .iter()
                .map(|(operation, count)| (operation.clone(), count - earlier.get(operation)))
                .filter(|(_, count)| *count > 0)
                .collect(),
        )
    }

    /// Operations and their counts, by operation name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(operation, count)| (operation.as_str(), *count))
    }

    fn add(&mut self, operation: &str) {
        *self.0.entry(operation.to_owned()).or_default() += 1;
    }
}

const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Maps method and path to an operation and its URI labels. Both the model's URIs (trailing `/`)
/// and the Rust SDK's (without it) are accepted.
fn route(method: &str, path: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let label = |text: &str| percent_decode(text);
    let op = match (method, segments.as_slice()) {
        ("PUT", ["runtimes"]) => ("CreateAgentRuntime", vec![]),
        ("POST", ["runtimes"]) => ("ListAgentRuntimes", vec![]),
        ("PUT", ["runtimes", id]) => ("UpdateAgentRuntime", vec![("agentRuntimeId", label(id))]),
        ("GET", ["runtimes", id]) => ("GetAgentRuntime", vec![("agentRuntimeId", label(id))]),
        ("DELETE", ["runtimes", id]) => ("DeleteAgentRuntime", vec![("agentRuntimeId", label(id))]),
        ("POST", ["runtimes", id, "versions"]) => ("ListAgentRuntimeVersions", vec![("agentRuntimeId", label(id))]),
        ("PUT", ["runtimes", id, "runtime-endpoints"]) => {
            ("CreateAgentRuntimeEndpoint", vec![("agentRuntimeId", label(id))])
        }
        ("POST", ["runtimes", id, "runtime-endpoints"]) => {
            ("ListAgentRuntimeEndpoints", vec![("agentRuntimeId", label(id))])
        }
        ("PUT", ["runtimes", id, "runtime-endpoints", name]) => {
            ("UpdateAgentRuntimeEndpoint", vec![("agentRuntimeId", label(id)), ("endpointName", label(name))])
        }
        ("GET", ["runtimes", id, "runtime-endpoints", name]) => {
            ("GetAgentRuntimeEndpoint", vec![("agentRuntimeId", label(id)), ("endpointName", label(name))])
        }
        ("DELETE", ["runtimes", id, "runtime-endpoints", name]) => {
            ("DeleteAgentRuntimeEndpoint", vec![("agentRuntimeId", label(id)), ("endpointName", label(name))])
        }
        // The ARN is one label: the SDKs percent-encode its `/` and `:`.
        ("POST", ["tags", arn]) => ("TagResource", vec![("resourceArn", label(arn))]),
        ("DELETE", ["tags", arn]) => ("UntagResource", vec![("resourceArn", label(arn))]),
        ("GET", ["tags", arn]) => ("ListTagsForResource", vec![("resourceArn", label(arn))]),
        _ => return None,
    };
    Some(op)
}

pub(crate) type Body = Full<Bytes>;

pub(crate) fn json_response(status: u16, body: &Value, request_id: &str) -> Response<Body> {
    let response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-amzn-requestid", request_id);
    // 204 (TagResource, UntagResource) has no body.
    if status == 204 {
        return response.body(Full::new(Bytes::new())).expect("static response parts are valid");
    }
    response
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())))
        .expect("static response parts are valid")
}

pub(crate) fn error_response(error: &ApiError, request_id: &str) -> Response<Body> {
    let mut body = json!({ "message": error.message });
    if let Some(reason) = error.reason {
        body["reason"] = reason.into();
    }
    if !error.fields.is_empty() {
        body["fieldList"] = serde_json::to_value(&error.fields).unwrap_or_default();
    }
    let mut response = json_response(error.status, &body, request_id);
    response.headers_mut().insert("x-amzn-errortype", error.code.parse().expect("error codes are ASCII"));
    response
}

pub(crate) fn request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl Control {
    /// hyper entry point: never fails at the HTTP level; every problem is an AWS-style error response.
    pub(crate) async fn serve(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let request_id = request_id();
        let (parts, body) = request.into_parts();
        let operation = route(parts.method.as_str(), parts.uri.path()).map_or("Unknown", |(operation, _)| operation);
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).add(operation);
        // Control-plane requests are small JSON documents; a bound keeps a bad client from exhausting memory.
        let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                let error = ApiError::validation("CannotParse", format!("cannot read the request body: {err}"));
                return Ok(error_response(&error, &request_id));
            }
        };
        let method = parts.method.as_str().to_owned();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or("").to_owned();
        let result = self.handle(&method, &path, &query, &parts.headers, &body).await;
        let response = match result {
            Ok((status, value)) => json_response(status, &value, &request_id),
            Err(error) => error_response(&error, &request_id),
        };
        if self.log {
            let code = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
            eprintln!("local control: {method} {path} -> {} {code}", response.status().as_u16());
        }
        Ok(response)
    }

    async fn handle(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        query: &str,
        headers: &hyper::HeaderMap,
        body: &Bytes,
    ) -> Result<(u16, Value), ApiError> {
        sigv4::check(method, path, query, headers, body, &self.region, SIGNING_SERVICE)?;
        let Some((operation, labels)) = route(method, path) else {
            return Err(ApiError::new(
                404,
                "UnknownOperationException",
                format!("no runtime, runtime-endpoint or tagging operation is served at {method} {path}"),
            ));
        };
        let input = build_input(operation, &labels, query, method, body)?;
        validate(model(), operation, &input)?;
        let (quotas, clock_offset_ms) = injected_faults(&self.dir, operation).await?;

        let control = Arc::clone(self);
        let now = store::now_ms() + clock_offset_ms;
        tokio::task::spawn_blocking(move || control.execute(operation, &input, quotas, now))
            .await
            .map_err(|err| ApiError::internal(err.to_string()))?
    }

    /// Runs a validated operation against the state (blocking: file lock and file IO).
    fn execute(
        &self,
        operation: &str,
        input: &Map<String, Value>,
        quotas: faults::Quotas,
        now: i64,
    ) -> Result<(u16, Value), ApiError> {
        // The artifact is read outside the lock: it only depends on S3, and zips can be large.
        let artifact_failure = match operation {
            "CreateAgentRuntime" | "UpdateAgentRuntime" => {
                input.get("agentRuntimeArtifact").and_then(|a| artifact::check(&self.dir, a))
            }
            _ => None,
        };
        let write =
            !matches!(operation, "GetAgentRuntime" | "GetAgentRuntimeEndpoint") && !operation.starts_with("List");
        plane::transact(&self.dir, write, now, |state| {
            let env =
                Env { dir: &self.dir, region: &self.region, delay_ms: self.delay.as_millis() as i64, now, quotas };
            let token_key = idempotency_key(operation, input);
            let fingerprint = fingerprint(input);
            if let Some(key) = &token_key
                && let Some(record) = state.tokens.get(key)
            {
                if record.fingerprint == fingerprint {
                    return Ok((record.status, record.response.clone()));
                }
                return Err(ApiError::validation(
                    "IdempotentParameterMismatchException",
                    "the clientToken was already used with different parameters; use a new clientToken for a different request",
                ));
            }
            let result = match operation {
                "CreateAgentRuntime" => plane::create_runtime(state, &env, input, artifact_failure),
                "UpdateAgentRuntime" => plane::update_runtime(state, &env, input, artifact_failure),
                "GetAgentRuntime" => plane::get_runtime(state, &env, input),
                "DeleteAgentRuntime" => plane::delete_runtime(state, &env, input),
                "ListAgentRuntimes" => plane::list_runtimes(state, &env, input),
                "ListAgentRuntimeVersions" => plane::list_versions(state, &env, input),
                "CreateAgentRuntimeEndpoint" => plane::create_endpoint(state, &env, input),
                "UpdateAgentRuntimeEndpoint" => plane::update_endpoint(state, &env, input),
                "GetAgentRuntimeEndpoint" => plane::get_endpoint(state, &env, input),
                "DeleteAgentRuntimeEndpoint" => plane::delete_endpoint(state, &env, input),
                "ListAgentRuntimeEndpoints" => plane::list_endpoints(state, &env, input),
                "TagResource" => plane::tag_resource(state, &env, input),
                "UntagResource" => plane::untag_resource(state, &env, input),
                "ListTagsForResource" => plane::list_tags(state, &env, input),
                other => Err(ApiError::internal(format!("operation {other} is routed but not implemented"))),
            }?;
            if let Some(key) = token_key {
                state.tokens.insert(
                    key,
                    plane::TokenRecord { fingerprint, status: result.0, response: result.1.clone(), at: env.now },
                );
            }
            Ok(result)
        })
    }
}

/// Draws `operation`'s injected faults (`faults.json`): waits out their latency, then answers
/// throttling or an internal error when one is due; else the quotas in force.
/// The faults `operation` draws (latency, throttling, 500s), then its quotas and the clock offset in force.
pub(crate) async fn injected_faults(dir: &Path, operation: &'static str) -> Result<(faults::Quotas, i64), ApiError> {
    let dir = dir.to_path_buf();
    let drawn = tokio::task::spawn_blocking(move || store::with_lock(&dir, || faults::draw(&dir, operation)))
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?
        .and_then(|drawn| drawn)
        .map_err(|err| ApiError::internal(format!("{err:#}; fix or delete faults.json in the state directory")))?;
    let (drawn, quotas) = drawn;
    if !drawn.latency.is_zero() {
        tokio::time::sleep(drawn.latency).await;
    }
    if drawn.throttle {
        return Err(ApiError::new(429, "ThrottlingException", format!("Rate exceeded for {operation} (injected)")));
    }
    if drawn.internal_error {
        return Err(ApiError::internal(format!("internal error in {operation} (injected)")));
    }
    Ok((quotas, drawn.clock_offset_ms))
}

/// Operation, resource and token: a token is scoped to the call it was first used with.
fn idempotency_key(operation: &str, input: &Map<String, Value>) -> Option<String> {
    let token = input.get("clientToken")?.as_str()?;
    let scope = ["agentRuntimeId", "endpointName"]
        .iter()
        .filter_map(|key| input.get(*key).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("/");
    Some(format!("{operation}|{scope}|{token}"))
}

/// The request without its token; serde_json maps are sorted, so this is canonical.
fn fingerprint(input: &Map<String, Value>) -> String {
    let mut input = input.clone();
    input.remove("clientToken");
    Value::Object(input).to_string()
}

/// Gathers every input member from the URI, the query string and the JSON body, keyed by member name.
fn build_input(
    operation: &str,
    labels: &[(&str, String)],
    query: &str,
    method: &str,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
    // Create and Update (PUT) and TagResource (POST) carry a JSON body; the list calls' POSTs are empty.
    let body: Map<String, Value> = if matches!(method, "PUT" | "POST") && !body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(ApiError::validation("CannotParse", "the request body must be a JSON object")),
            Err(err) => {
                return Err(ApiError::validation("CannotParse", format!("the request body is not valid JSON: {err}")));
            }
        }
    } else {
        Map::new()
    };
    let query = parse_query(query);
    let model = model();
    let input_shape = model.input_shape(operation).unwrap_or_default();
    let mut input = Map::new();
    for (member, location) in model.input_members(operation) {
        let value = match &location {
            Location::Body => body.get(&member).cloned(),
            Location::Uri(name) => {
                labels.iter().find(|(label, _)| label == name).map(|(_, v)| Value::String(v.clone()))
            }
            // A list (UntagResource's tagKeys) is the parameter repeated.
            Location::Query(name) if model.member_type(input_shape, &member) == Some("list") => {
                let items: Vec<Value> =
                    query.iter().filter(|(key, _)| key == name).map(|(_, text)| Value::String(text.clone())).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Location::Query(name) => match query.iter().find(|(key, _)| key == name) {
                None => None,
                Some((_, text)) => Some(match model.member_type(input_shape, &member) {
                    Some("integer" | "long") => match text.parse::<i64>() {
                        Ok(number) => Value::from(number),
                        Err(_) => {
                            return Err(ApiError::validation(
                                "CannotParse",
                                format!("query parameter {name}={text} is not an integer"),
                            ));
                        }
                    },
                    _ => Value::String(text.clone()),
                }),
            },
            Location::Header(_) => None,
        };
        if let Some(value) = value {
            input.insert(member, value);
        }
    }
    Ok(input)
}

/// Validation of a whole input: the model, then the rules it cannot express.
pub(crate) fn validate(model: &Model, operation: &str, input: &Map<String, Value>) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(shape) = model.input_shape(operation) {
        model.validate(shape, &Value::Object(input.clone()), "", &mut errors);
    }
    // What AgentCore documents beyond the model (lifecycle, ports, headers, …), as xtask checks it.
    errors.extend(agentcore_model::rules::check(operation, input));
    if errors.is_empty() {
        return Ok(());
    }
    let count = errors.len();
    let plural = if count == 1 { "error" } else { "errors" };
    let details: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    let mut error = ApiError::validation(
        "FieldValidationFailed",
        format!("{count} validation {plural} detected: {}", details.join("; ")),
    );
    error.fields = errors;
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_trailing_slash() {
        assert_eq!(route("PUT", "/runtimes/").unwrap().0, "CreateAgentRuntime");
        assert_eq!(route("PUT", "/runtimes").unwrap().0, "CreateAgentRuntime");
        let (op, labels) = route("GET", "/runtimes/a-0123456789/runtime-endpoints/prod").unwrap();
        assert_eq!(op, "GetAgentRuntimeEndpoint");
        assert_eq!(labels[1], ("endpointName", "prod".to_owned()));
        assert_eq!(route("POST", "/runtimes/x/versions/").unwrap().0, "ListAgentRuntimeVersions");
        assert!(route("PATCH", "/runtimes/").is_none());
        assert!(route("GET", "/other").is_none());
    }
}
