//! Project settings: read once from `[workspace.metadata.agentcore]`, overridden by flags and env vars.

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
    #[serde(default = "default_prune_keep")]
    pub prune_keep: u32,
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
        let bucket_ok = (3..=63).contains(&self.bucket.len())
            && self.bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !self.bucket.starts_with(['.', '-'])
            && !self.bucket.ends_with(['.', '-']);
        if !bucket_ok {
            bail!(
                "bucket `{}` is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens (--bucket, AGENTCORE_BUCKET)",
                self.bucket
            );
        }
        let role_ok = self.role_arn.starts_with("arn:aws")
            && self.role_arn.contains(":iam::")
            && self.role_arn.contains(":role/");
        if !role_ok {
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
        Ok(())
    }

    /// The runtime naming scheme of these settings.
    pub fn scheme(&self) -> crate::naming::Scheme {
        crate::naming::Scheme::new(&self.runtime_name, &self.prod_runtime)
            .expect("validated when the settings were loaded")
    }
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
