//! A deterministic stand-in for the Bedrock runtime's Converse and ConverseStream (the calls strands'
//! Bedrock model makes through boto3), reached by the agent processes through
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. Its answer shows the model id, the system prompt and the last
//! user message it received, so a test can tell which prompt reached the model. Nothing calls Bedrock.

use std::convert::Infallible;
use std::sync::Arc;

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};

use super::control::{Body, error_response, json_response, request_id};
use super::plane::ApiError;
use super::sigv4;
use super::uri::percent_decode;

/// The Bedrock runtime's signing name (its endpoint prefix is `bedrock-runtime`).
const SIGNING_SERVICE: &str = "bedrock";
/// Characters of the system prompt the answer shows.
const SYSTEM_PROMPT_SHOWN: usize = 200;
/// Characters per streamed text delta, so a client sees the answer arrive in pieces.
const DELTA_CHARS: usize = 48;
const MAX_REQUEST_BYTES: usize = 20 * 1024 * 1024;

/// Shared by every connection of the stand-in.
pub(crate) struct ModelStandIn {
    pub(crate) region: String,
    pub(crate) log: bool,
}

/// `(model id, streaming)` of `POST /model/{modelId}/converse[-stream]`.
fn route(method: &str, path: &str) -> Option<(String, bool)> {
    match (method, path.split('/').skip(1).collect::<Vec<_>>().as_slice()) {
        ("POST", ["model", model, "converse"]) => Some((percent_decode(model), false)),
        ("POST", ["model", model, "converse-stream"]) => Some((percent_decode(model), true)),
        _ => None,
    }
}

impl ModelStandIn {
    /// hyper entry point: never fails at the HTTP level; every problem is an AWS-style error response.
    pub(crate) async fn serve(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let request_id = request_id();
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let result = async {
            let Some((model, streaming)) = route(parts.method.as_str(), &path) else {
                return Err(ApiError::new(
                    404,
                    "UnknownOperationException",
                    format!(
                        "the Bedrock runtime stand-in serves Converse and ConverseStream only, not {} {path}",
                        parts.method
                    ),
                ));
            };
            let body = http_body_util::Limited::new(body, MAX_REQUEST_BYTES)
                .collect()
                .await
                .map_err(|err| ApiError::validation("CannotParse", format!("cannot read the request body: {err}")))?
                .to_bytes();
            let query = parts.uri.query().unwrap_or("");
            sigv4::check(parts.method.as_str(), &path, query, &parts.headers, &body, &self.region, SIGNING_SERVICE)?;
            let request: Value = serde_json::from_slice(&body)
                .map_err(|err| ApiError::validation("CannotParse", format!("the request body is not JSON: {err}")))?;
            let answer = answer(&model, &request);
            Ok(if streaming {
                stream_response(&answer, &request, &request_id)
            } else {
                converse_response(&answer, &request, &request_id)
            })
        }
        .await;
        let response = result.unwrap_or_else(|error| error_response(&error, &request_id));
        if self.log {
            let code = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
            eprintln!("local model: {} {path} -> {} {code}", parts.method, response.status().as_u16());
        }
        Ok(response)
    }
}

/// The texts of a list of content blocks, joined.
fn texts(blocks: Option<&Value>) -> String {
    let texts: Vec<&str> = blocks
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    texts.join("\n")
}

/// The deterministic answer: which model was asked, with which system prompt, to what.
pub(crate) fn answer(model: &str, request: &Value) -> String {
    let system: String = texts(request.get("system")).chars().take(SYSTEM_PROMPT_SHOWN).collect();
    let last_user = request
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| messages.iter().rev().find(|message| message.get("role") == Some(&json!("user"))))
        .map(|message| texts(message.get("content")))
        .unwrap_or_default();
    format!("stand-in model {model}; system prompt: {system}; last user message: {last_user}")
}

fn usage(answer: &str, request: &Value) -> Value {
    let words = |text: &str| text.split_whitespace().count();
    let input = words(&request.to_string());
    let output = words(answer);
    json!({ "inputTokens": input, "outputTokens": output, "totalTokens": input + output })
}

fn converse_response(answer: &str, request: &Value, request_id: &str) -> Response<Body> {
    let body = json!({
        "output": { "message": { "role": "assistant", "content": [{ "text": answer }] } },
        "stopReason": "end_turn",
        "usage": usage(answer, request),
        "metrics": { "latencyMs": 0 },
    });
    json_response(200, &body, request_id)
}

/// ConverseStream's events in AWS event-stream framing: messageStart, the text in several
/// contentBlockDelta events, contentBlockStop, messageStop, metadata.
fn stream_response(answer: &str, request: &Value, request_id: &str) -> Response<Body> {
    let chars: Vec<char> = answer.chars().collect();
    let mut events = vec![("messageStart", json!({ "role": "assistant" }))];
    for piece in chars.chunks(DELTA_CHARS) {
        let text: String = piece.iter().collect();
        events.push(("contentBlockDelta", json!({ "delta": { "text": text }, "contentBlockIndex": 0 })));
    }
    events.push(("contentBlockStop", json!({ "contentBlockIndex": 0 })));
    events.push(("messageStop", json!({ "stopReason": "end_turn" })));
    events.push(("metadata", json!({ "usage": usage(answer, request), "metrics": { "latencyMs": 0 } })));
    let mut frames = Vec::new();
    for (event, payload) in events {
        let message = Message::new(Bytes::from(payload.to_string()))
            .add_header(Header::new(":event-type", HeaderValue::String(event.into())))
            .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())))
            .add_header(Header::new(":message-type", HeaderValue::String("event".into())));
        aws_smithy_eventstream::frame::write_message_to(&message, &mut frames).expect("a small event always encodes");
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/vnd.amazon.eventstream")
        .header("x-amzn-requestid", request_id)
        .body(Full::new(Bytes::from(frames)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_shows_the_prompt_and_the_request() {
        let request = json!({
            "system": [{ "text": "You tell dad jokes." }],
            "messages": [
                { "role": "user", "content": [{ "text": "first" }] },
                { "role": "assistant", "content": [{ "text": "a joke" }] },
                { "role": "user", "content": [{ "text": "about cheese" }] },
            ],
        });
        assert_eq!(
            answer("us.anthropic.claude", &request),
            "stand-in model us.anthropic.claude; system prompt: You tell dad jokes.; last user message: about cheese"
        );
        let long = json!({ "system": [{ "text": "x".repeat(500) }] });
        assert!(answer("m", &long).contains(&format!("system prompt: {};", "x".repeat(200))));
    }

    #[test]
    fn routes_both_operations() {
        assert_eq!(route("POST", "/model/a%3A0/converse"), Some(("a:0".to_owned(), false)));
        assert_eq!(route("POST", "/model/a/converse-stream"), Some(("a".to_owned(), true)));
        assert_eq!(route("POST", "/model/a/invoke"), None);
    }

    #[test]
    fn stream_frames_decode_in_order() {
        let request = json!({ "messages": [{ "role": "user", "content": [{ "text": "hi" }] }] });
        let text = answer("m", &request);
        let response = stream_response(&text, &request, "id");
        let bytes = futures_body(response);
        let mut buffer = &bytes[..];
        let mut kinds = Vec::new();
        let mut streamed = String::new();
        while !buffer.is_empty() {
            let message = aws_smithy_eventstream::frame::read_message_from(&mut buffer).unwrap();
            let kind = message.headers().iter().find(|h| h.name().as_str() == ":event-type").unwrap();
            let kind = kind.value().as_string().unwrap().as_str().to_owned();
            let payload: Value = serde_json::from_slice(message.payload()).unwrap();
            if kind == "contentBlockDelta" {
                streamed.push_str(payload["delta"]["text"].as_str().unwrap());
            }
            kinds.push(kind);
        }
        assert_eq!(streamed, text);
        assert_eq!(kinds.first().map(String::as_str), Some("messageStart"));
        assert_eq!(&kinds[kinds.len() - 3..], ["contentBlockStop", "messageStop", "metadata"]);
    }

    fn futures_body(response: Response<Body>) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async { response.into_body().collect().await.unwrap().to_bytes() })
    }
}
