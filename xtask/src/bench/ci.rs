//! `cargo xtask bench ci`: how long the workflows wait for the tool. Measures the builds from a fresh
//! clone (cold, after a change to `xtask/` alone with the dependencies restored, and a restored
//! binary's start), against a baseline revision built cold in the same run, and computes each
//! workflow's critical path in each cache state from those figures and the workflow files.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::context::Ctx;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchCiArgs {
    /// Revision built cold as the baseline (default: the last commit before the build-time work)
    #[arg(long, default_value = "9e49a2a")]
    pub(crate) baseline: String,
    /// Skip the baseline's cold build and workflows
    #[arg(long)]
    pub(crate) no_baseline: bool,
    /// Skip the cold build with default features (a newcomer's first `cargo xtask`)
    #[arg(long)]
    pub(crate) no_default_build: bool,
    /// Revision of this checkout to measure (committed state; default HEAD)
    #[arg(long, default_value = "HEAD")]
    pub(crate) rev: String,
}

/// Targets from the issue, on a 2-core machine.
const COLD_BUILD_TARGET: f64 = 300.0;
const READY_ON_HIT_TARGET: f64 = 60.0;
const READY_AFTER_XTASK_CHANGE_TARGET: f64 = 180.0;
const FIRST_AWS_CALL_TARGET: f64 = 90.0;

/// What a GitHub-hosted runner spends outside the build, assumed (they cannot be measured here).
/// Read from GitHub's published figures and typical job logs; override none, read them in the output.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct RunnerCosts {
    /// From job start to its first step (runner set-up, action downloads).
    pub(crate) job_setup: f64,
    /// `actions/checkout`, shallow.
    pub(crate) checkout: f64,
    /// `rustup toolchain install` of a minimal profile.
    pub(crate) toolchain: f64,
    /// Restoring a cached binary of ~30 MB, or a miss.
    pub(crate) binary_restore: f64,
    /// Restoring the dependencies' cache (registry and `target/`, ~1 GB compressed ~300 MB).
    pub(crate) dependencies_restore: f64,
    /// Uploading the binary as an artifact.
    pub(crate) artifact_upload: f64,
    /// Downloading it in a later job.
    pub(crate) artifact_download: f64,
}

const RUNNER: RunnerCosts = RunnerCosts {
    job_setup: 10.0,
    checkout: 3.0,
    toolchain: 20.0,
    binary_restore: 3.0,
    dependencies_restore: 25.0,
    artifact_upload: 5.0,
    artifact_download: 3.0,
};

/// The cache states a workflow run can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CacheState {
    /// Nothing cached: first run, or the lock file or profiles changed.
    Cold,
    /// Only `xtask/` changed: the dependencies are restored, the crate compiles.
    XtaskChanged,
    /// The binary's key is unchanged: nothing compiles.
    Hit,
}

impl fmt::Display for CacheState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheState::Cold => "cold cache",
            CacheState::XtaskChanged => "xtask/ changed",
            CacheState::Hit => "cache hit",
        })
    }
}

/// The measured build figures of one revision.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BuildFigures {
    pub(crate) revision: String,
    /// `cargo build -p xtask --locked --no-default-features`, as the workflows build it.
    pub(crate) cold_workflow_build: f64,
    /// CPU seconds (user + system, all processes) of that build: on a busy machine the wall time
    /// grows, this much less; an idle 2-core machine needs at least half of it.
    pub(crate) cold_workflow_cpu: f64,
    /// The same after a one-line change under `xtask/`, dependencies already built.
    pub(crate) xtask_changed_build: f64,
    /// `cargo build -p xtask` cold, default features (the local stack): a newcomer's first command.
    pub(crate) cold_default_build: Option<f64>,
    pub(crate) cold_default_cpu: Option<f64>,
    /// `xtask --version` from a copied binary, median of 5.
    pub(crate) restored_start: f64,
    pub(crate) binary_bytes: u64,
    /// The slowest compile units of the cold workflow build (name, seconds).
    pub(crate) slowest_units: Vec<(String, f64)>,
}

/// One workflow's critical path in one cache state, to the start of its last job's own work.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CriticalPath {
    pub(crate) workflow: String,
    pub(crate) state: CacheState,
    pub(crate) jobs: Vec<String>,
    pub(crate) seconds: f64,
    /// Seconds from the start of the job that needs the tool first until it is ready.
    pub(crate) first_ready: f64,
    /// Compiles on the path.
    pub(crate) compiles: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct BenchCiReport {
    pub(crate) machine: String,
    pub(crate) runner_costs: RunnerCosts,
    pub(crate) current: BuildFigures,
    pub(crate) baseline: Option<BuildFigures>,
    pub(crate) paths: Vec<CriticalPath>,
    pub(crate) baseline_paths: Vec<CriticalPath>,
}

impl BenchCiArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<()> {
        let scratch_parent = ctx.root.join("target").join("agentcore");
        std::fs::create_dir_all(&scratch_parent)?;
        let scratch = tempfile::Builder::new().prefix("bench-ci-").tempdir_in(&scratch_parent)?;
        let current = measure(&ctx.root, &self.rev, &scratch.path().join("current"), !self.no_default_build)?;
        let paths = critical_paths(&scratch.path().join("current/clone"), &current)?;
        let (baseline, baseline_paths) = if self.no_baseline {
            (None, Vec::new())
        } else {
            let figures = measure(&ctx.root, &self.baseline, &scratch.path().join("baseline"), false)?;
            let paths = critical_paths(&scratch.path().join("baseline/clone"), &figures)?;
            (Some(figures), paths)
        };
        let report =
            BenchCiReport { machine: machine(), runner_costs: RUNNER, current, baseline, paths, baseline_paths };
        crate::output::emit(ctx.json, &report)
    }
}

/// Clones `rev` of `root` into `dir/clone` and measures its builds in `dir/target*`.
fn measure(root: &Path, rev: &str, dir: &Path, default_build: bool) -> Result<BuildFigures> {
    let clone = dir.join("clone");
    std::fs::create_dir_all(dir)?;
    run(Command::new("git").args(["clone", "--quiet", "--no-checkout"]).arg(root).arg(&clone))?;
    run(Command::new("git").arg("-C").arg(&clone).args(["checkout", "--quiet", "--detach", rev]))?;
    let revision = output(Command::new("git").arg("-C").arg(&clone).args(["rev-parse", "--short", "HEAD"]))?;
    // The package cache (downloaded crates) stays shared: runners restore it too.
    let target = dir.join("target");
    crate::progress!("bench ci {revision}: cold workflow build (cargo build -p xtask --locked --no-default-features)");
    let (cold_workflow_build, cold_workflow_cpu) =
        cargo_build(&clone, &target, &["--no-default-features", "--timings"])?;
    let slowest_units = slowest_units(&target.join("cargo-timings/cargo-timing.html")).unwrap_or_default();

    crate::progress!("bench ci {revision}: a change to xtask/ alone, dependencies built");
    // The library holds every command: a change there recompiles the crate, as most changes do.
    let lib_rs = clone.join("xtask/src/lib.rs");
    let mut text = std::fs::read_to_string(&lib_rs)?;
    text.push_str("\n// bench ci: a change under xtask/ alone\n");
    std::fs::write(&lib_rs, text)?;
    let (xtask_changed_build, _) = cargo_build(&clone, &target, &["--no-default-features"])?;

    let binary = target.join("debug/xtask");
    let restored = dir.join("restored/xtask");
    std::fs::create_dir_all(restored.parent().expect("has a parent"))?;
    std::fs::copy(&binary, &restored).with_context(|| format!("no binary at {}", binary.display()))?;
    let binary_bytes = std::fs::metadata(&restored)?.len();
    let mut starts = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        run(Command::new(&restored).arg("--version").current_dir(&clone))?;
        starts.push(started.elapsed().as_secs_f64());
    }
    starts.sort_by(f64::total_cmp);

    let (cold_default_build, cold_default_cpu) = if default_build {
        crate::progress!("bench ci {revision}: cold default build (cargo build -p xtask --locked)");
        let (wall, cpu) = cargo_build(&clone, &dir.join("target-default"), &[])?;
        (Some(wall), Some(cpu))
    } else {
        (None, None)
    };
    Ok(BuildFigures {
        revision,
        cold_workflow_build,
        cold_workflow_cpu,
        xtask_changed_build,
        cold_default_build,
        cold_default_cpu,
        restored_start: starts[starts.len() / 2],
        binary_bytes,
        slowest_units,
    })
}

/// Wall and CPU seconds of one `cargo build -p xtask --locked` in `clone` with its own target
/// directory.
fn cargo_build(clone: &Path, target: &Path, extra: &[&str]) -> Result<(f64, f64)> {
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--package", "xtask", "--locked"])
        .args(extra)
        .current_dir(clone)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("`cargo build` failed in {} ({status})", clone.display());
    }
    Ok((started.elapsed().as_secs_f64(), children_cpu_seconds() - cpu_before))
}

/// CPU seconds of every finished child process of this one and their own children (Linux's
/// `cutime` + `cstime`, in clock ticks of 1/100 s), or 0 where /proc is missing.
fn children_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 after the name.
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / 100.0
}

fn run(command: &mut Command) -> Result<()> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

fn output(command: &mut Command) -> Result<String> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The five slowest units of a `--timings` report.
fn slowest_units(html: &Path) -> Option<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(html).ok()?;
    let start = text.find("const UNIT_DATA = ")? + "const UNIT_DATA = ".len();
    let end = start + text[start..].find(";\n")?;
    let units: Vec<serde_json::Value> = serde_json::from_str(&text[start..end]).ok()?;
    let mut units: Vec<(String, f64)> =
        units.iter().filter_map(|unit| Some((unit["name"].as_str()?.to_owned(), unit["duration"].as_f64()?))).collect();
    units.sort_by(|a, b| b.1.total_cmp(&a.1));
    units.truncate(5);
    Some(units)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| text.lines().next().and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map(|kib| format!(", {} GiB", kib / 1024 / 1024))
        .unwrap_or_default();
    format!("{cores} cores{memory}, {}", std::env::consts::ARCH)
}

// ---------------------------------------------------------------------------------------------
// Workflow graph

/// How a job gets the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// No xtask at all.
    None,
    /// The restore-or-build action; `upload` keeps the binary for later jobs.
    RestoreOrBuild { upload: bool },
    /// The binary an earlier job of the run uploaded.
    Download,
    /// `cargo xtask` straight away: a cold compile whatever the caches hold.
    Compile,
}

#[derive(Debug, Clone)]
struct Job {
    name: String,
    needs: Vec<String>,
    tool: Tool,
}

fn read_jobs(path: &Path) -> Result<Vec<Job>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let workflow: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    let jobs = workflow.get("jobs").and_then(|jobs| jobs.as_mapping()).context("no jobs")?;
    let mut parsed = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().context("a job name is not a string")?.to_owned();
        let needs = match job.get("needs") {
            Some(serde_yaml_ng::Value::String(one)) => vec![one.clone()],
            Some(serde_yaml_ng::Value::Sequence(many)) => {
                many.iter().filter_map(|need| need.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        };
        let mut tool = Tool::None;
        for step in job.get("steps").and_then(|steps| steps.as_sequence()).into_iter().flatten() {
            let uses = step.get("uses").and_then(|uses| uses.as_str()).unwrap_or_default();
            let script = step.get("run").and_then(|run| run.as_str()).unwrap_or_default();
            let found = if uses.ends_with("/.github/actions/xtask") {
                let upload = step.get("with").and_then(|with| with.get("upload")).and_then(|upload| upload.as_str());
                Tool::RestoreOrBuild { upload: upload == Some("true") }
            } else if uses.ends_with("/.github/actions/xtask-download") {
                Tool::Download
            } else if script.contains("cargo xtask") {
                Tool::Compile
            } else {
                continue;
            };
            tool = found;
            break;
        }
        parsed.push(Job { name, needs, tool });
    }
    Ok(parsed)
}

/// Seconds from a job's start until its tool is ready, and whether it compiled.
fn ready_after(tool: Tool, state: CacheState, figures: &BuildFigures) -> (f64, bool) {
    let start = RUNNER.job_setup + RUNNER.checkout + figures.restored_start;
    match tool {
        Tool::None => (RUNNER.job_setup, false),
        Tool::Download => (start + RUNNER.artifact_download, false),
        Tool::Compile => (start + RUNNER.toolchain + figures.cold_workflow_build, true),
        Tool::RestoreOrBuild { upload } => {
            let upload = if upload { RUNNER.artifact_upload } else { 0.0 };
            let (seconds, compiled) = match state {
                CacheState::Hit => (RUNNER.binary_restore, false),
                CacheState::XtaskChanged => (
                    RUNNER.binary_restore
                        + RUNNER.toolchain
                        + RUNNER.dependencies_restore
                        + figures.xtask_changed_build,
                    true,
                ),
                CacheState::Cold => (RUNNER.binary_restore + RUNNER.toolchain + figures.cold_workflow_build, true),
            };
            (start + seconds + upload, compiled)
        }
    }
}

/// The longest chain of `needs` through the jobs that use the tool, each job counted until its tool
/// is ready (the jobs' own work, AWS calls included, is left out: it is the same whatever the cache).
fn critical_paths(clone: &Path, figures: &BuildFigures) -> Result<Vec<CriticalPath>> {
    let mut paths = Vec::new();
    for workflow in ["pr-deploy", "prod-promote"] {
        let jobs = read_jobs(&clone.join(format!(".github/workflows/{workflow}.yml")))?;
        for state in [CacheState::Cold, CacheState::XtaskChanged, CacheState::Hit] {
            let mut best: Option<CriticalPath> = None;
            for job in &jobs {
                let (jobs_on_path, seconds, compiles) = longest_to(&jobs, &job.name, state, figures, 0)?;
                if best.as_ref().is_none_or(|best| seconds > best.seconds) {
                    let first = jobs_on_path
                        .iter()
                        .filter_map(|name| jobs.iter().find(|job| &job.name == name))
                        .find(|job| job.tool != Tool::None)
                        .map(|job| ready_after(job.tool, state, figures).0)
                        .unwrap_or(0.0);
                    best = Some(CriticalPath {
                        workflow: workflow.to_owned(),
                        state,
                        jobs: jobs_on_path,
                        seconds,
                        first_ready: first,
                        compiles,
                    });
                }
            }
            paths.extend(best);
        }
    }
    Ok(paths)
}

fn longest_to(
    jobs: &[Job],
    name: &str,
    state: CacheState,
    figures: &BuildFigures,
    depth: usize,
) -> Result<(Vec<String>, f64, usize)> {
    if depth > jobs.len() {
        bail!("the jobs' `needs` form a cycle at {name}");
    }
    let job = jobs.iter().find(|job| job.name == name).with_context(|| format!("no job {name}"))?;
    let mut before = (Vec::new(), 0.0, 0);
    for need in &job.needs {
        let candidate = longest_to(jobs, need, state, figures, depth + 1)?;
        if candidate.1 > before.1 {
            before = candidate;
        }
    }
    let (seconds, compiled) = ready_after(job.tool, state, figures);
    let (mut path, total, compiles) = before;
    path.push(job.name.clone());
    Ok((path, total + seconds, compiles + usize::from(compiled)))
}

// ---------------------------------------------------------------------------------------------
// Report

fn minutes(seconds: f64) -> String {
    format!("{}:{:02}", (seconds / 60.0) as u64, (seconds % 60.0).round() as u64)
}

impl fmt::Display for BenchCiReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        writeln!(f, "bench ci on {}; builds from fresh clones, each with its own target directory", self.machine)?;
        let current = &self.current;
        let ratio = |now: f64, then: Option<f64>| match then {
            Some(then) if then > 0.0 => format!("{:.2}x baseline", now / then),
            _ => String::new(),
        };
        let base = self.baseline.as_ref();
        writeln!(f, "revision {} (baseline {})", current.revision, base.map_or("skipped", |b| b.revision.as_str()))?;
        writeln!(
            f,
            "{:<58} {:>7}  {}  (CPU {:.0} s, {})",
            "cold workflow build (--no-default-features)",
            minutes(current.cold_workflow_build),
            ratio(current.cold_workflow_build, base.map(|b| b.cold_workflow_build)),
            current.cold_workflow_cpu,
            ratio(current.cold_workflow_cpu, base.map(|b| b.cold_workflow_cpu))
        )?;
        if let (Some(cold), Some(cpu)) = (current.cold_default_build, current.cold_default_cpu) {
            writeln!(
                f,
                "{:<58} {:>7}  {}  target <= {}: {}  (CPU {:.0} s, {})",
                "cold `cargo build -p xtask` (default features)",
                minutes(cold),
                ratio(cold, base.map(|b| b.cold_workflow_build)),
                minutes(COLD_BUILD_TARGET),
                verdict(cold <= COLD_BUILD_TARGET),
                cpu,
                ratio(cpu, base.map(|b| b.cold_workflow_cpu))
            )?;
        }
        writeln!(
            f,
            "{:<58} {:>7}  {}",
            "build after a change to xtask/ alone",
            minutes(current.xtask_changed_build),
            ratio(current.xtask_changed_build, base.map(|b| b.xtask_changed_build))
        )?;
        writeln!(
            f,
            "{:<58} {:>5.0} ms  ({:.0} MB binary)",
            "restored binary: `xtask --version`",
            current.restored_start * 1000.0,
            current.binary_bytes as f64 / 1e6
        )?;
        let units: Vec<String> =
            current.slowest_units.iter().map(|(name, seconds)| format!("{name} {seconds:.0} s")).collect();
        writeln!(f, "slowest units of the cold workflow build: {}", units.join(", "))?;
        let r = &self.runner_costs;
        writeln!(
            f,
            "\ncritical paths, to the tool being ready in the last job (runner costs assumed: job set-up {} s, checkout {} s, \
             toolchain {} s, binary restore {} s, dependencies restore {} s, artifact upload {} s / download {} s)",
            r.job_setup,
            r.checkout,
            r.toolchain,
            r.binary_restore,
            r.dependencies_restore,
            r.artifact_upload,
            r.artifact_download
        )?;
        writeln!(f, "{:<13} {:<15} {:>7} {:>9} {:>10}  jobs", "workflow", "cache", "path", "compiles", "baseline")?;
        for path in &self.paths {
            let baseline = self
                .baseline_paths
                .iter()
                .find(|old| old.workflow == path.workflow && old.state == path.state)
                .map(|old| minutes(old.seconds))
                .unwrap_or_default();
            writeln!(
                f,
                "{:<13} {:<15} {:>7} {:>9} {:>10}  {}",
                path.workflow,
                path.state.to_string(),
                minutes(path.seconds),
                path.compiles,
                baseline,
                path.jobs.join(" → ")
            )?;
        }
        writeln!(f)?;
        for path in self.paths.iter().filter(|path| path.state != CacheState::Cold) {
            let (what, target) = match (path.workflow.as_str(), path.state) {
                ("prod-promote", CacheState::Hit) => {
                    ("first AWS call of an approval or rollback", FIRST_AWS_CALL_TARGET)
                }
                (_, CacheState::Hit) => ("tool ready in the first job", READY_ON_HIT_TARGET),
                _ => ("tool ready in the first job", READY_AFTER_XTASK_CHANGE_TARGET),
            };
            writeln!(
                f,
                "{} ({}): {what} after {}, target <= {}: {}",
                path.workflow,
                path.state,
                minutes(path.first_ready),
                minutes(target),
                verdict(path.first_ready <= target)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> BuildFigures {
        BuildFigures {
            revision: "abc".into(),
            cold_workflow_build: 200.0,
            cold_workflow_cpu: 380.0,
            xtask_changed_build: 20.0,
            cold_default_build: None,
            cold_default_cpu: None,
            restored_start: 0.01,
            binary_bytes: 1,
            slowest_units: Vec::new(),
        }
    }

    /// The repository's own workflows: one compile on each path, none on a hit, and the figures of
    /// the path add up from the jobs on it.
    #[test]
    fn this_repositorys_paths_compile_at_most_once() {
        let root = crate::settings::workspace_root();
        let paths = critical_paths(&root, &figures()).unwrap();
        assert_eq!(paths.len(), 6);
        for path in &paths {
            let most = usize::from(path.state != CacheState::Hit);
            assert_eq!(path.compiles, most, "{path:?}");
        }
        let hit = paths.iter().find(|path| path.workflow == "pr-deploy" && path.state == CacheState::Hit).unwrap();
        assert!(hit.jobs.len() >= 3, "{hit:?}");
        assert!(hit.seconds < 120.0, "{hit:?}");
    }

    /// A workflow that runs `cargo xtask` in every job compiles in each of them.
    #[test]
    fn old_style_jobs_compile_each_time() {
        let temp = tempfile::tempdir().unwrap();
        let workflows = temp.path().join(".github/workflows");
        std::fs::create_dir_all(&workflows).unwrap();
        let job = |needs: &str| format!("    {needs}runs-on: x\n    steps:\n      - run: cargo xtask github step\n");
        let text =
            format!("jobs:\n  a:\n{}  b:\n{}  c:\n{}", job(""), job("needs: a\n    "), job("needs: [a, b]\n    "));
        std::fs::write(workflows.join("pr-deploy.yml"), &text).unwrap();
        std::fs::write(
            workflows.join("prod-promote.yml"),
            job("").replace("    runs-on", "jobs:\n  only:\n    runs-on"),
        )
        .unwrap();
        let paths = critical_paths(temp.path(), &figures()).unwrap();
        let pr = paths.iter().find(|path| path.workflow == "pr-deploy" && path.state == CacheState::Hit).unwrap();
        assert_eq!(pr.jobs, ["a", "b", "c"]);
        assert_eq!(pr.compiles, 3);
        assert!(pr.seconds > 600.0, "{pr:?}");
    }
}
