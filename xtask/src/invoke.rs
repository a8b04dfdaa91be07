//! `cargo xtask invoke`: calls an agent through AgentCore's data plane (InvokeAgentRuntime) on the
//! endpoint a pull request, prod or a named runtime serves, and prints its answer as it streams.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use aws_sdk_bedrockagentcore::operation::invoke_agent_runtime::InvokeAgentRuntimeError;
use aws_sdk_bedrockagentcore::primitives::Blob;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use crate::agents::{Agent, Protocol};
use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;

/// AgentCore's bounds on a runtime session id.
const SESSION_LENGTH: std::ops::RangeInclusive<usize> = 33..=256;
const DEFAULT_ENDPOINT: &str = "DEFAULT";

#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["pr", "prod", "env", "runtime"])))]
pub struct InvokeArgs {
    /// The agent (a directory under agents/); optional with --runtime
    #[arg(value_name = "AGENT", required_unless_present = "runtime")]
    pub agent: Option<String>,
    /// The agent's runtime of pull request N, on DEFAULT (the PR's latest version)
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// The agent's prod runtime, on the prod endpoint (or --endpoint); short for --env prod
    #[arg(long)]
    pub prod: bool,
    /// The agent's runtime in this environment, on its endpoint (or --endpoint)
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Endpoint of the prod (or --env) runtime to call (default: the environment's, `prod`)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["pr", "runtime"])]
    pub endpoint: Option<String>,
    /// Any runtime, by name, on DEFAULT (or --qualifier)
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,
    /// Endpoint of --runtime to call (default: DEFAULT)
    #[arg(long, value_name = "Q", requires = "runtime")]
    pub qualifier: Option<String>,
    /// The request body, a JSON document (default: {}; for an MCP, A2A or AG-UI agent, its
    /// protocol's default request)
    #[arg(long, value_name = "JSON", conflicts_with = "prompt")]
    pub payload: Option<String>,
    /// Sends TEXT as a user message: {"prompt": TEXT}, or an A2A or AG-UI agent's message
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Session to continue, 33 to 256 characters (default: a new one, printed on stderr)
    #[arg(long, value_name = "ID", value_parser = session_id)]
    pub session: Option<String>,
    /// Give up when the whole answer has not arrived after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

fn session_id(text: &str) -> Result<String, String> {
    let length = text.chars().count();
    if !SESSION_LENGTH.contains(&length) {
        return Err(format!(
            "a session id has {} to {} characters, this one {length}",
            SESSION_LENGTH.start(),
            SESSION_LENGTH.end()
        ));
    }
    Ok(text.to_owned())
}

/// A new session id: 38 characters, within AgentCore's 33 to 256.
fn new_session() -> String {
    format!("xtask-{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// The runtime and endpoint a call goes to, and what to say when they are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub runtime: String,
    pub qualifier: String,
    /// The command that makes the runtime exist, when it is one the project deploys.
    pub deploy_hint: Option<String>,
    /// The agent, for the hint that makes a prod endpoint exist.
    pub agent: Option<String>,
}

/// What `--json` prints: one object per call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invocation {
    pub runtime: String,
    pub runtime_arn: String,
    pub qualifier: String,
    /// The version the endpoint served when the call was made.
    pub version: Option<String>,
    pub session: String,
    /// The HTTP status of the answer.
    pub status: u16,
    pub content_type: String,
    pub latency_ms: u64,
    /// The answer: its JSON, the data of each server-sent event, or its text.
    pub body: Value,
}

impl InvokeArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // An environment's runtimes are in its place; pull requests' and named ones in the workspace's.
        let ctx = &ctx.chosen(self.env.as_deref(), self.prod)?.unwrap_or_else(|| ctx.for_prs());
        let agent = self.agent(ctx)?;
        let destination = self.destination(ctx, agent.as_ref())?;
        let payload = self.payload(agent.as_ref())?;
        let (session, new) = match &self.session {
            Some(session) => (session.clone(), false),
            None => (new_session(), true),
        };
        // `_stack` (an in-process local stack, if any) lives until the answer is out.
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        // The in-process stack runs the agents with xtask's uv, behind its own data endpoint.
        #[cfg(feature = "local")]
        let aws = match &_stack {
            Some(stack) => {
                stack.set_agent_host(crate::local::agent_host(ctx));
                AwsClients { data: Some(stack.data_client()), ..aws }
            }
            None => aws,
        };
        let local = if ctx.aws.local { " --local" } else { "" };
        let (arn, version) = resolve(&aws, &destination, local).await?;
        let served = version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default();
        progress!("invoke: {} on {}{served}, session {session}", destination.runtime, destination.qualifier);
        if new {
            progress!("invoke: continue this conversation with --session {session}");
        }
        let call = Call { arn: &arn, destination: &destination, session: &session, payload };
        let timeout = Duration::from_secs(self.timeout);
        let mut stdout = std::io::stdout().lock();
        let Answered { status, content_type, latency, body } =
            tokio::time::timeout(timeout, call.send(&aws, (!ctx.json).then_some(&mut stdout))).await.map_err(
                |_| {
                    anyhow!(
                        "no complete answer from {} on {} within {} s: the agent may still be working; raise --timeout",
                        destination.runtime,
                        destination.qualifier,
                        self.timeout
                    )
                },
            )??;
        if ctx.json {
            let invocation = Invocation {
                runtime: destination.runtime.clone(),
                runtime_arn: arn,
                qualifier: destination.qualifier.clone(),
                version,
                session,
                status,
                content_type,
                latency_ms: latency.as_millis() as u64,
                body,
            };
            serde_json::to_writer_pretty(&mut stdout, &invocation)?;
            writeln!(stdout)?;
        } else {
            progress!("invoke: {status} {content_type} in {} ms", latency.as_millis());
        }
        stdout.flush()?;
        Ok(())
    }

    /// The agent named, if any; an unknown one is refused here, before any call.
    pub fn agent(&self, ctx: &Ctx) -> Result<Option<Agent>> {
        let Some(name) = &self.agent else { return Ok(None) };
        let all = crate::agents::discover(&ctx.root, &ctx.settings)?;
        Ok(Some(crate::agents::pick(&all, std::slice::from_ref(name))?.remove(0)))
    }

    /// The runtime and endpoint the flags name (with `agent`, the one [`InvokeArgs::agent`]
    /// found); bad names are refused here, before any call.
    pub fn destination(&self, ctx: &Ctx, agent: Option<&Agent>) -> Result<Destination> {
        let agent = agent.map(|agent| agent.name.clone());
        let scheme = ctx.settings.scheme();
        let local = if ctx.aws.local { " --local" } else { "" };
        let long_lived = self.prod || self.env.is_some();
        let destination = match (&agent, self.pr, long_lived, &self.runtime) {
            (Some(agent), Some(pr), false, None) => Destination {
                runtime: scheme.runtime_name(agent, Target::Pr(pr))?,
                qualifier: DEFAULT_ENDPOINT.to_owned(),
                deploy_hint: Some(format!("cargo xtask deploy {agent} --pr {pr}{local}")),
                agent: Some(agent.clone()),
            },
            (Some(agent), None, true, None) => Destination {
                runtime: scheme.runtime_name(agent, Target::Prod)?,
                qualifier: self.endpoint.clone().unwrap_or_else(|| ctx.settings.prod_endpoint.clone()),
                deploy_hint: Some(format!("cargo xtask deploy {agent} {}{local}", ctx.env_flag())),
                agent: Some(agent.clone()),
            },
            (_, None, false, Some(runtime)) => Destination {
                runtime: runtime.clone(),
                qualifier: self.qualifier.clone().unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
                deploy_hint: None,
                agent: None,
            },
            _ => bail!("name one target: AGENT --pr N, AGENT --prod, AGENT --env NAME, or --runtime NAME"),
        };
        if !crate::naming::is_valid_name(&destination.runtime) {
            bail!(
                "runtime name `{}` is not valid: a letter then up to 47 letters, digits or underscores",
                destination.runtime
            );
        }
        if destination.qualifier != DEFAULT_ENDPOINT && !crate::naming::is_valid_name(&destination.qualifier) {
            bail!(
                "endpoint name `{}` is not valid: DEFAULT, or a letter then up to 47 letters, digits or underscores",
                destination.qualifier
            );
        }
        Ok(destination)
    }

    /// The request body: `--payload` (checked to be JSON), `--prompt` as a user message of the
    /// agent's protocol (`{"prompt": TEXT}` for HTTP), else `{}` for HTTP and the protocol's default
    /// request for the others (without an agent, as for HTTP).
    pub fn payload(&self, agent: Option<&Agent>) -> Result<Vec<u8>> {
        if let Some(text) = &self.payload {
            if let Err(err) = serde_json::from_str::<Value>(text) {
                bail!(
                    "--payload is not a JSON document ({err}): pass one such as --payload '{{\"prompt\": \"hi\"}}', or use --prompt TEXT"
                );
            }
            return Ok(text.clone().into_bytes());
        }
        let protocol = agent.map_or(Protocol::Http, Agent::protocol);
        let value = match (&self.prompt, protocol) {
            (Some(prompt), protocol) => protocol.prompt_payload(prompt).ok_or_else(|| {
                anyhow!(
                    "agent {} serves MCP, whose requests call tools rather than carry a prompt: send a JSON-RPC request with --payload, e.g. --payload '{}' (tools/call takes {{\"name\": …, \"arguments\": {{…}}}} as params)",
                    agent.map_or("", |agent| agent.name.as_str()),
                    crate::agents::mcp_request("tools/list")
                )
            })?,
            (None, Protocol::Http) => serde_json::json!({}),
            (None, protocol) => protocol.smoke_payload(),
        };
        Ok(value.to_string().into_bytes())
    }
}

/// The runtime's ARN and the version its endpoint serves, or an error naming what is missing and
/// the command that fixes it.
pub async fn resolve(aws: &AwsClients, destination: &Destination, local: &str) -> Result<(String, Option<String>)> {
    let Destination { runtime: name, qualifier, .. } = destination;
    let Some(runtime) = aws::index::runtime(aws, name).await? else {
        let fix = match &destination.deploy_hint {
            Some(deploy) => format!("deploy it with `{deploy}`"),
            None => format!("`cargo xtask status{local}` lists the project's runtimes"),
        };
        bail!("there is no runtime {name}: {fix}");
    };
    let Some(endpoint) = aws::get_endpoint(aws, &runtime.id, qualifier).await? else {
        let endpoints = aws::list_endpoints(aws, &runtime.id).await?;
        let names: Vec<&str> = endpoints.iter().map(|endpoint| endpoint.name()).collect();
        let fix = match (&destination.agent, destination.qualifier.as_str()) {
            (Some(agent), endpoint) if let Some(env) = destination.deploy_hint.as_deref().and_then(env_flag) => {
                format!(
                    "make a version live on it with `cargo xtask promote {agent}{env} --version N --endpoint {endpoint}{local}`, or pass --endpoint"
                )
            }
            _ => "call one of those with --qualifier".to_owned(),
        };
        bail!("runtime {name} has no endpoint {qualifier} (it has {}): {fix}", names.join(", "));
    };
    let status = endpoint.status().as_str();
    let live = endpoint.live_version().map(str::to_owned);
    match (&live, status) {
        (Some(_), "READY") => {}
        (Some(version), "CREATING" | "UPDATING" | "CREATE_FAILED" | "UPDATE_FAILED") => {
            let reason = endpoint.failure_reason().map(|reason| format!(" ({reason})")).unwrap_or_default();
            progress!("invoke: endpoint {qualifier} of {name} is {status}{reason}; version {version} still answers");
        }
        _ => {
            let reason = endpoint.failure_reason().map(|reason| format!(": {reason}")).unwrap_or_default();
            bail!(
                "endpoint {qualifier} of runtime {name} is {status}{reason}, so no version answers on it; {}",
                if status.ends_with("_FAILED") {
                    "fix the cause and deploy or promote again"
                } else {
                    "wait until it is READY (`cargo xtask status`) and call again"
                }
            );
        }
    }
    Ok((runtime.arn, live))
}

/// Of a deploy hint to a long-lived runtime, the flag promote needs for the same environment
/// (nothing for prod, its default); `None` for a pull request's hint.
fn env_flag(hint: &str) -> Option<String> {
    if hint.contains(" --prod") {
        return Some(String::new());
    }
    let name = hint.split(" --env ").nth(1)?.split_whitespace().next()?;
    Some(format!(" --env {name}"))
}

/// One InvokeAgentRuntime call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub arn: &'a str,
    pub destination: &'a Destination,
    pub session: &'a str,
    pub payload: Vec<u8>,
}

/// A call's answer, read to its end.
#[derive(Debug, Clone)]
pub struct Answered {
    pub status: u16,
    pub content_type: String,
    /// From sending the call to the end of the answer.
    pub latency: Duration,
    pub body: Value,
}

impl Call<'_> {
    /// Sends the call and reads the answer to its end, printing it to `human` as it arrives when
    /// given.
    pub async fn send<W: Write + ?Sized>(self, aws: &AwsClients, human: Option<&mut W>) -> Result<Answered> {
        let Some(data) = &aws.data else {
            bail!("these AWS clients have no data-plane client (no endpoint for InvokeAgentRuntime)");
        };
        let what = format!("{} on {}", self.destination.runtime, self.destination.qualifier);
        let started = Instant::now();
        let output = data
            .invoke_agent_runtime()
            .agent_runtime_arn(self.arn)
            .qualifier(&self.destination.qualifier)
            .runtime_session_id(self.session)
            .content_type("application/json")
            .accept("application/json, text/event-stream")
            .payload(Blob::new(self.payload))
            .send()
            .await
            .map_err(|err| explain(err, &what))?;
        let content_type = output.content_type().to_owned();
        let status = output.status_code().and_then(|code| u16::try_from(code).ok()).unwrap_or(200);
        let mut answer = Answer::new(&content_type);
        let mut stream = output.response;
        let mut human = human;
        while let Some(chunk) =
            stream.try_next().await.map_err(|err| anyhow!("the answer of {what} broke off: {err}; call again"))?
        {
            answer.feed(&chunk, human.as_deref_mut())?;
        }
        let body = answer.finish(human)?;
        Ok(Answered { status, content_type, latency: started.elapsed(), body })
    }
}

/// An InvokeAgentRuntime error with its cause and fix; errors the data plane does not own (access,
/// credentials, network) are explained as for every AWS call.
fn explain(
    err: SdkError<InvokeAgentRuntimeError, aws_smithy_runtime_api::http::Response>,
    what: &str,
) -> anyhow::Error {
    if let SdkError::ServiceError(service) = &err {
        let error = service.err();
        let fix = match error {
            InvokeAgentRuntimeError::RuntimeClientError(_) => Some(
                "the agent itself failed (AgentCore's RuntimeClientError): fix its code or settings and deploy again; \
                 on AWS its logs are in CloudWatch, and the local stack puts the process's last output above",
            ),
            InvokeAgentRuntimeError::ThrottlingException(_) => {
                Some("AgentCore allows about 25 invocations per second per endpoint: wait a moment and call again")
            }
            InvokeAgentRuntimeError::ResourceNotFoundException(_) => {
                Some("check the runtime and its endpoints with `cargo xtask status`")
            }
            InvokeAgentRuntimeError::ValidationException(_) => {
                Some("AgentCore refused the request: check --payload and --session (33 to 256 characters)")
            }
            InvokeAgentRuntimeError::RetryableConflictException(_) => {
                Some("a passing conflict: call again in a moment")
            }
            _ => None,
        };
        if let Some(fix) = fix {
            let code = error.code().unwrap_or("UnknownError");
            let message = error.message().unwrap_or("no message");
            return anyhow!("InvokeAgentRuntime on {what} failed: {code}: {message}; {fix}");
        }
    }
    aws::explain(err, "bedrock-agentcore:InvokeAgentRuntime", what)
}

/// The answer as it arrives: server-sent events line by line, JSON whole, anything else as is.
enum Answer {
    Events { pending: Vec<u8>, events: Vec<Value> },
    Json(Vec<u8>),
    Text(Vec<u8>),
}

impl Answer {
    fn new(content_type: &str) -> Answer {
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "text/event-stream" => Answer::Events { pending: Vec::new(), events: Vec::new() },
            "application/json" => Answer::Json(Vec::new()),
            _ => Answer::Text(Vec::new()),
        }
    }

    fn feed<W: Write + ?Sized>(&mut self, chunk: &[u8], human: Option<&mut W>) -> Result<()> {
        match self {
            Answer::Events { pending, events } => {
                pending.extend_from_slice(chunk);
                let mut human = human;
                while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    event_line(&line, events, human.as_deref_mut())?;
                }
            }
            Answer::Json(bytes) => bytes.extend_from_slice(chunk),
            Answer::Text(bytes) => {
                bytes.extend_from_slice(chunk);
                if let Some(out) = human {
                    out.write_all(chunk)?;
                    out.flush()?;
                }
            }
        }
        Ok(())
    }

    /// The whole answer as JSON (printed to `human` when it could not be printed as it came).
    fn finish<W: Write + ?Sized>(self, human: Option<&mut W>) -> Result<Value> {
        match self {
            Answer::Events { pending, mut events } => {
                event_line(&pending, &mut events, human)?;
                Ok(Value::Array(events))
            }
            Answer::Json(bytes) => {
                let value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                if let Some(out) = human {
                    writeln!(out, "{}", pretty(&value))?;
                }
                Ok(value)
            }
            Answer::Text(bytes) => {
                if let Some(out) = human
                    && !bytes.ends_with(b"\n")
                    && !bytes.is_empty()
                {
                    writeln!(out)?;
                }
                Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}

/// One line of a server-sent event stream: the data of a `data:` line is kept (as JSON when it is)
/// and printed at once; blank lines, comments and the other fields carry nothing to show.
fn event_line<W: Write + ?Sized>(line: &[u8], events: &mut Vec<Value>, human: Option<&mut W>) -> Result<()> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches(['\n', '\r']);
    let Some(data) = line.strip_prefix("data:") else { return Ok(()) };
    let data = data.strip_prefix(' ').unwrap_or(data);
    let value = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
    if let Some(out) = human {
        writeln!(out, "{}", pretty(&value))?;
        out.flush()?;
    }
    events.push(value);
    Ok(())
}

/// JSON pretty-printed; a bare string as its text.
fn pretty(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content_type: &str, chunks: &[&str]) -> (String, Value) {
        let mut answer = Answer::new(content_type);
        let mut printed = Vec::new();
        for chunk in chunks {
            answer.feed(chunk.as_bytes(), Some(&mut printed)).unwrap();
        }
        let body = answer.finish(Some(&mut printed)).unwrap();
        (String::from_utf8(printed).unwrap(), body)
    }

    #[test]
    fn events_print_as_they_complete_even_across_chunks() {
        let (printed, body) = read(
            "text/event-stream; charset=utf-8",
            &["data: {\"a\":", " 1}\n\nda", "ta: plain text\n\n: comment\n", "data: \"end\""],
        );
        assert_eq!(printed, "{\n  \"a\": 1\n}\nplain text\nend\n");
        assert_eq!(body, serde_json::json!([{ "a": 1 }, "plain text", "end"]));
    }

    #[test]
    fn json_is_pretty_printed_whole_and_text_passes_through() {
        let (printed, body) = read("application/json", &["{\"joke\":", "\"hi\"}"]);
        assert_eq!((printed.as_str(), body), ("{\n  \"joke\": \"hi\"\n}\n", serde_json::json!({ "joke": "hi" })));
        let (printed, body) = read("text/plain", &["hello ", "world"]);
        assert_eq!((printed.as_str(), body), ("hello world\n", Value::String("hello world".into())));
    }

    /// The agent `bot` of a workspace whose manifest says `protocol`.
    fn agent(protocol: &str) -> (tempfile::TempDir, Agent) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("agents/bot");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(root.path().join("prompts")).unwrap();
        std::fs::write(dir.join("agent.toml"), format!("entry_point = \"main.py\"\nprotocol = \"{protocol}\"\n"))
            .unwrap();
        std::fs::write(dir.join("main.py"), "").unwrap();
        std::fs::write(dir.join("requirements.txt"), "").unwrap();
        std::fs::write(root.path().join("prompts/bot.txt"), "hi").unwrap();
        let settings = crate::settings::test_settings();
        let agent = crate::agents::discover(root.path(), &settings).unwrap().remove(0);
        (root, agent)
    }

    fn args(payload: Option<&str>, prompt: Option<&str>) -> InvokeArgs {
        InvokeArgs {
            agent: Some("bot".into()),
            pr: Some(1),
            prod: false,
            env: None,
            endpoint: None,
            runtime: None,
            qualifier: None,
            payload: payload.map(str::to_owned),
            prompt: prompt.map(str::to_owned),
            session: None,
            timeout: 300,
        }
    }

    #[test]
    fn payloads_speak_the_agents_protocol() {
        let sent = |args: InvokeArgs, agent: Option<&Agent>| -> Value {
            serde_json::from_slice(&args.payload(agent).unwrap()).unwrap()
        };
        let (_http_root, http) = agent("HTTP");
        let (_mcp_root, mcp) = agent("MCP");
        let (_a2a_root, a2a) = agent("A2A");
        let (_agui_root, agui) = agent("AGUI");
        assert_eq!(sent(args(None, Some("hi")), Some(&http)), serde_json::json!({ "prompt": "hi" }));
        assert_eq!(sent(args(None, Some("hi")), None), serde_json::json!({ "prompt": "hi" }));
        assert_eq!(sent(args(None, None), Some(&http)), serde_json::json!({}));
        assert_eq!(sent(args(None, None), Some(&mcp))["method"], "tools/list");
        let message = sent(args(None, Some("hi")), Some(&a2a));
        assert_eq!(
            (message["method"].as_str(), message.pointer("/params/message/parts/0/text")),
            (Some("message/send"), Some(&serde_json::json!("hi")))
        );
        assert_eq!(
            sent(args(None, Some("hi")), Some(&agui)).pointer("/messages/0/content"),
            Some(&serde_json::json!("hi"))
        );
        let call = r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "convert"}}"#;
        assert_eq!(sent(args(Some(call), None), Some(&mcp))["method"], "tools/call", "--payload goes as it is");
        let err = args(None, Some("hi")).payload(Some(&mcp)).unwrap_err().to_string();
        assert!(
            err.contains("agent bot serves MCP") && err.contains("--payload '{") && err.contains("tools/list"),
            "{err}"
        );
    }

    #[test]
    fn sessions_are_within_agentcores_bounds() {
        let session = new_session();
        assert!(SESSION_LENGTH.contains(&session.len()), "{session}");
        assert!(session_id("short").unwrap_err().contains("33 to 256"));
        assert!(session_id(&"x".repeat(33)).is_ok());
        assert!(session_id(&"x".repeat(257)).is_err());
    }
}
