//! `cargo xtask status`: runtimes, versions, endpoints and quota use.

use anyhow::Result;
use futures_util::StreamExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::report::{EndpointStatus, RuntimeStatus, Status, StatusReport, VersionStatus};
use crate::select::Selection;
use crate::settings::Settings;

/// AgentCore's default quotas (adjustable per account).
pub(crate) const RUNTIMES_QUOTA: usize = 1000;
pub(crate) const VERSIONS_QUOTA: usize = 1000;
pub(crate) const ENDPOINTS_QUOTA: usize = 10;

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// The runtimes in this environment's region and account (default: the workspace's, where
    /// pull requests' runtimes are)
    #[arg(long, value_name = "NAME")]
    pub(crate) env: Option<String>,
}

impl StatusArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let agents =
            if self.selection.agents.is_empty() && !self.selection.all && self.selection.changed_since.is_none() {
                None
            } else {
                Some(self.selection.resolve(ctx)?.into_iter().map(|agent| agent.name).collect::<Vec<_>>())
            };
        let ctx = &match &self.env {
            Some(name) => ctx.for_env(name)?,
            None => ctx.for_prs(),
        };
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        let schemes = schemes(ctx)?;
        status_of(&ctx.settings, &schemes, &aws, agents.as_deref()).await?.publish(ctx.json, &ctx.github)
    }
}

/// The naming schemes of the runtimes `ctx`'s place holds: its own, then every other
/// environment's in the same region and account, each with the name its long-lived target shows.
fn schemes(ctx: &Ctx) -> Result<Vec<(crate::naming::Scheme, String)>> {
    let mut schemes = vec![(ctx.settings.scheme(), ctx.settings.prod_runtime.clone())];
    // Pull requests' place: the workspace's region with the credentials found, no profile or role of its own.
    let (profile, role) =
        ctx.env.as_ref().map(|env| (env.profile.clone(), env.assume_role_arn.clone())).unwrap_or_default();
    for env in ctx.workspace().environments()? {
        let same_place = (env.region.as_str(), env.profile.as_deref(), env.assume_role_arn.as_deref())
            == (ctx.settings.region.as_str(), profile.as_deref(), role.as_deref());
        if same_place && env.target != ctx.settings.prod_runtime {
            schemes.push((env.scheme(), env.target.clone()));
        }
    }
    Ok(schemes)
}

/// The project's runtimes (those the naming scheme made), limited to `agents` when given.
pub async fn status(settings: &Settings, aws: &AwsClients, agents: Option<&[String]>) -> Result<StatusReport> {
    status_of(settings, &[(settings.scheme(), settings.prod_runtime.clone())], aws, agents).await
}

/// [`status`] of the runtimes any of `schemes` made, each scheme with the name its long-lived
/// target shows.
async fn status_of(
    settings: &Settings,
    schemes: &[(crate::naming::Scheme, String)],
    aws: &AwsClients,
    agents: Option<&[String]>,
) -> Result<StatusReport> {
    let all = aws::index::runtimes(aws).await?;
    let mut ours: Vec<(String, String, aws::index::RuntimeSummary)> = all
        .iter()
        .filter_map(|runtime| {
            let (agent, target, long_lived) =
                schemes.iter().find_map(|(scheme, name)| scheme.parse(&runtime.name).map(|(a, t)| (a, t, name)))?;
            if agents.is_some_and(|agents| !agents.contains(&agent)) {
                return None;
            }
            let target = match target {
                crate::naming::Target::Pr(number) => format!("pr_{number}"),
                crate::naming::Target::Prod => long_lived.clone(),
            };
            Some((agent, target, runtime.clone()))
        })
        .collect();
    ours.sort_by(|a, b| a.2.name.cmp(&b.2.name));
    let runtimes: Vec<Result<RuntimeStatus>> = futures_util::stream::iter(ours)
        .map(|(agent, target, runtime)| async move {
            let id = runtime.id.as_str();
            let versions = aws::list_versions(aws, id).await?;
            let endpoints = aws::list_endpoints(aws, id).await?;
            let latest = versions.last().map(|version| version.agent_runtime_version().to_owned()).unwrap_or_default();
            let mut endpoints: Vec<EndpointStatus> = endpoints
                .iter()
                .map(|endpoint| EndpointStatus {
                    name: endpoint.name().to_owned(),
                    status: Status::from(endpoint.status().as_str()),
                    live_version: endpoint.live_version().map(str::to_owned),
                    target_version: endpoint.target_version().map(str::to_owned),
                })
                .collect();
            endpoints.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(RuntimeStatus {
                runtime_name: runtime.name.clone(),
                agent,
                target,
                runtime_id: id.to_owned(),
                runtime_arn: runtime.arn.clone(),
                status: Status::from(runtime.status.as_str()),
                latest_version: latest,
                versions_used: versions.len(),
                versions_quota: VERSIONS_QUOTA,
                versions: versions
                    .iter()
                    .map(|version| VersionStatus {
                        version: version.agent_runtime_version().to_owned(),
                        status: Status::from(version.status().as_str()),
                    })
                    .collect(),
                endpoints_used: endpoints.len(),
                endpoints_quota: ENDPOINTS_QUOTA,
                endpoints,
            })
        })
        .buffered(settings.max_parallel.max(1))
        .collect()
        .await;
    Ok(StatusReport {
        runtimes_used: all.len(),
        runtimes_quota: RUNTIMES_QUOTA,
        runtimes: runtimes.into_iter().collect::<Result<Vec<_>>>()?,
    })
}
