//! Project settings: read once from `[workspace.metadata.agentcore]`, overridden by flags and env vars.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The Python runtimes AgentCore accepts for direct-code agents.
pub(crate) const PYTHON_RUNTIMES: &[&str] =
    &["PYTHON_3_10", "PYTHON_3_11", "PYTHON_3_12", "PYTHON_3_13", "PYTHON_3_14"];

/// The platform version every runtime is deployed on unless its settings say otherwise: V1, the
/// platform every runtime made before platform versions existed runs on, so upgrading the tool
/// changes no running agent. V2 (sessions restored from a snapshot per version, creates that take
/// minutes) is one line away: `platform_version = "V2"` here or in an agent.toml.
pub(crate) const DEFAULT_PLATFORM_VERSION: &str = "V1";

/// Overrides for every project setting. Each is global, so it may follow any subcommand.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct SettingsArgs {
    /// AWS region (default: AWS_REGION, then the workspace setting)
    #[arg(long, global = true, env = "AWS_REGION")]
    pub(crate) region: Option<String>,
    /// S3 bucket holding code zips and deployment records
    #[arg(long, global = true, env = "AGENTCORE_BUCKET")]
    pub(crate) bucket: Option<String>,
    /// IAM role the runtimes execute as
    #[arg(long, global = true, env = "AGENTCORE_ROLE_ARN")]
    pub(crate) role_arn: Option<String>,
    /// Default Python runtime (PYTHON_3_10 … PYTHON_3_14) for agents that do not set one
    #[arg(long, global = true, env = "AGENTCORE_PYTHON_RUNTIME")]
    pub(crate) python_runtime: Option<String>,
    /// Default AgentCore platform version (V1 or V2) for agents that do not set one
    #[arg(long, global = true, env = "AGENTCORE_PLATFORM_VERSION")]
    pub(crate) platform_version: Option<String>,
    /// Target platform for dependency wheels
    #[arg(long, global = true, env = "AGENTCORE_PLATFORM")]
    pub(crate) platform: Option<String>,
    /// Name of the long-lived target (runtime suffix) that production versions go to
    #[arg(long, global = true, env = "AGENTCORE_PROD_RUNTIME")]
    pub(crate) prod_runtime: Option<String>,
    /// Name of the production endpoint that promotion moves
    #[arg(long, global = true, env = "AGENTCORE_PROD_ENDPOINT")]
    pub(crate) prod_endpoint: Option<String>,
    /// Runtime name scheme with `{agent}` and `{target}` placeholders
    #[arg(long, global = true, env = "AGENTCORE_RUNTIME_NAME")]
    pub(crate) runtime_name: Option<String>,
    /// Most agents worked on at once
    #[arg(long, global = true, env = "AGENTCORE_MAX_PARALLEL")]
    pub(crate) max_parallel: Option<usize>,
    /// uv version installed when uv is missing
    #[arg(long, global = true, env = "AGENTCORE_UV_VERSION")]
    pub(crate) uv_version: Option<String>,
    /// Days after its latest version that an open pull request's preview runtimes are deleted by
    /// `github gc` (0 keeps them)
    #[arg(long, global = true, value_name = "DAYS", env = "AGENTCORE_IDLE_PREVIEW_DAYS")]
    pub(crate) idle_preview_days: Option<u32>,
    /// Newest versions of each prod runtime that `prune` keeps by default and `github gc --prune`
    /// keeps (0 turns gc's pruning off)
    #[arg(long, global = true, value_name = "N", env = "AGENTCORE_PRUNE_KEEP")]
    pub(crate) prune_keep: Option<u32>,
}

/// The effective settings after overrides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub region: String,
    pub bucket: String,
    pub(crate) role_arn: String,
    pub(crate) python_runtime: String,
    #[serde(default = "default_platform_version")]
    pub(crate) platform_version: String,
    pub(crate) platform: String,
    pub(crate) prod_runtime: String,
    #[serde(default = "default_prod_endpoint")]
    pub(crate) prod_endpoint: String,
    #[serde(default = "default_runtime_name")]
    pub(crate) runtime_name: String,
    #[serde(default = "default_max_parallel")]
    pub max_parallel: usize,
    pub uv_version: String,
    #[serde(default = "default_idle_preview_days")]
    pub idle_preview_days: u32,
    /// `[workspace.metadata.agentcore.vpc]`: the `[vpc]` of every `network_mode = "VPC"` agent that
    /// has none of its own (no flag: a table of lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vpc: Option<Vpc>,
    /// `[workspace.metadata.agentcore.lifecycle]`: the `[lifecycle]` of every agent that has none of
    /// its own (no flag: a table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lifecycle: Option<Lifecycle>,
    /// `request_headers`: the allow-list of every agent that has none of its own (no flag: a list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request_headers: Option<Vec<String>>,
    #[serde(default = "default_prune_keep")]
    pub prune_keep: u32,
    /// Named environments (`[workspace.metadata.agentcore.environments.<name>]`), as written. With
    /// none, there is one: `prod`, made of the keys above, exactly as before environments existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) environments: BTreeMap<String, EnvironmentTable>,
    /// The environments a release goes through, in order: a merge deploys to the first and makes
    /// its version live there; each approval promotes the same bytes to the next. Empty: today's
    /// single-`prod` flow (a merge adds a prod version, an approval makes it live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) environments_chain: Vec<String>,
}

/// The environment that always exists: the workspace keys make it, unless a table overrides them.
pub const PROD: &str = "prod";

/// Longest environment name: it becomes part of runtime names, which have 48 characters at most.
const ENV_NAME_MAX: usize = 24;

/// One `[workspace.metadata.agentcore.environments.<name>]` table as written: each key left out
/// is the workspace setting of the same meaning.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvironmentTable {
    /// Region of its runtimes and bucket (default: `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<String>,
    /// Bucket of its code zips and records (default: `bucket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bucket: Option<String>,
    /// Execution role of its runtimes (default: `role_arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role_arn: Option<String>,
    /// Its long-lived target in runtime names, the `{target}` of `runtime_name` (default: the
    /// environment's name; for `prod`, `prod_runtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<String>,
    /// Its runtime name scheme (default: `runtime_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) runtime_name: Option<String>,
    /// The endpoint that promotion moves (default: `prod_endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) endpoint: Option<String>,
    /// AWS shared-config profile its calls use (default: `--profile`, AWS_PROFILE, the standard chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
    /// A role to assume (with STS, from the credentials found otherwise) for its calls: another
    /// account's deploy role, say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) assume_role_arn: Option<String>,
}

/// An environment with every key resolved: what a command with `--env NAME` works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    pub region: String,
    pub bucket: String,
    pub role_arn: String,
    /// The `{target}` of its runtime names.
    pub target: String,
    /// Its runtime name scheme.
    pub runtime_name: String,
    /// The endpoint promotion moves.
    pub endpoint: String,
    pub profile: Option<String>,
    pub assume_role_arn: Option<String>,
}

impl Environment {
    /// Its runtime naming scheme: the long-lived runtimes are its `target`, pull requests' the usual `pr_<N>`.
    pub fn scheme(&self) -> crate::naming::Scheme {
        crate::naming::Scheme::new(&self.runtime_name, &self.target).expect("validated when the settings were loaded")
    }

    /// Where its calls go: environments at the same place share runtimes' names, so their targets must differ.
    pub(crate) fn location(&self) -> (&str, Option<&str>, Option<&str>) {
        (&self.region, self.profile.as_deref(), self.assume_role_arn.as_deref())
    }
}

/// `[lifecycle]` of `agent.toml`, or of the workspace settings, in seconds.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// A session idle this long ends (AgentCore's default: 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) idle_timeout_secs: Option<i64>,
    /// A session ends this long after it started (AgentCore's default: 28,800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_lifetime_secs: Option<i64>,
}

/// `[vpc]` of `agent.toml`, or of the workspace settings: the runtime's network interfaces go into
/// these subnets, behind these security groups.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    pub(crate) subnets: Vec<String>,
    pub(crate) security_groups: Vec<String>,
    /// Whether AgentCore provisions its own S3 gateway endpoint in the VPC (AWS's default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) require_service_s3_endpoint: Option<bool>,
}

fn default_platform_version() -> String {
    DEFAULT_PLATFORM_VERSION.to_owned()
}
fn default_prod_endpoint() -> String {
    "prod".to_owned()
}
fn default_runtime_name() -> String {
    "{agent}_{target}".to_owned()
}
/// Deploys mostly wait on AgentCore, so 8 at once keeps a many-agent release near the time of one.
fn default_max_parallel() -> usize {
    8
}
/// Two weeks without a push: the preview is idle; pushing again brings it back.
fn default_idle_preview_days() -> u32 {
    14
}
/// A busy prod runtime adds a version per merge; ten are a few weeks of rollbacks at hand.
fn default_prune_keep() -> u32 {
    10
}

impl Settings {
    /// Reads `[workspace.metadata.agentcore]` of the workspace whose root manifest is `root/Cargo.toml`.
    pub fn from_workspace(root: &Path) -> Result<Settings> {
        let manifest = root.join("Cargo.toml");
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(&manifest)
            .no_deps()
            .exec()
            .with_context(|| format!("cannot read workspace metadata from {}", manifest.display()))?;
        Settings::from_metadata(&metadata.workspace_metadata)
            .with_context(|| format!("in [workspace.metadata.agentcore] of {}", manifest.display()))
    }

    pub(crate) fn from_metadata(workspace_metadata: &serde_json::Value) -> Result<Settings> {
        let Some(table) = workspace_metadata.get("agentcore") else {
            bail!(
                "the section is missing: add it with region, bucket, role_arn, python_runtime, platform, prod_runtime and uv_version (see docs/configuration.md, \"Settings\")"
            )
        };
        // Each environment's table on its own first, so that an error names the environment.
        if let Some(environments) = table.get("environments").and_then(|value| value.as_object()) {
            for (name, value) in environments {
                serde_json::from_value::<EnvironmentTable>(value.clone())
                    .map_err(|err| anyhow::anyhow!("environments.{name}: {err}"))?;
            }
        }
        serde_json::from_value(table.clone()).map_err(|err| anyhow::anyhow!("{err}"))
    }

    /// Applies flag and environment overrides, then validates the result.
    pub(crate) fn with_overrides(mut self, args: &SettingsArgs) -> Result<Settings> {
        let overrides = [
            (&mut self.region, &args.region),
            (&mut self.bucket, &args.bucket),
            (&mut self.role_arn, &args.role_arn),
            (&mut self.python_runtime, &args.python_runtime),
            (&mut self.platform_version, &args.platform_version),
            (&mut self.platform, &args.platform),
            (&mut self.prod_runtime, &args.prod_runtime),
            (&mut self.prod_endpoint, &args.prod_endpoint),
            (&mut self.runtime_name, &args.runtime_name),
            (&mut self.uv_version, &args.uv_version),
        ];
        for (setting, value) in overrides {
            if let Some(value) = value.as_ref().filter(|value| !value.is_empty()) {
                *setting = value.clone();
            }
        }
        if let Some(max_parallel) = args.max_parallel {
            self.max_parallel = max_parallel;
        }
        if let Some(days) = args.idle_preview_days {
            self.idle_preview_days = days;
        }
        if let Some(keep) = args.prune_keep {
            self.prune_keep = keep;
        }
        self.validate()?;
        Ok(self)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_python_runtime(&self.python_runtime, "python_runtime (--python-runtime, AGENTCORE_PYTHON_RUNTIME)")?;
        let versions = agentcore_model::rules::PLATFORM_VERSIONS;
        if !versions.contains(&self.platform_version.as_str()) {
            bail!(
                "platform_version `{}` is not an AgentCore platform version; use one of {} (--platform-version, AGENTCORE_PLATFORM_VERSION)",
                self.platform_version,
                versions.join(", ")
            );
        }
        if self.max_parallel == 0 {
            bail!("max_parallel must be at least 1 (--max-parallel, AGENTCORE_MAX_PARALLEL)");
        }
        if !self.platform.starts_with("aarch64-") {
            bail!(
                "platform `{}` is not an ARM64 target: AgentCore runs linux/arm64, use for example `aarch64-manylinux2014` (--platform, AGENTCORE_PLATFORM)",
                self.platform
            );
        }
        if !check_bucket_name(&self.bucket) {
            bail!(
                "bucket `{}` is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens (--bucket, AGENTCORE_BUCKET)",
                self.bucket
            );
        }
        if !is_role_arn(&self.role_arn) {
            bail!(
                "role_arn `{}` is not an IAM role ARN such as arn:aws:iam::123456789012:role/AgentCoreRuntimeRole (--role-arn, AGENTCORE_ROLE_ARN)",
                self.role_arn
            );
        }
        crate::naming::Scheme::new(&self.runtime_name, &self.prod_runtime)?;
        if !crate::naming::is_valid_name(&self.prod_endpoint) {
            bail!(
                "prod_endpoint `{}` is not a valid endpoint name: a letter then up to 47 letters, digits or underscores (--prod-endpoint, AGENTCORE_PROD_ENDPOINT)",
                self.prod_endpoint
            );
        }
        if self.prod_endpoint == "DEFAULT" {
            bail!("prod_endpoint cannot be DEFAULT: AgentCore moves DEFAULT to every new version by itself");
        }
        self.validate_environments()
    }

    /// Every environment resolves to valid settings, no two of them could make the same runtime,
    /// and the chain names known environments.
    fn validate_environments(&self) -> Result<()> {
        for name in self.environments.keys() {
            check_environment_name(name)?;
        }
        let environments = self.environments()?;
        for (index, env) in environments.iter().enumerate() {
            for other in &environments[..index] {
                if other.location() == env.location() && other.target == env.target {
                    bail!(
                        "environments {} and {} both name their runtimes with target `{}` in region {} with the same \
                         credentials, so they would share runtimes; give one another `target` (or another region, \
                         profile or assume_role_arn)",
                        other.name,
                        env.name,
                        env.target,
                        env.region
                    );
                }
            }
        }
        let chain = &self.environments_chain;
        if chain.len() == 1 {
            bail!(
                "environments_chain lists one environment, `{}`; a chain has at least two (a merge goes live on the first, \
                 each approval promotes the same bytes to the next): leave it out for the single-prod flow",
                chain[0]
            );
        }
        if chain.len() > 2 {
            bail!(
                "environments_chain lists {} environments; the workflows promote along two for now (a merge goes live on \
                 the first, an approval promotes its bytes to the second): list two, and promote further by hand with \
                 `cargo xtask deploy --env NAME --from-env NAME`",
                chain.len()
            );
        }
        for (index, name) in chain.iter().enumerate() {
            self.environment(name).with_context(|| "in environments_chain")?;
            if chain[..index].contains(name) {
                bail!("environments_chain lists `{name}` twice; each environment comes once");
            }
        }
        Ok(())
    }

    /// The names of the environments: `prod`, and those of the `environments` table, sorted.
    pub fn environment_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.environments.keys().cloned().collect();
        if !names.iter().any(|name| name == PROD) {
            names.push(PROD.to_owned());
        }
        names.sort();
        names
    }

    /// Every environment, resolved and checked, in name order.
    pub fn environments(&self) -> Result<Vec<Environment>> {
        self.environment_names().iter().map(|name| self.environment(name)).collect()
    }

    /// The environment called `name`, its keys defaulted from the workspace's and checked; an
    /// unknown name is refused with the known ones.
    pub fn environment(&self, name: &str) -> Result<Environment> {
        let table = match self.environments.get(name) {
            Some(table) => table.clone(),
            None if name == PROD => EnvironmentTable::default(),
            None => bail!(
                "there is no environment `{name}`; the known ones are {} (add [workspace.metadata.agentcore.environments.{}] to define it)",
                self.environment_names().join(", "),
                if is_environment_name(name) { name } else { "NAME" }
            ),
        };
        let env = Environment {
            name: name.to_owned(),
            region: table.region.unwrap_or_else(|| self.region.clone()),
            bucket: table.bucket.unwrap_or_else(|| self.bucket.clone()),
            role_arn: table.role_arn.unwrap_or_else(|| self.role_arn.clone()),
            target: table
                .target
                .unwrap_or_else(|| if name == PROD { self.prod_runtime.clone() } else { name.to_owned() }),
            runtime_name: table.runtime_name.unwrap_or_else(|| self.runtime_name.clone()),
            endpoint: table.endpoint.unwrap_or_else(|| self.prod_endpoint.clone()),
            profile: table.profile,
            assume_role_arn: table.assume_role_arn,
        };
        check_environment(&env).with_context(|| format!("in environment `{name}`"))?;
        Ok(env)
    }

    /// These settings as a command of `env` sees them: its region, bucket, role, naming and
    /// endpoint in place of the workspace's. The implicit `prod` gives the settings back unchanged.
    pub fn for_environment(&self, env: &Environment) -> Settings {
        Settings {
            region: env.region.clone(),
            bucket: env.bucket.clone(),
            role_arn: env.role_arn.clone(),
            prod_runtime: env.target.clone(),
            runtime_name: env.runtime_name.clone(),
            prod_endpoint: env.endpoint.clone(),
            ..self.clone()
        }
    }

    /// The runtime naming scheme of these settings.
    pub fn scheme(&self) -> crate::naming::Scheme {
        crate::naming::Scheme::new(&self.runtime_name, &self.prod_runtime)
            .expect("validated when the settings were loaded")
    }
}

fn is_environment_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= ENV_NAME_MAX
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !name.starts_with("pr_")
}

fn check_environment_name(name: &str) -> Result<()> {
    if !is_environment_name(name) {
        bail!(
            "environment name `{name}` is not valid: a lowercase letter, then up to {} lowercase letters, digits or \
             underscores, not starting with `pr_` (it names runtimes, as their target by default)",
            ENV_NAME_MAX - 1
        );
    }
    Ok(())
}

fn check_bucket_name(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-'])
}

fn is_role_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/")
}

/// The checks of [`Settings::validate`], for the keys an environment resolves.
fn check_environment(env: &Environment) -> Result<()> {
    let region_ok =
        !env.region.is_empty() && env.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        bail!("region `{}` is not an AWS region such as eu-west-1", env.region);
    }
    if !check_bucket_name(&env.bucket) {
        bail!(
            "bucket `{}` is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens",
            env.bucket
        );
    }
    if !is_role_arn(&env.role_arn) {
        bail!(
            "role_arn `{}` is not an IAM role ARN such as arn:aws:iam::123456789012:role/AgentCoreRuntimeRole",
            env.role_arn
        );
    }
    if !crate::naming::is_valid_name(&env.target) || env.target.starts_with("pr_") {
        bail!("target `{}` must be a letter then letters, digits or underscores, and not start with `pr_`", env.target);
    }
    crate::naming::Scheme::new(&env.runtime_name, &env.target)?;
    if !crate::naming::is_valid_name(&env.endpoint) || env.endpoint == "DEFAULT" {
        bail!(
            "endpoint `{}` is not a valid endpoint name: a letter then up to 47 letters, digits or underscores, and not DEFAULT",
            env.endpoint
        );
    }
    if env.profile.as_deref().is_some_and(str::is_empty) {
        bail!("profile is empty: name an AWS shared-config profile, or leave the key out");
    }
    if let Some(role) = &env.assume_role_arn
        && !is_role_arn(role)
    {
        bail!("assume_role_arn `{role}` is not an IAM role ARN such as arn:aws:iam::210987654321:role/AgentCoreDeploy");
    }
    Ok(())
}

/// AgentCore's published lifecycle of each Python runtime: (runtime, deprecated from, updates
/// blocked from), as ISO dates.
const RUNTIME_LIFECYCLE: &[(&str, &str, &str)] = &[
    ("PYTHON_3_10", "2026-06-30", "2026-08-31"),
    ("PYTHON_3_11", "2026-06-30", "2026-08-31"),
    ("PYTHON_3_12", "2028-10-31", "2029-01-10"),
    ("PYTHON_3_13", "2029-06-30", "2029-08-31"),
    ("PYTHON_3_14", "2030-06-30", "2030-08-31"),
];

/// A warning when `runtime` is deprecated on `today` (an ISO date), or `None`.
pub(crate) fn python_runtime_warning(runtime: &str, today: &str) -> Option<String> {
    let (_, deprecated, blocked) = RUNTIME_LIFECYCLE.iter().find(|(name, _, _)| *name == runtime)?;
    if today < *deprecated {
        return None;
    }
    let updates = if today >= *blocked { "has blocked updates" } else { "blocks updates" };
    Some(format!(
        "{runtime} is deprecated on AgentCore since {deprecated} and {updates} from {blocked}; move to PYTHON_3_12 or newer (python_runtime in agent.toml or the workspace setting)"
    ))
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime).map(|text| text[..10].to_owned()).unwrap_or_default()
}

pub(crate) fn check_python_runtime(value: &str, what: &str) -> Result<()> {
    if !PYTHON_RUNTIMES.contains(&value) {
        bail!("{what}: `{value}` is not a supported Python runtime; use one of {}", PYTHON_RUNTIMES.join(", "));
    }
    Ok(())
}

/// The workspace a command works on, found when it runs (never fixed at compile time: a binary
/// restored from a cache, or built in another checkout sharing the target directory, must not work
/// on the checkout it was compiled in).
///
/// In order: `AGENTCORE_WORKSPACE`; the parent of `CARGO_MANIFEST_DIR` that `cargo run` (and so
/// `cargo xtask`) sets for the process; the nearest directory above the current one whose
/// `Cargo.toml` holds `[workspace.metadata.agentcore]`. Under cargo, a binary compiled from another
/// checkout is refused: its code may not be this checkout's.
pub(crate) fn find_workspace() -> Result<PathBuf> {
    let current = std::env::current_dir().context("cannot read the current directory")?;
    find_workspace_from(
        std::env::var_os("AGENTCORE_WORKSPACE").map(PathBuf::from),
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &current,
    )
}

/// [`find_workspace`] with its inputs given: the variables, the directory this binary was compiled
/// from and the current directory.
pub(crate) fn find_workspace_from(
    explicit: Option<PathBuf>,
    cargo_manifest_dir: Option<PathBuf>,
    compiled_in: &Path,
    current: &Path,
) -> Result<PathBuf> {
    if let Some(root) = explicit.filter(|root| !root.as_os_str().is_empty()) {
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "AGENTCORE_WORKSPACE is {} but it holds no Cargo.toml; point it at the monorepo's root or unset it",
                root.display()
            );
        }
        return Ok(root);
    }
    if let Some(manifest_dir) = cargo_manifest_dir.filter(|dir| !dir.as_os_str().is_empty()) {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if !same(&manifest_dir, compiled_in) {
            bail!(
                "this xtask binary was compiled from {} but cargo ran it for {}: the two checkouts share a target \
                 directory and cargo reused the other checkout's binary; rebuild it here (`touch xtask/src/main.rs`, then \
                 run the command again) or give each checkout its own target directory (unset CARGO_TARGET_DIR)",
                compiled_in.display(),
                manifest_dir.display()
            );
        }
        if let Some(root) = manifest_dir.parent().filter(|root| root.join("Cargo.toml").is_file()) {
            return Ok(root.to_path_buf());
        }
    }
    for dir in current.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let Ok(table) = text.parse::<toml::Table>() else { continue };
        let has_settings = table
            .get("workspace")
            .and_then(|workspace| workspace.get("metadata"))
            .and_then(|metadata| metadata.get("agentcore"))
            .is_some();
        if has_settings {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no monorepo found: neither {} nor a directory above it has a Cargo.toml with [workspace.metadata.agentcore]; \
         run the command inside the monorepo's checkout, or set AGENTCORE_WORKSPACE to its root",
        current.display()
    )
}

/// The checkout this crate was compiled from: what the tests and repository checks look at.
pub fn workspace_root() -> PathBuf {
    if let Ok(root) = std::env::var("AGENTCORE_WORKSPACE") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The settings unit tests of other modules build on: us-east-1, bucket `b-bucket`, prod `prod`.
#[cfg(test)]
pub(crate) fn test_settings() -> Settings {
    Settings::from_metadata(&serde_json::json!({"agentcore": {
        "region": "us-east-1", "bucket": "b-bucket", "role_arn": "arn:aws:iam::123456789012:role/R",
        "python_runtime": "PYTHON_3_12", "platform": "aarch64-manylinux2014", "prod_runtime": "prod",
        "uv_version": "0.13.8"
    }}))
    .expect("valid test settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> serde_json::Value {
        serde_json::json!({"agentcore": {
            "region": "eu-west-1", "bucket": "my-bucket", "role_arn": "arn:aws:iam::123456789012:role/R",
            "python_runtime": "PYTHON_3_12", "platform": "aarch64-manylinux2014", "prod_runtime": "prod",
            "uv_version": "0.13.8"
        }})
    }

    #[test]
    fn reads_and_overrides() {
        let settings = Settings::from_metadata(&metadata()).unwrap();
        assert_eq!(settings.prod_endpoint, "prod");
        assert_eq!(settings.runtime_name, "{agent}_{target}");
        assert_eq!(settings.idle_preview_days, 14);
        assert_eq!(settings.platform_version, "V1", "the default when the workspace sets none");
        assert_eq!(settings.vpc, None);
        let mut with_vpc = metadata();
        with_vpc["agentcore"]["vpc"] =
            serde_json::json!({"subnets": ["subnet-0123456789abcdef0"], "security_groups": []});
        let vpc = Settings::from_metadata(&with_vpc).unwrap().vpc.unwrap();
        assert_eq!(vpc.subnets, ["subnet-0123456789abcdef0"]);
        with_vpc["agentcore"]["vpc"]["subnet"] = serde_json::json!([]);
        let err = Settings::from_metadata(&with_vpc).unwrap_err().to_string();
        assert!(err.contains("unknown field `subnet`"), "{err}");
        assert_eq!(settings.prune_keep, 10);
        let args = SettingsArgs {
            bucket: Some("other-bucket".into()),
            max_parallel: Some(2),
            idle_preview_days: Some(0),
            prune_keep: Some(0),
            ..Default::default()
        };
        let settings = settings.with_overrides(&args).unwrap();
        assert_eq!(settings.bucket, "other-bucket");
        assert_eq!(settings.max_parallel, 2);
        assert_eq!(settings.idle_preview_days, 0);
        assert_eq!(settings.prune_keep, 0);
        assert_eq!(settings.region, "eu-west-1");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let mut value = metadata();
        value["agentcore"]["bukket"] = "x".into();
        let err = Settings::from_metadata(&value).unwrap_err().to_string();
        assert!(err.contains("unknown field `bukket`"), "{err}");

        let settings = Settings::from_metadata(&metadata()).unwrap();
        let err = settings
            .clone()
            .with_overrides(&SettingsArgs { python_runtime: Some("PYTHON_2_7".into()), ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("PYTHON_3_10, PYTHON_3_11"));
        let err = settings
            .clone()
            .with_overrides(&SettingsArgs { platform: Some("x86_64-manylinux2014".into()), ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("not an ARM64 target"));
        let err =
            settings.clone().with_overrides(&SettingsArgs { bucket: Some("Bad_Bucket".into()), ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("--bucket"));
        let err =
            settings.clone().with_overrides(&SettingsArgs { role_arn: Some("role".into()), ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("--role-arn"));
        let err = settings.with_overrides(&SettingsArgs { platform_version: Some("V3".into()), ..Default::default() });
        assert!(err.unwrap_err().to_string().contains("use one of V1, V2 (--platform-version"));
    }

    #[test]
    fn without_environments_there_is_the_implicit_prod() {
        let settings = Settings::from_metadata(&metadata()).unwrap();
        assert_eq!(settings.environment_names(), ["prod"]);
        let prod = settings.environment("prod").unwrap();
        assert_eq!(
            prod,
            Environment {
                name: "prod".into(),
                region: "eu-west-1".into(),
                bucket: "my-bucket".into(),
                role_arn: "arn:aws:iam::123456789012:role/R".into(),
                target: "prod".into(),
                runtime_name: "{agent}_{target}".into(),
                endpoint: "prod".into(),
                profile: None,
                assume_role_arn: None,
            }
        );
        // The implicit prod is the workspace settings, unchanged.
        assert_eq!(settings.for_environment(&prod), settings);
        // Serialized, settings without environments read as before.
        let json = serde_json::to_value(&settings).unwrap();
        assert!(json.get("environments").is_none() && json.get("environments_chain").is_none(), "{json}");
        let err = settings.environment("staging").unwrap_err().to_string();
        assert!(err.contains("there is no environment `staging`; the known ones are prod"), "{err}");
        assert!(err.contains("[workspace.metadata.agentcore.environments.staging]"), "{err}");
    }

    fn with_environments() -> serde_json::Value {
        let mut value = metadata();
        value["agentcore"]["environments"] = serde_json::json!({
            "staging": {"bucket": "staging-bucket", "profile": "staging"},
            "prod": {
                "region": "us-east-2", "bucket": "prod-bucket", "role_arn": "arn:aws:iam::210987654321:role/P",
                "target": "live", "runtime_name": "{target}_{agent}", "endpoint": "main",
                "assume_role_arn": "arn:aws:iam::210987654321:role/Deploy"
            }
        });
        value["agentcore"]["environments_chain"] = serde_json::json!(["staging", "prod"]);
        value
    }

    #[test]
    fn environments_default_to_the_workspace_keys() {
        let settings = Settings::from_metadata(&with_environments()).unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.environment_names(), ["prod", "staging"]);
        assert_eq!(settings.environments_chain, ["staging", "prod"]);
        let staging = settings.environment("staging").unwrap();
        assert_eq!(
            (staging.region.as_str(), staging.bucket.as_str(), staging.target.as_str(), staging.endpoint.as_str()),
            ("eu-west-1", "staging-bucket", "staging", "prod")
        );
        assert_eq!(staging.profile.as_deref(), Some("staging"));
        assert_eq!(staging.scheme().runtime_name("bot", crate::naming::Target::Prod).unwrap(), "bot_staging");
        let prod = settings.environment("prod").unwrap();
        assert_eq!(prod.scheme().runtime_name("bot", crate::naming::Target::Prod).unwrap(), "live_bot");
        assert_eq!(prod.assume_role_arn.as_deref(), Some("arn:aws:iam::210987654321:role/Deploy"));
        let effective = settings.for_environment(&prod);
        assert_eq!(
            (effective.region.as_str(), effective.bucket.as_str(), effective.prod_endpoint.as_str()),
            ("us-east-2", "prod-bucket", "main")
        );
        assert_eq!(effective.scheme().runtime_name("bot", crate::naming::Target::Pr(3)).unwrap(), "pr_3_bot");
        // Flags override the defaults environments inherit, never what an environment sets itself.
        let overridden = settings
            .with_overrides(&SettingsArgs { bucket: Some("flag-bucket".into()), ..Default::default() })
            .unwrap();
        assert_eq!(overridden.environment("prod").unwrap().bucket, "prod-bucket");
        assert_eq!(overridden.environment("staging").unwrap().bucket, "staging-bucket");
        let mut value = with_environments();
        value["agentcore"]["environments"]["staging"] = serde_json::json!({});
        let settings = Settings::from_metadata(&value)
            .unwrap()
            .with_overrides(&SettingsArgs { bucket: Some("flag-bucket".into()), ..Default::default() })
            .unwrap();
        assert_eq!(settings.environment("staging").unwrap().bucket, "flag-bucket");
    }

    #[test]
    fn environments_are_checked() {
        let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut value = with_environments();
            edit(&mut value["agentcore"]);
            match Settings::from_metadata(&value) {
                Err(err) => format!("{err:#}"),
                Ok(settings) => format!("{:#}", settings.validate().unwrap_err()),
            }
        };
        let err = refused(&|table| table["environments"]["staging"]["bukket"] = "x".into());
        assert!(err.starts_with("environments.staging: unknown field `bukket`"), "{err}");
        let err = refused(&|table| table["environments"]["Staging-1"] = serde_json::json!({}));
        assert!(err.contains("environment name `Staging-1` is not valid"), "{err}");
        let err = refused(&|table| table["environments"]["pr_2"] = serde_json::json!({}));
        assert!(err.contains("environment name `pr_2` is not valid"), "{err}");
        let err = refused(&|table| table["environments"]["staging"]["bucket"] = "Bad_Bucket".into());
        assert!(err.contains("in environment `staging`: bucket `Bad_Bucket` is not a valid S3 bucket name"), "{err}");
        let err = refused(&|table| table["environments"]["staging"]["assume_role_arn"] = "role".into());
        assert!(err.contains("assume_role_arn `role` is not an IAM role ARN"), "{err}");
        let err = refused(&|table| table["environments"]["staging"]["endpoint"] = "DEFAULT".into());
        assert!(err.contains("endpoint `DEFAULT` is not a valid endpoint name"), "{err}");
        let err = refused(&|table| table["environments"]["staging"]["target"] = "pr_1".into());
        assert!(err.contains("target `pr_1` must be"), "{err}");
        let err = refused(&|table| table["environments"]["staging"]["runtime_name"] = "{agent}".into());
        assert!(err.contains("in environment `staging`: runtime_name `{agent}`"), "{err}");
        // Two environments that would name the same runtimes in the same place.
        let err = refused(&|table| {
            table["environments"]["qa"] = serde_json::json!({"target": "staging", "profile": "staging"});
        });
        assert!(err.contains("environments qa and staging both name their runtimes with target `staging`"), "{err}");
        // The same target elsewhere is another runtime.
        let mut value = with_environments();
        value["agentcore"]["environments"]["qa"] = serde_json::json!({"target": "staging", "region": "eu-north-1"});
        Settings::from_metadata(&value).unwrap().validate().unwrap();
        let err = refused(&|table| table["environments_chain"] = serde_json::json!(["staging", "qa"]));
        assert!(err.contains("in environments_chain: there is no environment `qa`"), "{err}");
        let err = refused(&|table| table["environments_chain"] = serde_json::json!(["prod"]));
        assert!(err.contains("environments_chain lists one environment"), "{err}");
        let err = refused(&|table| table["environments_chain"] = serde_json::json!(["staging", "staging"]));
        assert!(err.contains("lists `staging` twice"), "{err}");
        let err = refused(&|table| {
            table["environments"]["qa"] = serde_json::json!({});
            table["environments_chain"] = serde_json::json!(["qa", "staging", "prod"]);
        });
        assert!(err.contains("environments_chain lists 3 environments; the workflows promote along two"), "{err}");
    }

    #[test]
    fn deprecated_runtimes_warn() {
        assert_eq!(python_runtime_warning("PYTHON_3_11", "2026-06-29"), None);
        let warning = python_runtime_warning("PYTHON_3_11", "2026-07-01").unwrap();
        assert!(
            warning.contains("deprecated on AgentCore since 2026-06-30 and blocks updates from 2026-08-31"),
            "{warning}"
        );
        let warning = python_runtime_warning("PYTHON_3_10", "2026-11-25").unwrap();
        assert!(warning.contains("has blocked updates from 2026-08-31"), "{warning}");
        assert_eq!(python_runtime_warning("PYTHON_3_12", "2026-11-25"), None);
        assert_eq!(today().len(), 10);
    }

    /// Two checkouts side by side: each run works on the checkout it is started in, and a binary
    /// that cargo reused from the other checkout is refused.
    #[test]
    fn finds_the_workspace_when_the_command_runs() {
        let temp = tempfile::tempdir().unwrap();
        let checkout = |name: &str| {
            let root = temp.path().join(name);
            std::fs::create_dir_all(root.join("xtask/src")).unwrap();
            std::fs::create_dir_all(root.join("agents/bot")).unwrap();
            std::fs::write(
                root.join("Cargo.toml"),
                "[workspace]\nmembers = [\"xtask\"]\n[workspace.metadata.agentcore]\nregion = \"x\"\n",
            )
            .unwrap();
            std::fs::write(root.join("agents/bot/Cargo.toml"), "[package]\nname = \"not-the-root\"\n").unwrap();
            root
        };
        let (a, b) = (checkout("a"), checkout("b"));
        // Started inside a checkout, even deep in an agent directory holding a Cargo.toml of its own.
        let found = find_workspace_from(None, None, &a.join("xtask"), &b.join("agents/bot")).unwrap();
        assert_eq!(found, b);
        // Through cargo, from the checkout it was compiled in.
        let found = find_workspace_from(None, Some(b.join("xtask")), &b.join("xtask"), &b.join("agents")).unwrap();
        assert_eq!(found, b);
        // Through cargo, with a binary compiled in the other checkout.
        let err = find_workspace_from(None, Some(b.join("xtask")), &a.join("xtask"), &b).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "this xtask binary was compiled from {}/xtask but cargo ran it for {}/xtask",
                a.display(),
                b.display()
            )),
            "{err}"
        );
        assert!(err.contains("unset CARGO_TARGET_DIR"), "{err}");
        // AGENTCORE_WORKSPACE wins, and must hold a manifest.
        assert_eq!(find_workspace_from(Some(a.clone()), Some(b.join("xtask")), &b.join("xtask"), &b).unwrap(), a);
        let err = find_workspace_from(Some(temp.path().join("nowhere")), None, &a, &a).unwrap_err().to_string();
        assert!(err.contains("AGENTCORE_WORKSPACE is") && err.contains("holds no Cargo.toml"), "{err}");
        // Outside any monorepo.
        let err = find_workspace_from(None, None, &a.join("xtask"), temp.path()).unwrap_err().to_string();
        assert!(err.starts_with("no monorepo found") && err.contains("[workspace.metadata.agentcore]"), "{err}");
    }

    #[test]
    fn reads_this_workspace() {
        let settings = Settings::from_workspace(&workspace_root()).unwrap();
        settings.validate().unwrap();
    }
}
