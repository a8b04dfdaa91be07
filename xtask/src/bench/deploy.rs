//! `cargo xtask bench deploy`: many agents in parallel against one after another, on the local stack.
//!
//! Fixture zips stand in for packaging, so the numbers measure deploying only. The stack holds every
//! resource in CREATING/UPDATING for `--transition-ms`, like AWS does for tens of seconds.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::agents::Agent;
use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::deploy::{DeployOptions, deploy_agents_with};
use crate::naming::Target;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchDeployArgs {
    /// Agents deployed at once
    #[arg(long, default_value_t = 8)]
    pub(crate) agents: usize,
    /// Time the local stack keeps each resource in CREATING/UPDATING, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub(crate) transition_ms: u64,
    /// Updates timed to measure how long after READY the tool notices it
    #[arg(long, default_value_t = 5)]
    pub(crate) samples: usize,
}

impl BenchDeployArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.agents == 0 || self.samples == 0 {
            bail!("--agents and --samples must be at least 1");
        }
        let state = tempfile::tempdir()?;
        let delay = Duration::from_millis(self.transition_ms);
        let stack = agentcore_local::LocalStack::start(agentcore_local::LocalConfig {
            dir: state.path().join("stack"),
            s3_port: 0,
            control_port: 0,
            transition_delay: delay,
            region: ctx.settings.region.clone(),
        })
        .await?;
        stack.ensure_bucket(&ctx.settings.bucket).await?;
        let credentials = agentcore_local::credentials();
        let (s3, control) = (stack.s3_endpoint(), stack.control_endpoint());
        let aws = aws::local_clients(&s3, &control, stack.region(), &ctx.settings.bucket, credentials).await;

        let base = crate::agents::discover(&ctx.root, &ctx.settings)?
            .into_iter()
            .next()
            .context("the bench borrows the settings of the first agent under agents/, and there is none")?;
        let agents: Vec<Agent> =
            (0..self.agents).map(|index| Agent { name: format!("bench_agent_{index}"), ..base.clone() }).collect();
        let zips = state.path().join("zips");
        std::fs::create_dir_all(&zips)?;
        for agent in &agents {
            fixture_zip(&zips.join(format!("{}.zip", agent.name)), &agent.name)?;
        }
        let options = DeployOptions { force: true, dry_run: false, package_dir: Some(zips.clone()) };
        // The parallel run uses the setting as users get it (workspace default, or --max-parallel),
        // so the numbers say what a real deploy of this many agents does.
        let max_parallel = ctx.settings.max_parallel.max(1);
        let parallel = ctx.clone();
        let mut serial = ctx.clone();
        serial.settings.max_parallel = 1;

        // Each phase deploys to its own PR so every deploy creates a runtime, as a new PR does. An
        // untimed deploy first opens the connections and the stack's store, which the first timed
        // phase would otherwise pay for alone.
        timed(&parallel, &aws, &agents[..1], Target::Pr(100), &options).await?;
        let one = timed(&parallel, &aws, &agents[..1], Target::Pr(1), &options).await?;
        let one_after_another = timed(&serial, &aws, &agents, Target::Pr(2), &options).await?;
        let all_at_once = timed(&parallel, &aws, &agents, Target::Pr(3), &options).await?;
        let lateness = notice_lateness(ctx, &aws, &agents[0], self.samples).await?;
        stack.shutdown().await;

        let seconds = |duration: Duration| duration.as_secs_f64();
        let report = serde_json::json!({
            "agents": self.agents,
            "max_parallel": max_parallel,
            "transition_ms": self.transition_ms,
            "one_agent_s": seconds(one),
            "one_after_another_s": seconds(one_after_another),
            "in_parallel_s": seconds(all_at_once),
            "parallel_vs_one": seconds(all_at_once) / seconds(one),
            "serial_vs_parallel": seconds(one_after_another) / seconds(all_at_once),
            "target_parallel_vs_one": 1.5,
            "ready_noticed_after_ms": lateness.iter().map(|late| late.as_millis() as u64).collect::<Vec<_>>(),
            "ready_noticed_after_max_ms": lateness.iter().max().map(|late| late.as_millis() as u64),
            "target_noticed_after_ms": 1000,
        });
        if ctx.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!(
                "deploy bench: {} agents, {} ms transitions (local stack), max_parallel {} for the parallel run",
                self.agents, self.transition_ms, max_parallel
            );
            println!("  one agent:            {:>7.2} s", seconds(one));
            println!("  one after another:    {:>7.2} s", seconds(one_after_another));
            println!(
                "  in parallel:          {:>7.2} s  = {:.2}x one agent (target <= 1.5x), {:.1}x faster than one after another",
                seconds(all_at_once),
                seconds(all_at_once) / seconds(one),
                seconds(one_after_another) / seconds(all_at_once)
            );
            let lateness_ms: Vec<String> = lateness.iter().map(|late| late.as_millis().to_string()).collect();
            println!("  READY noticed after:  {} ms (target < 1000 ms)", lateness_ms.join(", "));
        }
        Ok(())
    }
}

async fn timed(
    ctx: &Ctx,
    aws: &AwsClients,
    agents: &[Agent],
    target: Target,
    options: &DeployOptions,
) -> Result<Duration> {
    let started = Instant::now();
    let results = deploy_agents_with(ctx, aws, agents, target, options).await;
    let elapsed = started.elapsed();
    for result in results {
        result?;
    }
    Ok(elapsed)
}

/// Updates a runtime and measures how long after it turned READY the tool's wait returned. The
/// moment it turned READY is found by a probe polling every 10 ms beside the tool's wait, so the
/// number does not depend on the stack's own timestamps.
async fn notice_lateness(ctx: &Ctx, aws: &AwsClients, agent: &Agent, samples: usize) -> Result<Vec<Duration>> {
    let name = ctx.settings.scheme().runtime_name(&agent.name, Target::Pr(1))?;
    let runtime = aws::index::runtime(aws, &name).await?.context("the bench runtime is gone")?;
    let id = runtime.id.as_str();
    let current = aws::get_runtime(aws, id, None).await?.context("the bench runtime is gone")?;
    let mut lateness = Vec::new();
    for _ in 0..samples {
        let output = aws
            .control
            .update_agent_runtime()
            .agent_runtime_id(id)
            .set_agent_runtime_artifact(current.agent_runtime_artifact().cloned())
            .role_arn(current.role_arn())
            .set_network_configuration(current.network_configuration().cloned())
            .send()
            .await
            .map_err(|err| aws::explain(err, "bedrock-agentcore:UpdateAgentRuntime", &name))?;
        let version = output.agent_runtime_version();
        let probe = async {
            loop {
                let state = aws::get_runtime(aws, id, Some(version)).await?;
                if state.is_some_and(|state| state.status().as_str() == "READY") {
                    return anyhow::Ok(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let tool = async {
            aws::wait_runtime_ready(aws, id, &name, version).await?;
            anyhow::Ok(Instant::now())
        };
        let (ready, noticed) = tokio::try_join!(probe, tool)?;
        lateness.push(noticed.saturating_duration_since(ready));
    }
    Ok(lateness)
}

/// A minimal direct-code zip: `main.py` at the root, as the local stack checks.
fn fixture_zip(path: &std::path::Path, agent: &str) -> Result<()> {
    let file = std::fs::File::create(path)?;
    let mut writer = zip::ZipWriter::new(file);
    writer.start_file("main.py", zip::write::SimpleFileOptions::default())?;
    writer.write_all(format!("# bench fixture for {agent}\nprint('hello')\n").as_bytes())?;
    writer.finish()?;
    Ok(())
}
