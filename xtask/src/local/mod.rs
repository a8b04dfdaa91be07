//! The bundled local AgentCore stack: a control-plane emulator and an S3 server on 127.0.0.1.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Ctx;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum LocalCommand {
    /// Run the stack in the foreground until interrupted; prints `export` lines for AWS SDKs
    Up(UpArgs),
    /// Wipe the stack's state
    Reset(ResetArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    /// State directory (default: target/agentcore-local)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// S3 port (default: a free one)
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub s3_port: u16,
    /// Control-plane port (default: a free one)
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub control_port: u16,
    /// Time resources spend in CREATING/UPDATING/DELETING, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub transition_delay: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ResetArgs {
    /// State directory (default: target/agentcore-local)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl LocalCommand {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("local: not implemented yet")
    }
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// State directory (control-plane state and S3 objects).
    pub dir: PathBuf,
    /// 0 picks a free port.
    pub s3_port: u16,
    /// 0 picks a free port.
    pub control_port: u16,
    /// Time spent in CREATING/UPDATING/DELETING before the next status.
    pub transition_delay: std::time::Duration,
    pub region: String,
}

/// A running stack on 127.0.0.1; stops when shut down or dropped.
#[derive(Debug)]
pub struct LocalStack {}

/// Credentials the stack accepts (and the only ones it accepts).
pub const ACCESS_KEY_ID: &str = "AKIALOCALAGENTCORE01";
pub const SECRET_ACCESS_KEY: &str = "local-agentcore-secret-key";
