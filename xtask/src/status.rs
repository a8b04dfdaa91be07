//! `cargo xtask status`: runtimes, versions, endpoints and quota use.

use std::fmt;

use anyhow::Result;
use futures_util::StreamExt;
use serde::Serialize;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::deploy::{markdown_table, table};
use crate::select::Selection;
use crate::settings::Settings;

/// AgentCore's default quotas (adjustable per account).
pub const RUNTIMES_QUOTA: usize = 1000;
pub const VERSIONS_QUOTA: usize = 1000;
pub const ENDPOINTS_QUOTA: usize = 10;

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub selection: Selection,
}

impl StatusArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let agents =
            if self.selection.agents.is_empty() && !self.selection.all && self.selection.changed_since.is_none() {
                None
            } else {
                Some(self.selection.resolve(ctx)?.into_iter().map(|agent| agent.name).collect::<Vec<_>>())
            };
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        let report = status(&ctx.settings, &aws, agents.as_deref()).await?;
        crate::output::emit(ctx.json, &report)?;
        crate::output::github_output("status", &serde_json::to_string(&report)?)?;
        crate::output::step_summary(&report.markdown())?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Every runtime in the account and region, this project's or not.
    pub runtimes_used: usize,
    pub runtimes_quota: usize,
    pub runtimes: Vec<RuntimeStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeStatus {
    pub runtime_name: String,
    pub agent: String,
    /// `pr_<N>` or `prod`.
    pub target: String,
    pub runtime_id: String,
    pub runtime_arn: String,
    pub status: String,
    pub latest_version: String,
    pub versions: Vec<VersionStatus>,
    pub versions_used: usize,
    pub versions_quota: usize,
    pub endpoints: Vec<EndpointStatus>,
    pub endpoints_used: usize,
    pub endpoints_quota: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionStatus {
    pub version: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub name: String,
    pub status: String,
    pub live_version: Option<String>,
    pub target_version: Option<String>,
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
            let versions = aws::list_versions(aws, id).await?;
            let endpoints = aws::list_endpoints(aws, id).await?;
            let latest = versions.last().map(|version| version.agent_runtime_version().to_owned()).unwrap_or_default();
            let mut endpoints: Vec<EndpointStatus> = endpoints
                .iter()
                .map(|endpoint| EndpointStatus {
                    name: endpoint.name().to_owned(),
                    status: endpoint.status().as_str().to_owned(),
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
                status: runtime.status.clone(),
                latest_version: latest,
                versions_used: versions.len(),
                versions_quota: VERSIONS_QUOTA,
                versions: versions
                    .iter()
                    .map(|version| VersionStatus {
                        version: version.agent_runtime_version().to_owned(),
                        status: version.status().as_str().to_owned(),
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

impl StatusReport {
    fn runtime_rows(&self) -> Vec<Vec<String>> {
        self.runtimes
            .iter()
            .map(|runtime| {
                vec![
                    runtime.runtime_name.clone(),
                    runtime.agent.clone(),
                    runtime.target.clone(),
                    runtime.status.clone(),
                    runtime.latest_version.clone(),
                    format!("{}/{}", runtime.versions_used, runtime.versions_quota),
                    format!("{}/{}", runtime.endpoints_used, runtime.endpoints_quota),
                    runtime.runtime_id.clone(),
                ]
            })
            .collect()
    }

    fn endpoint_rows(&self) -> Vec<Vec<String>> {
        self.runtimes
            .iter()
            .flat_map(|runtime| {
                runtime.endpoints.iter().map(|endpoint| {
                    vec![
                        runtime.runtime_name.clone(),
                        endpoint.name.clone(),
                        endpoint.status.clone(),
                        endpoint.live_version.clone().unwrap_or_else(|| "-".into()),
                        endpoint.target_version.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
            })
            .collect()
    }

    fn version_rows(&self) -> Vec<Vec<String>> {
        self.runtimes
            .iter()
            .map(|runtime| {
                let versions: Vec<String> =
                    runtime.versions.iter().map(|version| format!("v{} {}", version.version, version.status)).collect();
                vec![runtime.runtime_name.clone(), versions.join(", ")]
            })
            .collect()
    }

    /// The step summary: the same three tables as the terminal, in markdown.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "### cargo xtask status\n\nRuntimes in the account: {} of {}\n\n",
            self.runtimes_used, self.runtimes_quota
        );
        if self.runtimes.is_empty() {
            return text + "No runtime of this project.\n";
        }
        text += &markdown_table(RUNTIME_HEADERS, &self.runtime_rows());
        text += "\n";
        text += &markdown_table(ENDPOINT_HEADERS, &self.endpoint_rows());
        text += "\n";
        text += &markdown_table(VERSION_HEADERS, &self.version_rows());
        text
    }
}

const RUNTIME_HEADERS: &[&str] =
    &["RUNTIME", "AGENT", "TARGET", "STATUS", "LATEST", "VERSIONS", "ENDPOINTS", "RUNTIME ID"];
const ENDPOINT_HEADERS: &[&str] = &["RUNTIME", "ENDPOINT", "STATUS", "LIVE", "TARGET"];
const VERSION_HEADERS: &[&str] = &["RUNTIME", "VERSIONS"];

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runtimes in the account: {} of {}", self.runtimes_used, self.runtimes_quota)?;
        if self.runtimes.is_empty() {
            return writeln!(f, "no runtime of this project");
        }
        writeln!(f)?;
        f.write_str(&table(RUNTIME_HEADERS, &self.runtime_rows()))?;
        writeln!(f)?;
        f.write_str(&table(ENDPOINT_HEADERS, &self.endpoint_rows()))?;
        writeln!(f)?;
        f.write_str(&table(VERSION_HEADERS, &self.version_rows()))
    }
}
