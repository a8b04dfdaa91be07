//! `cargo xtask bench scale`: a monorepo of many agents in an account holding many runtimes.
//!
//! It writes a workspace of tiny agents (each with the same empty requirements file, so after the
//! first run packaging is fingerprints only), preloads the local stack with other runtimes, and runs
//! the real commands as child processes against it: `deploy --all` once to create the runtimes (not
//! timed), then `deploy --all` up to date, `status` and `github gc`, each timed and with its
//! control-plane requests counted by the stack. The baseline, from the same counts, is what the
//! commands did before they shared one listing per run: one listing per runtime lookup.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentcore_local::{LocalConfig, LocalStack, Quotas, RequestCounts};
use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::context::Ctx;

/// The page size every listing of the tool asks for.
const PAGE_SIZE: usize = 100;
/// The pull request the bench deploys to, and the closed one whose runtimes `github gc` deletes.
const OPEN_PR: u64 = 1;
const CLOSED_PR: u64 = 900;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchScaleArgs {
    /// Agents in the generated workspace
    #[arg(long, default_value_t = 50)]
    pub(crate) agents: usize,
    /// Runtimes in the account besides the agents' own (another team's, old pull requests')
    #[arg(long, default_value_t = 1000)]
    pub(crate) runtimes: usize,
    /// How many of those belong to a closed pull request of these agents, for `github gc` to delete
    #[arg(long, default_value_t = 10)]
    pub(crate) stale: usize,
    /// Time the local stack keeps each resource in CREATING/UPDATING/DELETING, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub(crate) transition_ms: u64,
}

/// The agents of a generated workspace: `scale_agent_000`, `scale_agent_001`, …
pub(crate) fn agent_names(agents: usize) -> Vec<String> {
    (0..agents).map(|index| format!("scale_agent_{index:03}")).collect()
}

/// Writes a workspace of `agents` tiny agents at `root`: settings in `Cargo.toml`, and per agent a
/// manifest, a `main.py`, a prompt and a requirements file naming no package (the same bytes for
/// all, so one dependency cache key and no uv). Returns the agents' names.
pub fn write_workspace(root: &Path, agents: usize) -> Result<Vec<String>> {
    let write = |path: PathBuf, text: &str| -> Result<()> {
        std::fs::create_dir_all(path.parent().context("a file in the workspace")?)?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        root.join("Cargo.toml"),
        "# A generated workspace of many agents (cargo xtask bench scale): settings only, no members.\n\
         [workspace]\nresolver = \"3\"\nmembers = []\n\n\
         [workspace.metadata.agentcore]\n\
         region = \"us-east-1\"\n\
         bucket = \"scale-bucket\"\n\
         role_arn = \"arn:aws:iam::123456789012:role/ScaleRole\"\n\
         python_runtime = \"PYTHON_3_12\"\n\
         platform = \"aarch64-manylinux2014\"\n\
         prod_runtime = \"prod\"\n\
         uv_version = \"0.13.8\"\n",
    )?;
    let names = agent_names(agents);
    for name in &names {
        let dir = root.join("agents").join(name);
        write(dir.join("agent.toml"), &format!("entry_point = \"main.py\"\ndescription = \"Scale agent {name}\"\n"))?;
        write(dir.join("main.py"), &format!("# {name}\nprint('hello from {name}')\n"))?;
        write(dir.join("requirements.txt"), "# no dependencies\n")?;
        write(root.join("prompts").join(format!("{name}.txt")), &format!("You are {name}.\n"))?;
    }
    Ok(names)
}

/// One measured command.
#[derive(Debug, Serialize)]
pub(crate) struct Measured {
    pub(crate) command: String,
    pub(crate) seconds: f64,
    /// Control-plane requests, by operation.
    pub(crate) requests: RequestCounts,
    pub(crate) requests_total: u64,
    pub(crate) requests_per_agent: f64,
    /// Runtime lookups that each listed every runtime before the listing was shared.
    pub(crate) lookups_before: u64,
    /// The same command with one listing per lookup: its requests less its listing, plus that many.
    pub(crate) requests_before: u64,
    pub(crate) requests_per_agent_before: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ScaleReport {
    pub(crate) agents: usize,
    /// Runtimes in the account while the commands ran (the agents' own included).
    pub(crate) runtimes_in_account: usize,
    pub(crate) stale: usize,
    pub(crate) listing_pages: u64,
    pub(crate) transition_ms: u64,
    pub(crate) max_parallel: usize,
    pub(crate) commands: Vec<Measured>,
}

impl fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scale bench: {} agents, {} runtimes in the account (one listing = {} {} of {PAGE_SIZE}), \
             max_parallel {}, local stack with {} ms transitions",
            self.agents,
            self.runtimes_in_account,
            self.listing_pages,
            if self.listing_pages == 1 { "page" } else { "pages" },
            self.max_parallel,
            self.transition_ms
        )?;
        let rows: Vec<Vec<String>> = self
            .commands
            .iter()
            .map(|measured| {
                vec![
                    measured.command.clone(),
                    format!("{:.2} s", measured.seconds),
                    measured.requests_total.to_string(),
                    format!("{:.1}", measured.requests_per_agent),
                    measured.requests.get("ListAgentRuntimes").to_string(),
                    measured.requests_before.to_string(),
                    format!("{:.1}", measured.requests_per_agent_before),
                    format!("{:.1}x", measured.requests_before as f64 / measured.requests_total.max(1) as f64),
                ]
            })
            .collect();
        let headers =
            ["COMMAND", "WALL", "REQUESTS", "PER AGENT", "LIST CALLS", "BEFORE", "BEFORE PER AGENT", "BEFORE / NOW"];
        f.write_str(&crate::report::table(&headers, &rows))?;
        writeln!(f, "requests by operation:")?;
        for measured in &self.commands {
            let operations: Vec<String> =
                measured.requests.iter().map(|(operation, count)| format!("{operation} {count}")).collect();
            writeln!(f, "  {}: {}", measured.command, operations.join(", "))?;
        }
        writeln!(
            f,
            "BEFORE: the same requests with one listing per runtime lookup ({} pages each), as before the listing was shared",
            self.listing_pages
        )
    }
}

impl BenchScaleArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.agents == 0 || self.stale > self.runtimes {
            bail!("--agents must be at least 1, and --stale at most --runtimes");
        }
        let temp = tempfile::tempdir()?;
        let root = temp.path().join("workspace");
        let names = write_workspace(&root, self.agents)?;
        let settings = crate::settings::Settings::from_workspace(&root)?;
        let stack = LocalStack::start(LocalConfig {
            dir: temp.path().join("stack"),
            s3_port: 0,
            control_port: 0,
            transition_delay: Duration::from_millis(self.transition_ms),
            region: settings.region.clone(),
        })
        .await?;
        stack.ensure_bucket(&settings.bucket).await?;
        // The account's runtime quota (1,000 by default) is raised, as AWS does on request, to hold
        // the other runtimes and the agents' own.
        let in_account = self.runtimes + self.agents;
        stack.faults().set_quotas(Quotas { runtimes: in_account, ..Quotas::default() })?;
        let mut preloaded: Vec<String> =
            (0..self.runtimes - self.stale).map(|index| format!("other_team_runtime_{index:04}")).collect();
        preloaded
            .extend((0..self.stale).map(|index| {
                format!("{}_pr_{}", names[index % names.len()], CLOSED_PR + (index / names.len()) as u64)
            }));
        stack.preload_runtimes(preloaded).await?;

        let runner = Runner::new(ctx, &root, temp.path(), &stack)?;
        let pr = OPEN_PR.to_string();
        crate::progress!("bench scale: first deploy of {} agents (not timed)", self.agents);
        runner.run(&["deploy", "--all", "--pr", &pr])?;

        let (deploy, stdout) = runner.measure(&stack, &["deploy", "--all", "--pr", &pr, "--json"])?;
        let report: serde_json::Value = serde_json::from_str(&stdout).context("deploy --json printed no JSON")?;
        let up_to_date = report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["outcome"]["action"] == "up_to_date")
            .count();
        if up_to_date != self.agents {
            bail!("the second deploy found {up_to_date} of {} agents up to date", self.agents);
        }
        let (status, _) = runner.measure(&stack, &["status", "--json"])?;
        let (event, pulls, issues) = runner.gc_inputs()?;
        let (gc, stdout) = runner.measure(
            &stack,
            &["github", "gc", "--event", &event, "--open-pulls", &pulls, "--open-issues", &issues, "--json"],
        )?;
        let gc_report: serde_json::Value = serde_json::from_str(&stdout).context("github gc printed no JSON")?;
        let deleted = gc_report["deleted"].as_array().map_or(0, Vec::len);
        if deleted != self.stale {
            bail!("github gc deleted {deleted} runtimes, not the {} stale ones", self.stale);
        }
        stack.shutdown().await;

        let pages = in_account.div_ceil(PAGE_SIZE).max(1) as u64;
        let agents = self.agents as u64;
        let report = ScaleReport {
            agents: self.agents,
            runtimes_in_account: in_account,
            stale: self.stale,
            listing_pages: pages,
            transition_ms: self.transition_ms,
            max_parallel: ctx.settings.max_parallel,
            commands: vec![
                measured("deploy --all (up to date)", deploy, agents, agents, pages),
                measured("status", status, 1, agents, pages),
                // The sweep listed once, then each deleted runtime was looked up by a listing of its own.
                measured(&format!("github gc ({} stale)", self.stale), gc, 1 + self.stale as u64, agents, pages),
            ],
        };
        crate::output::emit(ctx.json, &report)
    }
}

fn measured(
    command: &str,
    (elapsed, requests): (Duration, RequestCounts),
    lookups: u64,
    agents: u64,
    pages: u64,
) -> Measured {
    let total = requests.total();
    let before = total - requests.get("ListAgentRuntimes") + lookups * pages;
    Measured {
        command: command.to_owned(),
        seconds: elapsed.as_secs_f64(),
        requests_total: total,
        requests_per_agent: total as f64 / agents as f64,
        requests,
        lookups_before: lookups,
        requests_before: before,
        requests_per_agent_before: before as f64 / agents as f64,
    }
}

/// Runs this very binary against the stack and the generated workspace, with nothing of the
/// machine's AWS or GitHub configuration leaking in.
struct Runner {
    exe: PathBuf,
    root: PathBuf,
    temp: PathBuf,
    env: Vec<(String, String)>,
    max_parallel: String,
}

impl Runner {
    fn new(ctx: &Ctx, root: &Path, temp: &Path, stack: &LocalStack) -> Result<Runner> {
        Ok(Runner {
            exe: std::env::current_exe().context("cannot find the xtask binary to run")?,
            root: root.to_owned(),
            temp: temp.to_owned(),
            env: stack.env_exports(),
            max_parallel: ctx.settings.max_parallel.to_string(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.exe);
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("GITHUB_") || name.starts_with("AGENTCORE_") {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .args(["--max-parallel", &self.max_parallel])
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .env("AWS_CONFIG_FILE", self.temp.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.temp.join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AGENTCORE_WORKSPACE", &self.root)
            .current_dir(&self.root)
            .stdin(Stdio::null());
        command
    }

    /// Runs the command to the end; its stdout, or its stderr as the error.
    fn run(&self, args: &[&str]) -> Result<String> {
        let output = self.command(args).output().with_context(|| format!("cannot run {}", self.exe.display()))?;
        if !output.status.success() {
            bail!(
                "`cargo xtask {}` failed:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs the command and returns its wall time, the control-plane requests it made, and its stdout.
    fn measure(&self, stack: &LocalStack, args: &[&str]) -> Result<((Duration, RequestCounts), String)> {
        crate::progress!("bench scale: cargo xtask {}", args.join(" "));
        let before = stack.control_requests();
        let started = Instant::now();
        let stdout = self.run(args)?;
        let elapsed = started.elapsed();
        Ok(((elapsed, stack.control_requests().since(&before)), stdout))
    }

    /// The inputs of `github gc`: a schedule event, the open pull request, no deployment issue.
    fn gc_inputs(&self) -> Result<(String, String, String)> {
        let files = [
            ("gc-event.json", serde_json::json!({ "schedule": "17 3 * * *" })),
            ("open-pulls.json", serde_json::json!([{ "number": OPEN_PR, "state": "open" }])),
            ("open-issues.json", serde_json::json!([])),
        ];
        let mut paths = Vec::new();
        for (name, value) in files {
            let path = self.temp.join(name);
            std::fs::write(&path, value.to_string())?;
            paths.push(path.to_string_lossy().into_owned());
        }
        let [event, pulls, issues] = <[String; 3]>::try_from(paths).expect("three files");
        Ok((event, pulls, issues))
    }
}
