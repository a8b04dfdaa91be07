//! `cargo xtask bench invoke`: a real agent invoked through the local data plane, on the first call
//! of a version (its process starts) and warm, against calls straight to the agent process's
//! `POST /invocations` in the same run, so the ratio is the data plane's own cost.
//!
//! The agent is packaged and deployed for real (its dependencies installed for this machine once,
//! untimed); its model is the stack's Bedrock stand-in, so no number depends on a model's speed.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::median;
use crate::aws;
use crate::context::Ctx;
use crate::deploy::{DeployOptions, deploy_agents_with};
use crate::invoke::{Call, Destination};
use crate::naming::Target;
use crate::progress;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchInvokeArgs {
    /// Agent to invoke (default: dad_joke_bot, else the first agent)
    #[arg(value_name = "AGENT")]
    pub agent: Option<String>,
    /// First calls of a version measured (each on a new version); the median is reported
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Warm calls measured, through the data plane and straight to the process each
    #[arg(long, default_value_t = 20)]
    pub calls: usize,
}

#[derive(Debug, Serialize)]
pub struct BenchInvokeReport {
    pub agent: String,
    pub runs: usize,
    pub calls: usize,
    /// Median first call of a new version: unpacking its code, starting its process, the call.
    pub first_call_ms: f64,
    /// Median warm call through the data plane (the SDK client, SigV4, the stack, the process).
    pub warm_call_ms: f64,
    /// Median call straight to the agent process's `POST /invocations` (the baseline).
    pub direct_call_ms: f64,
    pub warm_vs_direct: f64,
    pub data_plane_overhead_ms: f64,
    pub first_vs_warm: f64,
}

impl fmt::Display for BenchInvokeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench invoke {} (local stack, Bedrock stand-in): median of {} first calls and {} warm calls",
            self.agent, self.runs, self.calls
        )?;
        writeln!(f, "{:<52} {:>9.1} ms  1x", "direct: POST /invocations to the agent process", self.direct_call_ms)?;
        writeln!(
            f,
            "{:<52} {:>9.1} ms  {:.2}x direct (+{:.1} ms)",
            "warm: InvokeAgentRuntime through the data plane",
            self.warm_call_ms,
            self.warm_vs_direct,
            self.data_plane_overhead_ms
        )?;
        writeln!(
            f,
            "{:<52} {:>9.1} ms  {:.1}x warm",
            "first call of a version: unpack, start, call", self.first_call_ms, self.first_vs_warm
        )
    }
}

impl BenchInvokeArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.runs == 0 || self.calls == 0 {
            bail!("--runs and --calls must be at least 1");
        }
        let agent = super::bench_agent(ctx, self.agent.as_deref())?;
        let scratch = super::scratch(ctx, "bench-invoke-")?;
        let stack = agentcore_local::LocalStack::start(agentcore_local::LocalConfig {
            transition_delay: Duration::ZERO,
            region: ctx.settings.region.clone(),
            ..agentcore_local::LocalConfig::new(scratch.path().join("stack"))
        })
        .await?;
        stack.set_agent_host(crate::local::agent_host(ctx));
        stack.ensure_bucket(&ctx.settings.bucket).await?;
        let mut aws = aws::local_clients(
            &stack.s3_endpoint(),
            &stack.control_endpoint(),
            stack.region(),
            &ctx.settings.bucket,
            agentcore_local::credentials(),
        )
        .await;
        aws.data = Some(stack.data_client());

        let destination = Destination {
            runtime: ctx.settings.scheme().runtime_name(&agent.name, Target::Pr(1))?,
            qualifier: "DEFAULT".to_owned(),
            deploy_hint: None,
            agent: Some(agent.name.clone()),
        };
        // A user message in the agent's protocol (for an MCP server, `tools/list`).
        let protocol = agent.protocol();
        let payload = protocol.prompt_payload("a benchmark").unwrap_or_else(|| protocol.smoke_payload());
        let payload = payload.to_string().into_bytes();
        let session = format!("bench-invoke-{}", hex::encode(rand::random::<[u8; 16]>()));
        let new_version = async || -> Result<String> {
            let options = DeployOptions { force: true, dry_run: false, package_dir: None };
            let outcome =
                deploy_agents_with(ctx, &aws, std::slice::from_ref(&agent), Target::Pr(1), &options).await.remove(0)?;
            let (arn, _) = crate::invoke::resolve(&aws, &destination, " --local").await?;
            progress!("bench invoke: version {} deployed", outcome.version.as_deref().unwrap_or("?"));
            Ok(arn)
        };
        let invoke = async |arn: &str| -> Result<f64> {
            let call = Call { arn, destination: &destination, session: &session, payload: payload.clone() };
            let answered = call.send::<std::io::Sink>(&aws, None).await?;
            if answered.status != 200 {
                bail!("the agent answered {}: {}", answered.status, answered.body);
            }
            Ok(answered.latency.as_secs_f64() * 1000.0)
        };

        // Untimed: packaging, and the dependencies installed for this machine on first use.
        progress!(
            "bench invoke: packaging and deploying {}, then a first call (installs its dependencies once)",
            agent.name
        );
        let mut arn = new_version().await?;
        invoke(&arn).await?;

        let mut first = Vec::new();
        for run in 1..=self.runs {
            stack.stop_agents();
            arn = new_version().await?;
            let elapsed = invoke(&arn).await?;
            progress!("bench invoke: first call {run}/{}: {elapsed:.0} ms", self.runs);
            first.push(elapsed);
        }
        let mut warm = Vec::new();
        for _ in 0..self.calls {
            warm.push(invoke(&arn).await?);
        }
        let port = stack.agent_processes().last().map(|process| process.port).context("the agent process is gone")?;
        let mut direct = Vec::new();
        for _ in 0..self.calls {
            direct.push(direct_call(port, agent.serving_path(), &payload, &session).await?);
        }
        stack.shutdown().await;

        let (first_call_ms, warm_call_ms, direct_call_ms) =
            (median(&mut first), median(&mut warm), median(&mut direct));
        let report = BenchInvokeReport {
            agent: agent.name.clone(),
            runs: self.runs,
            calls: self.calls,
            first_call_ms,
            warm_call_ms,
            direct_call_ms,
            warm_vs_direct: warm_call_ms / direct_call_ms,
            data_plane_overhead_ms: warm_call_ms - direct_call_ms,
            first_vs_warm: first_call_ms / warm_call_ms,
        };
        crate::output::emit(ctx.json, &report)
    }
}

/// `POST <path>` (`/invocations` for HTTP) straight to the agent process, on a new connection as the
/// data plane makes one, with the headers `invoke` sends; milliseconds until the whole answer is read.
async fn direct_call(port: u16, path: &str, payload: &[u8], session: &str) -> Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\n\
         x-amzn-bedrock-agentcore-runtime-session-id: {session}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(payload).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if !answer.starts_with(b"HTTP/1.1 200") {
        bail!("the agent process answered: {}", String::from_utf8_lossy(&answer));
    }
    Ok(elapsed)
}
