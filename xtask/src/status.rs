//! `cargo xtask status`: runtimes, versions, endpoints and quota use.

use anyhow::Result;
use futures_util::StreamExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
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
}

impl StatusArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let agents =
            if self.selection.agents.is_empty() && !self.selection.all && self.selection.changed_since.is_none() {
                None
            } else {
                Some(self.selection.resolve(ctx)?.into_iter().map(|agent| agent.name).collect::<Vec<_>>())
            };
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        status(&ctx.settings, &aws, agents.as_deref()).await?.publish(ctx.json, &ctx.github)
    }
}

/// The project's runtimes (those the naming scheme made), limited to `agents` when given.
pub async fn status(settings: &Settings, aws: &AwsClients, agents: Option<&[String]>) -> Result<StatusReport> {
    let scheme = settings.scheme();
    let all = aws::index::runtimes(aws).await?;
    let mut ours: Vec<(String, String, aws::index::RuntimeSummary)> = all
        .iter()
        .filter_map(|runtime| {
            let (agent, target) = scheme.parse(&runtime.name)?;
            if agents.is_some_and(|agents| !agents.contains(&agent)) {
                return None;
            }
            let target = match target {
                crate::naming::Target::Pr(number) => format!("pr_{number}"),
                crate::naming::Target::Prod => settings.prod_runtime.clone(),
            };
            Some((agent, target, runtime.clone()))
        })
        .collect();
    ours.sort_by(|a, b| a.2.name.cmp(&b.2.name));
    let runtimes: Vec<Result<RuntimeStatus>> = futures_util::stream::iter(ours)
        .map(|(agent, target, runtime)| async move {
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
                    })
                    .collect(),
                settings,
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
