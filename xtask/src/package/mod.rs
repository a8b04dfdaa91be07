//! `cargo xtask package`: deterministic direct-code zips with ARM64 dependencies.
//!
//! A package is the agent's files, `system_prompt.txt` and a cached dependency layer (`deps.zip`,
//! keyed by everything that decides the install) whose compressed entries are copied verbatim.
//! A sidecar `<agent>.zip.json` holds the report and a fingerprint of all inputs, so an unchanged
//! agent is not zipped again.

pub(crate) mod archive;
mod deps;
pub mod temp;
pub mod uv;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agents::{self, Agent, MANIFEST};
use crate::context::Ctx;
use crate::select::Selection;
use archive::{FileEntry, Source, Tree};

/// AgentCore's limits for direct-code zips (decimal megabytes: the conservative reading).
pub(crate) const MAX_ZIPPED_BYTES: u64 = 250_000_000;
pub(crate) const MAX_UNZIPPED_BYTES: u64 = 750_000_000;
/// Share of a limit from which the report warns.
pub(crate) const WARN_PERCENT: u64 = 80;
/// The name the agent reads its prompt from, beside its entry point.
pub(crate) const PROMPT_FILE: &str = "system_prompt.txt";
/// Name prefix of a sidecar being written.
const TEMP_REPORT_PREFIX: &str = ".tmp-report-";
/// Bump when the zip's content rules change, so sidecars of older zips no longer match.
const PACKAGE_FORMAT: &str = "agentcore-package-v1";

#[derive(clap::Args, Debug, Clone)]
pub struct PackageArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// System prompt file to package instead of the agent's own (one named agent only)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["all", "changed_since"])]
    pub(crate) prompt: Option<PathBuf>,
    /// Directory for the zips (default: target/agentcore/packages)
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Where the pinned uv is installed when missing (default: target/tools)
    #[arg(long, value_name = "DIR", env = "AGENTCORE_TOOLS_DIR", hide = true)]
    pub(crate) tools_dir: Option<PathBuf>,
    /// Extra wheel directory for uv (tests serve hand-built wheels offline with it)
    #[arg(long, value_name = "DIR", hide = true)]
    pub(crate) find_links: Option<PathBuf>,
    /// Resolve from --find-links only (tests)
    #[arg(long, hide = true)]
    pub(crate) no_index: bool,
}

impl PackageArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<()> {
        let selection = &self.selection;
        if selection.agents.is_empty() && !selection.all && selection.changed_since.is_none() {
            let known = agents::discover(&ctx.root, &ctx.settings)?;
            let Some(first) = known.first() else {
                bail!(
                    "there is no agent under {}/ to package; add one (see README.md, \"Adding an agent\")",
                    agents::AGENTS_DIR
                );
            };
            let names: Vec<&str> = known.iter().map(|agent| agent.name.as_str()).collect();
            bail!(
                "name the agents to package ({}), or pass --all, or --changed-since REF for those a change affects; e.g. `cargo xtask package {}`",
                names.join(", "),
                first.name
            );
        }
        if let Some(prompt) = &self.prompt {
            if selection.agents.len() != 1 {
                bail!(
                    "--prompt replaces one agent's prompt, but {} agents are named ({}); name one agent, and package the others in another run",
                    selection.agents.len(),
                    selection.agents.join(", ")
                );
            }
            check_prompt_file(prompt, "--prompt")?;
        }
        let agents = selection.resolve(ctx)?;
        if agents.is_empty() {
            crate::progress!("no agent to package");
        }
        let mut options = PackageOptions::new(&ctx.root);
        if let Some(out) = self.out {
            options.out_dir = absolute(&out)?;
        }
        options.prompt_override = self.prompt.as_deref().map(absolute).transpose()?;
        prepare_out_dir(&options.out_dir)?;
        let tuning = PackageTuning {
            tools_dir: self.tools_dir,
            find_links: self.find_links.as_deref().map(absolute).transpose()?,
            no_index: self.no_index,
            ..PackageTuning::default()
        };
        let mut reports = Vec::new();
        let mut failures = Vec::new();
        for agent in &agents {
            match package_agent_with(ctx, agent, &options, &tuning) {
                Ok(report) => reports.push(report),
                Err(err) => {
                    crate::progress!("{}: failed", agent.name);
                    // Every error names its agent, so a list of several stays readable.
                    let message = format!("{err:#}");
                    let named = message.starts_with(&format!("agent `{}`", agent.name));
                    failures.push(if named { message } else { format!("agent `{}`: {message}", agent.name) });
                }
            }
        }
        // A failed run prints its errors only; JSON readers still get a (possibly empty) array.
        if ctx.json || !reports.is_empty() || failures.is_empty() {
            crate::output::emit(ctx.json, &Summary(reports))?;
        }
        match failures.len() {
            0 => Ok(()),
            1 => bail!("{}", failures[0]),
            count => bail!("{count} agents failed to package:\n{}", failures.join("\n")),
        }
    }
}

/// A prompt must be a readable file; `what` names where it came from.
fn check_prompt_file(prompt: &Path, what: &str) -> Result<()> {
    match std::fs::metadata(prompt) {
        Ok(metadata) if metadata.is_file() => Ok(()),
        Ok(_) => bail!("{what} {} is not a file; pass the prompt's text file", prompt.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("{what} {} does not exist; pass an existing prompt file", prompt.display())
        }
        Err(err) => Err(err).with_context(|| format!("{what} {} cannot be read", prompt.display())),
    }
}

/// Creates the output directory and checks that zips can be written there, before any work.
fn prepare_out_dir(out: &Path) -> Result<()> {
    let what = format!("output directory {} (--out)", out.display());
    if out.exists() && !out.is_dir() {
        bail!("{what} is not a directory; pass a directory for the zips");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create the {what}; pass a writable directory"))?;
    temp::file(out, archive::TEMP_ZIP_PREFIX)
        .with_context(|| format!("cannot write in the {what}; pass a writable directory"))?;
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Options of one packaging run.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// Where zips are written (`<out_dir>/<agent>.zip`).
    pub out_dir: std::path::PathBuf,
    /// A system prompt to package instead of the agent's own.
    pub prompt_override: Option<std::path::PathBuf>,
}

impl PackageOptions {
    /// The defaults: zips in `<root>/target/agentcore/packages`, each agent's own prompt.
    pub(crate) fn new(root: &Path) -> PackageOptions {
        PackageOptions { out_dir: default_out_dir(root), prompt_override: None }
    }
}

/// `<root>/target/agentcore/packages`
pub fn default_out_dir(root: &Path) -> PathBuf {
    root.join("target").join("agentcore").join("packages")
}

/// Knobs beyond the everyday options: limits, cache and tool locations, offline wheel sources.
/// Tests and benchmarks change them; commands use the defaults.
#[derive(Debug, Clone)]
pub struct PackageTuning {
    pub max_zipped_bytes: u64,
    pub max_unzipped_bytes: u64,
    /// Dependency cache (default `<root>/target/agentcore/deps`).
    pub deps_dir: Option<PathBuf>,
    /// Where the pinned uv is installed when missing (default `<root>/target/tools`).
    pub tools_dir: Option<PathBuf>,
    /// A uv binary to use as is (its version must be the pinned one).
    pub uv: Option<PathBuf>,
    pub find_links: Option<PathBuf>,
    pub no_index: bool,
}

impl Default for PackageTuning {
    fn default() -> PackageTuning {
        PackageTuning {
            max_zipped_bytes: MAX_ZIPPED_BYTES,
            max_unzipped_bytes: MAX_UNZIPPED_BYTES,
            deps_dir: None,
            tools_dir: None,
            uv: None,
            find_links: None,
            no_index: false,
        }
    }
}

/// What packaging one agent produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageReport {
    pub agent: String,
    pub path: std::path::PathBuf,
    pub files: u64,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    pub sha256: String,
    pub warnings: Vec<String>,
    /// The platform the dependency wheels were resolved for (`None`: no dependencies).
    #[serde(default)]
    pub platform: Option<String>,
    /// `installed` (dependency cache miss), `cached` (hit), `none` (no requirements) or `skipped`
    /// (the zip was unchanged, dependencies were not looked at).
    #[serde(default)]
    pub dependencies: String,
    /// True when the existing zip already matched every input and was kept as is.
    #[serde(default)]
    pub unchanged: bool,
}

/// Reports of one run: a table for humans, an array in JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub(crate) struct Summary(pub(crate) Vec<PackageReport>);

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return writeln!(f, "no agent packaged");
        }
        let width = self.0.iter().map(|report| report.agent.len()).max().unwrap_or(0).max(5);
        writeln!(
            f,
            "{:<width$}  {:>6}  {:>9}  {:>9}  {:<12}  {:<9}  ZIP",
            "AGENT", "FILES", "UNZIPPED", "ZIPPED", "SHA-256", "STATE"
        )?;
        // Paths below the working directory are shown relative to it, as a user would type them.
        let cwd = std::env::current_dir().unwrap_or_default();
        for report in &self.0 {
            let state = if report.unchanged { "unchanged" } else { "built" };
            let path = report.path.strip_prefix(&cwd).unwrap_or(&report.path);
            writeln!(
                f,
                "{:<width$}  {:>6}  {:>9}  {:>9}  {:<12}  {:<9}  {}",
                report.agent,
                report.files,
                archive::human_bytes(report.unzipped_bytes),
                archive::human_bytes(report.zipped_bytes),
                &report.sha256[..12.min(report.sha256.len())],
                state,
                path.display()
            )?;
        }
        for report in &self.0 {
            for warning in &report.warnings {
                writeln!(f, "warning: {warning}")?;
            }
        }
        Ok(())
    }
}

/// Packages one agent (blocking; call from `spawn_blocking` in async code).
pub(crate) fn package_agent(ctx: &Ctx, agent: &Agent, options: &PackageOptions) -> Result<PackageReport> {
    package_agent_with(ctx, agent, options, &PackageTuning::default())
}

/// The sidecar beside each zip: its report and the fingerprint of the inputs that made it.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    fingerprint: String,
    report: PackageReport,
}

/// Packages one agent with explicit tuning.
pub fn package_agent_with(
    ctx: &Ctx,
    agent: &Agent,
    options: &PackageOptions,
    tuning: &PackageTuning,
) -> Result<PackageReport> {
    let name = &agent.name;
    let prompt = options.prompt_override.clone().unwrap_or_else(|| agent.prompt.clone());
    check_prompt_file(&prompt, &format!("agent `{name}`: prompt file"))?;
    let mut tree = agent_tree(&ctx.root, agent)?;
    tree.files.push(FileEntry {
        name: PROMPT_FILE.to_owned(),
        size: std::fs::metadata(&prompt)?.len(),
        source: Source::Path(prompt.clone()),
        executable: false,
    });
    tree.files.sort_by(|a, b| a.name.cmp(&b.name));

    let python_version = python_version(&agent.python_runtime)?;
    let inputs = deps::Inputs {
        requirements: &agent.requirements,
        python_version,
        platform: &ctx.settings.platform,
        uv_version: &ctx.settings.uv_version,
        find_links: tuning.find_links.as_deref(),
        no_index: tuning.no_index,
    };
    deps::check_pinned(name, &agent.requirements)?;
    let has_dependencies = inputs.has_requirements()?;
    let deps_key = if has_dependencies { inputs.key()? } else { "none".to_owned() };

    let zip_path = options.out_dir.join(format!("{name}.zip"));
    let sidecar_path = options.out_dir.join(format!("{name}.zip.json"));
    let fingerprint = fingerprint(&deps_key, &tree, tuning)?;
    let removed = temp::remove_abandoned(&options.out_dir, archive::TEMP_ZIP_PREFIX)
        + temp::remove_abandoned(&options.out_dir, TEMP_REPORT_PREFIX);
    if removed > 0 {
        crate::progress!(
            "removed {removed} unfinished file(s) left by an interrupted run in {}",
            options.out_dir.display()
        );
    }
    if let Some(mut report) = unchanged(&zip_path, &sidecar_path, &fingerprint) {
        crate::progress!("{name}: unchanged, keeping {}", zip_path.display());
        for warning in &report.warnings {
            crate::progress!("warning: {warning}");
        }
        report.unchanged = true;
        report.dependencies = "skipped".to_owned();
        return Ok(report);
    }

    let mut layer_warnings = Vec::new();
    let (base, platform, dependencies) = if has_dependencies {
        let deps_dir =
            tuning.deps_dir.clone().unwrap_or_else(|| ctx.root.join("target").join("agentcore").join("deps"));
        let tools_dir = tuning.tools_dir.clone().unwrap_or_else(|| ctx.root.join("target").join("tools"));
        let find_uv = || uv::ensure(&ctx.settings.uv_version, &tools_dir, tuning.uv.as_deref(), "python3");
        let mut layer = deps::ensure(name, &inputs, &deps_dir, find_uv)?;
        let base = match archive::Base::open(&layer.zip) {
            Ok(base) => base,
            Err(err) if layer.cache_hit => {
                // A damaged cache entry (disk full, manual edits) is rebuilt, not reported forever.
                crate::progress!("{name}: dependency cache entry {} is unreadable ({err:#}); rebuilding it", layer.key);
                let entry = layer.zip.parent().context("cache entry has a directory")?;
                std::fs::remove_dir_all(entry).with_context(|| format!("cannot remove {}", entry.display()))?;
                layer = deps::ensure(name, &inputs, &deps_dir, find_uv)?;
                archive::Base::open(&layer.zip)?
            }
            Err(err) => return Err(err),
        };
        let state = if layer.cache_hit { "cached" } else { "installed" };
        crate::progress!("{name}: dependencies {state} ({})", layer.platform);
        layer_warnings = layer.warnings;
        (Some(base), Some(layer.platform), state)
    } else {
        (None, None, "none")
    };

    // The unzipped size is known before writing anything.
    let base_files = base.iter().flat_map(|base| base.entries.iter()).filter(|(_, _, is_dir)| !is_dir);
    let sizes: Vec<(&str, u64)> = base_files
        .map(|(entry, size, _)| (entry.as_str(), *size))
        .chain(tree.files.iter().map(|file| (file.name.as_str(), file.size)))
        .collect();
    let unzipped: u64 = sizes.iter().map(|(_, size)| size).sum();
    if unzipped > tuning.max_unzipped_bytes {
        bail!(
            "agent `{name}`: {} unzipped is over AgentCore's limit of {}; largest contributors: {}; drop or exclude some of them",
            archive::human_bytes(unzipped),
            archive::human_bytes(tuning.max_unzipped_bytes),
            contributors(sizes.iter().copied())
        );
    }

    let _ = std::fs::remove_file(&sidecar_path);
    let written = archive::write_zip(&zip_path, base, &tree)?;
    if written.zipped_bytes > tuning.max_zipped_bytes {
        let compressed = archive::compressed_sizes(&zip_path).unwrap_or_default();
        let _ = std::fs::remove_file(&zip_path);
        bail!(
            "agent `{name}`: the zip is {}, over AgentCore's limit of {}; largest contributors (zipped): {}; drop or exclude some of them",
            archive::human_bytes(written.zipped_bytes),
            archive::human_bytes(tuning.max_zipped_bytes),
            contributors(compressed.iter().map(|(entry, size)| (entry.as_str(), *size)))
        );
    }
    let mut warnings = layer_warnings;
    if let Some(warning) = crate::settings::python_runtime_warning(&agent.python_runtime, &crate::settings::today()) {
        warnings.push(format!("agent `{name}`: {warning}"));
    }
    if std::fs::metadata(&prompt)?.len() == 0 {
        warnings.push(format!("agent `{name}`: the system prompt {} is empty", prompt.display()));
    }
    for warning in &warnings {
        crate::progress!("warning: {warning}");
    }
    for (what, value, limit) in [
        ("zipped", written.zipped_bytes, tuning.max_zipped_bytes),
        ("unzipped", written.unzipped_bytes, tuning.max_unzipped_bytes),
    ] {
        if limit > 0 && value * 100 >= limit * WARN_PERCENT {
            let warning = format!(
                "agent `{name}`: {what} size {} is {}% of AgentCore's {} limit",
                archive::human_bytes(value),
                value * 100 / limit,
                archive::human_bytes(limit)
            );
            crate::progress!("warning: {warning}");
            warnings.push(warning);
        }
    }
    let report = PackageReport {
        agent: name.clone(),
        path: zip_path,
        files: written.files,
        unzipped_bytes: written.unzipped_bytes,
        zipped_bytes: written.zipped_bytes,
        sha256: written.sha256,
        warnings,
        platform,
        dependencies: dependencies.to_owned(),
        unchanged: false,
    };
    write_sidecar(&sidecar_path, &Sidecar { fingerprint, report: report.clone() })?;
    crate::progress!(
        "{name}: wrote {} ({} files, {} zipped)",
        report.path.display(),
        report.files,
        archive::human_bytes(report.zipped_bytes)
    );
    Ok(report)
}

/// `PYTHON_3_12` → `3.12`
fn python_version(runtime: &str) -> Result<String> {
    match runtime.strip_prefix("PYTHON_").and_then(|version| version.split_once('_')) {
        Some((major, minor)) => Ok(format!("{major}.{minor}")),
        None => bail!("python runtime `{runtime}` is not of the form PYTHON_3_12"),
    }
}

fn contributors<'a>(sizes: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    archive::largest_contributors(sizes, 5)
        .iter()
        .map(|(entry, size)| format!("{entry} {}", archive::human_bytes(*size)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The agent's own files: everything under its directory except its manifest, hidden files,
/// bytecode and the manifest's exclude patterns.
fn agent_tree(root: &Path, agent: &Agent) -> Result<Tree> {
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in &agent.manifest.exclude {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .with_context(|| format!("agent `{}`: exclude pattern `{pattern}` is invalid", agent.name))?;
        builder.add(glob);
    }
    let excludes = builder.build()?;
    let tree = archive::walk(&agent.dir, |name, is_dir| {
        let base = name.rsplit('/').next().unwrap_or(name);
        base.starts_with('.')
            || (is_dir && base == "__pycache__")
            || (!is_dir && (base.ends_with(".pyc") || name == MANIFEST))
            || excludes.is_match(name)
    })
    .with_context(|| format!("agent `{}`", agent.name))?;
    if let Some(file) = tree.files.iter().find(|file| file.name == PROMPT_FILE) {
        bail!(
            "agent `{}`: {} is written by packaging from the prompt file ({}); remove the agent's own {} or add it to exclude",
            agent.name,
            PROMPT_FILE,
            agent.prompt.display(),
            file.name
        );
    }
    // A symbolic link may share code within the repository, never ship a file from outside it.
    let root = std::fs::canonicalize(root).with_context(|| format!("cannot resolve {}", root.display()))?;
    for file in &tree.files {
        let Source::Path(path) = &file.source else { continue };
        let target = std::fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))?;
        if !target.starts_with(&root) {
            bail!(
                "agent `{}`: `{}` links to {}, outside the repository, and would be packaged; copy the file into the agent, or add it to exclude in {MANIFEST}",
                agent.name,
                file.name,
                target.display()
            );
        }
    }
    let entry = agent.manifest.entry_point.file();
    if !tree.files.iter().any(|file| file.name == entry) {
        bail!("agent `{}`: entry point `{entry}` is excluded from the package; fix exclude in {MANIFEST}", agent.name);
    }
    Ok(tree)
}

/// A digest of everything the zip is made from.
fn fingerprint(deps_key: &str, tree: &Tree, tuning: &PackageTuning) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher
        .update(format!("{PACKAGE_FORMAT}\n{deps_key}\n{}\n{}\n", tuning.max_zipped_bytes, tuning.max_unzipped_bytes));
    let mut buffer = vec![0; 1 << 16];
    for file in &tree.files {
        hasher.update(format!("{}\n{}\n{}\n", file.name, file.executable, file.size));
        let mut reader = file.open()?;
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The stored report when the zip on disk was made from exactly these inputs and is intact.
fn unchanged(zip_path: &Path, sidecar_path: &Path, fingerprint: &str) -> Option<PackageReport> {
    let sidecar: Sidecar = serde_json::from_slice(&std::fs::read(sidecar_path).ok()?).ok()?;
    if sidecar.fingerprint != fingerprint || sidecar.report.path != zip_path {
        return None;
    }
    let size = std::fs::metadata(zip_path).ok()?.len();
    if size != sidecar.report.zipped_bytes {
        return None;
    }
    // A zip edited or truncated by hand is caught here, before anything uploads it.
    let sha256 = archive::sha256_file(zip_path).ok()?;
    (sha256 == sidecar.report.sha256).then_some(sidecar.report)
}

fn write_sidecar(path: &Path, sidecar: &Sidecar) -> Result<()> {
    let parent = path.parent().context("sidecar has no parent directory")?;
    let mut file = temp::file(parent, TEMP_REPORT_PREFIX)?;
    serde_json::to_writer_pretty(&mut file, sidecar)?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(agent: &str, unchanged: bool, warnings: Vec<String>) -> PackageReport {
        PackageReport {
            agent: agent.to_owned(),
            path: PathBuf::from(format!("/packages/{agent}.zip")),
            files: 4157,
            unzipped_bytes: 65_600_000,
            zipped_bytes: 210_000_000,
            sha256: "490a7c8306d3bee83d525e7fc6d2573a999bfe18d4f786e951dcbf343d84f067".to_owned(),
            warnings,
            platform: Some("aarch64-manylinux2014".to_owned()),
            dependencies: if unchanged { "skipped" } else { "cached" }.to_owned(),
            unchanged,
        }
    }

    #[test]
    fn summary_table_lists_agents_then_warnings() {
        let warning = "agent `big_bot`: zipped size 210.0 MB is 84% of AgentCore's 250.0 MB limit".to_owned();
        let summary = Summary(vec![report("dad_joke_bot", true, vec![]), report("big_bot", false, vec![warning])]);
        insta::assert_snapshot!(summary.to_string(), @r"
        AGENT          FILES   UNZIPPED     ZIPPED  SHA-256       STATE      ZIP
        dad_joke_bot    4157    65.6 MB   210.0 MB  490a7c8306d3  unchanged  /packages/dad_joke_bot.zip
        big_bot         4157    65.6 MB   210.0 MB  490a7c8306d3  built      /packages/big_bot.zip
        warning: agent `big_bot`: zipped size 210.0 MB is 84% of AgentCore's 250.0 MB limit
        ");
        assert_eq!(Summary(vec![]).to_string(), "no agent packaged\n");
    }

    #[test]
    fn python_versions_come_from_runtimes() {
        assert_eq!(python_version("PYTHON_3_12").unwrap(), "3.12");
        assert_eq!(python_version("PYTHON_3_10").unwrap(), "3.10");
        assert_eq!(python_version("PYTHON_3_14").unwrap(), "3.14");
        assert!(python_version("python3").is_err());
    }

    #[test]
    fn human_bytes_use_decimal_units() {
        assert_eq!(archive::human_bytes(999), "999 B");
        assert_eq!(archive::human_bytes(250_000_000), "250.0 MB");
        assert_eq!(archive::human_bytes(1_500), "1.5 KB");
    }
}
