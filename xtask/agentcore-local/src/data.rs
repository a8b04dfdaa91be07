//! The data plane's HTTP server: InvokeAgentRuntime as the botocore model says (restJson1, SigV4 for
//! `bedrock-agentcore`), answered by the agent process that runs the version the qualifier's
//! endpoint serves (forwarded to the path of the version's protocol: `/invocations` for HTTP and
//! AGUI, `/mcp` for MCP, `/` for A2A, or its own), its answer streamed back as it comes with the
//! headers the model's response carries (MCP session and protocol version, tracing). Every other request is refused here, on
//! loopback: the agents' catch-all AWS endpoint points at this server, so no call leaves the machine.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response};
use serde_json::{Map, Value};

use super::control::{error_response, injected_faults, request_id, validate};
use super::model::{Location, data_model};
use super::plane::{self, ApiError, InvocationTarget};
use super::runner::{self, Runner};
use super::uri::{parse_query, percent_decode};
use super::{sigv4, store};

/// The signing name of the data plane (the control plane's too).
const SIGNING_SERVICE: &str = "bedrock-agentcore";
const OPERATION: &str = "InvokeAgentRuntime";
/// The model's limit on the payload (`Body`).
const MAX_PAYLOAD_BYTES: usize = 100_000_000;
/// How much of a failed agent answer goes into the error message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
const SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

/// A response body: an error document, or the agent's answer as it streams.
pub(crate) type DataBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Shared by every connection of one data-plane server.
pub(crate) struct DataPlane {
    pub(crate) dir: PathBuf,
    pub(crate) region: String,
    /// Log each request on stderr (`local up` does).
    pub(crate) log: bool,
    pub(crate) runner: Arc<Runner>,
}

/// The runtime label of `POST /runtimes/{agentRuntimeArn}/invocations` (with or without a trailing `/`).
fn route(method: &str, path: &str) -> Option<String> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    match (method, trimmed.split('/').skip(1).collect::<Vec<_>>().as_slice()) {
        ("POST", ["runtimes", label, "invocations"]) if !label.is_empty() => Some(percent_decode(label)),
        _ => None,
    }
}

fn full(body: Full<Bytes>) -> DataBody {
    body.map_err(|never| match never {}).boxed_unsync()
}

impl DataPlane {
    /// hyper entry point: never fails at the HTTP level; every problem is an AWS-style error response.
    pub(crate) async fn serve(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<DataBody>, Infallible> {
        let request_id = request_id();
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or("").to_owned();
        let result = self.handle(parts.method.as_str(), &path, &query, &parts.headers, body, &request_id).await;
        let (response, served) = match result {
            Ok((response, target)) => (response, Some(target)),
            Err(error) => (error_response(&error, &request_id).map(full), None),
        };
        if self.log {
            let code = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok());
            let outcome = match (code, served) {
                (Some(code), _) => format!(" {code}"),
                (None, Some(t)) => format!(" ({} v{} via {})", t.runtime_name, t.version, t.endpoint),
                (None, None) => String::new(),
            };
            eprintln!("local data: {} {path} -> {}{outcome}", parts.method, response.status().as_u16());
        }
        Ok(response)
    }

    async fn handle(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Incoming,
        request_id: &str,
    ) -> Result<(Response<DataBody>, InvocationTarget), ApiError> {
        let Some(label) = route(method, path) else {
            return Err(ApiError::new(
                404,
                "UnknownOperationException",
                format!(
                    "the local stack serves no {method} {path}: its data plane serves InvokeAgentRuntime \
                     (POST /runtimes/{{agentRuntimeArn}}/invocations), and agents on it reach only S3, the AgentCore \
                     control and data planes and the Bedrock runtime stand-in"
                ),
            ));
        };
        let payload = match http_body_util::Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                return Err(ApiError::validation(
                    "FieldValidationFailed",
                    format!("cannot read the payload (at most {MAX_PAYLOAD_BYTES} bytes): {err}"),
                ));
            }
        };
        sigv4::check(method, path, query, headers, &payload, &self.region, SIGNING_SERVICE)?;
        let query = parse_query(query);
        let input = build_input(&label, &query, headers);
        validate(data_model(), OPERATION, &input)?;
        let (_, clock_offset_ms) = injected_faults(&self.dir, OPERATION).await?;

        let account = input.get("accountId").and_then(Value::as_str);
        let runtime_id = plane::runtime_id_of(&label, account, &self.region)?;
        let qualifier = input.get("qualifier").and_then(Value::as_str).map(str::to_owned);
        let dir = self.dir.clone();
        let target = tokio::task::spawn_blocking(move || {
            let now = store::now_ms() + clock_offset_ms;
            plane::transact(&dir, false, now, |state| {
                plane::invocation_target(state, now, &runtime_id, qualifier.as_deref())
            })
        })
        .await
        .map_err(|err| ApiError::internal(err.to_string()))??;

        let session = match input.get("runtimeSessionId").and_then(Value::as_str) {
            Some(session) => session.to_owned(),
            // SDKs fill this idempotency token themselves; a raw request gets one, as from AgentCore.
            None => request_id.to_owned(),
        };
        let call = self.runner.process(&target).await?;
        let mut forwarded = Request::post(call.path())
            .header("host", format!("127.0.0.1:{}", call.port()))
            .header("content-type", header(headers, "content-type").unwrap_or("application/json"))
            .header(SESSION_HEADER, &session)
            .header("x-amzn-bedrock-agentcore-runtime-request-id", request_id);
        for (member, location) in data_model().input_members(OPERATION) {
            if let Location::Header(name) = location
                && !matches!(member.as_str(), "contentType" | "runtimeSessionId")
                && let Some(value) = headers.get(name.as_str())
            {
                forwarded = forwarded.header(name.as_str(), value);
            }
        }
        let forwarded =
            forwarded.body(Full::new(payload)).map_err(|err| ApiError::internal(format!("cannot forward: {err}")))?;
        let answer = match runner::send(call.port(), forwarded).await {
            Ok(answer) => answer,
            Err(err) => {
                let cause = call.ended().unwrap_or_else(|| format!("the agent process did not answer ({err:#})"));
                return Err(ApiError::new(
                    424,
                    "RuntimeClientError",
                    format!(
                        "{cause} while serving the invocation of {}; its last output:\n{}",
                        call.label(),
                        call.output_tail()
                    ),
                ));
            }
        };
        let status = answer.status();
        if !status.is_success() {
            let body = http_body_util::Limited::new(answer.into_body(), MAX_ERROR_BODY_BYTES).collect().await;
            let text = body.map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned()).unwrap_or_default();
            return Err(ApiError::new(
                424,
                "RuntimeClientError",
                format!("Received error ({}) from runtime {}: {}", status.as_u16(), call.label(), text.trim()),
            ));
        }
        let content_type = answer
            .headers()
            .get("content-type")
            .cloned()
            .unwrap_or_else(|| hyper::header::HeaderValue::from_static("application/json"));
        let answer_headers = answer.headers().clone();
        // The call counts as in flight (the process is not idle) until its answer is consumed.
        let body = answer
            .into_body()
            .map_frame(move |frame| {
                let _in_flight = &call;
                frame
            })
            .map_err(|err| Box::new(err) as Box<dyn std::error::Error + Send + Sync>)
            .boxed_unsync();
        let mut response = Response::builder()
            .status(200)
            .header("content-type", content_type)
            .header(SESSION_HEADER, &session)
            .header("x-amzn-requestid", request_id);
        for name in returned_headers() {
            for value in answer_headers.get_all(name.as_str()) {
                response = response.header(name.as_str(), value);
            }
        }
        let response = response.body(body).map_err(|err| ApiError::internal(format!("cannot answer: {err}")))?;
        Ok((response, target))
    }
}

/// The headers of InvokeAgentRuntime's answer the model defines and an agent may set (`Mcp-Session-Id`,
/// `Mcp-Protocol-Version`, the tracing ones), passed back from the agent's answer; the content type and
/// the runtime session are the data plane's own.
fn returned_headers() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let members = data_model()
            .shape("InvokeAgentRuntimeResponse")
            .and_then(|shape| shape.get("members"))
            .and_then(Value::as_object);
        members
            .into_iter()
            .flatten()
            .filter(|(member, _)| !matches!(member.as_str(), "contentType" | "runtimeSessionId" | "sessionEndpointUrl"))
            .filter(|(_, member)| member.get("location").and_then(Value::as_str) == Some("header"))
            .filter_map(|(_, member)| member.get("locationName").and_then(Value::as_str))
            .map(|name| name.to_ascii_lowercase())
            .collect()
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Every input member of InvokeAgentRuntime but the payload (a blob the model bounds by size only,
/// which reading the body enforced), keyed by member name, from the URI, query string and headers.
fn build_input(label: &str, query: &[(String, String)], headers: &HeaderMap) -> Map<String, Value> {
    let mut input = Map::new();
    for (member, location) in data_model().input_members(OPERATION) {
        let value = match &location {
            Location::Uri(_) => Some(label.to_owned()),
            Location::Query(name) => query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()),
            Location::Header(name) => header(headers, name).map(str::to_owned),
            Location::Body => None,
        };
        if let Some(value) = value {
            input.insert(member, Value::String(value));
        }
    }
    // Present, whatever its bytes: the body is the payload.
    input.insert("payload".into(), Value::String(String::new()));
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_mcp_and_tracing_headers_go_back_to_the_caller() {
        let names = returned_headers();
        for name in
            ["mcp-session-id", "mcp-protocol-version", "x-amzn-trace-id", "traceparent", "tracestate", "baggage"]
        {
            assert!(names.iter().any(|known| known == name), "{name} in {names:?}");
        }
        assert!(!names.iter().any(|name| name == "content-type" || name.contains("runtime-session")), "{names:?}");
    }

    #[test]
    fn routes_invocations_only() {
        let arn = "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fbot-0123456789";
        assert_eq!(
            route("POST", &format!("/runtimes/{arn}/invocations")).as_deref(),
            Some("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/bot-0123456789")
        );
        assert_eq!(route("POST", "/runtimes/bot-0123456789/invocations/").as_deref(), Some("bot-0123456789"));
        assert!(route("GET", "/runtimes/x/invocations").is_none());
        assert!(route("POST", "/runtimes/x/stopruntimesession").is_none());
        assert!(route("POST", "/").is_none());
    }
}
