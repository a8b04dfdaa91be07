//! Smoke tests: one invocation of a deployed version through the endpoint that serves it, with
//! `invoke`'s code path, judged by the agent's `[smoke]` table (or the default: its protocol's
//! [`Protocol::smoke_payload`], `{"prompt": "ping"}` for HTTP, answered with HTTP 200 in time).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agents::{Agent, Protocol, SmokeManifest};
use crate::aws::AwsClients;
use crate::invoke::{Call, Destination};
pub use crate::report::SmokeResult;

/// Seconds a smoke test may take when its agent does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// How much of the answer a result keeps.
const ANSWER_LINES: usize = 5;
const ANSWER_CHARS: usize = 400;

/// What a smoke test checks in the answer besides its HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The answer's text contains this.
    Substring(String),
    /// The answer's JSON has a value at this pointer.
    Pointer(String),
}

/// One agent's smoke test, as its manifest (or the default) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeTest {
    pub payload: Value,
    pub timeout: Duration,
    pub expect: Option<Expect>,
}

impl SmokeTest {
    /// The test of `[smoke]` of an agent serving `protocol`, each key left out taking its default.
    pub fn from_manifest(smoke: Option<&SmokeManifest>, protocol: Protocol) -> SmokeTest {
        let smoke = smoke.cloned().unwrap_or_default();
        SmokeTest {
            payload: smoke.payload.unwrap_or_else(|| protocol.smoke_payload()),
            timeout: Duration::from_secs(smoke.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            expect: smoke.expect.map(|text| match text.starts_with('/') {
                true => Expect::Pointer(text),
                false => Expect::Substring(text),
            }),
        }
    }

    pub fn for_agent(agent: &Agent) -> SmokeTest {
        SmokeTest::from_manifest(agent.manifest.smoke.as_ref(), agent.protocol())
    }

    /// Judges an answer: `None` when it passes, else why not.
    pub fn judge(&self, status: u16, body: &Value) -> Option<String> {
        if status != 200 {
            return Some(format!("HTTP {status}, not 200"));
        }
        match &self.expect {
            None => None,
            Some(Expect::Substring(text)) => {
                (!answer_text(body).contains(text.as_str())).then(|| format!("the answer does not contain `{text}`"))
            }
            Some(Expect::Pointer(pointer)) => {
                let found = body.pointer(pointer).is_some()
                    || body
                        .as_array()
                        .is_some_and(|events| events.iter().any(|event| event.pointer(pointer).is_some()));
                (!found).then(|| format!("the answer has nothing at JSON pointer `{pointer}`"))
            }
        }
    }
}

/// Runs `test` on `destination`, and checks the endpoint serves `version` when one is given. Every
/// failure (a missing endpoint, the agent's error, a timeout, a wrong answer) is a failed result.
pub async fn run(aws: &AwsClients, destination: &Destination, version: Option<&str>, test: &SmokeTest) -> SmokeResult {
    let mut result = SmokeResult {
        passed: false,
        qualifier: destination.qualifier.clone(),
        version: None,
        status: None,
        latency_ms: 0,
        answer: String::new(),
        reason: None,
    };
    let started = Instant::now();
    let (arn, served) = match crate::invoke::resolve(aws, destination, "").await {
        Ok(resolved) => resolved,
        Err(err) => {
            result.reason = Some(format!("{err:#}"));
            return result;
        }
    };
    result.version = served.clone();
    if let Some(version) = version
        && served.as_deref() != Some(version)
    {
        result.reason = Some(format!(
            "endpoint {} serves version {}, not {version}",
            destination.qualifier,
            served.as_deref().unwrap_or("none")
        ));
        return result;
    }
    let session = format!("xtask-smoke-{}", hex::encode(rand::random::<[u8; 16]>()));
    let call = Call { arn: &arn, destination, session: &session, payload: test.payload.to_string().into_bytes() };
    let sent = tokio::time::timeout(test.timeout, call.send(aws, None::<&mut std::io::Sink>)).await;
    result.latency_ms = started.elapsed().as_millis() as u64;
    match sent {
        Err(_) => result.reason = Some(format!("no complete answer within {} s", test.timeout.as_secs())),
        Ok(Err(err)) => result.reason = Some(format!("{err:#}")),
        Ok(Ok(answered)) => {
            result.latency_ms = answered.latency.as_millis() as u64;
            result.status = Some(answered.status);
            result.answer = first_lines(&answer_text(&answered.body));
            result.reason = test.judge(answered.status, &answered.body);
        }
    }
    result.passed = result.reason.is_none();
    result
}

/// The answer as text: a string as it is, JSON compact, events one a line.
fn answer_text(body: &Value) -> String {
    let one = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match body {
        Value::Array(events) => events.iter().map(one).collect::<Vec<_>>().join("\n"),
        other => one(other),
    }
}

/// The first lines of `text`, cut to a few hundred characters.
pub fn first_lines(text: &str) -> String {
    let mut kept: String = text.lines().take(ANSWER_LINES).collect::<Vec<_>>().join("\n");
    if kept.chars().count() > ANSWER_CHARS {
        kept = kept.chars().take(ANSWER_CHARS).collect::<String>() + "…";
    } else if text.lines().count() > ANSWER_LINES {
        kept += "\n…";
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test(expect: Option<&str>) -> SmokeTest {
        let smoke = SmokeManifest { expect: expect.map(str::to_owned), ..Default::default() };
        SmokeTest::from_manifest(Some(&smoke), Protocol::Http)
    }

    #[test]
    fn the_default_sends_ping_and_wants_a_200() {
        let default = SmokeTest::from_manifest(None, Protocol::Http);
        assert_eq!(default.payload, json!({ "prompt": "ping" }));
        assert_eq!(default.timeout, Duration::from_secs(60));
        assert_eq!(default.judge(200, &json!("anything")), None);
        assert_eq!(default.judge(500, &json!({})).unwrap(), "HTTP 500, not 200");
    }

    #[test]
    fn the_default_payload_speaks_the_agents_protocol() {
        let payload = |protocol| SmokeTest::from_manifest(None, protocol).payload;
        assert_eq!(payload(Protocol::Mcp), json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} }));
        assert_eq!(payload(Protocol::A2a)["method"], "message/send");
        assert_eq!(payload(Protocol::A2a).pointer("/params/message/parts/0/text"), Some(&json!("ping")));
        assert_eq!(payload(Protocol::Agui).pointer("/messages/0/content"), Some(&json!("ping")));
        // A payload of its own wins, whatever the protocol.
        let own = SmokeManifest { payload: Some(json!({ "x": 1 })), ..Default::default() };
        assert_eq!(SmokeTest::from_manifest(Some(&own), Protocol::Mcp).payload, json!({ "x": 1 }));
    }

    #[test]
    fn expect_is_a_substring_or_a_json_pointer() {
        let substring = test(Some("pong"));
        assert_eq!(substring.expect, Some(Expect::Substring("pong".into())));
        assert_eq!(substring.judge(200, &json!({ "echo": "pong!" })), None);
        assert!(substring.judge(200, &json!("ping")).unwrap().contains("does not contain `pong`"));
        let pointer = test(Some("/echo"));
        assert_eq!(pointer.judge(200, &json!({ "echo": "" })), None);
        assert_eq!(pointer.judge(200, &json!([{ "x": 1 }, { "echo": 2 }])), None, "any event may hold it");
        assert!(pointer.judge(200, &json!({ "other": 1 })).unwrap().contains("JSON pointer `/echo`"));
    }

    #[test]
    fn answers_are_cut_to_their_first_lines() {
        assert_eq!(first_lines("a\nb"), "a\nb");
        assert_eq!(first_lines("1\n2\n3\n4\n5\n6\n7"), "1\n2\n3\n4\n5\n…");
        assert_eq!(first_lines(&"x".repeat(500)).chars().count(), ANSWER_CHARS + 1);
    }
}
