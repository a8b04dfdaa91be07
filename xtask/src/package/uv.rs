//! uv: found on PATH at the pinned version, else installed by us from PyPI; cross-installs wheels.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use regex::Regex;

/// A uv binary of a known version.
#[derive(Debug, Clone)]
pub struct Uv {
    pub path: PathBuf,
    pub(crate) version: String,
}

/// The version `uv --version` reports (`uv 0.13.8 (abc 2025-01-01)` → `0.13.8`), if it runs.
pub(crate) fn version_of(program: &Path) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace().nth(1).map(str::to_owned)
}

/// The pinned uv: `explicit` if given, else `uv` on PATH when its version matches, else the copy
/// under `tools_dir/uv-<version>/`, installed there with `python -m pip` when missing.
pub fn ensure(version: &str, tools_dir: &Path, explicit: Option<&Path>, python: &str) -> Result<Uv> {
    if let Some(path) = explicit {
        return match version_of(path) {
            Some(found) => Ok(Uv { path: path.to_path_buf(), version: found }),
            None => bail!("uv at {} does not run", path.display()),
        };
    }
    if version_of(Path::new("uv")).as_deref() == Some(version) {
        return Ok(Uv { path: PathBuf::from("uv"), version: version.to_owned() });
    }
    let home = tools_dir.join(format!("uv-{version}"));
    let binary = home.join("bin").join("uv");
    if version_of(&binary).as_deref() == Some(version) {
        return Ok(Uv { path: binary, version: version.to_owned() });
    }
    install(version, tools_dir, &home, python)?;
    match version_of(&binary) {
        Some(found) if found == version => Ok(Uv { path: binary, version: found }),
        found => bail!(
            "installed uv {version} into {} but {} reports {}; delete that directory and run again",
            home.display(),
            binary.display(),
            found.as_deref().unwrap_or("nothing")
        ),
    }
}

fn install(version: &str, tools_dir: &Path, home: &Path, python: &str) -> Result<()> {
    let fix = format!(
        "install uv {version} yourself (`python3 -m pip install uv=={version}`, or https://docs.astral.sh/uv/getting-started/installation/) and put it on PATH"
    );
    let pip_works = Command::new(python)
        .args(["-m", "pip", "--version"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if !pip_works {
        bail!("uv {version} is not on PATH and cannot be installed: `{python} -m pip` is not available; {fix}");
    }
    crate::progress!("installing uv {version} into {} (pip)", home.display());
    std::fs::create_dir_all(tools_dir).with_context(|| format!("cannot create {}", tools_dir.display()))?;
    // Installed beside its final place, then renamed: an interrupted install never looks complete.
    super::temp::remove_abandoned(tools_dir, ".tmp-uv-");
    let staging = super::temp::dir(tools_dir, ".tmp-uv-")?;
    let output = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
        .arg("--target")
        .arg(staging.path())
        .arg(format!("uv=={version}"))
        .output()
        .with_context(|| format!("cannot run {python}"))?;
    if !output.status.success() {
        bail!(
            "cannot install uv {version} with pip (is PyPI reachable? set HTTPS_PROXY or PIP_INDEX_URL if you need a proxy or a mirror); {fix}\n{}",
            tail(&String::from_utf8_lossy(&output.stderr), 12)
        );
    }
    if !staging.path().join("bin").join("uv").is_file() {
        bail!("pip installed uv=={version} but no bin/uv appeared; {fix}");
    }
    let (staging, _lock) = staging.keep();
    if let Err(err) = std::fs::rename(&staging, home) {
        // Another run installed it first: theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&staging);
        if !home.join("bin").join("uv").is_file() {
            return Err(err).with_context(|| format!("cannot move uv into {}", home.display()));
        }
    }
    Ok(())
}

/// One `uv pip install` of a requirements file for a target platform.
#[derive(Debug, Clone)]
pub(crate) struct Install<'a> {
    pub(crate) uv: &'a Uv,
    pub(crate) requirements: &'a Path,
    pub(crate) python_version: &'a str,
    pub(crate) find_links: Option<&'a Path>,
    pub(crate) no_index: bool,
}

/// Why an install failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Some packages have no wheel for the platform tried (with the platforms they do have).
    NoWheel {
        packages: Vec<String>,
        stderr: String,
    },
    Other {
        stderr: String,
    },
}

impl Install<'_> {
    /// Installs into `target` (which must be empty or absent) for `platform`.
    pub(crate) fn run(&self, target: &Path, platform: &str) -> Result<std::result::Result<(), Failure>> {
        let mut command = Command::new(&self.uv.path);
        command
            .args(["pip", "install", "--color", "never", "--no-progress", "--only-binary", ":all:"])
            .arg("--target")
            .arg(target)
            .args(["--python-platform", platform, "--python-version", self.python_version])
            .arg("--requirements")
            .arg(self.requirements);
        if let Some(find_links) = self.find_links {
            command.arg("--find-links").arg(find_links);
        }
        if self.no_index {
            command.arg("--no-index");
        }
        let output = command.output().with_context(|| format!("cannot run {}", self.uv.path.display()))?;
        if output.status.success() {
            return Ok(Ok(()));
        }
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let packages = packages_without_wheels(&stderr);
        Ok(Err(if packages.is_empty() { Failure::Other { stderr } } else { Failure::NoWheel { packages, stderr } }))
    }
}

/// Packages uv's resolver reports as having no usable wheel, from its error text.
pub(crate) fn packages_without_wheels(stderr: &str) -> Vec<String> {
    let pattern =
        Regex::new(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~]=?[^\s,]+)? has no (?:wheels with a matching platform tag|usable wheels)")
            .expect("valid regex");
    let mut packages: Vec<String> = pattern.captures_iter(stderr).map(|found| found[1].to_owned()).collect();
    packages.dedup();
    packages
}

/// The platforms uv reports wheels exist for, per package (`hint: Wheels are available for ...`).
pub(crate) fn available_platforms(stderr: &str, package: &str) -> Option<String> {
    let pattern = Regex::new(r"Wheels are available for `([^`]+)` \([^)]*\) on the following platforms?: (.+)")
        .expect("valid regex");
    pattern
        .captures_iter(stderr)
        .find(|found| &found[1] == package)
        .map(|found| found[2].replace('`', "").trim().to_owned())
}

/// The platforms to try in order: the configured one, then newer glibc manylinux tags of the same
/// architecture up to 2.34 (AgentCore's runtime has glibc 2.34).
pub(crate) fn platform_ladder(platform: &str) -> Vec<String> {
    let mut ladder = vec![platform.to_owned()];
    let Some((arch, tag)) = platform.split_once('-') else { return ladder };
    let glibc_minor = match tag {
        "manylinux2014" => Some(17),
        _ => tag.strip_prefix("manylinux_2_").and_then(|minor| minor.parse::<u32>().ok()),
    };
    if let Some(minor) = glibc_minor {
        for newer in [28, 34] {
            if newer > minor {
                ladder.push(format!("{arch}-manylinux_2_{newer}"));
            }
        }
    }
    ladder
}

/// The last `lines` lines of `text`, indented.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_climbs_to_newer_manylinux_tags() {
        assert_eq!(
            platform_ladder("aarch64-manylinux2014"),
            ["aarch64-manylinux2014", "aarch64-manylinux_2_28", "aarch64-manylinux_2_34"]
        );
        assert_eq!(platform_ladder("aarch64-manylinux_2_28"), ["aarch64-manylinux_2_28", "aarch64-manylinux_2_34"]);
        assert_eq!(platform_ladder("aarch64-manylinux_2_34"), ["aarch64-manylinux_2_34"]);
        assert_eq!(platform_ladder("aarch64-unknown-linux-gnu"), ["aarch64-unknown-linux-gnu"]);
    }

    #[test]
    fn parses_uv_resolution_errors() {
        let stderr = "error: No solution found when resolving dependencies\n  cause: Because x86only==1.0.0 has no wheels with a matching platform tag (e.g., `manylinux_2_17_aarch64`) and you require x86only==1.0.0, we can conclude that your requirements are unsatisfiable.\n\nhint: Wheels are available for `x86only` (v1.0.0) on the following platform: `manylinux2014_x86_64`\n";
        assert_eq!(packages_without_wheels(stderr), ["x86only"]);
        assert_eq!(available_platforms(stderr, "x86only").as_deref(), Some("manylinux2014_x86_64"));
        let stderr =
            "  cause: Because sdonly==1.0.0 has no usable wheels and you require sdonly==1.0.0, we can conclude";
        assert_eq!(packages_without_wheels(stderr), ["sdonly"]);
        assert!(packages_without_wheels("error: Failed to fetch: `https://pypi.org/simple/x/`").is_empty());
    }

    #[test]
    fn missing_pip_names_the_fix() {
        let tools = tempfile::tempdir().unwrap();
        let err = install("0.13.8", tools.path(), &tools.path().join("uv-0.13.8"), "/nonexistent/python3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be installed") && err.contains("pip install uv==0.13.8"), "{err}");
        assert!(!tools.path().join("uv-0.13.8").exists());
    }

    /// A real pip that cannot reach any index, as on a machine without network access.
    #[cfg(unix)]
    #[test]
    fn pip_without_an_index_names_the_fix_and_leaves_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = tempfile::tempdir().unwrap();
        let python = scratch.path().join("offline-python3");
        std::fs::write(
            &python,
            "#!/bin/sh\nexport PIP_NO_INDEX=1 PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1\nexec python3 \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tools = scratch.path().join("tools");
        // A staging directory of an install killed earlier is removed by this attempt.
        std::fs::create_dir_all(tools.join(".tmp-uv-k1ll3d/bin")).unwrap();

        let err = install("0.13.8", &tools, &tools.join("uv-0.13.8"), python.to_str().unwrap()).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.starts_with("cannot install uv 0.13.8 with pip (is PyPI reachable?"), "{err}");
        assert!(
            err.contains("HTTPS_PROXY or PIP_INDEX_URL") && err.contains("`python3 -m pip install uv==0.13.8`"),
            "{err}"
        );
        // pip's own reason follows, indented.
        assert!(err.contains("\n  ") && err.contains("uv==0.13.8"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&tools).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert!(left.is_empty(), "a failed install leaves nothing behind: {left:?}");
    }
}
