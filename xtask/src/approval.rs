//! The approval policy: which version an endpoint may be moved to. The version must exist and be
//! READY, and for an approval (not a rollback) it must not be older than the one the endpoint
//! serves. `promote`, `rollback` and the workflow's `github promote` each hold a version to it once,
//! before anything moves; each words a refusal for its own reader. The same policy says when a
//! deployment issue is superseded: approving it would change nothing or be refused as older.

use anyhow::{Result, anyhow};

use crate::aws::{self, AwsClients};
use crate::report::Status;

/// A version that passed the policy, with what AgentCore said about it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) agent: String,
    pub(crate) runtime_name: String,
    pub(crate) runtime_id: String,
    pub(crate) endpoint: String,
    pub(crate) version: u32,
    /// The S3 key the version runs from, as AgentCore reports it.
    pub(crate) artifact_key: Option<String>,
    /// The version the endpoint served when checked, when the check read it (for an approval).
    pub(crate) live: Option<u32>,
}

impl Candidate {
    /// Whether a later promotion superseded this version: the endpoint serves it already, or a
    /// newer one (which an approval of it would refuse to move back from).
    pub(crate) fn superseded(&self) -> bool {
        self.live.is_some_and(|live| live >= self.version)
    }
}

/// What a candidate must not be older than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// An approval: a version older than the live one is refused, so a replayed old approval cannot
    /// roll production back.
    Forward,
    /// A rollback or an explicit move: any READY version.
    Any,
}

/// Why the policy refuses a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) agent: String,
    pub(crate) runtime_name: String,
    pub(crate) endpoint: String,
    pub(crate) version: u32,
    pub(crate) reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No runtime of that name: it was never deployed to prod.
    NoRuntime,
    /// The runtime has no such version; `latest` is its newest.
    NoVersion { latest: Option<String> },
    /// The version is not READY (it failed, or is still being made).
    NotReady { status: Status, failure: Option<String> },
    /// The endpoint serves a newer version.
    OlderThanLive { live: u32 },
}

/// The `status` command that shows `agent`'s runtime in the environment `env_flag` names: `status`
/// has no `--prod` (prod's place is the workspace's), but takes `--env NAME`.
pub(crate) fn status_command(agent: &str, env_flag: &str) -> String {
    match env_flag {
        "--prod" => format!("cargo xtask status {agent}"),
        flag => format!("cargo xtask status {agent} {flag}"),
    }
}

impl Refusal {
    /// The refusal as `cargo xtask promote` and `rollback` print it; `env_flag` names the runtime's
    /// environment in the hints (`Ctx::env_flag`: `--prod`, `--env NAME`).
    pub(crate) fn for_cli(&self, env_flag: &str) -> String {
        let Refusal { agent, runtime_name: runtime, endpoint, version, reason } = self;
        match reason {
            Reason::NoRuntime => missing_runtime(agent, runtime, env_flag),
            Reason::NoVersion { latest } => format!(
                "version {version} of runtime {runtime} does not exist (latest is {}); list versions with `{}`",
                latest.as_deref().unwrap_or("none"),
                status_command(agent, env_flag)
            ),
            Reason::NotReady { status, failure } => format!(
                "version {version} of runtime {runtime} is {status}, not READY{}; promote a READY version",
                failure.as_ref().map(|reason| format!(" ({reason})")).unwrap_or_default()
            ),
            Reason::OlderThanLive { live } => format!(
                "endpoint {endpoint} of {runtime} serves version {live}, newer than {version}; refusing to move it back (use `cargo xtask rollback` for that)"
            ),
        }
    }

    /// The refusal as the deployment issue's comment shows it; `env_flag` as in [`Refusal::for_cli`].
    pub(crate) fn for_approval(&self, env_flag: &str) -> String {
        let Refusal { agent, runtime_name: runtime, endpoint, version, reason } = self;
        match reason {
            Reason::NoRuntime => {
                format!(
                    "runtime `{runtime}` does not exist; deploy it with `cargo xtask deploy {agent} {env_flag}` first"
                )
            }
            Reason::NoVersion { .. } => format!("runtime `{runtime}` has no version {version}"),
            Reason::NotReady { status, .. } => format!("version {version} of `{runtime}` is {status}, not READY"),
            Reason::OlderThanLive { live } => format!(
                "`{endpoint}` of `{runtime}` serves version {live}, newer than {version}; an old approval cannot roll production back (run the rollback workflow instead)"
            ),
        }
    }
}

/// A check's candidate, or its refusal as an error in the words `words` gives it.
pub(crate) fn worded(
    checked: Result<Result<Candidate, Refusal>>,
    words: impl FnOnce(&Refusal) -> String,
) -> Result<Candidate> {
    checked?.map_err(|refusal| anyhow!(words(&refusal)))
}

/// How `cargo xtask` says that an agent's long-lived runtime does not exist; `env_flag` names its
/// environment (`Ctx::env_flag`).
pub(crate) fn missing_runtime(agent: &str, runtime_name: &str, env_flag: &str) -> String {
    format!("runtime {runtime_name} does not exist; deploy it first with `cargo xtask deploy {agent} {env_flag}`")
}

/// Holds `version` of `agent`'s runtime `runtime_name` to the policy, for a move of `endpoint`.
/// `Err` when AgentCore could not be asked; `Ok(Err)` when the policy refuses. Changes nothing.
pub(crate) async fn check(
    aws: &AwsClients,
    agent: &str,
    runtime_name: &str,
    endpoint: &str,
    version: u32,
    direction: Direction,
) -> Result<Result<Candidate, Refusal>> {
    let candidate = match look_up(aws, agent, runtime_name, endpoint, version, direction == Direction::Forward).await? {
        Ok(candidate) => candidate,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(live) = candidate.live
        && live > version
    {
        return Ok(Err(refusal(&candidate, Reason::OlderThanLive { live })));
    }
    Ok(Ok(candidate))
}

/// Where `version` stands against the live version, for a deployment issue a later promotion may
/// have superseded ([`Candidate::superseded`]): it must exist and be READY, as for an approval, and
/// the live version is read; one older than it is not refused. Changes nothing.
pub(crate) async fn standing(
    aws: &AwsClients,
    agent: &str,
    runtime_name: &str,
    endpoint: &str,
    version: u32,
) -> Result<Result<Candidate, Refusal>> {
    look_up(aws, agent, runtime_name, endpoint, version, true).await
}

fn refusal(candidate: &Candidate, reason: Reason) -> Refusal {
    Refusal {
        agent: candidate.agent.clone(),
        runtime_name: candidate.runtime_name.clone(),
        endpoint: candidate.endpoint.clone(),
        version: candidate.version,
        reason,
    }
}

/// The version as AgentCore has it: it exists and is READY, with the live version when `read_live`.
async fn look_up(
    aws: &AwsClients,
    agent: &str,
    runtime_name: &str,
    endpoint: &str,
    version: u32,
    read_live: bool,
) -> Result<Result<Candidate, Refusal>> {
    let refuse = |reason| {
        Ok(Err(Refusal {
            agent: agent.to_owned(),
            runtime_name: runtime_name.to_owned(),
            endpoint: endpoint.to_owned(),
            version,
            reason,
        }))
    };
    let Some(runtime) = aws::index::runtime(aws, runtime_name).await? else { return refuse(Reason::NoRuntime) };
    let wanted = version.to_string();
    let found = aws::get_runtime(aws, &runtime.id, Some(&wanted)).await?;
    let Some(found) = found.filter(|found| found.agent_runtime_version() == wanted) else {
        let latest = aws::get_runtime(aws, &runtime.id, None).await?;
        let latest = latest.map(|latest| latest.agent_runtime_version().to_owned());
        return refuse(Reason::NoVersion { latest });
    };
    let status = Status::from(found.status().as_str());
    if status != Status::Ready {
        return refuse(Reason::NotReady { status, failure: found.failure_reason().map(str::to_owned) });
    }
    let live = if read_live { aws::live_version(aws, &runtime.id, endpoint).await? } else { None };
    Ok(Ok(Candidate {
        agent: agent.to_owned(),
        runtime_name: runtime_name.to_owned(),
        runtime_id: runtime.id,
        endpoint: endpoint.to_owned(),
        version,
        artifact_key: aws::artifact_key(found.agent_runtime_artifact()),
        live,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reader_gets_its_own_words_for_one_refusal() {
        let refusal = |reason| Refusal {
            agent: "bot".into(),
            runtime_name: "bot_prod".into(),
            endpoint: "prod".into(),
            version: 3,
            reason,
        };
        let failed = refusal(Reason::NotReady { status: Status::UpdateFailed, failure: Some("no role".into()) });
        assert_eq!(
            failed.for_cli("--prod"),
            "version 3 of runtime bot_prod is UPDATE_FAILED, not READY (no role); promote a READY version"
        );
        assert_eq!(failed.for_approval("--prod"), "version 3 of `bot_prod` is UPDATE_FAILED, not READY");
        let older = refusal(Reason::OlderThanLive { live: 4 });
        assert!(older.for_cli("--prod").contains("serves version 4, newer than 3; refusing to move it back"));
        assert!(older.for_approval("--prod").contains("serves version 4, newer than 3; an old approval cannot roll"));
        let missing = refusal(Reason::NoVersion { latest: Some("2".into()) });
        assert!(
            missing
                .for_cli("--prod")
                .contains("does not exist (latest is 2); list versions with `cargo xtask status bot`")
        );
        assert!(
            missing.for_cli("--env staging").ends_with("list versions with `cargo xtask status bot --env staging`")
        );
        assert_eq!(missing.for_approval("--prod"), "runtime `bot_prod` has no version 3");
        // Hints name the runtime's environment as the user would.
        let absent = Refusal { runtime_name: "bot_staging".into(), ..refusal(Reason::NoRuntime) };
        assert_eq!(
            absent.for_cli("--env staging"),
            "runtime bot_staging does not exist; deploy it first with `cargo xtask deploy bot --env staging`"
        );
        assert_eq!(
            absent.for_approval("--env staging"),
            "runtime `bot_staging` does not exist; deploy it with `cargo xtask deploy bot --env staging` first"
        );
    }

    /// Superseded: an approval would change nothing (live already) or be refused as older.
    #[test]
    fn a_version_at_or_below_the_live_one_is_superseded() {
        let candidate = |live| Candidate {
            agent: "bot".into(),
            runtime_name: "bot_prod".into(),
            runtime_id: "bot_prod-AbCdE12345".into(),
            endpoint: "prod".into(),
            version: 3,
            artifact_key: None,
            live,
        };
        assert!(candidate(Some(3)).superseded() && candidate(Some(4)).superseded());
        assert!(!candidate(Some(2)).superseded() && !candidate(None).superseded());
    }
}
