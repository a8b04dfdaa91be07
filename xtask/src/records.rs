//! Deployment and promotion records kept in S3 beside each version's code zip.
//!
//! Layout, per runtime: `<runtime>/v<N>/code.zip` and `<runtime>/v<N>/record.json`, and
//! `<runtime>/promotions/<endpoint>/<time>-v<N>.json`. Every object is written with
//! `If-None-Match: *`, so nothing is ever overwritten.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::agents::{AllowedPort, JwtAuthorizer, Lifecycle, Resources, Vpc};
use crate::aws::{AwsClients, error_code, explain, http_status};
use crate::naming::Target;
pub use crate::report::ArtifactSource;
use crate::report::PromotionKind;

/// The settings a version was deployed with: equal settings and an equal zip mean "up to date".
///
/// Records written before a setting existed lack it: it reads as what that release sent, nothing
/// (`None`), which is what an agent.toml that does not set it asks for too. Only `platform_version`,
/// which every deploy sends, needs more: see [`DeployedConfig::same_as`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeployedConfig {
    pub(crate) role_arn: String,
    pub(crate) python_runtime: String,
    pub(crate) entry_point: Vec<String>,
    pub(crate) network_mode: String,
    pub(crate) environment: BTreeMap<String, String>,
    pub(crate) description: Option<String>,
    pub(crate) protocol: String,
    /// `protocolConfiguration.port` and `.path` when `agent.toml` sets them; absent from records
    /// of versions that set none (and of every version made before they could be set), so those
    /// still compare equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    pub(crate) bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vpc: Option<Vpc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lifecycle: Option<Lifecycle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authorizer: Option<JwtAuthorizer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request_headers: Option<Vec<String>>,
    /// Always set by this release; `None` only in records of earlier ones, which sent none.
    #[serde(default)]
    pub(crate) platform_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_ports: Option<Vec<AllowedPort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<Resources>,
}

impl DeployedConfig {
    /// Whether the version recorded with these settings already has the `desired` ones. A record
    /// from before platform versions were sent stands for the platform AgentCore reports the
    /// version runs on (`reported`), or V1 when it reports none: the platform of every runtime made
    /// before platform versions existed. So upgrading the tool makes no new version by itself.
    pub(crate) fn same_as(&self, desired: &DeployedConfig, reported: Option<&str>) -> bool {
        if self.platform_version.is_some() {
            return self == desired;
        }
        let platform = reported.unwrap_or(crate::settings::DEFAULT_PLATFORM_VERSION);
        let recorded = DeployedConfig { platform_version: Some(platform.to_owned()), ..self.clone() };
        recorded == *desired
    }
}

/// What one runtime version was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub agent: String,
    pub(crate) runtime_name: String,
    pub runtime_id: String,
    pub(crate) version: String,
    pub(crate) target: Target,
    pub pr: Option<u64>,
    pub git_commit: Option<String>,
    pub zip_sha256: String,
    /// The object the version was deployed from; normally `<runtime>/v<version>/code.zip`, but a
    /// racing deploy may have taken that number first, and the record says what was really used.
    pub code_key: String,
    pub(crate) config: DeployedConfig,
    pub tool_version: String,
    pub(crate) deployed_at: String,
    /// The environment whose long-lived runtime made this version (none for a pull request's; a
    /// long-lived runtime's record older than environments is `prod`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Where the zip came from when the version was made from another version's zip (`deploy
    /// --from-env`, `--from-pr`, a chain's approval) rather than packaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ArtifactSource>,
}

impl VersionRecord {
    /// The environment of a long-lived runtime's version, `prod` for records older than
    /// environments; `None` for a pull request's version.
    pub fn environment(&self) -> Option<&str> {
        match self.target {
            Target::Prod => Some(self.env.as_deref().unwrap_or(crate::settings::PROD)),
            Target::Pr(_) => None,
        }
    }
}

/// One move of a named endpoint (promotion or rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub(crate) agent: String,
    pub(crate) runtime_name: String,
    pub(crate) runtime_id: String,
    pub(crate) endpoint: String,
    pub from_version: Option<String>,
    pub to_version: String,
    pub kind: PromotionKind,
    pub(crate) actor: String,
    pub(crate) git_commit: Option<String>,
    pub(crate) at: String,
    /// What the smoke gate of `promote` said about this move (`skipped (--no-smoke)`, `passed`, or
    /// why it was moved back); absent for moves without a gate (rollbacks, approvals, older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<String>,
}

pub fn code_key(runtime_name: &str, version: u32) -> String {
    format!("{runtime_name}/v{version}/code.zip")
}

pub fn record_key(runtime_name: &str, version: &str) -> String {
    format!("{runtime_name}/v{version}/record.json")
}

/// A record of a runtime that was deleted and made again reuses version numbers: its records go
/// beside the old ones under the new runtime id, so old records are never overwritten.
pub fn record_key_for_id(runtime_name: &str, version: &str, runtime_id: &str) -> String {
    format!("{runtime_name}/v{version}/record-{runtime_id}.json")
}

pub(crate) fn promotions_prefix(runtime_name: &str, endpoint: &str) -> String {
    format!("{}{endpoint}/", all_promotions_prefix(runtime_name))
}

/// The prefix of the promotion records of every endpoint of a runtime.
pub(crate) fn all_promotions_prefix(runtime_name: &str) -> String {
    format!("{runtime_name}/promotions/")
}

/// The current time, RFC 3339 in UTC with milliseconds.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
}

/// `time` as records write times: RFC 3339 in UTC with milliseconds.
pub(crate) fn rfc3339(time: aws_smithy_types::DateTime) -> String {
    let millis = time.subsec_nanos() / 1_000_000;
    let whole = aws_smithy_types::DateTime::from_secs(time.secs());
    let text = whole.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default();
    text.trim_end_matches('Z').to_owned() + &format!(".{millis:03}Z")
}

/// `2026-11-25T17:47:11.123Z` as `20261125T174711123Z`: sortable and safe in an object key.
pub(crate) fn compact_time(rfc3339: &str) -> String {
    rfc3339.chars().filter(|c| !matches!(c, '-' | ':' | '.')).collect()
}

/// The outcome of a write that never overwrites.
#[derive(Debug, PartialEq, Eq)]
pub enum PutNew {
    Created,
    AlreadyExists,
}

/// Writes `key` only if it does not exist yet (`If-None-Match: *`).
pub async fn put_new(
    aws: &AwsClients,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    sha256: Option<&str>,
) -> Result<PutNew> {
    put_new_stream(aws, key, ByteStream::from(body), content_type, sha256).await
}

async fn put_new_stream(
    aws: &AwsClients,
    key: &str,
    body: ByteStream,
    content_type: &str,
    sha256: Option<&str>,
) -> Result<PutNew> {
    let mut request =
        aws.s3.put_object().bucket(&aws.bucket).key(key).if_none_match("*").content_type(content_type).body(body);
    if let Some(sha256) = sha256 {
        request = request.metadata("sha256", sha256);
    }
    match request.send().await {
        Ok(_) => Ok(PutNew::Created),
        Err(err) if http_status(&err) == Some(412) || error_code(&err).as_deref() == Some("PreconditionFailed") => {
            Ok(PutNew::AlreadyExists)
        }
        Err(err) => Err(explain(err, "s3:PutObject", &format!("s3://{}/{key}", aws.bucket))),
    }
}

/// Checks that the artifact bucket exists and is reachable, so a deploy or promotion fails before
/// it changes anything rather than after (a promotion's record is written once the endpoint moved).
pub async fn check_bucket(aws: &AwsClients) -> Result<()> {
    let bucket = &aws.bucket;
    let err = match aws.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    // A HEAD answer has no body: the status says what went wrong.
    match http_status(&err) {
        Some(404) => bail!(
            "bucket {bucket} does not exist: create it (`aws s3 mb s3://{bucket}`), or point at another one with --bucket / AGENTCORE_BUCKET"
        ),
        Some(403) => bail!(
            "HeadBucket on s3://{bucket} failed: 403 Forbidden; allow `s3:ListBucket` on the bucket for your IAM identity, or if it belongs to another account, point at yours with --bucket / AGENTCORE_BUCKET"
        ),
        Some(301) => {
            let region = match &err {
                aws_sdk_s3::error::SdkError::ServiceError(service) => {
                    service.raw().headers().get("x-amz-bucket-region").map(str::to_owned)
                }
                _ => None,
            };
            bail!(
                "bucket {bucket} is in region {}, not this one; pass --region (or AWS_REGION) to match it, or another bucket with --bucket",
                region.as_deref().unwrap_or("another region")
            )
        }
        _ => Err(explain(err, "s3:ListBucket", &format!("bucket {bucket}"))),
    }
}

/// Whether `key` exists.
pub(crate) async fn exists(aws: &AwsClients, key: &str) -> Result<bool> {
    match aws.s3.head_object().bucket(&aws.bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(err) if http_status(&err) == Some(404) => Ok(false),
        // A HEAD answer has no body, so S3 gives no error code; without s3:ListBucket a missing
        // object is reported as 403 rather than 404.
        Err(err) if http_status(&err) == Some(403) => bail!(
            "HeadObject on s3://{}/{key} failed: 403 Forbidden; allow `s3:GetObject` and `s3:ListBucket` on the bucket for your IAM identity",
            aws.bucket
        ),
        Err(err) => Err(explain(err, "s3:GetObject", &format!("s3://{}/{key}", aws.bucket))),
    }
}

/// Reads a JSON object, or `None` if it does not exist.
pub async fn get_json<T: DeserializeOwned>(aws: &AwsClients, key: &str) -> Result<Option<T>> {
    let output = match aws.s3.get_object().bucket(&aws.bucket).key(key).send().await {
        Ok(output) => output,
        // A missing bucket is a 404 too, and must not read as "no record yet".
        Err(err) if http_status(&err) == Some(404) && error_code(&err).as_deref() != Some("NoSuchBucket") => {
            return Ok(None);
        }
        Err(err) => return Err(explain(err, "s3:GetObject", &format!("s3://{}/{key}", aws.bucket))),
    };
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|err| anyhow!("cannot read s3://{}/{key}: {err}", aws.bucket))?
        .into_bytes();
    let value = serde_json::from_slice(&bytes)
        .map_err(|err| anyhow!("s3://{}/{key} is not a valid record: {err}", aws.bucket))?;
    Ok(Some(value))
}

/// Most numbers tried past the predicted one before giving up on uploading code.
const MAX_CODE_SLOTS: u32 = 50;

/// Uploads a code zip under the first free `<runtime>/v<N>/code.zip` with N ≥ `predicted`.
/// A slot taken by a racing deploy (or an earlier failed one) is skipped, never overwritten.
pub async fn upload_code(
    aws: &AwsClients,
    runtime_name: &str,
    predicted: u32,
    zip: &std::path::Path,
    sha256: &str,
) -> Result<String> {
    for version in predicted..predicted + MAX_CODE_SLOTS {
        let key = code_key(runtime_name, version);
        // The HEAD saves re-sending a large zip to a taken slot; the conditional put is the guard.
        if exists(aws, &key).await? {
            continue;
        }
        // Streamed from disk: zips may be 250 MB and several agents upload at once.
        let body = ByteStream::from_path(zip).await.map_err(|err| anyhow!("cannot read {}: {err}", zip.display()))?;
        if put_new_stream(aws, &key, body, "application/zip", Some(sha256)).await? == PutNew::Created {
            return Ok(key);
        }
    }
    bail!(
        "no free slot for the code zip of {runtime_name} in s3://{}/{runtime_name}/v{predicted}..v{}; inspect the bucket",
        aws.bucket,
        predicted + MAX_CODE_SLOTS - 1
    )
}

/// Writes a version's record (never overwriting); returns its key.
pub(crate) async fn write_version_record(aws: &AwsClients, record: &VersionRecord) -> Result<String> {
    let body = serde_json::to_vec_pretty(record)?;
    let key = record_key(&record.runtime_name, &record.version);
    if put_new(aws, &key, body.clone(), "application/json", None).await? == PutNew::Created {
        return Ok(key);
    }
    // Taken: by this very runtime (a re-run after a lost answer) or by an earlier runtime of the same name.
    if let Some(existing) = get_json::<VersionRecord>(aws, &key).await?
        && existing.runtime_id == record.runtime_id
    {
        if existing.code_key == record.code_key {
            return Ok(key);
        }
        bail!(
            "s3://{}/{key} already records version {} of {} with code {}, not {}; leave it and inspect the bucket",
            aws.bucket,
            record.version,
            record.runtime_name,
            existing.code_key,
            record.code_key
        );
    }
    let key = record_key_for_id(&record.runtime_name, &record.version, &record.runtime_id);
    if put_new(aws, &key, body, "application/json", None).await? == PutNew::Created {
        return Ok(key);
    }
    bail!("s3://{}/{key} exists already; records are never overwritten, inspect the bucket", aws.bucket)
}

/// The record of `version` of the runtime with `runtime_id`, if any, with its key.
pub async fn read_version_record(
    aws: &AwsClients,
    runtime_name: &str,
    version: &str,
    runtime_id: &str,
) -> Result<Option<(String, VersionRecord)>> {
    for key in [record_key(runtime_name, version), record_key_for_id(runtime_name, version, runtime_id)] {
        if let Some(record) = get_json::<VersionRecord>(aws, &key).await?
            && record.runtime_id == runtime_id
        {
            return Ok(Some((key, record)));
        }
    }
    Ok(None)
}

/// Writes a promotion record; returns its key.
pub(crate) async fn write_promotion(aws: &AwsClients, record: &PromotionRecord) -> Result<String> {
    let body = serde_json::to_vec_pretty(record)?;
    let base = format!(
        "{}{}-v{}",
        promotions_prefix(&record.runtime_name, &record.endpoint),
        compact_time(&record.at),
        record.to_version
    );
    for attempt in 0..10 {
        let key = if attempt == 0 { format!("{base}.json") } else { format!("{base}-{attempt}.json") };
        if put_new(aws, &key, body.clone(), "application/json", None).await? == PutNew::Created {
            return Ok(key);
        }
    }
    bail!("cannot write the promotion record under {base}: every key is taken")
}

/// The keys of an endpoint's promotion records, oldest first (the time leads each name).
async fn promotion_keys(aws: &AwsClients, runtime_name: &str, endpoint: &str) -> Result<Vec<String>> {
    keys_under(aws, &promotions_prefix(runtime_name, endpoint)).await
}

/// Every key under `prefix`, sorted (all pages).
pub(crate) async fn keys_under(aws: &AwsClients, prefix: &str) -> Result<Vec<String>> {
    let objects = aws
        .s3
        .list_objects_v2()
        .bucket(&aws.bucket)
        .prefix(prefix)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| explain(err, "s3:ListBucket", &format!("s3://{}/{prefix}", aws.bucket)))?;
    let mut keys: Vec<String> =
        objects.iter().flat_map(|page| page.contents()).filter_map(|object| object.key().map(str::to_owned)).collect();
    keys.sort();
    Ok(keys)
}

/// Every promotion of an endpoint, oldest first.
pub async fn list_promotions(aws: &AwsClients, runtime_name: &str, endpoint: &str) -> Result<Vec<PromotionRecord>> {
    let mut records = Vec::new();
    for key in promotion_keys(aws, runtime_name, endpoint).await? {
        if let Some(record) = get_json::<PromotionRecord>(aws, &key).await? {
            records.push(record);
        }
    }
    Ok(records)
}

/// The newest promotion of an endpoint that `wanted` accepts, reading records from the newest back
/// (a long-lived endpoint collects many).
pub(crate) async fn last_promotion(
    aws: &AwsClients,
    runtime_name: &str,
    endpoint: &str,
    wanted: impl Fn(&PromotionRecord) -> bool,
) -> Result<Option<PromotionRecord>> {
    for key in promotion_keys(aws, runtime_name, endpoint).await?.iter().rev() {
        if let Some(record) = get_json::<PromotionRecord>(aws, key).await?
            && wanted(&record)
        {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// The commit being deployed: `GITHUB_SHA` in Actions, else `git rev-parse HEAD`.
pub(crate) fn git_commit(root: &std::path::Path) -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA")
        && !sha.is_empty()
    {
        return Some(sha);
    }
    let sh = xshell::Shell::new().ok()?;
    sh.change_dir(root);
    xshell::cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok()
}

/// Who acts: the GitHub actor in Actions, else the local user.
pub(crate) fn actor() -> String {
    ["GITHUB_ACTOR", "USER", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of a release before the settings of VPC, lifecycle, auth, headers, platform, ports
    /// and resources reads as "none of them", and equals the desired settings of an agent that sets
    /// none, on the platform AgentCore reports (V1 when it reports none).
    #[test]
    fn records_of_earlier_releases_compare_by_their_defaults() {
        let old: DeployedConfig = serde_json::from_value(serde_json::json!({
            "role_arn": "arn:aws:iam::123456789012:role/R", "python_runtime": "PYTHON_3_12",
            "entry_point": ["main.py"], "network_mode": "PUBLIC", "environment": {}, "description": null,
            "protocol": "HTTP", "bucket": "b",
        }))
        .unwrap();
        assert_eq!((&old.vpc, &old.lifecycle, &old.platform_version), (&None, &None, &None));
        let desired = DeployedConfig { platform_version: Some("V1".into()), ..old.clone() };
        assert!(old.same_as(&desired, None), "V1 when AgentCore reports none");
        assert!(old.same_as(&desired, Some("V1")));
        assert!(!old.same_as(&desired, Some("V2")), "the version runs V2: V1 is a change");
        let v2 = DeployedConfig { platform_version: Some("V2".into()), ..old.clone() };
        assert!(!old.same_as(&v2, None));
        assert!(v2.same_as(&v2, Some("V1")), "a recorded platform is what was sent");
        let lifecycle = Some(Lifecycle { idle_timeout_secs: Some(600), max_lifetime_secs: None });
        assert!(!desired.same_as(&DeployedConfig { lifecycle, ..desired.clone() }, None));
        // Records this release writes leave out what an agent does not set.
        let written = serde_json::to_value(&desired).unwrap();
        assert!(written.get("vpc").is_none() && written["platform_version"] == "V1", "{written}");
    }

    #[test]
    fn keys_and_times() {
        assert_eq!(code_key("bot_pr_1", 3), "bot_pr_1/v3/code.zip");
        assert_eq!(record_key("bot_pr_1", "3"), "bot_pr_1/v3/record.json");
        assert_eq!(compact_time("2026-11-25T17:47:11.123Z"), "20261125T174711123Z");
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-11-25T17:47:11.123Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        assert!(compact_time(&now) < compact_time("9999-01-01T00:00:00.000Z"));
        let time = aws_smithy_types::DateTime::from_millis(1_795_715_231_007);
        assert_eq!(rfc3339(time), "2026-11-26T17:47:11.007Z");
    }
}
