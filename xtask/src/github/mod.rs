//! Steps of the GitHub workflows, one file each. Each reads the event payload from `--event FILE`,
//! does the AWS work through the same layer as the other commands, renders what the workflow posts,
//! and writes its outputs to `$GITHUB_OUTPUT`. What the steps share lives here.

pub mod event;
mod gc;
pub mod metadata;
mod pr_closed;
mod pr_comment;
mod pr_deploy;
mod pr_plan;
mod prod_deploy;
mod promote;
mod release;
pub mod render;
mod supersede;

pub use gc::{GcArgs, gc, protected_prs};
pub use pr_closed::{PrClosedArgs, pr_closed};
pub use pr_comment::{PrCommentArgs, pr_comment};
pub use pr_deploy::{PrDeployArgs, pr_deploy};
pub use pr_plan::{PrPlanArgs, pr_plan};
pub use prod_deploy::{ProdDeployArgs, merged_pull, prod_deploy, requested_versions};
pub use promote::{PromoteArgs, check_approval, promote};

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::agents::Agent;
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::{GithubFiles, emit, github_output};
use crate::progress;
use crate::settings::Settings;

/// The login GitHub gives the workflow token's bot; it authors deployment issues.
pub const DEFAULT_BOT_LOGIN: &str = "github-actions[bot]";
/// The label that asks for a promotion, and the labels a deployment issue carries.
pub(crate) const APPROVED_LABEL: &str = "approved";
pub(crate) const ISSUE_LABELS: &[&str] = &["deployment", "production", "needs-promotion"];
pub(crate) const PROMOTED_LABEL: &str = "promoted";

#[derive(clap::Subcommand, Debug, Clone)]
pub enum GithubCommand {
    /// List the agents a pull request affects (the deploy matrix), deploying nothing
    PrPlan(PrPlanArgs),
    /// Deploy the PR runtimes of the agents a pull request affects; render the PR comment
    PrDeploy(PrDeployArgs),
    /// Render the one PR comment from the results the deploy matrix wrote
    PrComment(PrCommentArgs),
    /// Add prod versions for a push to main; render the deployment issue
    ProdDeploy(ProdDeployArgs),
    /// Promote the versions an approved deployment issue records; delete the PR's runtimes
    Promote(PromoteArgs),
    /// Delete the runtimes of a pull request closed without merge
    PrClosed(PrClosedArgs),
    /// Delete PR runtimes of closed pull requests that no open deployment issue refers to
    Gc(GcArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct EventArgs {
    /// GitHub event payload (in a workflow: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE", env = "GITHUB_EVENT_PATH")]
    pub event: PathBuf,
    /// Where to write the rendered comment or issue body
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl GithubCommand {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            GithubCommand::PrPlan(args) => emit(ctx.json, &pr_plan(ctx, &args)?),
            GithubCommand::PrDeploy(args) => emit(ctx.json, &pr_deploy(ctx, &args, None).await?),
            GithubCommand::PrComment(args) => emit(ctx.json, &pr_comment(ctx, &args)?),
            GithubCommand::ProdDeploy(args) => emit(ctx.json, &prod_deploy(ctx, &args, None).await?),
            GithubCommand::Promote(args) => emit(ctx.json, &promote(ctx, &args, None).await?),
            GithubCommand::PrClosed(args) => emit(ctx.json, &pr_closed(ctx, &args, None).await?),
            GithubCommand::Gc(args) => emit(ctx.json, &gc(ctx, &args, None).await?),
        }
    }
}

fn write_out(github: &GithubFiles, path: Option<&Path>, markdown: &str, key: &str) -> Result<()> {
    if let Some(path) = path {
        std::fs::write(path, markdown).with_context(|| format!("cannot write {}", path.display()))?;
        github_output(github, key, &path.to_string_lossy())?;
    }
    Ok(())
}

fn read_changed(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the changed files list {}", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect())
}

/// The places a release goes through, as the settings say. Without an `environments_chain`, today's
/// flow: a merge adds prod versions, not live, and an approval makes them live. With a chain of two,
/// a merge deploys to the first environment and makes its versions live there, and an approval
/// deploys their very zips to the second and makes them live. Pull requests' runtimes stay in the
/// workspace's place either way.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    /// Where a merge deploys.
    pub(crate) merge: Ctx,
    /// Where an approval makes versions live.
    pub(crate) approve: Ctx,
    /// Where pull requests' runtimes are.
    pub(crate) prs: Ctx,
}

impl Flow {
    pub(crate) fn of(ctx: &Ctx) -> Result<Flow> {
        let (merge, approve) = match ctx.workspace().environments_chain.as_slice() {
            [] => (ctx.for_env(crate::settings::PROD)?, ctx.for_env(crate::settings::PROD)?),
            [first, second] => (ctx.for_env(first)?, ctx.for_env(second)?),
            chain => bail!("environments_chain lists {} environments; the workflows promote along two", chain.len()),
        };
        Ok(Flow { merge, approve, prs: ctx.for_prs() })
    }

    /// Whether an approval takes another environment's bytes (a chain) rather than making the
    /// merged versions themselves live.
    pub(crate) fn chained(&self) -> bool {
        self.merge.env_name() != self.approve.env_name()
    }
}

/// The clients of each place of a [`Flow`].
pub(crate) struct Connected {
    pub(crate) merge: AwsClients,
    pub(crate) approve: AwsClients,
    pub(crate) prs: AwsClients,
    /// Keeps an in-process local stack alive.
    pub(crate) _guard: Option<crate::connect::LocalGuard>,
}

/// Clients for every place of `flow`: from the ones the caller gave (tests: one local stack, so one
/// account, each place with its own bucket), else connected now, once every check has passed.
/// Places in the same region and account share their clients and the run's listing of runtimes.
async fn connect_flow(flow: &Flow, given: Option<AwsClients>) -> Result<Connected> {
    if let Some(aws) = given {
        let run = aws.new_run();
        let with = |ctx: &Ctx| AwsClients { bucket: ctx.settings.bucket.clone(), ..run.clone() };
        return Ok(Connected {
            merge: with(&flow.merge),
            approve: with(&flow.approve),
            prs: with(&flow.prs),
            _guard: None,
        });
    }
    let (approve, guard) = crate::connect::connect(&flow.approve).await?;
    let merge = crate::connect::connect_also(&flow.merge, &flow.approve, &approve, guard.as_ref()).await?;
    let prs = crate::connect::connect_also(&flow.prs, &flow.approve, &approve, guard.as_ref()).await?;
    Ok(Connected { merge, approve, prs, _guard: guard })
}

/// Clients given by the caller (tests), else connected now: only once every check has passed.
/// Either way the step is one run, with its own listing of the runtimes.
async fn clients(ctx: &Ctx, given: Option<AwsClients>) -> Result<(AwsClients, Option<crate::connect::LocalGuard>)> {
    match given {
        Some(aws) => Ok((aws.new_run(), None)),
        None => crate::connect::connect(ctx).await,
    }
}

fn names(agents: &[Agent]) -> Vec<String> {
    agents.iter().map(|agent| agent.name.clone()).collect()
}

/// The pull request event of a PR step, checked.
fn pr_event(path: &Path) -> Result<event::PullRequestEvent> {
    let event: event::PullRequestEvent = event::read(path, "pull_request")?;
    event.check()?;
    if !["opened", "synchronize", "reopened"].contains(&event.action.as_str()) {
        bail!("the PR deploy steps run on pull requests opened, synchronized or reopened, not `{}`", event.action);
    }
    Ok(event)
}

/// The agents a pull request affects: those whose files, prompts or tooling changed.
fn pr_affected(
    ctx: &Ctx,
    event: &event::PullRequestEvent,
    all: &[Agent],
    changed_files: Option<&Path>,
) -> Result<Vec<Agent>> {
    let base = &event.pull_request.base.sha;
    let changed = match changed_files {
        Some(path) => read_changed(path)?,
        // The sample payloads name a base commit no clone has; a shallow checkout lacks it too.
        None if !crate::select::has_commit(&ctx.root, base) => {
            progress!(
                "note: the event's base commit {} is not in this checkout (a sample payload, or a shallow clone), so \
                 every agent counts as affected; pass --changed-files FILE to name the changed paths",
                &base[..12]
            );
            return Ok(all.to_vec());
        }
        None => crate::select::changed_files(&ctx.root, base)?,
    };
    Ok(crate::select::affected(&ctx.root, all, &changed))
}

/// Deletes every runtime the naming scheme assigns to one of `prs`; names come from the scheme,
/// never from text. Returns the deleted names.
async fn delete_pr_runtimes(settings: &Settings, aws: &AwsClients, prs: &[u64], dry_run: bool) -> Result<Vec<String>> {
    let scheme = settings.scheme();
    let doomed: Vec<String> = crate::aws::index::runtimes(aws)
        .await?
        .into_iter()
        .map(|runtime| runtime.name)
        .filter(|name| matches!(scheme.parse(name), Some((_, Target::Pr(pr))) if prs.contains(&pr)))
        .collect();
    if doomed.is_empty() {
        return Ok(doomed);
    }
    progress!("deleting {}", doomed.join(", "));
    let results = crate::cleanup::cleanup_runtimes(aws, &doomed, dry_run, settings.max_parallel).await;
    if results.len() != doomed.len() {
        bail!("cleanup returned {} results for {} runtimes", results.len(), doomed.len());
    }
    let failures: Vec<String> = doomed
        .iter()
        .zip(&results)
        .filter_map(|(name, result)| result.as_ref().err().map(|err| format!("runtime {name}: {err:#}")))
        .collect();
    if !failures.is_empty() {
        bail!("cannot delete some runtimes (re-run to retry):\n{}", failures.join("\n"));
    }
    Ok(doomed)
}
