//! `cargo xtask status`: runtimes, versions, endpoints and quota use; with `--versions`, which versions
//! of the prod runtimes `prune` keeps, and why.

use anyhow::Result;
use futures_util::StreamExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::prune;
use crate::report::{EndpointStatus, RuntimeStatus, Status, StatusReport, VersionStatus};
use crate::runtime_config::reported_settings;
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
    /// Also show which versions of each prod runtime are protected from `prune`, and why (reads
    /// the promotion records in S3)
    #[arg(long)]
    pub(crate) versions: bool,
    /// With --versions: the newest N versions count as protected, as `prune --keep N` (default: the
    /// prune_keep setting, 10)
    #[arg(long, value_name = "N", requires = "versions")]
    pub(crate) keep: Option<u32>,
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
        let keep = self.versions.then(|| self.keep.unwrap_or_else(|| crate::prune::default_keep(&ctx.settings)));
        let ctx = &match &self.env {
            Some(name) => ctx.for_env(name)?,
            None => ctx.for_prs(),
        };
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        let schemes = schemes(ctx)?;
        status_of(&ctx.settings, &schemes, &aws, agents.as_deref(), keep).await?.publish(ctx.json, &ctx.github)
    }
}

/// A naming scheme of the runtimes a place holds, the name its long-lived target shows, and the
/// bucket of that target's environment, where its promotion records are.
type Named = (crate::naming::Scheme, String, String);

/// The naming schemes of the runtimes `ctx`'s place holds: its own, then every other
/// environment's in the same region and account, each with the name its long-lived target shows
/// and its environment's bucket (the workspace's own long-lived runtimes are prod's).
fn schemes(ctx: &Ctx) -> Result<Vec<Named>> {
    let own_bucket = match &ctx.env {
        Some(_) => ctx.settings.bucket.clone(),
        None => ctx.workspace().environment(crate::settings::PROD)?.bucket,
    };
    let mut schemes = vec![(ctx.settings.scheme(), ctx.settings.prod_runtime.clone(), own_bucket)];
    // Pull requests' place: the workspace's region with the credentials found, no profile or role of its own.
    let (profile, role) =
        ctx.env.as_ref().map(|env| (env.profile.clone(), env.assume_role_arn.clone())).unwrap_or_default();
    for env in ctx.workspace().environments()? {
        let same_place = (env.region.as_str(), env.profile.as_deref(), env.assume_role_arn.as_deref())
            == (ctx.settings.region.as_str(), profile.as_deref(), role.as_deref());
        if same_place && env.target != ctx.settings.prod_runtime {
            schemes.push((env.scheme(), env.target.clone(), env.bucket.clone()));
        }
    }
    Ok(schemes)
}

/// The project's runtimes (those the naming scheme made), limited to `agents` when given.
pub async fn status(settings: &Settings, aws: &AwsClients, agents: Option<&[String]>) -> Result<StatusReport> {
    status_with(settings, aws, agents, None).await
}

/// [`status`], and with `protected_keep` (`--versions`) why `prune` keeping that many would keep
/// each version of the long-lived runtimes: the protection rule of `crate::prune`, the one prune applies.
pub async fn status_with(
    settings: &Settings,
    aws: &AwsClients,
    agents: Option<&[String]>,
    protected_keep: Option<u32>,
) -> Result<StatusReport> {
    let named = (settings.scheme(), settings.prod_runtime.clone(), settings.bucket.clone());
    status_of(settings, &[named], aws, agents, protected_keep).await
}

/// [`status_with`] of the runtimes any of `schemes` made, each scheme with the name its long-lived
/// target shows.
async fn status_of(
    settings: &Settings,
    schemes: &[Named],
    aws: &AwsClients,
    agents: Option<&[String]>,
    protected_keep: Option<u32>,
) -> Result<StatusReport> {
    let all = aws::index::runtimes(aws).await?;
    let mut ours: Vec<(String, String, Option<&str>, aws::index::RuntimeSummary)> = all
        .iter()
        .filter_map(|runtime| {
            let (agent, target, shown, bucket) = schemes.iter().find_map(|(scheme, name, bucket)| {
                scheme.parse(&runtime.name).map(|(a, t)| (a, t, name, bucket.as_str()))
            })?;
            if agents.is_some_and(|agents| !agents.contains(&agent)) {
                return None;
            }
            // A long-lived runtime's promotion records are in its environment's bucket.
            let long_lived = (target == crate::naming::Target::Prod).then_some(bucket);
            let target = match target {
                crate::naming::Target::Pr(number) => format!("pr_{number}"),
                crate::naming::Target::Prod => shown.clone(),
            };
            Some((agent, target, long_lived, runtime.clone()))
        })
        .collect();
    ours.sort_by(|a, b| a.3.name.cmp(&b.3.name));
    let runtimes: Vec<Result<RuntimeStatus>> = futures_util::stream::iter(ours)
        .map(|(agent, target, long_lived, runtime)| async move {
            let records = long_lived.map(|bucket| AwsClients { bucket: bucket.to_owned(), ..aws.clone() });
            let id = runtime.id.as_str();
            let (versions, endpoints, latest) = futures_util::try_join!(
                aws::list_versions(aws, id),
                aws::list_endpoints(aws, id),
                aws::get_runtime_json(aws, id, None)
            )?;
            // The latest version's settings, as AgentCore reports them (gone meanwhile: none).
            let settings = latest.as_ref().map(reported_settings);
            // The protocol of the latest version (what DEFAULT serves); AgentCore's default, HTTP,
            // when the version names none.
            let (protocol, port, path) = match &latest {
                None => ("-".to_owned(), None, None),
                Some(json) => {
                    let config = &json["protocolConfiguration"];
                    (
                        config["serverProtocol"].as_str().unwrap_or("HTTP").to_owned(),
                        config["port"].as_u64().and_then(|port| u16::try_from(port).ok()),
                        config["path"].as_str().map(str::to_owned),
                    )
                }
            };
            let protected_keep = protected_keep.filter(|_| records.is_some());
            let mut protected = match (protected_keep, &records) {
                (Some(keep), Some(records)) => {
                    let listed = prune::ListedVersion::from_listing(&versions);
                    let referenced = prune::EndpointRef::from_listing(&endpoints);
                    Some(prune::protections(records, &runtime.name, id, &listed, &referenced, keep).await?)
                }
                _ => None,
            };
            let latest_version =
                versions.last().map(|version| version.agent_runtime_version().to_owned()).unwrap_or_default();
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
                protocol,
                port,
                path,
                latest_version,
                versions_used: versions.len(),
                versions_quota: VERSIONS_QUOTA,
                versions: versions
                    .iter()
                    .map(|version| VersionStatus {
                        version: version.agent_runtime_version().to_owned(),
                        status: Status::from(version.status().as_str()),
                        protected_by: protected.as_mut().map(|protected| {
                            protected.remove(&aws::version_number(version.agent_runtime_version())).unwrap_or_default()
                        }),
                    })
                    .collect(),
                settings,
                prune_keep: protected_keep,
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
