//! `cargo xtask local up` and `local reset`: the bundled local AgentCore stack (crate
//! `agentcore-local`) in the foreground, and the deletion of its state; and how the stack runs the
//! agents' code for xtask.

use std::path::PathBuf;
use std::time::Duration;

use agentcore_local::{AgentHost, LocalConfig, LocalStack, UvSource};
use anyhow::{Context, Result};

use crate::context::Ctx;
use crate::progress;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum LocalCommand {
    /// Run the stack in the foreground until interrupted; prints `export` lines for AWS SDKs
    Up(UpArgs),
    /// Wipe the stack's state
    Reset(ResetArgs),
}

/// One hour: longer transitions would only stall whoever waits on them.
const MAX_TRANSITION_MS: u64 = 3_600_000;

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    /// State directory (default: target/agentcore-local)
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// S3 port (default: a free one)
    #[arg(long, value_name = "P", default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) s3_port: u16,
    /// Control-plane port (default: a free one)
    #[arg(long, value_name = "P", default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) control_port: u16,
    /// Time resources spend in CREATING/UPDATING/DELETING, in milliseconds
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(..=MAX_TRANSITION_MS)
    )]
    pub(crate) transition_delay: u64,
    /// Stop an agent process after this many seconds without a call (default: the version's
    /// idleRuntimeSessionTimeout, 900 unless set)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: Option<u64>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ResetArgs {
    /// State directory (default: target/agentcore-local)
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

impl LocalCommand {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            LocalCommand::Up(args) => up(ctx, args).await,
            LocalCommand::Reset(args) => {
                let dir = args.dir.unwrap_or_else(|| ctx.local_dir());
                let wiped = agentcore_local::reset(&dir)?;
                if wiped {
                    progress!("local: wiped {}", dir.display());
                } else {
                    progress!("local: nothing to wipe at {}", dir.display());
                }
                if ctx.json {
                    crate::output::emit(ctx.json, &Reset { dir, wiped })?;
                }
                Ok(())
            }
        }
    }
}

async fn up(ctx: &Ctx, args: UpArgs) -> Result<()> {
    let config = LocalConfig {
        dir: args.dir.unwrap_or_else(|| ctx.local_dir()),
        s3_port: args.s3_port,
        control_port: args.control_port,
        transition_delay: Duration::from_millis(args.transition_delay),
        region: ctx.settings.region.clone(),
    };
    let stack = LocalStack::start_with_log(config, true).await?;
    // Every environment's bucket, so that xtask and SDKs pointed at the stack find each one.
    let buckets = crate::connect::local_buckets(ctx)?;
    for bucket in &buckets {
        stack.ensure_bucket(bucket).await?;
    }
    stack.set_agent_host(AgentHost { idle_timeout: args.idle_timeout.map(Duration::from_secs), ..agent_host(ctx) });
    // Listen for signals before announcing readiness: a supervisor may stop us as soon as it has read
    // the exports, and a signal without a handler would end the process before a clean shutdown.
    let stop = StopSignals::listen()?;
    progress!("local: state in {}; buckets {}", stack.dir().display(), buckets.join(", "));
    progress!("local: S3 at {}, AgentCore control plane at {}", stack.s3_endpoint(), stack.control_endpoint());
    progress!(
        "local: AgentCore data plane at {}, Bedrock runtime stand-in at {}",
        stack.data_endpoint(),
        stack.model_endpoint()
    );
    let ready = Ready {
        dir: stack.dir().to_owned(),
        s3_endpoint: stack.s3_endpoint(),
        control_endpoint: stack.control_endpoint(),
        data_endpoint: stack.data_endpoint(),
        model_endpoint: stack.model_endpoint(),
        region: stack.region().to_owned(),
        env: stack.env_exports(),
    };
    crate::output::emit(ctx.json, &ready)?;
    progress!("local: ready; press Ctrl-C to stop");
    stop.wait().await;
    progress!("local: stopping");
    stack.shutdown().await;
    Ok(())
}

/// How the local data plane runs the agents' code for xtask: their dependencies are installed for
/// this machine with the pinned uv (found or installed on first need, as packaging does), into
/// virtualenvs cached in `target/agentcore/host-venvs`, which `local reset` leaves alone.
pub fn agent_host(ctx: &Ctx) -> AgentHost {
    let version = ctx.settings.uv_version.clone();
    let tools = ctx.root.join("target").join("tools");
    AgentHost {
        uv: Some(UvSource::new(move || Ok(crate::package::uv::ensure(&version, &tools, None, "python3")?.path))),
        venvs: Some(ctx.root.join("target").join("agentcore").join("host-venvs")),
        ..AgentHost::default()
    }
}

/// What `local up` prints once it serves: `export` lines, or with `--json` an object whose `env`
/// holds the same variables.
#[derive(Debug, serde::Serialize)]
struct Ready {
    dir: PathBuf,
    s3_endpoint: String,
    control_endpoint: String,
    data_endpoint: String,
    model_endpoint: String,
    region: String,
    #[serde(serialize_with = "env_map")]
    env: Vec<(String, String)>,
}

fn env_map<S: serde::Serializer>(env: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(env.iter().map(|(name, value)| (name, value)))
}

impl std::fmt::Display for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, value) in &self.env {
            writeln!(f, "export {name}={value}")?;
        }
        Ok(())
    }
}

/// The result of `local reset --json` (the human form prints only progress).
#[derive(Debug, serde::Serialize)]
struct Reset {
    dir: PathBuf,
    wiped: bool,
}

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", if self.wiped { "wiped" } else { "nothing to wipe" })
    }
}

/// Ctrl-C and SIGTERM, registered up front.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
