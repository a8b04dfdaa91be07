//! The same bytes in every environment: the zip another version runs, found through its record,
//! read from its bucket and checked against the SHA-256 its record states, for `deploy --from-env`,
//! `deploy --from-pr` and a chain's approval to deploy again without packaging.
//!
//! Nothing here trusts the bucket: the version must exist and be READY, its record must be the one
//! deploy wrote for it (same agent, runtime id and target), AgentCore must run the key the record
//! names, and the bytes read must hash to the record's digest. Any difference refuses the zip
//! before the deploy that uses it changes anything.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;
use crate::records::{self, ArtifactSource, VersionRecord};

/// Where a deploy takes its zip from instead of packaging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The version of an environment's long-lived runtime: the one live on its endpoint, or the
    /// one given.
    Env(String),
    /// The version of a pull request's runtime: its latest, or the one given.
    Pr(u64),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "environment {name}"),
            Origin::Pr(number) => write!(f, "PR #{number}"),
        }
    }
}

/// A zip read from another version and verified: a temporary file deleted when dropped.
#[derive(Debug)]
pub struct Fetched {
    pub(crate) path: tempfile::TempPath,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    pub(crate) source: ArtifactSource,
}

/// The context whose runtimes `from` names: the environment's, or for a pull request the
/// workspace's own.
pub(crate) fn source_ctx(ctx: &Ctx, from: &Origin) -> Result<Ctx> {
    match from {
        Origin::Env(name) => ctx.for_env(name),
        Origin::Pr(_) => Ok(ctx.for_prs()),
    }
}

/// The version of `agent` that `from` names, with deploy's record of it, checked: it exists, is
/// READY, runs the code its record names, and the record is deploy's own for that runtime.
/// `source` is the context `from` lives in ([`source_ctx`]), `aws` its clients.
pub async fn resolve(
    source: &Ctx,
    aws: &AwsClients,
    agent: &str,
    from: &Origin,
    version: Option<u32>,
) -> Result<(VersionRecord, ArtifactSource)> {
    let target = match from {
        Origin::Env(_) => Target::Prod,
        Origin::Pr(number) => Target::Pr(*number),
    };
    let runtime_name = source.settings.scheme().runtime_name(agent, target)?;
    let Some(runtime) = aws::index::runtime(aws, &runtime_name).await? else {
        bail!("there is no runtime {runtime_name} ({from}), so no zip of {agent} to take from it");
    };
    let version = match (version, from) {
        (Some(version), _) => version,
        (None, Origin::Env(name)) => {
            let endpoint = &source.settings.prod_endpoint;
            match aws::live_version(aws, &runtime.id, endpoint).await? {
                Some(live) => live,
                None => bail!(
                    "endpoint {endpoint} of {runtime_name} serves no version, so environment {name} has no live zip of \
                     {agent} to take; pass --version N"
                ),
            }
        }
        (None, Origin::Pr(_)) => match aws::get_runtime(aws, &runtime.id, None).await? {
            Some(latest) => aws::version_number(latest.agent_runtime_version()),
            None => bail!("runtime {runtime_name} disappeared while reading it; re-run"),
        },
    };
    let version_text = version.to_string();
    let Some(made) = aws::get_runtime(aws, &runtime.id, Some(&version_text)).await? else {
        bail!(
            "runtime {runtime_name} has no version {version}; list its versions with `{}`",
            crate::approval::status_command(agent, &source.env_flag())
        );
    };
    if made.status().as_str() != "READY" {
        bail!(
            "version {version} of {runtime_name} is {}, not READY; only a version that runs is taken to another environment",
            made.status().as_str()
        );
    }
    let Some((_, record)) = records::read_version_record(aws, &runtime_name, &version_text, &runtime.id).await? else {
        bail!(
            "version {version} of {runtime_name} has no deploy record in s3://{}/{}; only versions `cargo xtask deploy` made \
             can be taken to another environment",
            aws.bucket,
            records::record_key(&runtime_name, &version_text)
        );
    };
    let what = format!("the deploy record of version {version} of {runtime_name}");
    if record.agent != agent {
        bail!("{what} names agent `{}`, not `{agent}`", record.agent);
    }
    if record.runtime_id != runtime.id || record.version != version_text {
        bail!("{what} is of runtime {} version {}", record.runtime_id, record.version);
    }
    let expected = match from {
        Origin::Env(name) => record.target == Target::Prod && record.environment() == Some(name.as_str()),
        Origin::Pr(number) => record.target == Target::Pr(*number) && record.pr == Some(*number),
    };
    if !expected {
        let recorded =
            record.environment().map_or_else(|| record.target.to_string(), |env| format!("environment {env}"));
        bail!("{what} is of {recorded}, not of {from}");
    }
    let runs = aws::artifact_key(made.agent_runtime_artifact());
    if runs.as_deref() != Some(record.code_key.as_str()) {
        bail!(
            "{what} says its code is `{}`, but the version runs `{}`",
            record.code_key,
            runs.as_deref().unwrap_or("no S3 code")
        );
    }
    let source_ref = ArtifactSource {
        env: match from {
            Origin::Env(name) => Some(name.clone()),
            Origin::Pr(_) => None,
        },
        pr: record.pr,
        runtime_name,
        runtime_id: runtime.id,
        version: version_text,
        bucket: aws.bucket.clone(),
        code_key: record.code_key.clone(),
        zip_sha256: record.zip_sha256.clone(),
    };
    Ok((record, source_ref))
}

/// [`resolve`], then the zip read into a temporary file in `dir` and held to the record's SHA-256.
pub async fn fetch(
    source: &Ctx,
    aws: &AwsClients,
    agent: &str,
    from: &Origin,
    version: Option<u32>,
    dir: &Path,
) -> Result<Fetched> {
    let (_, source_ref) = resolve(source, aws, agent, from, version).await?;
    progress!(
        "{agent}: taking the zip of {source_ref} (s3://{}/{}, SHA-256 {})",
        source_ref.bucket,
        source_ref.code_key,
        &source_ref.zip_sha256[..12]
    );
    let (path, sha256, bytes) = download(aws, &source_ref.code_key, dir).await?;
    if sha256 != source_ref.zip_sha256 {
        bail!(
            "refusing the zip of {source_ref}: s3://{}/{} has SHA-256 {sha256}, but its deploy record states {}; the object \
             changed after the version was made, so these are not the bytes that ran there (nothing was deployed)",
            source_ref.bucket,
            source_ref.code_key,
            source_ref.zip_sha256
        );
    }
    Ok(Fetched { path, sha256, bytes, source: source_ref })
}

/// Reads `key` into a new temporary file in `dir`, hashing it as it arrives.
async fn download(aws: &AwsClients, key: &str, dir: &Path) -> Result<(tempfile::TempPath, String, u64)> {
    let location = format!("s3://{}/{key}", aws.bucket);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temp = tempfile::Builder::new()
        .prefix("from-")
        .suffix(".zip")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?
        .into_temp_path();
    let output = aws
        .s3
        .get_object()
        .bucket(&aws.bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| aws::explain(err, "s3:GetObject", &location))?;
    let mut body = output.body;
    let mut file = tokio::fs::File::create(&temp).await.with_context(|| format!("cannot write {}", temp.display()))?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| anyhow!("cannot read {location}: {err}"))?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        file.write_all(&chunk).await.with_context(|| format!("cannot write {}", temp.display()))?;
    }
    file.flush().await?;
    Ok((temp, hex::encode(hasher.finalize()), bytes))
}
