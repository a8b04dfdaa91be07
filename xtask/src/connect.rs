//! Where a command's AWS calls go, as the flags in its context say: AWS through the standard chain
//! (with the environment's profile or role to assume, when it names one), or the bundled local
//! stack, started in-process for as long as the command runs.

use anyhow::Result;
#[cfg(not(feature = "local"))]
use anyhow::bail;

use crate::aws::{self, AssumeRole, AwsClients};
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
    Ok((connect_aws(ctx).await?, None))
}

/// Clients for `other` (another environment, or pull requests' own settings) in a command that
/// connected for `first` already: the same local stack, the same AWS clients with `other`'s bucket
/// when both are in one place (region, profile, role), else AWS clients of their own.
pub(crate) async fn connect_also(
    other: &Ctx,
    first: &Ctx,
    clients: &AwsClients,
    guard: Option<&LocalGuard>,
) -> Result<AwsClients> {
    #[cfg(feature = "local")]
    if let Some(stack) = guard {
        check_local(other)?;
        return Ok(local_clients(stack, &other.settings.bucket).await);
    }
    #[cfg(not(feature = "local"))]
    let _ = guard;
    if location(other) == location(first) {
        return Ok(AwsClients { bucket: other.settings.bucket.clone(), ..clients.clone() });
    }
    connect_aws(other).await
}

/// Region, profile and role to assume: what decides which account and region calls reach.
fn location(ctx: &Ctx) -> (String, Option<String>, Option<AssumeRole>) {
    (ctx.settings.region.clone(), profile(ctx).map(str::to_owned), assume_role(ctx))
}

/// The environment's own profile, else `--profile` (AWS_PROFILE).
fn profile(ctx: &Ctx) -> Option<&str> {
    ctx.env.as_ref().and_then(|env| env.profile.as_deref()).or(ctx.aws.profile.as_deref())
}

fn assume_role(ctx: &Ctx) -> Option<AssumeRole> {
    let env = ctx.env.as_ref()?;
    Some(AssumeRole { role_arn: env.assume_role_arn.clone()?, session_name: format!("agentcore-xtask-{}", env.name) })
}

async fn connect_aws(ctx: &Ctx) -> Result<AwsClients> {
    let settings = &ctx.settings;
    let assume = assume_role(ctx);
    aws::connect(&settings.region, profile(ctx), assume.as_ref(), ctx.aws.endpoint_url.as_deref(), &settings.bucket)
        .await
}

/// The local stack emulates one account in one region: environments that differ only by region,
/// profile or role to assume would share its runtimes, so a command of such an environment is
/// refused there rather than let it touch the other's runtimes.
#[cfg(feature = "local")]
fn check_local(ctx: &Ctx) -> Result<()> {
    let Some(env) = &ctx.env else { return Ok(()) };
    for other in ctx.workspace().environments()? {
        if other.name != env.name && other.target == env.target && other.runtime_name == env.runtime_name {
            anyhow::bail!(
                "environments {} and {} name their runtimes alike and differ only by region or account, which the local \
                 stack does not emulate (it serves one account in one region): give one of them another `target` to \
                 try both locally",
                env.name,
                other.name
            );
        }
    }
    Ok(())
}

/// Every bucket a command may use: the workspace's and each environment's. The local stack makes
/// them all, so that any environment, and a promotion between two, works on it at once.
#[cfg(feature = "local")]
pub(crate) fn local_buckets(ctx: &Ctx) -> Result<Vec<String>> {
    let mut buckets = vec![ctx.workspace().bucket.clone(), ctx.settings.bucket.clone()];
    buckets.extend(ctx.workspace().environments()?.into_iter().map(|env| env.bucket));
    buckets.sort();
    buckets.dedup();
    Ok(buckets)
}

/// Starts the bundled stack in-process on free ports, with static credentials and both endpoints.
/// It answers for the workspace's region whatever the environment's: its state holds one region.
#[cfg(feature = "local")]
async fn start_local(ctx: &Ctx) -> Result<(AwsClients, agentcore_local::LocalStack)> {
    use anyhow::Context;
    check_local(ctx)?;
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
        region: ctx.workspace().region.clone(),
    };
    let stack = agentcore_local::LocalStack::start(config)
        .await
        .with_context(|| format!("cannot start the local stack in {}", ctx.local_dir().display()))?;
    for bucket in local_buckets(ctx)? {
        stack.ensure_bucket(&bucket).await?;
    }
    let clients = local_clients(&stack, &ctx.settings.bucket).await;
    Ok((clients, stack))
}

#[cfg(feature = "local")]
async fn local_clients(stack: &agentcore_local::LocalStack, bucket: &str) -> AwsClients {
    aws::local_clients(
        &stack.s3_endpoint(),
        &stack.control_endpoint(),
        stack.region(),
        bucket,
        agentcore_local::credentials(),
    )
    .await
}
