//! `cargo xtask cleanup`: delete runtimes (named endpoints first, then the runtime); S3 stays.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;
use crate::report::{CleanupAction, CleanupOutcome, Plan, Report};

#[derive(clap::Args, Debug, Clone)]
pub struct CleanupArgs {
    /// Runtimes to delete, by name
    #[arg(value_name = "RUNTIME", conflicts_with_all = ["pr", "stale"])]
    pub(crate) runtimes: Vec<String>,
    /// Delete every runtime of this pull request
    #[arg(long, value_name = "N", conflicts_with = "stale")]
    pub(crate) pr: Option<u64>,
    /// Delete PR runtimes whose pull request is not in --open-prs
    #[arg(long, requires = "open_prs")]
    pub(crate) stale: bool,
    /// The named runtimes are this environment's, in its region and account (default: the
    /// workspace's, where pull requests' runtimes are)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["pr", "stale"], requires = "runtimes")]
    pub(crate) env: Option<String>,
    /// Open pull requests, comma-separated (with --stale); an empty LIST means none is open
    #[arg(long, value_name = "LIST", value_parser = parse_pr_list)]
    pub(crate) open_prs: Option<PrList>,
    /// Do not ask for confirmation (CI)
    #[arg(long)]
    pub(crate) yes: bool,
    /// Allow deleting the long-lived runtime (prod's, or with --env that environment's)
    #[arg(long)]
    pub(crate) force_prod: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Give up waiting for a deletion after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: u64,
}

impl CleanupArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let ctx = &match &self.env {
            Some(name) => ctx.for_env(name)?,
            None => ctx.for_prs(),
        };
        let scheme = ctx.settings.scheme();
        if self.runtimes.is_empty() && self.pr.is_none() && !self.stale {
            bail!("name the runtimes to delete, or pass --pr N or --stale --open-prs LIST");
        }
        if self.pr == Some(0) {
            bail!("pull request numbers start at 1");
        }
        // Only names the scheme made can be deleted: the agent and target are known for each.
        for (index, name) in self.runtimes.iter().enumerate() {
            if scheme.parse(name).is_none()
                && let Some(env) = other_environment(ctx, name)?
            {
                bail!(
                    "`{name}` is the long-lived runtime of environment {env}: pass --env {env} (and --force-prod) to delete it there"
                );
            }
            check_deletable(&scheme, name, self.force_prod, ctx.env_name())?;
            if self.runtimes[..index].contains(name) {
                bail!("runtime `{name}` is listed twice; list each runtime once");
            }
        }
        let interactive = std::io::stdin().is_terminal();
        if !self.yes && !self.dry_run && !interactive {
            bail!("cleanup deletes runtimes and needs confirmation: no terminal to ask on, so pass --yes");
        }
        let (mut aws, _stack) = crate::connect::connect(ctx).await?;
        aws.wait.timeout = std::time::Duration::from_secs(self.timeout);
        let names = if !self.runtimes.is_empty() {
            self.runtimes.clone()
        } else {
            let all: Vec<String> = aws::index::runtimes(&aws).await?.into_iter().map(|runtime| runtime.name).collect();
            match (self.pr, &self.open_prs) {
                (Some(number), _) => aws::pr_runtimes(&scheme, &all, number),
                (None, Some(open)) => aws::stale_runtimes(&scheme, &all, &open.0),
                (None, None) => bail!("--stale needs --open-prs LIST"),
            }
        };
        if names.is_empty() {
            progress!("no runtime to delete");
        }
        let mut confirmed = Vec::new();
        for name in names {
            check_deletable(&scheme, &name, self.force_prod, ctx.env_name())?;
            if self.yes || self.dry_run || confirm(&name)? {
                confirmed.push(name);
            } else {
                progress!("{name}: not confirmed, skipped");
            }
        }
        let results = cleanup_runtimes(&aws, &confirmed, self.dry_run, ctx.settings.max_parallel).await;
        Report::new("cleanup", confirmed.iter().cloned(), results).publish(ctx.json, &ctx.github)
    }
}

/// Pull request numbers given as `3,12,40` (or `""` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrList(pub(crate) Vec<u64>);

fn parse_pr_list(text: &str) -> Result<PrList, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.parse::<u64>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(format!("`{item}` is not a pull request number; pass numbers such as 3,12,40")),
        })
        .collect::<Result<Vec<u64>, String>>()
        .map(PrList)
}

/// The environment, other than `ctx`'s, whose long-lived runtime `name` is.
fn other_environment(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    Ok(ctx.workspace().environments()?.into_iter().find_map(|env| {
        let theirs = matches!(env.scheme().parse(name), Some((_, Target::Prod)));
        (theirs && Some(&env.name) != ctx.env.as_ref().map(|own| &own.name)).then_some(env.name)
    }))
}

/// Refuses names this project's scheme did not produce, and prod unless forced.
pub(crate) fn check_deletable(scheme: &crate::naming::Scheme, name: &str, force_prod: bool, env: &str) -> Result<()> {
    match scheme.parse(name) {
        None => bail!(
            "`{name}` is not a runtime name this project makes ({{agent}}_{{target}} per the runtime_name setting); refusing to delete it"
        ),
        Some((_, Target::Prod)) if !force_prod => {
            bail!("`{name}` is the long-lived {env} runtime; pass --force-prod to really delete it")
        }
        Some(_) => Ok(()),
    }
}

/// Asks on the terminal to type the runtime's name.
fn confirm(name: &str) -> Result<bool> {
    eprint!("delete runtime {name} and its endpoints? type its name to confirm: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("cannot read the confirmation")?;
    Ok(answer.trim() == name)
}

/// Deletes each runtime (named endpoints first), at most `max_parallel` at once. One result per
/// runtime, in order.
pub async fn cleanup_runtimes(
    aws: &AwsClients,
    runtime_names: &[String],
    dry_run: bool,
    max_parallel: usize,
) -> Vec<Result<CleanupOutcome>> {
    futures_util::stream::iter(runtime_names.iter())
        .map(|name| cleanup_runtime(aws, name, dry_run))
        .buffered(max_parallel.max(1))
        .collect()
        .await
}

async fn cleanup_runtime(aws: &AwsClients, name: &str, dry_run: bool) -> Result<CleanupOutcome> {
    let mut outcome = CleanupOutcome {
        runtime_name: name.to_owned(),
        endpoints_deleted: Vec::new(),
        action: CleanupAction::Planned,
        runtime_id: None,
        plan: None,
    };
    let Some(runtime) = aws::index::runtime(aws, name).await? else {
        progress!("{name}: already gone");
        outcome.action = CleanupAction::AlreadyGone;
        return Ok(outcome);
    };
    let runtime_id = runtime.id.clone();
    outcome.runtime_id = Some(runtime_id.clone());
    let listed = aws::list_endpoints(aws, &runtime_id).await?;
    // Deletions started by an earlier, interrupted run are only waited for.
    let already_deleting: Vec<String> = listed
        .iter()
        .filter(|endpoint| endpoint.status().as_str() == "DELETING")
        .map(|endpoint| endpoint.name().to_owned())
        .collect();
    let endpoints: Vec<String> = listed
        .iter()
        .map(|endpoint| endpoint.name().to_owned())
        // DEFAULT goes with the runtime; deleting it by hand is refused by AgentCore.
        .filter(|endpoint| endpoint != "DEFAULT")
        .collect();
    if dry_run {
        outcome.action = CleanupAction::Planned;
        outcome.plan = Some(Plan::DeleteRuntime {
            runtime: name.to_owned(),
            runtime_id: runtime_id.clone(),
            endpoints: endpoints.clone(),
        });
        outcome.endpoints_deleted = endpoints;
        return Ok(outcome);
    }
    let left = |done: &[String], endpoints: &[String]| {
        let remaining: Vec<&str> =
            endpoints.iter().filter(|endpoint| !done.contains(endpoint)).map(String::as_str).collect();
        if remaining.is_empty() {
            format!("left: runtime {name} ({runtime_id}); re-run the cleanup")
        } else {
            format!("left: runtime {name} ({runtime_id}) with endpoints {}; re-run the cleanup", remaining.join(", "))
        }
    };
    for endpoint in &endpoints {
        progress!("{name}: deleting endpoint {endpoint}");
        let deleted = if already_deleting.contains(endpoint) {
            Ok(())
        } else {
            aws.control
                .delete_agent_runtime_endpoint()
                .agent_runtime_id(&runtime_id)
                .endpoint_name(endpoint)
                .send()
                .await
                .map(|_| ())
        };
        match deleted {
            Ok(_) => {}
            Err(err) if aws::error_code(&err).as_deref() == Some("ResourceNotFoundException") => {}
            Err(err) => {
                let err = aws::explain(
                    err,
                    "bedrock-agentcore:DeleteAgentRuntimeEndpoint",
                    &format!("endpoint {endpoint} of runtime {name}"),
                );
                return Err(err.context(left(&outcome.endpoints_deleted, &endpoints)));
            }
        }
        // DELETE_FAILED: the runtime cannot go while the endpoint stays; a re-run deletes it again.
        aws::wait_endpoint_gone(aws, &runtime_id, name, endpoint).await.map_err(|err| {
            err.context(format!(
                "{}; runtime {name} was not deleted: it cannot be while endpoint {endpoint} exists",
                left(&outcome.endpoints_deleted, &endpoints)
            ))
        })?;
        outcome.endpoints_deleted.push(endpoint.clone());
    }
    progress!("{name}: deleting runtime {runtime_id}");
    let deleted = if runtime.status == "DELETING" {
        Ok(())
    } else {
        aws.control.delete_agent_runtime().agent_runtime_id(&runtime_id).send().await.map(|_| ())
    };
    match deleted {
        Ok(()) => {}
        Err(err) if aws::error_code(&err).as_deref() == Some("ResourceNotFoundException") => {}
        Err(err) => {
            let err =
                aws::explain(err, "bedrock-agentcore:DeleteAgentRuntime", &format!("runtime {name} ({runtime_id})"));
            return Err(err.context(left(&outcome.endpoints_deleted, &endpoints)));
        }
    }
    aws::wait_runtime_gone(aws, &runtime_id, name)
        .await
        .map_err(|err| err.context(left(&outcome.endpoints_deleted, &endpoints)))?;
    // Later steps of this run must not find it again.
    aws::index::deleted(aws, name);
    progress!("{name}: deleted");
    outcome.action = CleanupAction::Deleted;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_lists() {
        assert_eq!(parse_pr_list("3, 12,40").unwrap(), PrList(vec![3, 12, 40]));
        assert_eq!(parse_pr_list("").unwrap(), PrList(vec![]));
        assert!(parse_pr_list("3,abc").unwrap_err().contains("`abc` is not a pull request number"));
        assert!(parse_pr_list("0").is_err());
    }

    #[test]
    fn only_scheme_names_and_prod_when_forced() {
        let scheme = crate::naming::Scheme::new("{agent}_{target}", "prod").unwrap();
        check_deletable(&scheme, "bot_pr_3", false, "prod").unwrap();
        let err = check_deletable(&scheme, "bot_prod", false, "prod").unwrap_err().to_string();
        assert_eq!(err, "`bot_prod` is the long-lived prod runtime; pass --force-prod to really delete it");
        check_deletable(&scheme, "bot_prod", true, "prod").unwrap();
        assert!(check_deletable(&scheme, "someone_elses", true, "prod").unwrap_err().to_string().contains("refusing"));
        let staging = crate::naming::Scheme::new("{agent}_{target}", "staging").unwrap();
        let err = check_deletable(&staging, "bot_staging", false, "staging").unwrap_err().to_string();
        assert!(err.contains("is the long-lived staging runtime"), "{err}");
    }
}
