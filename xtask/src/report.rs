//! The result model of every release command: typed actions and statuses, one plan type for dry
//! runs, and results that print as tables (`Display`), as JSON (`Serialize`: `--json` and the
//! GitHub outputs) and as markdown (step summaries and the workflows' comments).
//!
//! The JSON is an interface the workflows read: every enum serializes to the same words as the free
//! strings it replaced.

mod cleanup;
mod deploy;
mod plan;
mod promote;
mod prune;
mod smoke;
mod status;
mod step;

use std::fmt;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::output::GithubFiles;

pub(crate) use cleanup::{CleanupAction, CleanupOutcome};
pub(crate) use deploy::DeployStatus;
pub use deploy::{ArtifactSource, DeployAction, DeployOutcome};
pub(crate) use plan::{Plan, TagChanges};
pub(crate) use promote::PromotionKind;
pub use promote::{PromoteAction, PromoteOutcome, PromoteSmoke};
pub use prune::reasons;
pub use prune::{Protection, PruneAction, PruneOutcome, VersionVerdict};
pub use smoke::SmokeResult;
pub(crate) use status::{EndpointStatus, RuntimeStatus, StatusReport};
pub use status::{RuntimeSettings, VersionStatus};
pub use step::StepReport;
pub use step::{AskedVersion, IdlePreview, IssueFate, IssueReport};
pub(crate) use step::{Step, StepResult};

/// An enum of fixed words: each variant is one word in tables, JSON and records. Generates
/// `as_str`, `Display`, `FromStr`, serde both ways, and comparison with a `&str`.
macro_rules! words {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub(crate) const ALL: &[$name] = &[$($name::$variant),+];

            $vis fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<$name, String> {
                $name::ALL.iter().copied().find(|value| value.as_str() == text).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map($name::as_str).collect();
                    format!("`{}` is not one of {}", text.escape_default(), known.join(", "))
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use words;

/// For a type that any text reads as (`From<&str>`, keeping what it does not know) and that shows
/// as its `as_str`: `Display`, serde both ways, and comparison with a `&str`.
macro_rules! text {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                Ok($name::from(<String as serde::Deserialize>::deserialize(deserializer)?.as_str()))
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use text;

/// A runtime's, a version's or an endpoint's status as AgentCore reports it. A status this tool
/// does not know yet is kept as AgentCore wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Creating,
    CreateFailed,
    Updating,
    UpdateFailed,
    Ready,
    Deleting,
    DeleteFailed,
    Other(String),
}

impl Status {
    const KNOWN: [Status; 7] = [
        Status::Creating,
        Status::CreateFailed,
        Status::Updating,
        Status::UpdateFailed,
        Status::Ready,
        Status::Deleting,
        Status::DeleteFailed,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Status::Creating => "CREATING",
            Status::CreateFailed => "CREATE_FAILED",
            Status::Updating => "UPDATING",
            Status::UpdateFailed => "UPDATE_FAILED",
            Status::Ready => "READY",
            Status::Deleting => "DELETING",
            Status::DeleteFailed => "DELETE_FAILED",
            Status::Other(text) => text,
        }
    }
}

impl From<&str> for Status {
    fn from(text: &str) -> Status {
        Status::KNOWN.into_iter().find(|known| known.as_str() == text).unwrap_or_else(|| Status::Other(text.to_owned()))
    }
}

text!(Status);

/// One item's result in a report: the outcome, or the error that stopped it.
#[derive(Debug, Serialize)]
pub struct Entry<T> {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The results of one release command over several agents or runtimes.
#[derive(Debug, Serialize)]
pub struct Report<T> {
    pub(crate) command: String,
    pub results: Vec<Entry<T>>,
    pub failed: usize,
}

/// A row of the human table and the step summary.
pub trait Row {
    fn headers() -> &'static [&'static str];
    fn cells(&self) -> Vec<String>;
    /// The table rows of this item: one, its cells, unless an item shows as several (prune: a row
    /// per version).
    fn rows(&self) -> Vec<Vec<String>> {
        vec![self.cells()]
    }
    /// With --dry-run: what would be done, printed under the table.
    fn plan(&self) -> Option<&Plan>;
    /// A last column shown only when some row fills it: its header.
    fn optional_header() -> &'static str {
        ""
    }
    /// This row's cell of the optional column, when it has one.
    fn optional_cell(&self) -> Option<String> {
        None
    }
    /// Why an outcome that was reached still counts as a failure (a failed smoke test).
    fn failure(&self) -> Option<String> {
        None
    }
}

impl<T: Row + Serialize> Report<T> {
    pub fn new(command: &str, names: impl IntoIterator<Item = String>, results: Vec<Result<T>>) -> Report<T> {
        let results: Vec<Entry<T>> = names
            .into_iter()
            .zip(results)
            .map(|(name, result)| match result {
                Ok(outcome) => {
                    let error = outcome.failure();
                    Entry { name, ok: error.is_none(), outcome: Some(outcome), error }
                }
                // The entry names the item; the error only says why.
                Err(err) => Entry { name, ok: false, outcome: None, error: Some(format!("{err:#}")) },
            })
            .collect();
        let failed = results.iter().filter(|entry| !entry.ok).count();
        Report { command: command.to_owned(), results, failed }
    }

    /// Prints the report on stdout, writes the GitHub outputs, and fails when any item failed.
    pub(crate) fn publish(&self, json: bool, github: &GithubFiles) -> Result<()> {
        crate::output::emit(json, self)?;
        crate::output::github_output(github, &self.command, &serde_json::to_string(self)?)?;
        crate::output::github_output(github, "failed", &self.failed.to_string())?;
        crate::output::step_summary(github, &self.markdown())?;
        if self.failed > 0 {
            let names: Vec<&str> =
                self.results.iter().filter(|entry| !entry.ok).map(|entry| entry.name.as_str()).collect();
            bail!("{} of {} failed ({}); the reasons are above", self.failed, self.results.len(), names.join(", "));
        }
        Ok(())
    }

    fn outcomes(&self) -> impl Iterator<Item = &T> {
        self.results.iter().filter_map(|entry| entry.outcome.as_ref())
    }

    /// Whether the optional column shows: when some row fills it.
    fn optional(&self) -> bool {
        self.outcomes().any(|outcome| outcome.optional_cell().is_some())
    }

    fn headers(&self) -> Vec<&'static str> {
        let mut headers = T::headers().to_vec();
        if self.optional() {
            headers.push(T::optional_header());
        }
        headers
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let optional = self.optional();
        self.outcomes()
            .flat_map(|outcome| {
                outcome.rows().into_iter().map(move |mut cells| {
                    if optional {
                        cells.push(outcome.optional_cell().unwrap_or_else(|| "-".to_owned()));
                    }
                    cells
                })
            })
            .collect()
    }

    /// The step summary: the table, each plan of a dry run, each failure and the totals.
    pub(crate) fn markdown(&self) -> String {
        let mut text = format!("### cargo xtask {}\n\n", self.command);
        let rows = self.rows();
        if !rows.is_empty() {
            text += &markdown_table(&self.headers(), &rows);
        }
        let plans: Vec<String> = self
            .results
            .iter()
            .filter_map(|entry| Some(format!("- plan for `{}`: {}\n", entry.name, entry.outcome.as_ref()?.plan()?)))
            .collect();
        if !plans.is_empty() {
            text += &format!("\nDry run, nothing was changed:\n\n{}", plans.concat());
        }
        for entry in self.results.iter().filter(|entry| !entry.ok) {
            text += &format!("\n**{} failed:** {}\n", entry.name, entry.error.as_deref().unwrap_or_default());
        }
        let done = self.results.len() - self.failed;
        text += &format!("\n{done} succeeded, {} failed\n", self.failed);
        text
    }
}

impl<T: Row + Serialize> fmt::Display for Report<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows();
        if !rows.is_empty() {
            f.write_str(&table(&self.headers(), &rows))?;
        }
        for entry in &self.results {
            if let Some(plan) = entry.outcome.as_ref().and_then(|outcome| outcome.plan()) {
                writeln!(f, "plan for {}: {plan}", entry.name)?;
            }
        }
        for entry in self.results.iter().filter(|entry| !entry.ok) {
            writeln!(f, "FAILED {}: {}", entry.name, entry.error.as_deref().unwrap_or_default())?;
        }
        let done = self.results.len() - self.failed;
        writeln!(f, "{}: {done} succeeded, {} failed", self.command, self.failed)
    }
}

/// A plain text table with columns padded to their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}", width = *width)).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text += &line(row.iter().map(String::as_str).collect());
    }
    text
}

/// A markdown table; `|` and line breaks inside cells are escaped so a cell stays one cell.
pub(crate) fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let escape = |cell: &str| cell.replace('|', "\\|").replace(['\r', '\n'], " ");
    let mut text = format!("| {} |\n|{}\n", headers.join(" | "), " --- |".repeat(headers.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|cell| escape(cell)).collect();
        text += &format!("| {} |\n", cells.join(" | "));
    }
    text
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AbCdE12345";
    const SHA: &str = "490a7c8306d3bee83d525e7fc6d2573a999bfe18d4f786e951dcbf343d84f067";
    const COMMIT: &str = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

    /// What a user and a workflow see of one result: the JSON of `--json` and the GitHub outputs,
    /// then the table, then the step summary when there is one.
    fn shown(value: &(impl Serialize + fmt::Display), markdown: Option<String>) -> String {
        let json = serde_json::to_string_pretty(value).unwrap();
        let mut text = format!("{json}\n\n{value}");
        if let Some(markdown) = markdown {
            text += &format!("\n{markdown}");
        }
        text
    }

    fn arn(runtime: &str) -> String {
        format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{runtime}-{ID}")
    }

    fn deployed(agent: &str, runtime: &str, version: &str, action: DeployAction) -> DeployOutcome {
        DeployOutcome {
            agent: agent.into(),
            runtime_name: runtime.into(),
            runtime_id: Some(format!("{runtime}-{ID}")),
            runtime_arn: Some(arn(runtime)),
            version: Some(version.into()),
            status: DeployStatus::Version(Status::Ready),
            action,
            default_endpoint: Some(format!("{}/runtime-endpoint/DEFAULT", arn(runtime))),
            s3_key: Some(format!("{runtime}/v{version}/code.zip")),
            zip_sha256: SHA.into(),
            commit: Some(COMMIT.into()),
            plan: None,
            record_key: Some(format!("{runtime}/v{version}/record.json")),
            smoke: None,
            source: None,
        }
    }

    #[test]
    fn deploy_report() {
        let planned = DeployOutcome {
            runtime_id: None,
            runtime_arn: None,
            version: None,
            status: DeployStatus::Create,
            default_endpoint: None,
            record_key: None,
            plan: Some(Plan::CreateRuntime {
                bucket: "agentcore-artifacts-123456789012".into(),
                code_key: "weather_bot_pr_12/v1/code.zip".into(),
                runtime: "weather_bot_pr_12".into(),
                tags: TagChanges::between(&[("team".to_owned(), "weather".to_owned())].into(), &Default::default()),
            }),
            ..deployed("weather_bot", "weather_bot_pr_12", "1", DeployAction::Planned)
        };
        // A dry run of a runtime that exists leaves it unchanged; of one that does not, creates it.
        let update = DeployOutcome {
            version: None,
            status: DeployStatus::Unchanged,
            default_endpoint: None,
            record_key: None,
            plan: Some(Plan::UpdateRuntime {
                bucket: "agentcore-artifacts-123456789012".into(),
                code_key: "news_bot_pr_12/v4/code.zip".into(),
                runtime: "news_bot_pr_12".into(),
                version: 4,
                tags: TagChanges::between(
                    &[("team".to_owned(), "news".to_owned()), ("owner".to_owned(), "desk 2".to_owned())].into(),
                    &[("owner".to_owned(), "desk 1".to_owned()), ("cost".to_owned(), "7".to_owned())].into(),
                ),
            }),
            ..deployed("news_bot", "news_bot_pr_12", "4", DeployAction::Planned)
        };
        let results = vec![
            Ok(deployed("dad_joke_bot", "dad_joke_bot_pr_12", "1", DeployAction::Created)),
            Ok(deployed("motivational_quotes_bot", "motivational_quotes_bot_pr_12", "3", DeployAction::UpToDate)),
            Ok(planned),
            Ok(update),
            Err(anyhow::anyhow!("bucket agentcore-artifacts-123456789012 does not exist")),
        ];
        let names =
            ["dad_joke_bot", "motivational_quotes_bot", "weather_bot", "news_bot", "broken_bot"].map(str::to_owned);
        let report = Report::new("deploy", names, results);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    fn promoted(action: PromoteAction, from: Option<&str>, to: &str) -> PromoteOutcome {
        PromoteOutcome {
            agent: "dad_joke_bot".into(),
            runtime_name: "dad_joke_bot_prod".into(),
            endpoint: "prod".into(),
            previous_version: from.map(str::to_owned),
            live_version: to.into(),
            action,
            runtime_id: format!("dad_joke_bot_prod-{ID}"),
            endpoint_arn: Some(format!("{}/runtime-endpoint/prod", arn("dad_joke_bot_prod"))),
            record_key: Some(format!("dad_joke_bot_prod/promotions/prod/20261125T174711123Z-v{to}.json")),
            plan: None,
            smoke: None,
        }
    }

    #[test]
    fn promote_report() {
        let planned = PromoteOutcome {
            record_key: None,
            plan: Some(Plan::MoveEndpoint {
                endpoint: "prod".into(),
                runtime: "dad_joke_bot_prod".into(),
                from: Some("2".into()),
                to: "3".into(),
            }),
            ..promoted(PromoteAction::Planned, Some("2"), "2")
        };
        let results = vec![
            Ok(promoted(PromoteAction::Promoted, Some("1"), "2")),
            Ok(PromoteOutcome { record_key: None, ..promoted(PromoteAction::AlreadyLive, Some("2"), "2") }),
            Ok(planned),
        ];
        let report = Report::new("promote", ["dad_joke_bot"; 3].map(str::to_owned), results);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn rollback_report() {
        let results = vec![Ok(PromoteOutcome { plan: None, ..promoted(PromoteAction::RolledBack, Some("2"), "1") })];
        let report = Report::new("rollback", ["dad_joke_bot".to_owned()], results);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn cleanup_report() {
        let runtime_id = format!("dad_joke_bot_pr_12-{ID}");
        let results = vec![
            Ok(CleanupOutcome {
                runtime_name: "dad_joke_bot_pr_12".into(),
                endpoints_deleted: vec!["preview".into(), "qa".into()],
                action: CleanupAction::Deleted,
                runtime_id: Some(runtime_id.clone()),
                plan: None,
            }),
            Ok(CleanupOutcome {
                runtime_name: "motivational_quotes_bot_pr_12".into(),
                endpoints_deleted: vec![],
                action: CleanupAction::AlreadyGone,
                runtime_id: None,
                plan: None,
            }),
            Ok(CleanupOutcome {
                runtime_name: "dad_joke_bot_prod".into(),
                endpoints_deleted: vec!["prod".into()],
                action: CleanupAction::Planned,
                runtime_id: Some(format!("dad_joke_bot_prod-{ID}")),
                plan: Some(Plan::DeleteRuntime {
                    runtime: "dad_joke_bot_prod".into(),
                    runtime_id: format!("dad_joke_bot_prod-{ID}"),
                    endpoints: vec!["prod".into()],
                }),
            }),
        ];
        let names = ["dad_joke_bot_pr_12", "motivational_quotes_bot_pr_12", "dad_joke_bot_prod"].map(str::to_owned);
        let report = Report::new("cleanup", names, results);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn status_report() {
        let endpoint = |name: &str, status: Status, live: &str| EndpointStatus {
            name: name.into(),
            status,
            live_version: Some(live.into()),
            target_version: Some(live.into()),
        };
        let version =
            |version: &str, status: Status| VersionStatus { version: version.into(), status, protected_by: None };
        let report = StatusReport {
            runtimes_used: 7,
            runtimes_quota: 1000,
            runtimes: vec![
                RuntimeStatus {
                    runtime_name: "dad_joke_bot_prod".into(),
                    agent: "dad_joke_bot".into(),
                    target: "prod".into(),
                    runtime_id: format!("dad_joke_bot_prod-{ID}"),
                    runtime_arn: arn("dad_joke_bot_prod"),
                    status: Status::Updating,
                    protocol: "HTTP".into(),
                    port: None,
                    path: None,
                    latest_version: "3".into(),
                    versions: vec![
                        version("1", Status::Ready),
                        version("2", Status::UpdateFailed),
                        version("3", Status::Updating),
                    ],
                    versions_used: 3,
                    versions_quota: 1000,
                    endpoints: vec![
                        endpoint("DEFAULT", Status::Updating, "1"),
                        endpoint("prod", Status::Ready, "1"),
                        endpoint("canary", Status::Other("PAUSED".into()), "1"),
                    ],
                    endpoints_used: 3,
                    endpoints_quota: 10,
                    settings: Some(RuntimeSettings {
                        network_mode: "VPC".into(),
                        subnets: vec!["subnet-0123456789abcdef0".into()],
                        security_groups: vec!["sg-0123456789abcdef0".into()],
                        auth: "JWT".into(),
                        discovery_url: Some("https://idp.example.com/.well-known/openid-configuration".into()),
                        allowed_audiences: vec![],
                        allowed_clients: vec!["web".into()],
                        allowed_scopes: vec![],
                        idle_timeout_secs: Some(600),
                        max_lifetime_secs: Some(3600),
                        request_headers: vec![],
                        platform_version: Some("V1".into()),
                        allowed_ports: vec![],
                        min_memory_mib: None,
                    }),
                    prune_keep: None,
                },
                RuntimeStatus {
                    runtime_name: "unit_tools_pr_12".into(),
                    agent: "unit_tools".into(),
                    target: "pr_12".into(),
                    runtime_id: format!("unit_tools_pr_12-{ID}"),
                    runtime_arn: arn("unit_tools_pr_12"),
                    status: Status::Ready,
                    protocol: "MCP".into(),
                    port: Some(9100),
                    path: Some("/tools".into()),
                    latest_version: "1".into(),
                    versions: vec![version("1", Status::Ready)],
                    versions_used: 1,
                    versions_quota: 1000,
                    endpoints: vec![endpoint("DEFAULT", Status::Ready, "1")],
                    endpoints_used: 1,
                    endpoints_quota: 10,
                    settings: Some(RuntimeSettings {
                        network_mode: "PUBLIC".into(),
                        subnets: vec![],
                        security_groups: vec![],
                        auth: "IAM".into(),
                        discovery_url: None,
                        allowed_audiences: vec![],
                        allowed_clients: vec![],
                        allowed_scopes: vec![],
                        idle_timeout_secs: Some(900),
                        max_lifetime_secs: Some(28800),
                        request_headers: vec![],
                        platform_version: Some("V2".into()),
                        allowed_ports: vec![],
                        min_memory_mib: None,
                    }),
                    prune_keep: None,
                },
            ],
        };
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn status_versions_report() {
        let protected = pruned(PruneAction::Planned);
        let versions: Vec<VersionStatus> = protected
            .versions
            .iter()
            .map(|verdict| VersionStatus {
                version: verdict.version.to_string(),
                status: Status::Ready,
                protected_by: Some(verdict.protected_by.clone()),
            })
            .collect();
        let endpoint = |name: &str, live: &str| EndpointStatus {
            name: name.into(),
            status: Status::Ready,
            live_version: Some(live.into()),
            target_version: Some(live.into()),
        };
        let runtime =
            |name: &str, versions: Vec<VersionStatus>, endpoints: Vec<EndpointStatus>, prune_keep| RuntimeStatus {
                runtime_name: name.into(),
                agent: "dad_joke_bot".into(),
                target: name.trim_start_matches("dad_joke_bot_").into(),
                runtime_id: format!("{name}-{ID}"),
                runtime_arn: arn(name),
                status: Status::Ready,
                protocol: "HTTP".into(),
                port: None,
                path: None,
                settings: None,
                latest_version: versions.last().map(|version| version.version.clone()).unwrap_or_default(),
                versions_used: versions.len(),
                versions_quota: 1000,
                versions,
                endpoints_used: endpoints.len(),
                endpoints,
                endpoints_quota: 10,
                prune_keep,
            };
        let preview = vec![VersionStatus { version: "1".into(), status: Status::Ready, protected_by: None }];
        let report = StatusReport {
            runtimes_used: 2,
            runtimes_quota: 1000,
            runtimes: vec![
                runtime("dad_joke_bot_pr_12", preview, vec![endpoint("DEFAULT", "1")], None),
                runtime("dad_joke_bot_prod", versions, vec![endpoint("DEFAULT", "7"), endpoint("prod", "4")], Some(3)),
            ],
        };
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    fn verdict(version: u32, action: PruneAction, protected_by: Vec<Protection>) -> VersionVerdict {
        let status = if action == PruneAction::Deleted { Status::Deleting } else { Status::Ready };
        VersionVerdict { version, status, action, protected_by, error: None }
    }

    fn pruned(action: PruneAction) -> PruneOutcome {
        let newest = || Protection::Newest { keep: 3 };
        let endpoint = |name: &str| Protection::Endpoint { endpoint: name.into(), live: true, target: true };
        let rollback =
            || Protection::RollbackTarget { endpoint: "prod".into(), promotion: "2026-11-25T17:47:11.123Z".into() };
        PruneOutcome {
            agent: "dad_joke_bot".into(),
            runtime_name: "dad_joke_bot_prod".into(),
            runtime_id: Some(format!("dad_joke_bot_prod-{ID}")),
            keep: 3,
            versions: vec![
                verdict(1, action, vec![]),
                verdict(2, PruneAction::Kept, vec![rollback()]),
                verdict(3, action, vec![]),
                verdict(4, PruneAction::Kept, vec![endpoint("prod"), rollback()]),
                verdict(5, PruneAction::Kept, vec![newest()]),
                verdict(6, PruneAction::Kept, vec![newest()]),
                verdict(7, PruneAction::Kept, vec![endpoint("DEFAULT"), newest()]),
            ],
            plan: None,
        }
    }

    #[test]
    fn prune_report() {
        let mut failed = pruned(PruneAction::Deleted);
        failed.agent = "weather_bot".into();
        failed.runtime_name = "weather_bot_prod".into();
        failed.runtime_id = Some(format!("weather_bot_prod-{ID}"));
        failed.versions[2] = VersionVerdict {
            action: PruneAction::Failed,
            error: Some(
                "DeleteAgentRuntime on version 3 of runtime weather_bot_prod failed: ThrottlingException".into(),
            ),
            ..verdict(3, PruneAction::Failed, vec![])
        };
        let missing = PruneOutcome {
            agent: "news_bot".into(),
            runtime_name: "news_bot_prod".into(),
            runtime_id: None,
            keep: 3,
            versions: vec![],
            plan: None,
        };
        let results = vec![Ok(pruned(PruneAction::Deleted)), Ok(failed), Ok(missing)];
        let report = Report::new("prune", ["dad_joke_bot", "weather_bot", "news_bot"].map(str::to_owned), results);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn prune_dry_run_report() {
        let planned = PruneOutcome {
            plan: Some(Plan::DeleteVersions { runtime: "dad_joke_bot_prod".into(), versions: vec![1, 3] }),
            ..pruned(PruneAction::Planned)
        };
        let report = Report::new("prune", ["dad_joke_bot".to_owned()], vec![Ok(planned)]);
        insta::assert_snapshot!(shown(&report, Some(report.markdown())));
    }

    #[test]
    fn step_reports() {
        let step = |step: Step, result: StepResult, pr: Option<u64>, agents: &[&str], deleted: &[&str]| StepReport {
            pr,
            agents: agents.iter().map(|agent| agent.to_string()).collect(),
            deleted: deleted.iter().map(|runtime| runtime.to_string()).collect(),
            ..StepReport::new(step, result)
        };
        let comment = "<!-- agentcore:pr-comment -->\n## AgentCore preview of PR #12\n".to_owned();
        let reports = [
            step(Step::PrPlan, StepResult::Planned, Some(12), &["dad_joke_bot"], &[]),
            StepReport {
                markdown: Some(comment.clone()),
                ..step(Step::PrDeploy, StepResult::Deployed, Some(12), &["dad_joke_bot"], &[])
            },
            StepReport {
                markdown: Some(comment),
                ..step(Step::PrComment, StepResult::Failed, Some(12), &["dad_joke_bot", "weather_bot"], &[])
            },
            step(Step::ProdDeploy, StepResult::Issue, Some(12), &["dad_joke_bot"], &[]),
            step(Step::Promote, StepResult::Promoted, Some(12), &["dad_joke_bot"], &["dad_joke_bot_pr_12"]),
            step(Step::Promote, StepResult::RolledBack, None, &["dad_joke_bot"], &[]),
            step(Step::PrClosed, StepResult::Kept, Some(12), &[], &[]),
            step(Step::Gc, StepResult::Deleted, None, &[], &["dad_joke_bot_pr_9", "weather_bot_pr_9"]),
            StepReport {
                issues: vec![
                    IssueReport {
                        issue: 40,
                        fate: IssueFate::Superseded,
                        pr: Some(11),
                        versions: vec![AskedVersion { agent: "dad_joke_bot".into(), version: 2, live: Some(3) }],
                        deleted: vec!["dad_joke_bot_pr_11".into()],
                        reason: None,
                    },
                    IssueReport {
                        issue: 42,
                        fate: IssueFate::Waiting,
                        pr: None,
                        versions: vec![AskedVersion { agent: "dad_joke_bot".into(), version: 4, live: Some(3) }],
                        deleted: vec![],
                        reason: Some("it asks for `dad_joke_bot` v4 (live: v3), newer than what is live".into()),
                    },
                ],
                idle: vec![IdlePreview { pr: 30, idle_days: 20, deleted: vec!["dad_joke_bot_pr_30".into()] }],
                ..step(Step::Gc, StepResult::Deleted, None, &[], &[])
            },
        ];
        let shown: Vec<String> = reports.iter().map(|report| shown(report, None)).collect();
        insta::assert_snapshot!(shown.join("\n"));
    }

    /// The words are the interface: each reads back as itself, and anything else is refused.
    #[test]
    fn words_read_back_and_unknown_ones_are_refused() {
        fn round_trip<T: Serialize + serde::de::DeserializeOwned + fmt::Debug + PartialEq>(all: &[T]) {
            for value in all {
                let json = serde_json::to_string(value).unwrap();
                assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value, "{json}");
            }
            assert!(serde_json::from_str::<T>("\"<b>pwned</b>\"").is_err());
        }
        round_trip(DeployAction::ALL);
        round_trip(PromoteAction::ALL);
        round_trip(PromotionKind::ALL);
        round_trip(CleanupAction::ALL);
        round_trip(Step::ALL);
        round_trip(StepResult::ALL);
        round_trip(IssueFate::ALL);
        assert_eq!("up_to_date".parse::<DeployAction>(), Ok(DeployAction::UpToDate));
        assert_eq!(
            "done".parse::<DeployAction>().unwrap_err(),
            "`done` is not one of created, updated, up_to_date, planned"
        );
        for status in Status::KNOWN {
            assert_eq!(Status::from(status.as_str()), status);
        }
        assert_eq!(Status::from("PAUSED"), Status::Other("PAUSED".into()));
        assert_eq!(DeployStatus::from("unchanged"), DeployStatus::Unchanged);
        assert_eq!(DeployStatus::from("create"), DeployStatus::Create);
        assert_eq!(DeployStatus::from("READY"), DeployStatus::Version(Status::Ready));
    }

    #[test]
    fn table_pads_columns() {
        let text = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["b".into(), "y".into()]]);
        assert_eq!(text, "A          LONGER\nwide cell  x\nb          y\n");
    }
}
