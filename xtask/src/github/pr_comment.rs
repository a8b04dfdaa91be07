//! `github pr-comment`: gather the deploy matrix's result files into the one PR comment. The files
//! are data from other jobs: each is checked before anything of it is rendered.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{EventArgs, metadata, pr_event, render, write_out};
use crate::agents::{self, Agent};
use crate::context::Ctx;
use crate::naming::Target;
use crate::report::{Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct PrCommentArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// The agents the matrix deployed, as `github pr-plan` listed them (a JSON array of names)
    #[arg(long, value_name = "JSON")]
    pub agents: String,
    /// Folder of the JSON results the matrix jobs wrote with `pr-deploy --result`; an agent
    /// without one is shown as not finished
    #[arg(long, value_name = "DIR")]
    pub results: PathBuf,
}

/// A result file larger than this was not written by `pr-deploy --result`.
const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// A successful result names the agent's own PR runtime and values of the shapes AgentCore gives.
fn check_deployed(scheme: &crate::naming::Scheme, agent: &str, pr: u64, deployed: &render::Deployed) -> Result<()> {
    let runtime = scheme.runtime_name(agent, Target::Pr(pr))?;
    if deployed.runtime_name != runtime {
        bail!("agent `{agent}` of PR #{pr} deploys to `{runtime}`, not `{}`", deployed.runtime_name.escape_default());
    }
    if let Some(version) = &deployed.version {
        metadata::parse_version(version)?;
    }
    let status = deployed.status.as_str();
    if status.is_empty() || !status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        bail!("status `{}` is not an AgentCore status", status.escape_default());
    }
    if let Some(key) = &deployed.s3_key
        && (!key.starts_with(&format!("{runtime}/"))
            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_/.-".contains(&b)))
    {
        bail!("S3 key `{}` is not under `{runtime}/`", key.escape_default());
    }
    Ok(())
}

/// Reads the matrix's result files: every `*.json` in `dir`, each a list of agent results of this
/// pull request and commit, each agent once.
fn read_results(
    scheme: &crate::naming::Scheme,
    dir: &Path,
    pr: u64,
    commit: &str,
    expected: &[Agent],
) -> Result<Vec<render::AgentResult>> {
    let mut results: Vec<render::AgentResult> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // No matrix job got as far as uploading: every agent shows as not finished.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(results),
        Err(err) => return Err(err).with_context(|| format!("cannot read the results folder {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read the results folder {}", dir.display()))?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    files.sort();
    for file in files {
        let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
        if size > MAX_RESULT_BYTES {
            bail!("the result file {} is {size} bytes; `pr-deploy --result` writes far less", file.display());
        }
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let listed: Vec<render::AgentResult> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a result file of `github pr-deploy --result`", file.display()))?;
        for result in listed {
            if !expected.iter().any(|agent| agent.name == result.agent) {
                bail!("{} holds a result for `{}`, which the plan did not list", file.display(), result.agent);
            }
            if result.pr != pr || result.commit != commit {
                bail!(
                    "{} holds a result of PR #{} at {}, not of PR #{pr} at {commit}",
                    file.display(),
                    result.pr,
                    result.commit
                );
            }
            if results.iter().any(|seen| seen.agent == result.agent) {
                bail!("{} holds a second result for `{}`", file.display(), result.agent);
            }
            if let Ok(deployed) = &result.outcome {
                check_deployed(scheme, &result.agent, pr, deployed)
                    .with_context(|| format!("{} is not a result `github pr-deploy` writes", file.display()))?;
            }
            results.push(result);
        }
    }
    Ok(results)
}

/// `github pr-comment`: gathers the matrix's per-agent results into the one PR comment. An agent
/// whose job wrote no result (cancelled, timed out, runner lost) is shown as failed, not left out.
pub fn pr_comment(ctx: &Ctx, args: &PrCommentArgs) -> Result<StepReport> {
    let event = pr_event(&args.event.event)?;
    if event.is_fork() {
        bail!("PR #{} comes from a fork: it is not deployed, so there are no deploy results to report", event.number);
    }
    let (pr, commit) = (event.number, event.pull_request.head.sha.as_str());
    let names: Vec<String> = serde_json::from_str(&args.agents).with_context(|| {
        format!(
            "--agents must be a JSON array of agent names, as `github pr-plan` writes it, not `{}`",
            args.agents.escape_default()
        )
    })?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let expected = agents::pick(&all, &names).context("--agents")?;
    let mut found = read_results(&ctx.settings.scheme(), &args.results, pr, commit, &expected)?;
    let results: Vec<render::AgentResult> = expected
        .iter()
        .map(|agent| match found.iter().position(|result| result.agent == agent.name) {
            Some(index) => found.swap_remove(index),
            None => render::AgentResult {
                agent: agent.name.clone(),
                pr,
                commit: commit.to_owned(),
                outcome: Err("no result: this agent's deploy job did not finish (cancelled, timed out or its runner \
                              was lost); its log is in the workflow run"
                    .to_owned()),
            },
        })
        .collect();
    let markdown = render::pr_comment(pr, commit, &all, &results);
    write_out(&ctx.github, args.event.out.as_deref(), &markdown, "comment")?;
    let failed = results.iter().filter(|result| result.outcome.is_err()).count();
    let result = match (results.len(), failed) {
        (0, _) => StepResult::Nothing,
        (_, 0) => StepResult::Deployed,
        _ => StepResult::Failed,
    };
    Ok(StepReport { pr: Some(pr), agents: names, markdown: Some(markdown), ..StepReport::new(Step::PrComment, result) })
}
