//! AWS access: one place builds the SDK configuration (profile, region, endpoints, retries, timeouts).

use std::path::PathBuf;

/// Flags of every command that talks to AWS. Global, so they may follow any subcommand.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// Run against the bundled local AgentCore stack instead of AWS (no account needed)
    #[arg(long, global = true)]
    pub local: bool,
    /// State directory of the local stack (default: target/agentcore-local)
    #[arg(long, global = true, value_name = "DIR", env = "AGENTCORE_LOCAL_DIR")]
    pub local_dir: Option<PathBuf>,
    /// AWS shared-config profile
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Endpoint URL for every AWS service (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> also work)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

use anyhow::Result;

use crate::cli::Ctx;

/// The SDK clients every AWS command uses, built from one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub control: aws_sdk_bedrockagentcorecontrol::Client,
    /// The artifact bucket (settings or --bucket).
    pub bucket: String,
}

/// Builds the clients for `ctx`: real AWS, or with `--local` the bundled stack started in-process.
/// The returned guard keeps an in-process local stack alive; drop it when the command is done.
pub async fn connect(_ctx: &Ctx) -> Result<(AwsClients, Option<crate::local::LocalStack>)> {
    anyhow::bail!("aws: not implemented yet")
}
