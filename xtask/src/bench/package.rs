//! `cargo xtask bench package`: cold, warm and unchanged packaging against the shell-script way.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::median;
use crate::context::Ctx;
use crate::package::{self, PackageOptions, PackageTuning, archive, uv};

#[derive(clap::Args, Debug, Clone)]
pub struct BenchPackageArgs {
    /// Agent to package (default: dad_joke_bot, else the first agent)
    #[arg(value_name = "AGENT")]
    pub(crate) agent: Option<String>,
    /// Runs of each measurement; the median is reported
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
}

/// Targets from the project's brief.
const WARM_MAX_RATIO: f64 = 0.5;
const UNCHANGED_MAX_SECONDS: f64 = 0.5;
const PEAK_MAX_BYTES: u64 = 200_000_000;

#[derive(Debug, Serialize)]
pub(crate) struct BenchReport {
    pub(crate) agent: String,
    pub(crate) runs: usize,
    pub(crate) files: u64,
    pub(crate) unzipped_bytes: u64,
    pub(crate) zipped_bytes: u64,
    pub(crate) script_seconds: f64,
    pub(crate) cold_seconds: f64,
    pub(crate) warm_seconds: f64,
    pub(crate) unchanged_seconds: f64,
    pub(crate) peak_memory_bytes: Option<u64>,
    pub(crate) warm_ratio: f64,
    pub(crate) cold_ratio: f64,
    pub(crate) targets_met: bool,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        writeln!(
            f,
            "bench package {}: {} files, {} unzipped, {} zipped; median of {} runs",
            self.agent,
            self.files,
            archive::human_bytes(self.unzipped_bytes),
            archive::human_bytes(self.zipped_bytes),
            self.runs
        )?;
        writeln!(f, "{:<46} {:>8.3} s", "script: uv pip install + cp + zip -r", self.script_seconds)?;
        writeln!(
            f,
            "{:<46} {:>8.3} s  {:>6.2}x script",
            "cold: empty dependency cache", self.cold_seconds, self.cold_ratio
        )?;
        writeln!(
            f,
            "{:<46} {:>8.3} s  {:>6.2}x script  target <= {WARM_MAX_RATIO}x: {}",
            "warm: dependency cache hit, zip rebuilt",
            self.warm_seconds,
            self.warm_ratio,
            verdict(self.warm_ratio <= WARM_MAX_RATIO)
        )?;
        writeln!(
            f,
            "{:<46} {:>8.3} s  {:>6.2}x script  target < {UNCHANGED_MAX_SECONDS} s: {}",
            "no change: existing zip kept",
            self.unchanged_seconds,
            self.unchanged_seconds / self.script_seconds,
            verdict(self.unchanged_seconds < UNCHANGED_MAX_SECONDS)
        )?;
        match self.peak_memory_bytes {
            Some(peak) => writeln!(
                f,
                "{:<46} {:>10}  target < {}: {}",
                "peak memory of this process (VmHWM)",
                archive::human_bytes(peak),
                archive::human_bytes(PEAK_MAX_BYTES),
                verdict(peak < PEAK_MAX_BYTES)
            )?,
            None => writeln!(f, "peak memory: unavailable (no /proc/self/status)")?,
        }
        writeln!(f, "all targets met: {}", if self.targets_met { "yes" } else { "no" })
    }
}

impl BenchPackageArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<()> {
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        let agent = super::bench_agent(ctx, self.agent.as_deref())?;
        let scratch = super::scratch(ctx, "bench-package-")?;
        let uv = uv::ensure(&ctx.settings.uv_version, &ctx.root.join("target").join("tools"), None, "python3")?;
        let options = PackageOptions { out_dir: scratch.path().join("out"), prompt_override: None };
        let deps_dir = scratch.path().join("deps");
        let tuning =
            PackageTuning { deps_dir: Some(deps_dir.clone()), uv: Some(uv.path.clone()), ..PackageTuning::default() };
        let python_version = format!("3.{}", agent.python_runtime.rsplit('_').next().unwrap_or("12"));

        // Both sides get uv's own cache warm: the comparison is about our work, not downloads.
        crate::progress!("warming uv's cache");
        script(&uv, &agent, &ctx.settings.platform, &python_version, &scratch.path().join("warmup"))?;

        let mut script_times = Vec::new();
        let mut cold_times = Vec::new();
        let mut warm_times = Vec::new();
        let mut unchanged_times = Vec::new();
        let mut last = None;
        for run in 1..=self.runs {
            crate::progress!("run {run}/{}", self.runs);
            script_times.push(script(
                &uv,
                &agent,
                &ctx.settings.platform,
                &python_version,
                &scratch.path().join(format!("script-{run}")),
            )?);

            let _ = std::fs::remove_dir_all(&deps_dir);
            let _ = std::fs::remove_dir_all(&options.out_dir);
            let (cold, cold_report) = timed(|| package::package_agent_with(ctx, &agent, &options, &tuning))?;
            cold_times.push(cold);

            std::fs::remove_dir_all(&options.out_dir)?;
            let (warm, warm_report) = timed(|| package::package_agent_with(ctx, &agent, &options, &tuning))?;
            warm_times.push(warm);
            if warm_report.dependencies != "cached" || warm_report.sha256 != cold_report.sha256 {
                bail!("the warm package differs from the cold one: the benchmark measured the wrong thing");
            }

            let (unchanged, unchanged_report) = timed(|| package::package_agent_with(ctx, &agent, &options, &tuning))?;
            unchanged_times.push(unchanged);
            if !unchanged_report.unchanged {
                bail!("the third package was not recognised as unchanged");
            }
            last = Some(warm_report);
        }
        let report = last.expect("at least one run");
        let script_seconds = median(&mut script_times);
        let cold_seconds = median(&mut cold_times);
        let warm_seconds = median(&mut warm_times);
        let unchanged_seconds = median(&mut unchanged_times);
        let peak_memory_bytes = peak_memory();
        let warm_ratio = warm_seconds / script_seconds;
        let bench = BenchReport {
            agent: agent.name.clone(),
            runs: self.runs,
            files: report.files,
            unzipped_bytes: report.unzipped_bytes,
            zipped_bytes: report.zipped_bytes,
            script_seconds,
            cold_seconds,
            warm_seconds,
            unchanged_seconds,
            peak_memory_bytes,
            warm_ratio,
            cold_ratio: cold_seconds / script_seconds,
            targets_met: warm_ratio <= WARM_MAX_RATIO
                && unchanged_seconds < UNCHANGED_MAX_SECONDS
                && peak_memory_bytes.is_none_or(|peak| peak < PEAK_MAX_BYTES),
        };
        crate::output::emit(ctx.json, &bench)
    }
}

fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let start = Instant::now();
    let value = work()?;
    Ok((start.elapsed().as_secs_f64(), value))
}

/// The way a shell script packages: install into a fresh folder, copy the agent in, `zip -r`.
fn script(uv: &uv::Uv, agent: &crate::agents::Agent, platform: &str, python: &str, dir: &Path) -> Result<f64> {
    let site = dir.join("site");
    std::fs::create_dir_all(dir)?;
    let start = Instant::now();
    run(Command::new(&uv.path)
        .args(["pip", "install", "--quiet", "--only-binary", ":all:", "--python-platform", platform])
        .args(["--python-version", python, "--target"])
        .arg(&site)
        .arg("-r")
        .arg(&agent.requirements))?;
    run(Command::new("cp").arg("-r").arg(agent.dir.join(".")).arg(&site))?;
    run(Command::new("cp").arg(&agent.prompt).arg(site.join(package::PROMPT_FILE)))?;
    run(Command::new("zip").args(["-r", "-q"]).arg(dir.join("package.zip")).arg(".").current_dir(&site))?;
    let elapsed = start.elapsed();
    std::fs::remove_dir_all(dir)?;
    Ok(Duration::as_secs_f64(&elapsed))
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// The most resident memory this process has used (Linux `VmHWM`), in bytes.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}
