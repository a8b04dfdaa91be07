//! `cargo xtask deploy`: package, upload and create or update each agent's runtime.
//!
//! Per agent: find the runtime by name (in the run's one listing of the account's runtimes), skip
//! when the zip and settings equal the latest version's record, upload the zip under the predicted
//! version with a conditional put, create or update the runtime, record what AgentCore actually
//! made, and wait until that version is READY.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_bedrockagentcorecontrol::types::{
    AgentManagedRuntimeType, AgentRuntimeArtifact, AgentRuntimeStatus, AllowedPort, AuthorizerConfiguration, Code,
    CodeConfiguration, CustomJwtAuthorizerConfiguration, LifecycleConfiguration, NetworkConfiguration, NetworkMode,
    PortRange, ProtocolConfiguration, RequestHeaderConfiguration, S3Location, ServerProtocol, VpcConfig,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::agents::Agent;
use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;
use crate::records::{self, DeployedConfig, VersionRecord};
use crate::report::{DeployAction, DeployOutcome, DeployStatus, Plan, Report, Status, TagChanges};
use crate::runtime_config::{self, Call};
use crate::select::Selection;
use crate::settings::Settings;

// `--version N` picks the version whose zip to take; the tool's own version stays on `cargo xtask --version`.
#[derive(clap::Args, Debug, Clone)]
#[command(disable_version_flag = true)]
#[command(group(clap::ArgGroup::new("from").args(["from_env", "from_pr"])))]
pub struct DeployArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Deploy to the runtime of this pull request
    #[arg(long, value_name = "N", conflicts_with_all = ["prod", "env"], required_unless_present_any = ["prod", "env"])]
    pub pr: Option<u64>,
    /// Deploy a new (not yet live) version to the long-lived runtime (short for --env prod)
    #[arg(long, conflicts_with = "env")]
    pub prod: bool,
    /// Deploy a new (not yet live) version to the long-lived runtime of this environment
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Deploy the very zip this environment's version runs (the one live on its endpoint, or
    /// --version), verified by its SHA-256, instead of packaging
    #[arg(long, value_name = "NAME", conflicts_with_all = ["pr", "package_dir"])]
    pub from_env: Option<String>,
    /// Deploy the very zip this pull request's latest version (or --version) runs, verified by its
    /// SHA-256, instead of packaging
    #[arg(long, value_name = "N", conflicts_with_all = ["pr", "package_dir"], value_parser = clap::value_parser!(u64).range(1..))]
    pub from_pr: Option<u64>,
    /// With --from-env or --from-pr: the version whose zip to deploy
    #[arg(long, value_name = "N", requires = "from", value_parser = clap::value_parser!(u32).range(1..))]
    pub version: Option<u32>,
    /// Make a new version even when code and settings equal the latest one
    #[arg(long)]
    pub(crate) force: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Give up waiting for READY after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: u64,
    /// Deploy the zips `<DIR>/<agent>.zip` built earlier by `cargo xtask package --out DIR`
    #[arg(long, value_name = "DIR")]
    pub(crate) package_dir: Option<PathBuf>,
    /// Smoke-test each deployed version through the endpoint that serves it (the agent's `[smoke]`)
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) smoke: bool,
}

impl DeployArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        // Pull requests' runtimes keep the workspace's own settings; an environment brings its own.
        let (ctx, target) = match (self.pr, ctx.chosen(self.env.as_deref(), self.prod)?) {
            (Some(number), None) => (ctx.for_prs(), Target::Pr(number)),
            (None, Some(env)) => (env, Target::Prod),
            _ => bail!("pass exactly one of --pr N, --prod and --env NAME"),
        };
        let ctx = &ctx;
        let from = match (&self.from_env, self.from_pr) {
            (Some(name), None) => Some(crate::source::Origin::Env(name.clone())),
            (None, Some(number)) => Some(crate::source::Origin::Pr(number)),
            _ => None,
        };
        let source = match &from {
            Some(origin) => {
                let source = crate::source::source_ctx(ctx, origin)?;
                if source.env.is_some() && source.env == ctx.env {
                    bail!(
                        "--from-env {} names the environment deployed to; take the zip from another one",
                        ctx.env_name()
                    );
                }
                Some(source)
            }
            None => None,
        };
        let agents = self.selection.resolve(ctx)?;
        if agents.is_empty() {
            progress!("no agent selected: nothing to deploy");
        }
        // Refuse every bad name, setting and missing zip before the first call.
        let mut jobs = Vec::new();
        for agent in &agents {
            jobs.push(Job::new(&ctx.settings, agent, target)?);
            if let Some(dir) = &self.package_dir {
                let zip = dir.join(format!("{}.zip", agent.name));
                if !zip.is_file() {
                    bail!(
                        "no zip for agent {} in {}: build it with `cargo xtask package {} --out {}`, or leave out --package-dir to package now",
                        agent.name,
                        dir.display(),
                        agent.name,
                        dir.display()
                    );
                }
            }
        }
        let (mut aws, stack) = crate::connect::connect(ctx).await?;
        if self.smoke {
            smoke_clients(ctx, &mut aws, stack.as_ref());
        }
        aws.wait.timeout = Duration::from_secs(self.timeout);
        let options = DeployOptions { force: self.force, dry_run: self.dry_run, package_dir: self.package_dir };
        let mut results = match (&from, &source) {
            (Some(origin), Some(source)) => {
                let source_aws = crate::connect::connect_also(source, ctx, &aws, stack.as_ref()).await?;
                let dir = ctx.root.join("target").join("agentcore").join("from");
                let fetched: Vec<Result<crate::source::Fetched>> = futures_util::stream::iter(&jobs)
                    .map(|job| crate::source::fetch(source, &source_aws, &job.agent.name, origin, self.version, &dir))
                    .buffered(ctx.settings.max_parallel.max(1))
                    .collect()
                    .await;
                let zips = fetched.into_iter().map(|fetched| fetched.map(Zip::from)).collect();
                deploy_jobs_from(ctx, &aws, &jobs, &options, ZipSource::Fetched(zips)).await
            }
            _ => deploy_jobs(ctx, &aws, &jobs, &options).await,
        };
        if self.smoke {
            smoke_outcomes(&aws, &mut results, &agents).await;
        }
        let report = Report::new("deploy", agents.iter().map(|agent| agent.name.clone()), results);
        report.publish(ctx.json, &ctx.github)
    }
}

/// Points `aws`'s data plane at the in-process local stack, if one runs, which then runs the agents
/// a smoke test calls.
pub(crate) fn smoke_clients(ctx: &Ctx, aws: &mut AwsClients, stack: Option<&crate::connect::LocalGuard>) {
    #[cfg(feature = "local")]
    if let Some(stack) = stack {
        stack.set_agent_host(crate::local::agent_host(ctx));
        aws.data = Some(stack.data_client());
    }
    #[cfg(not(feature = "local"))]
    let _ = (ctx, aws, stack);
}

/// Smoke-tests each deployed version through DEFAULT, which serves a runtime's latest version: the
/// one just deployed (or found up to date), for a pull request and for prod alike.
pub async fn smoke_outcomes(aws: &AwsClients, results: &mut [Result<DeployOutcome>], agents: &[Agent]) {
    for (result, agent) in results.iter_mut().zip(agents) {
        let Ok(outcome) = result else { continue };
        let Some(version) = outcome.version.clone() else { continue };
        let destination = crate::invoke::Destination {
            runtime: outcome.runtime_name.clone(),
            qualifier: "DEFAULT".to_owned(),
            deploy_hint: None,
            agent: Some(agent.name.clone()),
        };
        progress!("{}: smoke-testing {} version {version} on DEFAULT", agent.name, outcome.runtime_name);
        let smoke =
            crate::smoke::run(aws, &destination, Some(&version), &crate::smoke::SmokeTest::for_agent(agent)).await;
        progress!("{}: smoke test {}", agent.name, smoke.summary());
        outcome.smoke = Some(smoke);
    }
}

/// How `deploy_agents_with` gets and ships each agent's zip.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub force: bool,
    pub dry_run: bool,
    /// Use `<dir>/<agent>.zip` instead of packaging.
    pub package_dir: Option<PathBuf>,
}

/// One agent's deploy as prepared before any call: the values every later step reads, each
/// derived once.
#[derive(Debug, Clone)]
struct Job {
    agent: Agent,
    target: Target,
    runtime_name: String,
    /// The settings the deploy sends.
    desired: DeployedConfig,
}

impl Job {
    /// Refuses a runtime name or settings that AgentCore would refuse: the create and the update this
    /// job may send, checked against AgentCore's model and rules as they will be sent (with the code
    /// key of a first version).
    fn new(settings: &Settings, agent: &Agent, target: Target) -> Result<Job> {
        let runtime_name = settings.scheme().runtime_name(&agent.name, target)?;
        let desired = desired_config(settings, agent);
        let key = records::code_key(&runtime_name, 1);
        let code = runtime_config::Code { bucket: &settings.bucket, key: &key };
        for call in [Call::Create { runtime_name: &runtime_name, tags: &agent.manifest.tags }, Call::Update] {
            runtime_config::check(&agent.name, call.operation(), &runtime_config::input(&desired, &code, &call))
                .map_err(|err| inherited(err, settings, agent))?;
        }
        Ok(Job { agent: agent.clone(), target, runtime_name, desired })
    }
}

/// `err`, saying where a refused value an agent took from the workspace comes from, and where to fix it.
fn inherited(err: anyhow::Error, settings: &Settings, agent: &Agent) -> anyhow::Error {
    let text = err.to_string();
    let mut notes = Vec::new();
    if agent.manifest.lifecycle.is_none() && settings.lifecycle.is_some() && text.contains("[lifecycle]") {
        notes.push("[lifecycle] is the workspace's [workspace.metadata.agentcore.lifecycle] in Cargo.toml");
    }
    if agent.manifest.request_headers.is_none()
        && settings.request_headers.is_some()
        && text.contains("request_headers")
    {
        notes.push("request_headers is the workspace's [workspace.metadata.agentcore] request_headers in Cargo.toml");
    }
    if notes.is_empty() {
        return err;
    }
    anyhow::anyhow!("{text}\n  ({}: fix it there, or set the agent's own in its agent.toml)", notes.join("; "))
}

/// A code zip and its SHA-256, computed once: by packaging it, by reading one built earlier, or
/// by taking another version's (verified against its record).
struct Zip {
    path: PathBuf,
    sha256: String,
    bytes: u64,
    /// The version it was taken from, if it was; its temporary file goes with it.
    source: Option<(crate::records::ArtifactSource, tempfile::TempPath)>,
}

impl From<crate::source::Fetched> for Zip {
    fn from(fetched: crate::source::Fetched) -> Zip {
        Zip {
            path: fetched.path.to_path_buf(),
            sha256: fetched.sha256,
            bytes: fetched.bytes,
            source: Some((fetched.source, fetched.path)),
        }
    }
}

impl Zip {
    /// Hashes a zip built earlier, in chunks and off the async threads.
    async fn read(path: &Path) -> Result<Zip> {
        let owned = path.to_path_buf();
        let (sha256, bytes) = tokio::task::spawn_blocking(move || {
            let path = owned;
            let mut file = std::fs::File::open(&path).with_context(|| {
                format!("cannot read the zip {}; build it with `cargo xtask package`", path.display())
            })?;
            let mut hasher = Sha256::new();
            let size =
                std::io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
            anyhow::Ok((hex::encode(hasher.finalize()), size))
        })
        .await
        .map_err(|err| anyhow!("hashing {} panicked: {err}", path.display()))??;
        Ok(Zip { path: path.to_path_buf(), sha256, bytes, source: None })
    }
}

/// What every agent of one deploy run shares.
struct Run<'a> {
    aws: &'a AwsClients,
    /// The commit being deployed, recorded with each version.
    commit: Option<String>,
    /// The environment deployed to (recorded with a long-lived runtime's versions).
    env: String,
    force: bool,
    dry_run: bool,
}

/// Deploys `agents` to `target`, at most `ctx.settings.max_parallel` at once. One result per agent,
/// in order: a failure of one does not stop the others, and an error does not repeat which agent it
/// is about (the caller pairs results with agents).
pub async fn deploy_agents_with(
    ctx: &Ctx,
    aws: &AwsClients,
    agents: &[Agent],
    target: Target,
    options: &DeployOptions,
) -> Vec<Result<DeployOutcome>> {
    let prepared: Vec<Result<Job>> = agents.iter().map(|agent| Job::new(&ctx.settings, agent, target)).collect();
    let jobs: Vec<Job> = prepared.iter().filter_map(|job| job.as_ref().ok()).cloned().collect();
    let mut deployed = deploy_jobs(ctx, aws, &jobs, options).await.into_iter();
    prepared.into_iter().map(|job| job.and_then(|_| deployed.next().expect("one result per job"))).collect()
}

/// Deploys each of `agents` to `target` from the zip taken for it from another version
/// ([`crate::source::fetch`], one per agent, in order): the same bytes, not packaged again. One
/// result per agent, in order, as [`deploy_agents_with`].
pub async fn deploy_fetched(
    ctx: &Ctx,
    aws: &AwsClients,
    agents: &[Agent],
    target: Target,
    fetched: Vec<crate::source::Fetched>,
) -> Vec<Result<DeployOutcome>> {
    let prepared: Vec<Result<Job>> = agents.iter().map(|agent| Job::new(&ctx.settings, agent, target)).collect();
    let mut jobs = Vec::new();
    let mut zips = Vec::new();
    for (job, fetched) in prepared.iter().zip(fetched) {
        if let Ok(job) = job {
            jobs.push(job.clone());
            zips.push(Ok(Zip::from(fetched)));
        }
    }
    let mut deployed =
        deploy_jobs_from(ctx, aws, &jobs, &DeployOptions::default(), ZipSource::Fetched(zips)).await.into_iter();
    prepared.into_iter().map(|job| job.and_then(|_| deployed.next().expect("one result per job"))).collect()
}

async fn deploy_jobs(ctx: &Ctx, aws: &AwsClients, jobs: &[Job], options: &DeployOptions) -> Vec<Result<DeployOutcome>> {
    let source = match &options.package_dir {
        Some(dir) => ZipSource::Dir(dir),
        None => ZipSource::Package,
    };
    deploy_jobs_from(ctx, aws, jobs, options, source).await
}

/// Where each job's zip comes from.
enum ZipSource<'a> {
    /// Packaged now.
    Package,
    /// `<dir>/<agent>.zip`, built earlier.
    Dir(&'a Path),
    /// Taken from other versions, one per job, in order (or why it could not be).
    Fetched(Vec<Result<Zip>>),
}

async fn deploy_jobs_from(
    ctx: &Ctx,
    aws: &AwsClients,
    jobs: &[Job],
    options: &DeployOptions,
    source: ZipSource<'_>,
) -> Vec<Result<DeployOutcome>> {
    // Before packaging, which may take minutes: a missing bucket fails every agent the same way.
    if !jobs.is_empty()
        && let Err(err) = records::check_bucket(aws).await
    {
        let text = format!("{err:#}");
        return jobs.iter().map(|_| Err(anyhow!("{text}"))).collect();
    }
    let run = &Run {
        aws,
        commit: records::git_commit(&ctx.root),
        env: ctx.env_name().to_owned(),
        force: options.force,
        dry_run: options.dry_run,
    };
    let (fetched, from): (Vec<Option<Result<Zip>>>, Option<&Path>) = match source {
        ZipSource::Package => (jobs.iter().map(|_| None).collect(), None),
        ZipSource::Dir(dir) => (jobs.iter().map(|_| None).collect(), Some(dir)),
        ZipSource::Fetched(zips) => (zips.into_iter().map(Some).collect(), None),
    };
    futures_util::stream::iter(jobs.iter().zip(fetched))
        .map(|(job, fetched)| async move {
            let zip = match (fetched, from) {
                (Some(zip), _) => zip?,
                (None, Some(dir)) => Zip::read(&dir.join(format!("{}.zip", job.agent.name))).await?,
                (None, None) => package(ctx, &job.agent).await?,
            };
            deploy_job(run, job, &zip).await
        })
        .buffered(ctx.settings.max_parallel.max(1))
        .collect()
        .await
}

/// Packages one agent with the `package` command's code, off the async threads.
async fn package(ctx: &Ctx, agent: &Agent) -> Result<Zip> {
    let (ctx, agent) = (ctx.clone(), agent.clone());
    let name = agent.name.clone();
    progress!("{name}: packaging");
    let report = tokio::task::spawn_blocking(move || {
        crate::package::package_agent(&ctx, &agent, &crate::package::PackageOptions::new(&ctx.root))
    })
    .await
    .map_err(|err| anyhow!("packaging {name} panicked: {err}"))?
    .context("packaging failed")?;
    Ok(Zip { path: report.path, sha256: report.sha256, bytes: report.zipped_bytes, source: None })
}

/// The settings a deploy of `agent` sends (checked by `Job::new`).
fn desired_config(settings: &Settings, agent: &Agent) -> DeployedConfig {
    let manifest = &agent.manifest;
    DeployedConfig {
        role_arn: settings.role_arn.clone(),
        python_runtime: agent.python_runtime.clone(),
        entry_point: manifest.entry_point.to_vec(),
        network_mode: manifest.network_mode.to_string(),
        environment: manifest.environment.clone(),
        description: manifest.description.clone(),
        protocol: agent.protocol().to_string(),
        port: agent.port(),
        path: manifest.path.clone(),
        bucket: settings.bucket.clone(),
        // A VPC agent without a [vpc] of its own takes the workspace's; a PUBLIC one takes none.
        vpc: manifest.vpc.clone().or_else(|| match manifest.network_mode {
            crate::agents::NetworkMode::Vpc => settings.vpc.clone(),
            crate::agents::NetworkMode::Public => None,
        }),
        // An agent without a [lifecycle] takes the workspace's; an empty one asks for AgentCore's
        // defaults, as no [lifecycle] anywhere does.
        lifecycle: manifest
            .lifecycle
            .clone()
            .or_else(|| settings.lifecycle.clone())
            .filter(|lifecycle| *lifecycle != Default::default()),
        authorizer: manifest.authorizer.as_ref().and_then(|authorizer| authorizer.jwt.clone()),
        request_headers: manifest.request_headers.clone().or_else(|| settings.request_headers.clone()),
        // Always sent: sources disagree on AgentCore's default, and V2 changes how sessions start.
        platform_version: Some(manifest.platform_version.clone().unwrap_or_else(|| settings.platform_version.clone())),
        allowed_ports: manifest.allowed_ports.clone(),
        resources: manifest.resources.clone(),
    }
}

/// Deploys one agent from a zip built already (by `package`, or by hand in tests).
pub async fn deploy_zip(
    ctx: &Ctx,
    aws: &AwsClients,
    agent: &Agent,
    target: Target,
    zip_path: &Path,
    force: bool,
    dry_run: bool,
) -> Result<DeployOutcome> {
    let job = Job::new(&ctx.settings, agent, target)?;
    let zip = Zip::read(zip_path).await?;
    let run = Run { aws, commit: records::git_commit(&ctx.root), env: ctx.env_name().to_owned(), force, dry_run };
    deploy_job(&run, &job, &zip).await
}

/// Deploys one prepared agent: up to date, planned, or a new version that is READY.
async fn deploy_job(run: &Run<'_>, job: &Job, zip: &Zip) -> Result<DeployOutcome> {
    let (aws, agent, runtime_name) = (run.aws, &job.agent, &job.runtime_name);
    let mut outcome = DeployOutcome {
        agent: agent.name.clone(),
        runtime_name: runtime_name.clone(),
        runtime_id: None,
        runtime_arn: None,
        version: None,
        status: DeployStatus::Unchanged,
        action: DeployAction::Planned,
        default_endpoint: None,
        s3_key: None,
        zip_sha256: zip.sha256.clone(),
        commit: run.commit.clone(),
        plan: None,
        record_key: None,
        smoke: None,
        source: zip.source.as_ref().map(|(source, _)| source.clone()),
    };

    let mut existing = aws::index::runtime(aws, runtime_name).await?;
    let mut predicted = 1;
    if let Some(summary) = existing.clone() {
        let runtime_id = summary.id.clone();
        match aws::get_runtime(aws, &runtime_id, None).await? {
            // Deleted between the list and now: create it again.
            None => {
                aws::index::deleted(aws, runtime_name);
                existing = None;
            }
            Some(latest) => {
                let latest_version = latest.agent_runtime_version().to_owned();
                predicted = aws::version_number(&latest_version) + 1;
                outcome.runtime_id = Some(runtime_id.clone());
                outcome.runtime_arn = Some(latest.agent_runtime_arn().to_owned());
                if *latest.status() == AgentRuntimeStatus::DeleteFailed {
                    bail!(
                        "runtime {runtime_name} ({runtime_id}) is DELETE_FAILED: {}; delete it again with `cargo xtask cleanup {runtime_name}{}`, then deploy again to make it anew",
                        latest.failure_reason().unwrap_or("AgentCore gave no failureReason"),
                        match job.target {
                            Target::Pr(_) => String::new(),
                            Target::Prod => format!(" --env {} --force-prod", run.env),
                        }
                    );
                }
                if !run.force {
                    let record = records::read_version_record(aws, runtime_name, &latest_version, &runtime_id).await?;
                    let deployed_key = aws::artifact_key(latest.agent_runtime_artifact());
                    let status = latest.status().clone();
                    if let Some((record_key, record)) = record
                        && record.zip_sha256 == zip.sha256
                        && record.config.same_as(&job.desired, latest.platform_version())
                        && matches!(
                            status,
                            AgentRuntimeStatus::Ready | AgentRuntimeStatus::Creating | AgentRuntimeStatus::Updating
                        )
                        && deployed_key.as_deref() == Some(record.code_key.as_str())
                    {
                        outcome.version = Some(latest_version.clone());
                        outcome.s3_key = Some(record.code_key.clone());
                        outcome.record_key = Some(record_key);
                        if status == AgentRuntimeStatus::Ready {
                            progress!("{}: {runtime_name} version {latest_version} is up to date", agent.name);
                        } else if run.dry_run {
                            outcome.action = DeployAction::Planned;
                            outcome.status = DeployStatus::Version(Status::from(status.as_str()));
                            outcome.plan = Some(Plan::AwaitVersion {
                                runtime: runtime_name.clone(),
                                version: latest_version.clone(),
                                tags: planned_tags(aws, agent, Some(latest.agent_runtime_arn())).await?,
                            });
                            return Ok(outcome);
                        } else {
                            // An earlier deploy of this very code was interrupted while it waited:
                            // wait for its version instead of spending another one.
                            progress!(
                                "{}: {runtime_name} version {latest_version} has this code and is still {status}; waiting until READY",
                                agent.name
                            );
                            aws::wait_runtime_ready(aws, &runtime_id, runtime_name, &latest_version).await?;
                            let ready = aws::index::RuntimeSummary { status: "READY".to_owned(), ..summary.clone() };
                            aws::index::record(aws, ready);
                        }
                        outcome.status = DeployStatus::Version(Status::Ready);
                        outcome.action = DeployAction::UpToDate;
                        outcome.default_endpoint = default_endpoint_arn(aws, &runtime_id).await?;
                        if run.dry_run {
                            // Up to date but for its tags: the plan says how they would change.
                            let tags = planned_tags(aws, agent, Some(latest.agent_runtime_arn())).await?;
                            if !tags.is_empty() {
                                let (runtime, version) = (runtime_name.clone(), latest_version.clone());
                                outcome.plan = Some(Plan::ChangeTags { runtime, version, tags });
                            }
                        } else {
                            sync_tags(aws, agent, latest.agent_runtime_arn()).await?;
                        }
                        return Ok(outcome);
                    }
                }
            }
        }
    }

    let code_key = records::code_key(runtime_name, predicted);
    if run.dry_run {
        outcome.action = DeployAction::Planned;
        outcome.s3_key = Some(code_key.clone());
        let (bucket, runtime) = (aws.bucket.clone(), runtime_name.clone());
        let tags = planned_tags(aws, agent, outcome.runtime_arn.as_deref()).await?;
        (outcome.status, outcome.plan) = match &existing {
            None => (DeployStatus::Create, Some(Plan::CreateRuntime { bucket, code_key, runtime, tags })),
            Some(_) => (
                DeployStatus::Unchanged,
                Some(Plan::UpdateRuntime { bucket, code_key, runtime, version: predicted, tags }),
            ),
        };
        return Ok(outcome);
    }

    match &zip.source {
        Some((source, _)) => progress!(
            "{}: uploading the {} bytes of {source} (SHA-256 {}) to s3://{}/{code_key}",
            agent.name,
            zip.bytes,
            &zip.sha256[..12],
            aws.bucket
        ),
        None => progress!("{}: uploading {} bytes to s3://{}/{code_key}", agent.name, zip.bytes, aws.bucket),
    }
    let code_key = records::upload_code(aws, runtime_name, predicted, &zip.path, &zip.sha256).await?;
    let request = RuntimeRequest { agent, runtime_name, desired: &job.desired, code_key: &code_key };
    let made = match &existing {
        None => create_or_update(aws, &request).await?,
        Some(summary) => update(aws, &request, &summary.id).await?,
    };
    progress!(
        "{}: {} {runtime_name} version {} ({}), waiting until READY",
        agent.name,
        made.action,
        made.version,
        made.runtime_id
    );
    let record = VersionRecord {
        agent: agent.name.clone(),
        runtime_name: runtime_name.clone(),
        runtime_id: made.runtime_id.clone(),
        version: made.version.clone(),
        target: job.target,
        pr: match job.target {
            Target::Pr(number) => Some(number),
            Target::Prod => None,
        },
        git_commit: run.commit.clone(),
        zip_sha256: zip.sha256.clone(),
        code_key: code_key.clone(),
        config: job.desired.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        deployed_at: records::now_rfc3339(),
        env: match job.target {
            Target::Prod => Some(run.env.clone()),
            Target::Pr(_) => None,
        },
        source: zip.source.as_ref().map(|(source, _)| source.clone()),
    };
    // Recorded before the wait, so a version that fails to start still says what it was made from.
    let record_key = records::write_version_record(aws, &record).await?;
    outcome.runtime_id = Some(made.runtime_id.clone());
    outcome.runtime_arn = Some(made.runtime_arn.clone());
    outcome.version = Some(made.version.clone());
    outcome.action = made.action;
    outcome.s3_key = Some(code_key);
    outcome.record_key = Some(record_key);
    let ready = aws::wait_runtime_ready(aws, &made.runtime_id, runtime_name, &made.version).await?;
    progress!("{}: {runtime_name} version {} is READY", agent.name, made.version);
    aws::index::record(
        aws,
        aws::index::RuntimeSummary {
            name: runtime_name.clone(),
            id: made.runtime_id.clone(),
            arn: made.runtime_arn.clone(),
            status: ready.status().as_str().to_owned(),
            last_updated: Some(*ready.last_updated_at()),
        },
    );
    outcome.status = DeployStatus::Version(Status::from(ready.status().as_str()));
    outcome.default_endpoint = default_endpoint_arn(aws, &made.runtime_id).await?;
    sync_tags(aws, agent, &made.runtime_arn).await?;
    Ok(outcome)
}

/// Makes the runtime's tags agent.toml's: UpdateAgentRuntime cannot change tags, so they are
/// compared and changed on their own, after every deploy (a create's tags are already right).
async fn sync_tags(aws: &AwsClients, agent: &Agent, runtime_arn: &str) -> Result<()> {
    sync_tags_of(aws, agent, runtime_arn)
        .await
        .context("the runtime's tags are not agent.toml's [tags] yet (its version is deployed); re-run the deploy")
}

async fn sync_tags_of(aws: &AwsClients, agent: &Agent, runtime_arn: &str) -> Result<()> {
    let TagChanges { added, changed, removed } = planned_tags(aws, agent, Some(runtime_arn)).await?;
    let mut changed: std::collections::BTreeMap<String, String> =
        changed.into_iter().map(|(key, (_, value))| (key, value)).collect();
    changed.extend(added);
    if !removed.is_empty() {
        progress!("{}: removing tags {}", agent.name, removed.join(", "));
        aws::untag(aws, runtime_arn, &removed).await?;
    }
    if !changed.is_empty() {
        let keys: Vec<&str> = changed.keys().map(String::as_str).collect();
        progress!("{}: setting tags {}", agent.name, keys.join(", "));
        aws::tag(aws, runtime_arn, &changed).await?;
    }
    Ok(())
}

/// How a deploy changes the runtime's tags to agent.toml's: read from the runtime `runtime_arn`
/// (a read only, also in a dry run), or all added to a runtime still to be made.
async fn planned_tags(aws: &AwsClients, agent: &Agent, runtime_arn: Option<&str>) -> Result<TagChanges> {
    let current = match runtime_arn {
        Some(arn) => aws::list_tags(aws, arn).await?,
        None => Default::default(),
    };
    Ok(TagChanges::between(&agent.manifest.tags, &current))
}

async fn default_endpoint_arn(aws: &AwsClients, runtime_id: &str) -> Result<Option<String>> {
    Ok(aws::get_endpoint(aws, runtime_id, "DEFAULT")
        .await?
        .map(|endpoint| endpoint.agent_runtime_endpoint_arn().to_owned()))
}

struct RuntimeRequest<'a> {
    agent: &'a Agent,
    runtime_name: &'a str,
    desired: &'a DeployedConfig,
    code_key: &'a str,
}

struct Made {
    runtime_id: String,
    runtime_arn: String,
    version: String,
    action: DeployAction,
}

impl RuntimeRequest<'_> {
    /// The body this request must have, checked once more (it was checked before any call with the
    /// key of a first version): [`aws::ExactBody`] makes the SDK's request exactly this.
    fn exact(&self, bucket: &str, call: &Call<'_>) -> Result<aws::ExactBody> {
        let code = runtime_config::Code { bucket, key: self.code_key };
        let expected = runtime_config::input(self.desired, &code, call);
        runtime_config::check(&self.agent.name, call.operation(), &expected)?;
        Ok(aws::ExactBody { expected })
    }

    fn artifact(&self, bucket: &str) -> Result<AgentRuntimeArtifact> {
        let location = S3Location::builder().bucket(bucket).prefix(self.code_key).build()?;
        let mut code = CodeConfiguration::builder()
            .code(Code::S3(location))
            .runtime(AgentManagedRuntimeType::from(self.desired.python_runtime.as_str()));
        for part in &self.desired.entry_point {
            code = code.entry_point(part);
        }
        Ok(AgentRuntimeArtifact::CodeConfiguration(code.build()?))
    }

    fn network(&self) -> Result<NetworkConfiguration> {
        let vpc = match &self.desired.vpc {
            None => None,
            Some(vpc) => Some(
                VpcConfig::builder()
                    .set_subnets(Some(vpc.subnets.clone()))
                    .set_security_groups(Some(vpc.security_groups.clone()))
                    .set_require_service_s3_endpoint(vpc.require_service_s3_endpoint)
                    .build()?,
            ),
        };
        Ok(NetworkConfiguration::builder()
            .network_mode(NetworkMode::from(self.desired.network_mode.as_str()))
            .set_network_mode_config(vpc)
            .build()?)
    }

    fn lifecycle(&self) -> Option<LifecycleConfiguration> {
        // Checked against the model's ranges, so every value fits the SDK's i32.
        let lifecycle = self.desired.lifecycle.as_ref()?;
        Some(
            LifecycleConfiguration::builder()
                .set_idle_runtime_session_timeout(lifecycle.idle_timeout_secs.map(|secs| secs as i32))
                .set_max_lifetime(lifecycle.max_lifetime_secs.map(|secs| secs as i32))
                .build(),
        )
    }

    fn authorizer(&self) -> Result<Option<AuthorizerConfiguration>> {
        let Some(jwt) = &self.desired.authorizer else { return Ok(None) };
        let config = CustomJwtAuthorizerConfiguration::builder()
            .discovery_url(&jwt.discovery_url)
            .set_allowed_audience(jwt.allowed_audiences.clone())
            .set_allowed_clients(jwt.allowed_clients.clone())
            .set_allowed_scopes(jwt.allowed_scopes.clone())
            .build()?;
        Ok(Some(AuthorizerConfiguration::CustomJwtAuthorizer(config)))
    }

    fn request_headers(&self) -> Option<RequestHeaderConfiguration> {
        let headers = self.desired.request_headers.clone()?;
        Some(RequestHeaderConfiguration::RequestHeaderAllowlist(headers))
    }

    fn allowed_ports(&self) -> Result<Option<Vec<AllowedPort>>> {
        let Some(ports) = &self.desired.allowed_ports else { return Ok(None) };
        let mut entries = Vec::new();
        for entry in ports {
            entries.push(match entry {
                crate::agents::AllowedPort::Port(port) => AllowedPort::Port(*port as i32),
                crate::agents::AllowedPort::Range(text) => {
                    let (from, to) = crate::agents::AllowedPort::range(text).unwrap_or((0, 0));
                    AllowedPort::PortRange(PortRange::builder().from(from as i32).to(to as i32).build()?)
                }
            });
        }
        Ok(Some(entries))
    }

    /// The declared protocol, and its port and path when `agent.toml` sets them (AgentCore's
    /// defaults otherwise).
    fn protocol(&self) -> Result<ProtocolConfiguration> {
        Ok(ProtocolConfiguration::builder()
            .server_protocol(ServerProtocol::from(self.desired.protocol.as_str()))
            .set_port(self.desired.port.map(i32::from))
            .set_path(self.desired.path.clone())
            .build()?)
    }

    fn environment(&self) -> HashMap<String, String> {
        self.desired.environment.clone().into_iter().collect()
    }
}

/// Sets a version's settings on a CreateAgentRuntime or UpdateAgentRuntime builder (two SDK types
/// with the same setters): one list, so that a create and an update cannot drift apart.
macro_rules! version_settings {
    ($builder:expr, $request:expr, $bucket:expr) => {
        $builder
            .agent_runtime_artifact($request.artifact($bucket)?)
            .role_arn(&$request.desired.role_arn)
            .network_configuration($request.network()?)
            .protocol_configuration($request.protocol()?)
            .set_environment_variables(Some($request.environment()))
            .set_description($request.desired.description.clone())
            .set_lifecycle_configuration($request.lifecycle())
            .set_authorizer_configuration($request.authorizer()?)
            .set_request_header_configuration($request.request_headers())
            .set_platform_version($request.desired.platform_version.clone())
            .set_allowed_ports($request.allowed_ports()?)
    };
}

const CREATE: &str = "bedrock-agentcore:CreateAgentRuntime";
const UPDATE: &str = "bedrock-agentcore:UpdateAgentRuntime";

/// Creates the runtime; if a racing deploy created it first (409), updates that one instead.
async fn create_or_update(aws: &AwsClients, request: &RuntimeRequest<'_>) -> Result<Made> {
    let create = aws.control.create_agent_runtime().agent_runtime_name(request.runtime_name);
    let sent = version_settings!(create, request, &aws.bucket)
        .set_tags(Some(request.agent.manifest.tags.clone().into_iter().collect()))
        .customize()
        .interceptor(request.exact(
            &aws.bucket,
            &Call::Create { runtime_name: request.runtime_name, tags: &request.agent.manifest.tags },
        )?)
        .send()
        .await;
    match sent {
        Ok(output) => {
            // Later lookups of this run find it without listing again.
            aws::index::record(
                aws,
                aws::index::RuntimeSummary {
                    name: request.runtime_name.to_owned(),
                    id: output.agent_runtime_id().to_owned(),
                    arn: output.agent_runtime_arn().to_owned(),
                    status: output.status().as_str().to_owned(),
                    last_updated: Some(*output.created_at()),
                },
            );
            Ok(Made {
                runtime_id: output.agent_runtime_id().to_owned(),
                runtime_arn: output.agent_runtime_arn().to_owned(),
                version: output.agent_runtime_version().to_owned(),
                action: DeployAction::Created,
            })
        }
        Err(err) if aws::error_code(&err).as_deref() == Some("ConflictException") => {
            progress!(
                "{}: {} was created meanwhile by someone else; updating it",
                request.agent.name,
                request.runtime_name
            );
            // This run's listing predates the other create, so look again for real; the other create
            // may not be listed yet either: look a few times.
            for _ in 0..10 {
                if let Some(summary) = aws::index::look_again(aws, request.runtime_name).await? {
                    return update(aws, request, &summary.id).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            bail!(
                "CreateAgentRuntime on {} failed: ConflictException, yet no runtime of that name is listed; re-run the deploy",
                request.runtime_name
            )
        }
        Err(err) => Err(aws::explain(err, CREATE, &format!("runtime {}", request.runtime_name))),
    }
}

/// Updates the runtime: a full replacement that makes a new immutable version. A runtime busy with
/// another change (409) is waited for, then updated.
async fn update(aws: &AwsClients, request: &RuntimeRequest<'_>, runtime_id: &str) -> Result<Made> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let update = aws.control.update_agent_runtime().agent_runtime_id(runtime_id);
        let sent = version_settings!(update, request, &aws.bucket)
            .customize()
            .interceptor(request.exact(&aws.bucket, &Call::Update)?)
            .send()
            .await;
        match sent {
            Ok(output) => {
                return Ok(Made {
                    runtime_id: output.agent_runtime_id().to_owned(),
                    runtime_arn: output.agent_runtime_arn().to_owned(),
                    version: output.agent_runtime_version().to_owned(),
                    action: DeployAction::Updated,
                });
            }
            Err(err) if attempt < 4 && aws::error_code(&err).as_deref() == Some("ConflictException") => {
                progress!("{}: {} is busy; waiting for it to settle", request.agent.name, request.runtime_name);
                aws::wait_runtime_settled(aws, runtime_id, request.runtime_name).await?;
            }
            Err(err) => {
                return Err(aws::explain(err, UPDATE, &format!("runtime {} ({runtime_id})", request.runtime_name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(manifest: &str) -> (tempfile::TempDir, Agent) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("agents/bot");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(root.path().join("prompts")).unwrap();
        std::fs::write(dir.join("agent.toml"), manifest).unwrap();
        std::fs::write(dir.join("main.py"), "").unwrap();
        std::fs::write(dir.join("requirements.txt"), "").unwrap();
        std::fs::write(root.path().join("prompts/bot.txt"), "hi").unwrap();
        let agent = crate::agents::discover(root.path(), &settings()).unwrap().remove(0);
        (root, agent)
    }

    fn settings() -> Settings {
        crate::settings::test_settings()
    }

    /// Every `agent.toml` example in docs/configuration.md (the TOML blocks under "Agents") is one
    /// that `deploy` accepts: it parses, passes the manifest checks and AgentCore's model and rules.
    #[test]
    fn the_agent_toml_examples_of_the_docs_deploy() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md")).unwrap();
        let agents_section = docs.split_once("\n## Agents\n").expect("docs/configuration.md has an Agents section").1;
        let blocks: Vec<&str> = agents_section
            .split("```toml\n")
            .skip(1)
            .map(|rest| rest.split_once("```").expect("a closed code block").0)
            .collect();
        assert!(blocks.len() >= 3, "the agent.toml examples: {}", blocks.len());
        for block in blocks {
            let (_root, agent) = agent(block);
            Job::new(&settings(), &agent, Target::Pr(1)).unwrap_or_else(|err| panic!("{err:#}\nin:\n{block}"));
        }
    }

    /// The `config` of a record written before agent.toml had protocol, port and path.
    const OLD_CONFIG: &str = r#"{"role_arn": "arn:aws:iam::123456789012:role/R", "python_runtime": "PYTHON_3_12",
        "entry_point": ["main.py"], "network_mode": "PUBLIC", "environment": {}, "description": null,
        "protocol": "HTTP", "bucket": "b-bucket"}"#;

    #[test]
    fn records_from_before_protocols_still_match_http_agents() {
        let old: DeployedConfig = serde_json::from_str(OLD_CONFIG).unwrap();
        let (_root, http) = agent("entry_point = \"main.py\"\n");
        assert!(old.same_as(&desired_config(&settings(), &http), None), "an HTTP agent is up to date");
        let (_root, declared) = agent("entry_point = \"main.py\"\nprotocol = \"HTTP\"\n");
        assert!(old.same_as(&desired_config(&settings(), &declared), None), "so is one that says HTTP");
        // And what a record of such an agent holds is what older records held, plus the platform.
        let mut written = serde_json::to_value(desired_config(&settings(), &http)).unwrap();
        assert_eq!(written["platform_version"].take(), "V1");
        written.as_object_mut().unwrap().remove("platform_version");
        assert_eq!(written, serde_json::from_str::<serde_json::Value>(OLD_CONFIG).unwrap());
    }

    #[test]
    fn protocol_port_and_path_are_part_of_the_desired_config() {
        let old: DeployedConfig = serde_json::from_str(OLD_CONFIG).unwrap();
        let (_root, mcp) = agent("entry_point = \"main.py\"\nprotocol = \"MCP\"\n");
        let desired = desired_config(&settings(), &mcp);
        assert_eq!((desired.protocol.as_str(), desired.port, desired.path.as_deref()), ("MCP", None, None));
        assert!(!old.same_as(&desired, None));
        let (_root, custom) = agent("entry_point = \"main.py\"\nport = 9000\npath = \"/run\"\n");
        let desired = desired_config(&settings(), &custom);
        assert_eq!(
            (desired.protocol.as_str(), desired.port, desired.path.as_deref()),
            ("HTTP", Some(9000), Some("/run"))
        );
        assert!(!old.same_as(&desired, None));
        let request = RuntimeRequest { agent: &custom, runtime_name: "bot_pr_1", desired: &desired, code_key: "k" };
        let sent = request.protocol().unwrap();
        assert_eq!(
            (sent.server_protocol(), sent.port(), sent.path()),
            (&ServerProtocol::Http, Some(9000), Some("/run"))
        );
    }
}
