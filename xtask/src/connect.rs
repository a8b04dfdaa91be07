//! Where a command's AWS calls go, as the flags in its context say: AWS through the standard chain,
//! or the bundled local stack, started in-process for as long as the command runs.

use anyhow::Result;
#[cfg(not(feature = "local"))]
use anyhow::bail;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;

/// What keeps an in-process local stack alive while a command runs.
#[cfg(feature = "local")]
pub(crate) type LocalGuard = agentcore_local::LocalStack;
/// Built without the `local` feature, no local stack is ever started.
#[cfg(not(feature = "local"))]
#[derive(Debug)]
pub(crate) enum LocalGuard {}

/// Builds the clients for `ctx`: real AWS, or with `--local` the bundled stack started in-process,
/// as also when no AWS account is configured at all (saying so, once: only commands that connect
/// print the note). The returned guard keeps an in-process local stack alive; drop it when the
/// command is done.
pub(crate) async fn connect(ctx: &Ctx) -> Result<(AwsClients, Option<LocalGuard>)> {
    if ctx.aws.local || ctx.aws.local_fallback {
        #[cfg(feature = "local")]
        {
            if !ctx.aws.local {
                static NOTE: std::sync::Once = std::sync::Once::new();
                NOTE.call_once(|| {
                    eprintln!(
                        "note: no AWS account is configured (no credentials, profile or endpoint in the environment or \
                         ~/.aws), so this runs against the bundled local stack; configure AWS credentials or pass \
                         --profile to use AWS"
                    )
                });
            }
            let (clients, stack) = start_local(ctx).await?;
            return Ok((clients, Some(stack)));
        }
        #[cfg(not(feature = "local"))]
        bail!(
            "this xtask was built without the bundled local stack (--no-default-features, as the workflows build it); \
             run `cargo xtask` from the checkout, which builds it with the stack"
        );
    }
    let settings = &ctx.settings;
    let clients =
        aws::connect(&settings.region, ctx.aws.profile.as_deref(), ctx.aws.endpoint_url.as_deref(), &settings.bucket)
            .await?;
    Ok((clients, None))
}

/// Starts the bundled stack in-process on free ports, with static credentials and both endpoints.
#[cfg(feature = "local")]
async fn start_local(ctx: &Ctx) -> Result<(AwsClients, agentcore_local::LocalStack)> {
    use anyhow::Context;
    let transition = std::env::var("AGENTCORE_LOCAL_TRANSITION_MS")
        .ok()
        .map(|value| value.parse::<u64>())
        .transpose()
        .context("AGENTCORE_LOCAL_TRANSITION_MS must be a number of milliseconds")?
        .unwrap_or(1000);
    let config = agentcore_local::LocalConfig {
        dir: ctx.local_dir(),
        s3_port: 0,
        control_port: 0,
        transition_delay: std::time::Duration::from_millis(transition),
        region: ctx.settings.region.clone(),
    };
    let stack = agentcore_local::LocalStack::start(config)
        .await
        .with_context(|| format!("cannot start the local stack in {}", ctx.local_dir().display()))?;
    let bucket = &ctx.settings.bucket;
    let clients = aws::local_clients(
        &stack.s3_endpoint(),
        &stack.control_endpoint(),
        stack.region(),
        bucket,
        agentcore_local::credentials(),
    )
    .await;
    stack.ensure_bucket(bucket).await?;
    Ok((clients, stack))
}
