//! The dependency cache: one compressed layer (`deps.zip`) per distinct set of install inputs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;
use sha2::{Digest, Sha256};

use super::archive::{self, FileEntry, Source, Tree};
use super::temp;
use super::uv::{self, Failure, Install, Uv};

/// Bump when the layer's content rules change, so old cache entries are not reused.
const LAYER_FORMAT: &str = "agentcore-deps-v2";

/// Everything that decides what an install produces.
#[derive(Debug, Clone)]
pub(crate) struct Inputs<'a> {
    pub(crate) requirements: &'a Path,
    /// `3.12`
    pub(crate) python_version: String,
    pub(crate) platform: &'a str,
    pub(crate) uv_version: &'a str,
    pub(crate) find_links: Option<&'a Path>,
    pub(crate) no_index: bool,
}

impl Inputs<'_> {
    /// The cache key: sha256 over every input, in hex (first 32 digits).
    pub(crate) fn key(&self) -> Result<String> {
        let requirements =
            std::fs::read(self.requirements).with_context(|| format!("cannot read {}", self.requirements.display()))?;
        let mut hasher = Sha256::new();
        let mut field = |label: &str, value: &[u8]| {
            hasher.update(label.as_bytes());
            hasher.update((value.len() as u64).to_le_bytes());
            hasher.update(value);
        };
        field("format", LAYER_FORMAT.as_bytes());
        field("requirements", &requirements);
        field("python", self.python_version.as_bytes());
        field("platform", self.platform.as_bytes());
        field("uv", self.uv_version.as_bytes());
        field("no-index", if self.no_index { b"1" } else { b"0" });
        if let Some(find_links) = self.find_links {
            // Only tests use find-links; its files' names and sizes stand for their content.
            field("find-links", find_links.to_string_lossy().as_bytes());
            let listing = archive::walk(find_links, |_, _| false)?;
            for file in &listing.files {
                field(&file.name, &file.size.to_le_bytes());
            }
        }
        Ok(hex::encode(hasher.finalize())[..32].to_owned())
    }

    /// Whether the requirements file names any package at all.
    pub(crate) fn has_requirements(&self) -> Result<bool> {
        let text = std::fs::read_to_string(self.requirements)
            .with_context(|| format!("cannot read {}", self.requirements.display()))?;
        Ok(text.lines().map(|line| line.split('#').next().unwrap_or("").trim()).any(|line| !line.is_empty()))
    }
}

/// Refuses a requirements file that does not pin every dependency to one version: the cache key is
/// the file's bytes, so a range would ship whatever was newest when the cache was filled, and what
/// a pull request tested could differ from what ships.
pub(crate) fn check_pinned(agent: &str, requirements: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(requirements).with_context(|| format!("cannot read {}", requirements.display()))?;
    let pinned = Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[A-Za-z0-9._,\s-]*\])?\s*===?\s*[^\s,;*<>=!~]+$")
        .expect("valid regex");
    let fix = "pin every dependency, transitive ones included, to one version with `==` (regenerate it with `uv pip compile`, see README.md, \"Adding an agent\")";
    let mut logical = String::new();
    let mut first_line = 0;
    // Editors on some systems start the file with a byte-order mark; pip ignores it too.
    for (index, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        if logical.is_empty() {
            first_line = index + 1;
        }
        // A `#` at the start or after a space starts a comment, as pip reads it.
        let line = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        if let Some(continued) = line.strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let at = format!("agent `{agent}`: {} line {first_line}", requirements.display());
        if entry.starts_with('-') {
            let option = entry.split([' ', '=']).next().unwrap_or(entry);
            if matches!(option, "-r" | "--requirement" | "-c" | "--constraint" | "-e" | "--editable") {
                bail!(
                    "{at}: `{option}` brings in requirements from elsewhere, which the dependency cache cannot see; list them in this file instead"
                );
            }
            continue;
        }
        // Hashes and environment markers do not change what is pinned.
        let requirement = entry.split(" --hash").next().unwrap_or(entry).split(';').next().unwrap_or(entry).trim();
        if requirement.contains('@') || requirement.contains("://") {
            bail!(
                "{at}: `{requirement}` installs from a URL or a path, which can change under the same text; publish it to an index and {fix}"
            );
        }
        if !pinned.is_match(requirement) {
            bail!("{at}: `{requirement}` is not pinned to one version; {fix}");
        }
    }
    Ok(())
}

/// A cached dependency layer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Layer {
    pub(crate) key: String,
    /// The platform the wheels were finally resolved for (after any fallback).
    pub(crate) platform: String,
    /// Native libraries that are not aarch64 (a wheel that bundles host binaries).
    #[serde(default)]
    pub(crate) warnings: Vec<String>,
    #[serde(skip)]
    pub(crate) zip: PathBuf,
    #[serde(skip)]
    pub(crate) cache_hit: bool,
}

const LAYER_ZIP: &str = "deps.zip";
/// Name prefix of an install in progress, beside the cache entries.
const STAGING_PREFIX: &str = ".tmp-";
const LAYER_META: &str = "layer.json";

/// The layer for `inputs` from `cache_dir/<key>/`, installing it first when missing. `uv` is only
/// called (and only located) on a miss.
pub(crate) fn ensure(agent: &str, inputs: &Inputs, cache_dir: &Path, uv: impl FnOnce() -> Result<Uv>) -> Result<Layer> {
    let key = inputs.key()?;
    let dir = cache_dir.join(&key);
    if let Some(layer) = read_layer(&dir)? {
        return Ok(layer);
    }
    let uv = uv()?;
    if uv.version != inputs.uv_version {
        bail!("uv {} is not the pinned uv {}", uv.version, inputs.uv_version);
    }
    std::fs::create_dir_all(cache_dir).with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let removed = temp::remove_abandoned(cache_dir, STAGING_PREFIX);
    if removed > 0 {
        crate::progress!(
            "removed {removed} unfinished install(s) left by an interrupted run in {}",
            cache_dir.display()
        );
    }
    // Built beside its final place and renamed: an interrupted install never leaves a half cache.
    let staging = temp::dir(cache_dir, STAGING_PREFIX)?;
    let install = Install {
        uv: &uv,
        requirements: inputs.requirements,
        python_version: &inputs.python_version,
        find_links: inputs.find_links,
        no_index: inputs.no_index,
    };
    let ladder = uv::platform_ladder(inputs.platform);
    let mut used = None;
    let mut last_failure = None;
    for (attempt, platform) in ladder.iter().enumerate() {
        let site = staging.path().join(format!("site-{attempt}"));
        crate::progress!(
            "{agent}: installing dependencies for {platform}, Python {} (uv {})",
            inputs.python_version,
            uv.version
        );
        match install.run(&site, platform)? {
            Ok(()) => {
                used = Some((platform.clone(), site));
                break;
            }
            Err(Failure::NoWheel { packages, stderr }) => {
                crate::progress!("{agent}: no {platform} wheel for {}", packages.join(", "));
                last_failure = Some(Failure::NoWheel { packages, stderr });
            }
            Err(failure @ Failure::Other { .. }) => {
                last_failure = Some(failure);
                break;
            }
        }
    }
    let Some((platform, site)) = used else {
        return Err(install_error(agent, inputs, &ladder, last_failure.expect("a failed attempt")));
    };

    let tree = layer_tree(&site)?;
    let warnings = foreign_native_code(agent, &tree)?;
    archive::write_zip(&staging.path().join(LAYER_ZIP), None, &tree)?;
    std::fs::remove_dir_all(&site).with_context(|| format!("cannot remove {}", site.display()))?;
    let layer = Layer { key: key.clone(), platform, warnings, zip: dir.join(LAYER_ZIP), cache_hit: false };
    std::fs::write(staging.path().join(LAYER_META), serde_json::to_vec_pretty(&layer)?)?;
    // The lock is held until the rename is done, so no other run takes this for abandoned.
    let (staging, _lock) = staging.keep();
    if let Err(err) = std::fs::rename(&staging, &dir) {
        // A concurrent run may have finished the same key first; its layer is identical.
        let _ = std::fs::remove_dir_all(&staging);
        if read_layer(&dir)?.is_none() {
            return Err(err).with_context(|| format!("cannot move the dependency layer into {}", dir.display()));
        }
    }
    // Each change of the requirements adds a layer: the ones nobody used for a while go.
    let pruned = prune(cache_dir, &key, std::time::Duration::from_secs(UNUSED_DAYS * 24 * 3600));
    if pruned > 0 {
        crate::progress!(
            "removed {pruned} dependency layer(s) unused for {UNUSED_DAYS} days from {}",
            cache_dir.display()
        );
    }
    Ok(layer)
}

/// Days after which an unused layer is removed (a hit marks its layer used).
pub(crate) const UNUSED_DAYS: u64 = 30;

/// Removes the layers of `cache_dir` other than `keep` that were last used longer than `unused` ago.
pub(crate) fn prune(cache_dir: &Path, keep: &str, unused: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(cache_dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Staging directories are `temp`'s business; only complete layers are judged by age.
        if name.starts_with('.') || name == keep {
            continue;
        }
        let last_used = std::fs::metadata(entry.path().join(LAYER_META)).and_then(|meta| meta.modified());
        let stale = last_used.ok().and_then(|time| time.elapsed().ok()).is_some_and(|age| age > unused);
        if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn read_layer(dir: &Path) -> Result<Option<Layer>> {
    let meta = dir.join(LAYER_META);
    let zip = dir.join(LAYER_ZIP);
    if !meta.is_file() || !zip.is_file() {
        return Ok(None);
    }
    let text = std::fs::read(&meta).with_context(|| format!("cannot read {}", meta.display()))?;
    let mut layer: Layer = serde_json::from_slice(&text)
        .with_context(|| format!("{} is corrupt; delete {} and run again", meta.display(), dir.display()))?;
    layer.zip = zip;
    layer.cache_hit = true;
    // Marks the layer used, for `prune`; a read-only cache still works.
    let _ = std::fs::File::options()
        .write(true)
        .open(&meta)
        .and_then(|file| file.set_modified(std::time::SystemTime::now()));
    Ok(Some(layer))
}

fn install_error(agent: &str, inputs: &Inputs, ladder: &[String], failure: Failure) -> anyhow::Error {
    match failure {
        Failure::NoWheel { packages, stderr } => {
            let details: Vec<String> = packages
                .iter()
                .map(|package| match uv::available_platforms(&stderr, package) {
                    Some(platforms) => format!("`{package}` (wheels exist only for {platforms})"),
                    None => format!("`{package}` (no wheels at all, source only)"),
                })
                .collect();
            anyhow::anyhow!(
                "agent `{agent}`: no linux ARM64 wheel for {} (tried {}, Python {}); AgentCore runs linux/arm64 and packaging never builds from source: pin a version that publishes manylinux aarch64 wheels, replace the package, or build an aarch64 wheel and serve it from your own index (requirements: {})\nuv said:\n{}",
                details.join(", "),
                ladder.join(", "),
                inputs.python_version,
                inputs.requirements.display(),
                uv::tail(&stderr, 8)
            )
        }
        Failure::Other { stderr } => anyhow::anyhow!(
            "agent `{agent}`: uv could not install {} (is PyPI reachable, and is every requirement pinned to a version that exists?)\nuv said:\n{}",
            inputs.requirements.display(),
            uv::tail(&stderr, 12)
        ),
    }
}

/// Files of a dist-info directory that record the install itself, not the package: they hold
/// timestamps, host paths and hashes of host-specific scripts, so they would break determinism.
const INSTALL_RECORDS: &[&str] = &["INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uv_cache.json"];

/// The installed tree as it ships: no install records, no bytecode, portable script shebangs.
pub(crate) fn layer_tree(site: &Path) -> Result<Tree> {
    let mut tree = archive::walk(site, |name, is_dir| {
        let base = name.rsplit('/').next().unwrap_or(name);
        if is_dir {
            return base == "__pycache__";
        }
        if name == ".lock" || base.ends_with(".pyc") {
            return true;
        }
        match name.rsplit_once('/') {
            Some((parent, file)) => {
                !parent.contains('/') && parent.ends_with(".dist-info") && INSTALL_RECORDS.contains(&file)
            }
            None => false,
        }
    })?;
    for file in &mut tree.files {
        if file.name.starts_with("bin/") {
            portable_shebang(file)?;
        }
    }
    Ok(tree)
}

/// Console scripts get the installing host's interpreter path as shebang; make it portable.
fn portable_shebang(file: &mut FileEntry) -> Result<()> {
    let Source::Path(path) = &file.source else { return Ok(()) };
    if file.size > 1 << 20 {
        return Ok(());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(rest) = bytes.strip_prefix(b"#!") else { return Ok(()) };
    let line_end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    if !String::from_utf8_lossy(&rest[..line_end]).contains("python") {
        return Ok(());
    }
    let mut rewritten = b"#!/usr/bin/env python3".to_vec();
    rewritten.extend_from_slice(&rest[line_end..]);
    file.size = rewritten.len() as u64;
    file.source = Source::Bytes(rewritten);
    Ok(())
}

/// ELF `e_machine` of 64-bit ARM.
const EM_AARCH64: u16 = 0xB7;

/// Warnings for native libraries that are ELF files for another architecture. uv only picks
/// aarch64 wheels, but a wheel tagged `any` may still bundle host binaries; they would fail only
/// when imported on AgentCore, so say so now.
fn foreign_native_code(agent: &str, tree: &Tree) -> Result<Vec<String>> {
    let mut foreign = Vec::new();
    for file in &tree.files {
        let base = file.name.rsplit('/').next().unwrap_or(&file.name);
        if !(base.ends_with(".so") || base.contains(".so.")) || file.size < 20 {
            continue;
        }
        let mut header = [0; 20];
        std::io::Read::read_exact(&mut file.open()?, &mut header)
            .with_context(|| format!("cannot read {}", file.name))?;
        let machine = u16::from_le_bytes([header[18], header[19]]);
        if header.starts_with(b"\x7fELF") && (header[5] != 1 || machine != EM_AARCH64) {
            foreign.push(format!("{} (ELF machine {machine:#x})", file.name));
        }
    }
    if foreign.is_empty() {
        return Ok(Vec::new());
    }
    let count = foreign.len();
    let (noun, verb) = if count == 1 { ("library", "is") } else { ("libraries", "are") };
    foreign.truncate(5);
    Ok(vec![format!(
        "agent `{agent}`: {count} native {noun} in the dependencies {verb} not aarch64 and cannot load on AgentCore: {}",
        foreign.join(", ")
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        std::fs::write(&path, text).unwrap();
        check_pinned("bot", &path)
            .map_err(|err| anyhow::anyhow!("{}", err.to_string().replace(&dir.path().display().to_string(), "[DIR]")))
    }

    #[test]
    fn requirements_must_pin_every_dependency() {
        check("\u{feff}# pinned\r\n\r\nanyio==4.16.0\nPyYAML == 6.0.2 # a comment\nuvicorn[standard]==0.30.0 ; python_version >= \"3.10\"\nattrs==26.1.0 \\\n    --hash=sha256:abc\n--index-url https://pypi.org/simple\n").unwrap();
        let cases = [
            ("anyio>=4\n", "line 1: `anyio>=4` is not pinned to one version; pin every dependency"),
            ("anyio==4.*\n", "`anyio==4.*` is not pinned"),
            ("anyio\n", "`anyio` is not pinned"),
            ("ok==1\nanyio==4,!=4.1\n", "line 2: `anyio==4,!=4.1` is not pinned"),
            ("tool @ https://example.com/tool.whl\n", "installs from a URL or a path"),
            ("-r base.txt\n", "`-r` brings in requirements from elsewhere"),
            ("-e ./lib\n", "`-e` brings in requirements"),
        ];
        for (text, expected) in cases {
            let err = check(text).unwrap_err().to_string();
            assert!(
                err.starts_with("agent `bot`: [DIR]/requirements.txt line") && err.contains(expected),
                "{text:?}: {err}"
            );
        }
    }
}
