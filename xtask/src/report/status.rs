//! What `status` shows: the project's runtimes, their versions and endpoints, and quota use; with
//! `--versions`, why `prune` keeps each version of the prod runtimes.

use std::fmt;

use serde::Serialize;

use super::{Protection, Status, markdown_table, reasons, table};

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Every runtime in the account and region, this project's or not.
    pub runtimes_used: usize,
    pub(crate) runtimes_quota: usize,
    pub runtimes: Vec<RuntimeStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeStatus {
    pub runtime_name: String,
    pub(crate) agent: String,
    /// `pr_<N>` or `prod`.
    pub(crate) target: String,
    pub(crate) runtime_id: String,
    pub(crate) runtime_arn: String,
    pub(crate) status: Status,
    /// The latest version's protocol (`HTTP`, `MCP`, `A2A`, `AGUI`), and its port and path when
    /// it sets them.
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub(crate) latest_version: String,
    pub versions: Vec<VersionStatus>,
    pub versions_used: usize,
    pub(crate) versions_quota: usize,
    /// The latest version's settings (network, auth, lifecycle, …); `None` when it vanished meanwhile.
    pub settings: Option<RuntimeSettings>,
    pub endpoints: Vec<EndpointStatus>,
    pub(crate) endpoints_used: usize,
    pub(crate) endpoints_quota: usize,
    /// With `--versions`, on a prod runtime: the newest versions `prune` keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune_keep: Option<u32>,
}

/// A version's settings as AgentCore reports them (GetAgentRuntime), left out when unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeSettings {
    /// `PUBLIC` (also when AgentCore reports no network configuration) or `VPC`.
    pub network_mode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `IAM` (SigV4, the default) or `JWT` (a custom JWT authorizer).
    pub auth: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_audiences: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_scopes: Vec<String>,
    pub idle_timeout_secs: Option<i64>,
    pub max_lifetime_secs: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<String>,
    pub platform_version: Option<String>,
    /// `8081`, or `9000-9010` for a range.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_ports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_memory_mib: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionStatus {
    pub version: String,
    pub(crate) status: Status,
    /// With `--versions`, on a prod runtime: why `prune` keeps it (empty: it would be deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected_by: Option<Vec<Protection>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub name: String,
    pub(crate) status: Status,
    pub live_version: Option<String>,
    pub(crate) target_version: Option<String>,
}

impl RuntimeStatus {
    /// The protocol as the tables show it: with its port and path when the version sets them
    /// (`MCP :9100 /tools`).
    fn protocol_text(&self) -> String {
        let mut text = self.protocol.clone();
        if let Some(port) = self.port {
            text += &format!(" :{port}");
        }
        if let Some(path) = &self.path {
            text += &format!(" {path}");
        }
        text
    }
}

impl StatusReport {
    /// Prints the report on stdout, and writes the `status` GitHub output and the step summary.
    pub(crate) fn publish(&self, json: bool, github: &crate::output::GithubFiles) -> anyhow::Result<()> {
        crate::output::emit(json, self)?;
        crate::output::github_output(github, "status", &serde_json::to_string(self)?)?;
        crate::output::step_summary(github, &self.markdown())
    }

    fn runtime_rows(&self) -> Vec<Vec<String>> {
        self.runtimes
            .iter()
            .map(|runtime| {
                vec![
                    runtime.runtime_name.clone(),
                    runtime.agent.clone(),
                    runtime.target.clone(),
                    runtime.protocol_text(),
                    runtime.status.to_string(),
                    runtime.latest_version.clone(),
                    format!("{}/{}", runtime.versions_used, runtime.versions_quota),
                    format!("{}/{}", runtime.endpoints_used, runtime.endpoints_quota),
                    runtime.settings.as_ref().map_or("-", |settings| settings.network_mode.as_str()).to_owned(),
                    runtime.settings.as_ref().map_or("-", |settings| settings.auth.as_str()).to_owned(),
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
                        endpoint.status.to_string(),
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

    /// With `--versions`: each version of the prod runtimes, and why `prune` keeps it.
    fn protected_rows(&self) -> Vec<Vec<String>> {
        self.runtimes
            .iter()
            .filter(|runtime| runtime.prune_keep.is_some())
            .flat_map(|runtime| {
                runtime.versions.iter().map(|version| {
                    let protected_by = version.protected_by.as_deref().unwrap_or_default();
                    let prune = if protected_by.is_empty() { "delete" } else { "keep" };
                    vec![
                        runtime.runtime_name.clone(),
                        version.version.clone(),
                        version.status.to_string(),
                        prune.to_owned(),
                        reasons(protected_by),
                    ]
                })
            })
            .collect()
    }

    /// The step summary: the same tables as the terminal, in markdown.
    pub(crate) fn markdown(&self) -> String {
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
        let protected = self.protected_rows();
        if !protected.is_empty() {
            text += "\n";
            text += &markdown_table(PROTECTED_HEADERS, &protected);
        }
        text
    }
}

const RUNTIME_HEADERS: &[&str] = &[
    "RUNTIME",
    "AGENT",
    "TARGET",
    "PROTOCOL",
    "STATUS",
    "LATEST",
    "VERSIONS",
    "ENDPOINTS",
    "NETWORK",
    "AUTH",
    "RUNTIME ID",
];
const ENDPOINT_HEADERS: &[&str] = &["RUNTIME", "ENDPOINT", "STATUS", "LIVE", "TARGET"];
const VERSION_HEADERS: &[&str] = &["RUNTIME", "VERSIONS"];
const PROTECTED_HEADERS: &[&str] = &["RUNTIME", "VERSION", "STATUS", "PRUNE", "WHY"];

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
        f.write_str(&table(VERSION_HEADERS, &self.version_rows()))?;
        let protected = self.protected_rows();
        if !protected.is_empty() {
            writeln!(f)?;
            f.write_str(&table(PROTECTED_HEADERS, &protected))?;
        }
        Ok(())
    }
}
