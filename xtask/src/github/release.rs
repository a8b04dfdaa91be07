//! Release records: what prod-deploy asked to promote, kept in S3 where only the prod role writes,
//! and the checks that hold a deployment issue's metadata against them and against deploy's own
//! version records before any endpoint moves.
//!
//! Deploy's `<runtime>/v<N>/record.json` says what a version was made from (agent, runtime id,
//! commit, zip) but not which pull request merged it, and a version made by an earlier, failed run
//! was made from an earlier commit. So prod-deploy writes, per version it asks for,
//! `<runtime>/v<N>/release-<push commit>.json` naming the push's commit and merged pull request; a
//! promotion is refused unless that record exists and agrees with the issue.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::aws::AwsClients;
use crate::naming::Target;
use crate::records::{self, PutNew, VersionRecord};

/// What one deployment issue asked to promote for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseRecord {
    pub(crate) agent: String,
    pub(crate) runtime_name: String,
    pub(crate) runtime_id: String,
    pub(crate) version: String,
    /// The pushed commit on the default branch whose run opened the issue.
    pub(crate) commit: String,
    /// The pull request that push merged, if any: the one whose runtimes the promotion deletes.
    pub(crate) pr: Option<u64>,
    /// The commit deploy recorded for the version (an earlier push's, for a version a failed or
    /// replaced run made).
    pub(crate) version_commit: Option<String>,
    pub(crate) zip_sha256: String,
    pub(crate) code_key: String,
    /// With an `environments_chain`: the environment the release asks to promote the version's zip
    /// to. Absent in today's single-prod flow, where the version itself goes live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) to_env: Option<String>,
}

/// `<runtime>/v<N>/release-<commit>.json`; `commit` is a checked 40-digit hex SHA.
pub(crate) fn release_key(runtime_name: &str, version: &str, commit: &str) -> String {
    format!("{runtime_name}/v{version}/release-{commit}.json")
}

/// Writes a release record, never overwriting: a re-run of the same push finds its own record and
/// goes on; a record that says something else stops the run.
pub(crate) async fn write(aws: &AwsClients, record: &ReleaseRecord) -> Result<String> {
    let key = release_key(&record.runtime_name, &record.version, &record.commit);
    let body = serde_json::to_vec_pretty(record)?;
    if records::put_new(aws, &key, body, "application/json", None).await? == PutNew::Created {
        return Ok(key);
    }
    let existing: Option<ReleaseRecord> = records::get_json(aws, &key).await?;
    match existing {
        Some(existing) if existing == *record => Ok(key),
        Some(existing) => bail!(
            "s3://{}/{key} already records version {} of {} for PR {:?} from runtime {}; records are never overwritten, inspect the bucket",
            aws.bucket,
            existing.version,
            existing.runtime_name,
            existing.pr,
            existing.runtime_id
        ),
        None => bail!("s3://{}/{key} exists yet cannot be read; inspect the bucket", aws.bucket),
    }
}

/// Deploy's record of `version` of the runtime with `runtime_id`; refuses a version without one.
pub(crate) async fn version_record(
    aws: &AwsClients,
    runtime_name: &str,
    runtime_id: &str,
    version: u32,
) -> Result<VersionRecord> {
    let found = records::read_version_record(aws, runtime_name, &version.to_string(), runtime_id).await?;
    let Some((_, record)) = found else {
        bail!(
            "version {version} of `{runtime_name}` has no deploy record in s3://{}/{}; only versions `cargo xtask deploy` made can be promoted",
            aws.bucket,
            records::record_key(runtime_name, &version.to_string())
        );
    };
    Ok(record)
}

/// What a promotion claims for one agent: the metadata with the runtime id and code key
/// AgentCore reports for the version.
pub(crate) struct Claim<'a> {
    pub(crate) agent: &'a str,
    pub(crate) runtime_name: &'a str,
    pub(crate) runtime_id: &'a str,
    pub(crate) version: u32,
    /// The commit and pull request; only the release record is held against them.
    pub(crate) commit: &'a str,
    pub(crate) pr: Option<u64>,
    /// The S3 key the version runs from, as `GetAgentRuntime` reports it.
    pub(crate) artifact_key: Option<&'a str>,
    /// The environment whose long-lived runtime the version is of: `prod`, or in a chain the
    /// environment a merge deploys to.
    pub(crate) env: &'a str,
    /// With a chain: the environment the release promotes the version's zip to.
    pub(crate) to_env: Option<&'a str>,
}

/// The release records of `commit` in the prod runtimes of `runtimes` (agent, prod runtime name):
/// each agent that release asked to promote, with the newest version it asked for.
pub async fn released_versions(
    aws: &AwsClients,
    runtimes: &[(String, String)],
    commit: &str,
) -> Result<Vec<(String, u32)>> {
    let suffix = format!("/release-{commit}.json");
    let mut released = Vec::new();
    for (agent, runtime_name) in runtimes {
        let prefix = format!("{runtime_name}/v");
        let newest = records::keys_under(aws, &prefix)
            .await?
            .iter()
            .filter_map(|key| key.strip_prefix(&prefix)?.strip_suffix(&suffix)?.parse::<u32>().ok())
            .max();
        if let Some(version) = newest {
            released.push((agent.clone(), version));
        }
    }
    Ok(released)
}

/// In a chain: the version of `from_env`'s runtime `from_runtime_id` whose zip the version live on
/// `to`'s endpoint was made from, when it was (its record names that source); `None` when nothing
/// is live there or it came from elsewhere.
pub(crate) async fn promoted_from(
    to: &crate::context::Ctx,
    to_aws: &AwsClients,
    agent: &str,
    from_env: &str,
    from_runtime_id: &str,
) -> Result<Option<u32>> {
    let runtime_name = to.settings.scheme().runtime_name(agent, Target::Prod)?;
    let Some(runtime) = crate::aws::index::runtime(to_aws, &runtime_name).await? else { return Ok(None) };
    let Some(live) = crate::aws::live_version(to_aws, &runtime.id, &to.settings.prod_endpoint).await? else {
        return Ok(None);
    };
    let record = records::read_version_record(to_aws, &runtime_name, &live.to_string(), &runtime.id).await?;
    Ok(record
        .and_then(|(_, record)| record.source)
        .filter(|source| source.env.as_deref() == Some(from_env) && source.runtime_id == from_runtime_id)
        .and_then(|source| source.version.parse().ok()))
}

/// Holds a claim against deploy's version record and prod-deploy's release record; the error says
/// which fact differs. Makes no change.
pub(crate) async fn check(aws: &AwsClients, claim: &Claim<'_>) -> Result<()> {
    let record = version_record(aws, claim.runtime_name, claim.runtime_id, claim.version).await?;
    check_version_record(claim, &record)?;
    let key = release_key(claim.runtime_name, &claim.version.to_string(), claim.commit);
    let release: Option<ReleaseRecord> =
        records::get_json(aws, &key).await.with_context(|| format!("cannot read the release record {key}"))?;
    let Some(release) = release else {
        bail!(
            "no release record s3://{}/{key}: prod-deploy never asked to promote version {} of `{}` for commit {}; the issue's metadata does not match what was deployed",
            aws.bucket,
            claim.version,
            claim.runtime_name,
            claim.commit
        );
    };
    check_release_record(claim, &record, &release)
}

/// The pure part of [`check`] for deploy's record.
pub(crate) fn check_version_record(claim: &Claim<'_>, record: &VersionRecord) -> Result<()> {
    let what = format!("the deploy record of version {} of `{}`", claim.version, claim.runtime_name);
    if record.agent != claim.agent {
        bail!("{what} names agent `{}`, not `{}`", record.agent, claim.agent);
    }
    if record.target != Target::Prod || record.pr.is_some() {
        bail!("{what} is of {}, not of {}", record.pr.map_or(record.target, Target::Pr), claim.env);
    }
    if record.environment() != Some(claim.env) {
        bail!("{what} is of environment {}, not of {}", record.environment().unwrap_or("-"), claim.env);
    }
    if record.runtime_id != claim.runtime_id || record.version != claim.version.to_string() {
        bail!("{what} is of runtime {} version {}", record.runtime_id, record.version);
    }
    if claim.artifact_key != Some(record.code_key.as_str()) {
        bail!(
            "{what} says the code is `{}`, but the version runs `{}`",
            record.code_key,
            claim.artifact_key.unwrap_or("no S3 code")
        );
    }
    Ok(())
}

/// The pure part of [`check`] for the release record.
pub(crate) fn check_release_record(claim: &Claim<'_>, record: &VersionRecord, release: &ReleaseRecord) -> Result<()> {
    let what = format!("the release record of version {} of `{}`", claim.version, claim.runtime_name);
    if release.commit != claim.commit {
        bail!("{what} names commit {}, the issue {}", release.commit, claim.commit);
    }
    if release.pr != claim.pr {
        let show = |pr: Option<u64>| pr.map_or_else(|| "no pull request".to_owned(), |pr| format!("PR #{pr}"));
        bail!("{what} names {}, the issue {}", show(release.pr), show(claim.pr));
    }
    if release.to_env.as_deref() != claim.to_env {
        let show =
            |env: Option<&str>| env.map_or_else(|| "no environment".to_owned(), |env| format!("environment {env}"));
        bail!("{what} promotes to {}, the issue to {}", show(release.to_env.as_deref()), show(claim.to_env));
    }
    if release.agent != claim.agent || release.runtime_id != claim.runtime_id {
        bail!("{what} is of agent `{}` runtime {}", release.agent, release.runtime_id);
    }
    if release.version_commit != record.git_commit
        || release.zip_sha256 != record.zip_sha256
        || release.code_key != record.code_key
    {
        bail!(
            "{what} and the deploy record disagree (commit {:?} / {:?}, zip {} / {}); inspect the bucket",
            release.version_commit,
            record.git_commit,
            release.zip_sha256,
            record.zip_sha256
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &str = "1111111111111111111111111111111111111111";
    const MADE: &str = "2222222222222222222222222222222222222222";

    fn record() -> VersionRecord {
        VersionRecord {
            agent: "bot".into(),
            runtime_name: "bot_prod".into(),
            runtime_id: "bot_prod-AbCdE12345".into(),
            version: "3".into(),
            target: Target::Prod,
            pr: None,
            git_commit: Some(MADE.into()),
            zip_sha256: "ab".repeat(32),
            code_key: "bot_prod/v3/code.zip".into(),
            // As a record of an earlier release holds it: without the settings added since.
            config: serde_json::from_value(serde_json::json!({
                "role_arn": "arn:aws:iam::123456789012:role/R", "python_runtime": "PYTHON_3_13",
                "entry_point": ["main.py"], "network_mode": "PUBLIC", "environment": {}, "description": null,
                "protocol": "HTTP", "bucket": "b",
            }))
            .unwrap(),
            tool_version: "0.1.0".into(),
            deployed_at: "2026-11-25T17:47:11.123Z".into(),
            env: None,
            source: None,
        }
    }

    fn release() -> ReleaseRecord {
        ReleaseRecord {
            agent: "bot".into(),
            runtime_name: "bot_prod".into(),
            runtime_id: "bot_prod-AbCdE12345".into(),
            version: "3".into(),
            commit: PUSH.into(),
            pr: Some(12),
            version_commit: Some(MADE.into()),
            zip_sha256: "ab".repeat(32),
            code_key: "bot_prod/v3/code.zip".into(),
            to_env: None,
        }
    }

    fn claim() -> Claim<'static> {
        Claim {
            agent: "bot",
            runtime_name: "bot_prod",
            runtime_id: "bot_prod-AbCdE12345",
            version: 3,
            commit: PUSH,
            pr: Some(12),
            artifact_key: Some("bot_prod/v3/code.zip"),
            env: "prod",
            to_env: None,
        }
    }

    fn both(claim: &Claim<'_>, record: &VersionRecord, release: &ReleaseRecord) -> Result<()> {
        check_version_record(claim, record)?;
        check_release_record(claim, record, release)
    }

    #[test]
    fn a_claim_that_matches_both_records_passes() {
        both(&claim(), &record(), &release()).unwrap();
        assert_eq!(release_key("bot_prod", "3", PUSH), format!("bot_prod/v3/release-{PUSH}.json"));
    }

    #[test]
    fn each_differing_fact_is_refused() {
        let other_commit = "3333333333333333333333333333333333333333";
        let cases: Vec<(&str, Claim<'static>, VersionRecord, ReleaseRecord, &str)> = vec![
            ("another PR", Claim { pr: Some(13), ..claim() }, record(), release(), "names PR #12, the issue PR #13"),
            ("no PR", Claim { pr: None, ..claim() }, record(), release(), "the issue no pull request"),
            ("another commit", Claim { commit: other_commit, ..claim() }, record(), release(), "names commit"),
            ("another agent", Claim { agent: "evil", ..claim() }, record(), release(), "names agent `bot`"),
            (
                "another runtime id",
                Claim { runtime_id: "bot_prod-Zz", ..claim() },
                record(),
                release(),
                "is of runtime",
            ),
            (
                "other code",
                Claim { artifact_key: Some("bot_prod/v2/code.zip"), ..claim() },
                record(),
                release(),
                "runs `bot_prod/v2/code.zip`",
            ),
            ("no S3 code", Claim { artifact_key: None, ..claim() }, record(), release(), "no S3 code"),
            (
                "a PR version",
                claim(),
                VersionRecord { target: Target::Pr(12), pr: Some(12), ..record() },
                release(),
                "of PR #12, not of prod",
            ),
            (
                "a PR number in a prod record",
                claim(),
                VersionRecord { pr: Some(12), ..record() },
                release(),
                "not of prod",
            ),
            (
                "another environment's version",
                claim(),
                VersionRecord { env: Some("staging".into()), ..record() },
                release(),
                "is of environment staging, not of prod",
            ),
            (
                "a release to another environment",
                Claim { to_env: Some("prod"), ..claim() },
                record(),
                release(),
                "promotes to no environment, the issue to environment prod",
            ),
            ("another zip", claim(), VersionRecord { zip_sha256: "cd".repeat(32), ..record() }, release(), "disagree"),
            (
                "another version commit",
                claim(),
                VersionRecord { git_commit: Some(other_commit.into()), ..record() },
                release(),
                "disagree",
            ),
            (
                "a release of another runtime",
                claim(),
                record(),
                ReleaseRecord { runtime_id: "bot_prod-Old".into(), ..release() },
                "is of agent `bot` runtime bot_prod-Old",
            ),
        ];
        for (name, claim, record, release, expected) in cases {
            let err = both(&claim, &record, &release).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: expected `{expected}` in {err}");
        }
    }
}
