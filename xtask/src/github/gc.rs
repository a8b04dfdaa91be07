//! `github gc`: the nightly sweep. It deletes PR runtimes whose pull request is closed and that no
//! open deployment issue still needs, closes the deployment issues a later release superseded
//! (`super::supersede`), and deletes the previews of open pull requests nothing was deployed to for
//! `idle_preview_days`. With `--prune`, the sweep's second job instead prunes the old versions of
//! every agent's prod runtime, and with an `environments_chain` of its first environment's too, by
//! `prune`'s rules (`crate::prune`), keeping the newest `prune_keep`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::{
    DEFAULT_BOT_LOGIN, EventArgs, Flow, connect_flow, delete_pr_runtimes, event, metadata, render, supersede, write_out,
};
use crate::agents;
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::{github_output, step_summary};
use crate::progress;
use crate::report::{IdlePreview, IssueFate, PruneAction, PruneOutcome, Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct GcArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Open pull requests: output of `gh api --paginate 'repos/{repo}/pulls?state=open'`
    #[arg(long, value_name = "FILE", required_unless_present = "prune", conflicts_with = "prune")]
    pub open_pulls: Option<PathBuf>,
    /// Open deployment issues: output of `gh api --paginate 'repos/{repo}/issues?labels=deployment&state=open'`
    #[arg(long, value_name = "FILE", required_unless_present = "prune", conflicts_with = "prune")]
    pub open_issues: Option<PathBuf>,
    /// The newest issue or pull request number when the lists were read; runtimes of pull requests
    /// numbered above it were opened since, and are kept
    #[arg(long, value_name = "N")]
    pub newest_number: Option<u64>,
    /// Login of the bot that opens deployment issues (issues by anyone else protect nothing)
    #[arg(long, value_name = "LOGIN", env = "AGENTCORE_BOT_LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
    /// Where to write the comment of each superseded deployment issue, `DIR/<issue>.md`, which the
    /// workflow posts before it labels the issue `superseded` and closes it
    #[arg(long, value_name = "DIR")]
    pub superseded_dir: Option<PathBuf>,
    /// Where to write the comment of each pull request whose idle preview was deleted, `DIR/<pr>.md`
    #[arg(long, value_name = "DIR")]
    pub idle_dir: Option<PathBuf>,
    /// Instead of the sweep: delete the old versions of every agent's prod runtime (and with an
    /// environments_chain, of its first environment's) that `prune` would (keeping the newest
    /// `prune_keep`; 0 prunes nothing). Deleting prod versions takes the prod role, so the workflow
    /// runs this as a job of its own
    #[arg(long)]
    pub prune: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The pull requests that open deployment issues by the bot still refer to, leaving out the issues
/// numbered in `superseded`. An issue whose block does not parse protects nothing: a leaked runtime
/// is cheaper than trusting a tampered body.
pub fn protected_prs(issues: &[event::ListedIssue], bot_login: &str, superseded: &[u64]) -> Vec<u64> {
    let mut prs: Vec<u64> = issues
        .iter()
        .filter(|issue| supersede::by_bot(issue, bot_login) && !superseded.contains(&issue.number))
        .filter_map(|issue| metadata::extract(issue.body.as_deref().unwrap_or("")).ok())
        .filter_map(|metadata| metadata.pr)
        .collect();
    prs.sort_unstable();
    prs.dedup();
    prs
}

/// `github gc`: close the deployment issues a later release superseded and delete their pull
/// requests' runtimes, delete PR runtimes whose pull request is closed and that no open deployment
/// issue refers to, and delete the previews of idle open pull requests.
pub async fn gc(ctx: &Ctx, args: &GcArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    // Any event may start the sweep (schedule, dispatch); the payload only has to be JSON.
    let _: serde_json::Value = event::read(&args.event.event, "schedule or workflow_dispatch")?;
    if args.prune {
        return prune_long_lived(ctx, args, aws).await;
    }
    let (Some(open_pulls), Some(open_issues)) = (&args.open_pulls, &args.open_issues) else {
        bail!("the sweep needs --open-pulls FILE and --open-issues FILE (or pass --prune)");
    };
    let open: Vec<u64> = event::read_listing::<event::OpenPull>(open_pulls, "open pull requests")?
        .into_iter()
        .map(|pull| pull.number)
        .collect();
    let listed: Vec<event::ListedIssue> = event::read_listing(open_issues, "open deployment issues")?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let flow = Flow::of(ctx)?;
    let connected = connect_flow(&flow, aws).await?;

    let sweep =
        supersede::Sweep { bot_login: &args.bot_login, promoted: None, open_pulls: &open, dry_run: args.dry_run };
    let issues = Box::pin(supersede::sweep(&flow, &connected, &all, &listed, &sweep)).await;
    // Pull requests' runtimes, in their own place.
    let (ctx, aws) = (&flow.prs, &connected.prs);
    let superseded: Vec<u64> =
        issues.iter().filter(|issue| issue.fate == IssueFate::Superseded).map(|issue| issue.issue).collect();
    let protected = protected_prs(&listed, &args.bot_login, &superseded);

    let scheme = ctx.settings.scheme();
    let runtimes = crate::aws::index::runtimes(aws).await?;
    let mut stale: Vec<u64> = runtimes
        .iter()
        .filter_map(|runtime| match scheme.parse(&runtime.name) {
            Some((_, Target::Pr(pr)))
                if !open.contains(&pr)
                    && !protected.contains(&pr)
                    && args.newest_number.is_none_or(|newest| pr <= newest) =>
            {
                Some(pr)
            }
            _ => None,
        })
        .collect();
    stale.sort_unstable();
    stale.dedup();
    // The same listing again, from the index: one listing for the whole sweep.
    let deleted = delete_pr_runtimes(&ctx.settings, aws, &stale, args.dry_run).await?;

    let idle_days = ctx.settings.idle_preview_days;
    let mut idle = Vec::new();
    for (pr, days) in idle_pulls(&scheme, &runtimes, &open, idle_days, SystemTime::now()) {
        let gone = delete_pr_runtimes(&ctx.settings, aws, &[pr], args.dry_run).await?;
        if !gone.is_empty() {
            idle.push(IdlePreview { pr, idle_days: days, deleted: gone });
        }
    }

    supersede::write_comments(
        args.superseded_dir.as_deref(),
        &issues,
        None,
        &flow.approve.settings.prod_endpoint,
        args.dry_run,
    )?;
    if let Some(dir) = args.idle_dir.as_deref()
        && !args.dry_run
    {
        write_idle_comments(dir, &idle, idle_days)?;
    }
    let markdown = render::gc_summary(&deleted, &issues, &idle, args.dry_run);
    write_out(&ctx.github, args.event.out.as_deref(), &markdown, "summary")?;
    step_summary(&ctx.github, &markdown)?;
    github_output(&ctx.github, "deleted", &serde_json::to_string(&deleted)?)?;
    Ok(StepReport {
        deleted,
        markdown: Some(markdown),
        issues,
        idle,
        ..StepReport::new(Step::Gc, if args.dry_run { StepResult::Planned } else { StepResult::Deleted })
    })
}

/// `github gc --prune`: `prune`'s rules on every agent's runtime in each long-lived place of the
/// release flow (with an `environments_chain`, its first environment and prod; else prod), keeping
/// the newest `prune_keep` versions (0: nothing is pruned, and no AWS call made). Each place is
/// pruned with its own clients and bucket, so a version's protection comes from the promotion
/// records of its own environment; a runtime whose records cannot be read loses nothing. The
/// summary says, per environment, what was deleted and what was kept, and why; a runtime or version
/// that could not be pruned fails the step once the rest is done.
async fn prune_long_lived(ctx: &Ctx, args: &GcArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let keep = ctx.settings.prune_keep;
    let flow = Flow::of(ctx)?;
    let places: Vec<&Ctx> = if flow.chained() { vec![&flow.merge, &flow.approve] } else { vec![&flow.approve] };
    // Every runtime name, of every place, is checked before the first call.
    let runtimes = places
        .iter()
        .map(|place| {
            all.iter()
                .map(|agent| {
                    Ok((agent.name.clone(), crate::prune::runtime_name(&place.settings, &agent.name, Target::Prod)?))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let mut pruned: Vec<(String, Vec<PruneOutcome>)> = Vec::new();
    let mut failures = Vec::new();
    // Runtimes that could not be pruned at all: those of places not reached, and those failing.
    let mut unpruned = 0;
    if keep == 0 {
        progress!("prune_keep is 0: pruning is off");
    } else {
        let (connected, _stack) = connect_places(&flow, &places, aws).await?;
        for ((place, mine), clients) in places.iter().zip(&runtimes).zip(&connected) {
            // Each place with its own clients: its region, account and bucket.
            let clients = match clients {
                Ok(clients) => clients,
                Err(err) => {
                    unpruned += mine.len();
                    failures.push(format!(
                        "{}: none of its {} runtimes was pruned, it cannot be reached: {err:#}",
                        place.env_name(),
                        mine.len()
                    ));
                    pruned.push((place.env_name().to_owned(), vec![]));
                    continue;
                }
            };
            let results =
                crate::prune::prune_runtimes(clients, mine, keep, args.dry_run, place.settings.max_parallel).await;
            let mut outcomes = Vec::new();
            for ((agent, runtime_name), result) in mine.iter().zip(results) {
                match result {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(err) => {
                        unpruned += 1;
                        failures.push(format!("{runtime_name} ({agent}): {err:#}"));
                    }
                }
            }
            pruned.push((place.env_name().to_owned(), outcomes));
        }
    }
    let sections: Vec<(&str, &[PruneOutcome])> =
        pruned.iter().map(|(env, outcomes)| (env.as_str(), outcomes.as_slice())).collect();
    let names: Vec<&str> = places.iter().map(|place| place.env_name()).collect();
    let markdown = render::prune_summary(&names, &sections, &failures, keep, args.dry_run);
    let pruned: Vec<PruneOutcome> = pruned.into_iter().flat_map(|(_, outcomes)| outcomes).collect();
    write_out(&ctx.github, args.event.out.as_deref(), &markdown, "summary")?;
    step_summary(&ctx.github, &markdown)?;
    github_output(&ctx.github, "pruned", &serde_json::to_string(&pruned)?)?;
    let failed =
        unpruned + pruned.iter().filter(|outcome| !outcome.with_action(PruneAction::Failed).is_empty()).count();
    if failed > 0 {
        bail!(
            "pruning failed on {failed} of {} runtimes of {} (the summary says where and why); re-run to retry",
            runtimes.iter().map(Vec::len).sum::<usize>(),
            names.join(" and ")
        );
    }
    let deleted = pruned.iter().any(|outcome| !outcome.with_action(PruneAction::Deleted).is_empty());
    let result = match (args.dry_run, deleted) {
        (true, _) => StepResult::Planned,
        (false, true) => StepResult::Deleted,
        (false, false) => StepResult::Nothing,
    };
    Ok(StepReport {
        agents: all.into_iter().map(|agent| agent.name).collect(),
        markdown: Some(markdown),
        pruned,
        ..StepReport::new(Step::Gc, result)
    })
}

/// Clients for each of `places`, in order, or why one cannot be reached (a role it cannot assume),
/// which leaves the others to be pruned all the same. Clients given by the caller (tests) serve
/// every place, each with its own bucket; the local stack is started once, for all of them.
async fn connect_places(
    flow: &Flow,
    places: &[&Ctx],
    given: Option<AwsClients>,
) -> Result<(Vec<Result<AwsClients>>, Option<crate::connect::LocalGuard>)> {
    if given.is_some() {
        let connected = connect_flow(flow, given).await?;
        let clients = places
            .iter()
            .map(|place| {
                Ok(if place.env_name() == flow.approve.env_name() {
                    connected.approve.clone()
                } else {
                    connected.merge.clone()
                })
            })
            .collect();
        return Ok((clients, None));
    }
    let mut guard = None;
    let mut clients: Vec<Result<AwsClients>> = Vec::new();
    for place in places {
        let reached = match (guard.as_ref(), clients.first()) {
            (Some(stack), Some(Ok(first))) => crate::connect::connect_also(place, places[0], first, Some(stack)).await,
            _ => match crate::connect::connect(place).await {
                Ok((aws, stack)) => {
                    guard = guard.or(stack);
                    Ok(aws)
                }
                Err(err) => Err(err),
            },
        };
        // The local stack serves every place: not starting it, or refusing a place, stops the step.
        let reached = if place.aws.local || place.aws.local_fallback { Ok(reached?) } else { reached };
        clients.push(reached);
    }
    Ok((clients, guard))
}

/// Open pull requests whose newest runtime version is more than `days` old at `now`, with its age in
/// whole days; none when `days` is 0. A runtime without a time keeps its pull request.
fn idle_pulls(
    scheme: &crate::naming::Scheme,
    runtimes: &[crate::aws::index::RuntimeSummary],
    open: &[u64],
    days: u32,
    now: SystemTime,
) -> Vec<(u64, u64)> {
    if days == 0 {
        return vec![];
    }
    let now = aws_smithy_types::DateTime::from(now).secs();
    // Per open pull request, the age of its newest runtime version; `None` when one has no time.
    let mut newest: BTreeMap<u64, Option<i64>> = BTreeMap::new();
    for runtime in runtimes {
        let Some((_, Target::Pr(pr))) = scheme.parse(&runtime.name) else { continue };
        if !open.contains(&pr) {
            continue;
        }
        let age = runtime.last_updated.map(|time| now - time.secs());
        let entry = newest.entry(pr).or_insert(age);
        *entry = match (*entry, age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
    }
    let limit = i64::from(days) * 86_400;
    newest
        .into_iter()
        .filter_map(|(pr, age)| age.filter(|age| *age > limit).map(|age| (pr, (age / 86_400) as u64)))
        .collect()
}

fn write_idle_comments(dir: &Path, idle: &[IdlePreview], days: u32) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for preview in idle {
        let path = dir.join(format!("{}.md", preview.pr));
        std::fs::write(&path, render::idle_comment(preview, days))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::index::RuntimeSummary;

    #[test]
    fn idle_pulls_are_open_ones_whose_newest_version_is_old_enough() {
        let scheme = crate::naming::Scheme::new("{agent}_{target}", "prod").unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100 * 86_400);
        let runtime = |name: &str, days_ago: Option<i64>| RuntimeSummary {
            name: name.into(),
            id: format!("{name}-AbCdE12345"),
            arn: String::new(),
            status: "READY".into(),
            last_updated: days_ago.map(|days| aws_smithy_types::DateTime::from_secs((100 - days) * 86_400 - 1)),
        };
        let runtimes = [
            runtime("a_pr_1", Some(20)),
            runtime("b_pr_1", Some(30)),
            // One agent deployed recently keeps the whole pull request's preview.
            runtime("a_pr_2", Some(20)),
            runtime("b_pr_2", Some(3)),
            // Closed: gc's other rules decide.
            runtime("a_pr_3", Some(40)),
            runtime("a_pr_4", None),
            runtime("a_pr_5", Some(13)),
            runtime("a_prod", Some(90)),
        ];
        let open = [1, 2, 4, 5];
        assert_eq!(idle_pulls(&scheme, &runtimes, &open, 14, now), [(1, 20)]);
        assert_eq!(idle_pulls(&scheme, &runtimes, &open, 13, now), [(1, 20), (5, 13)]);
        assert_eq!(idle_pulls(&scheme, &runtimes, &open, 0, now), []);
    }
}
