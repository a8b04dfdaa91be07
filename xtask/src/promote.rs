//! `cargo xtask promote` and `rollback`: move a named endpoint to a version, with compare-and-set.
//!
//! Both hold the version to the approval policy (`crate::approval`: it exists and is READY), never
//! touch DEFAULT, wait until the endpoint serves the version, and record every move in S3
//! (`<runtime>/promotions/<endpoint>/…`). The workflow's approval step moves endpoints with
//! [`move_to`] too.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;

use crate::approval::{self, Candidate, Direction};
use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;
use crate::records::{self, PromotionRecord};
use crate::report::{Plan, PromoteAction, PromoteOutcome, PromoteSmoke, PromotionKind, Report, SmokeResult};
use crate::select::Selection;
use crate::smoke::SmokeTest;

// `--version N` is the version to promote; the tool's own version stays on `cargo xtask --version`.
#[derive(clap::Args, Debug, Clone)]
#[command(disable_version_flag = true)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Version to make live
    #[arg(long, value_name = "N")]
    pub(crate) version: u32,
    /// The environment whose runtime to promote in (default: prod)
    #[arg(long, value_name = "NAME")]
    pub(crate) env: Option<String>,
    /// Endpoint to move (default: the environment's, the prod_endpoint setting, `prod`)
    #[arg(long, value_name = "NAME")]
    pub(crate) endpoint: Option<String>,
    /// Refuse unless the endpoint currently serves this version (compare and set)
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) expect_live: Option<u32>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Give up waiting for the endpoint after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: u64,
    /// Skip the smoke gate (the version's test before the move, the endpoint's after it); the record says so
    #[arg(long)]
    pub(crate) no_smoke: bool,
}

impl PromoteArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let ctx = &ctx.for_env(self.env.as_deref().unwrap_or(crate::settings::PROD))?;
        let agents = self.selection.resolve(ctx)?;
        let endpoint = self.endpoint.clone().unwrap_or_else(|| ctx.settings.prod_endpoint.clone());
        check_endpoint(&endpoint)?;
        if self.version == 0 {
            bail!("--version must be at least 1");
        }
        let (mut aws, stack) = crate::connect::connect(ctx).await?;
        if !self.no_smoke {
            crate::deploy::smoke_clients(ctx, &mut aws, stack.as_ref());
        }
        aws.wait.timeout = Duration::from_secs(self.timeout);
        let aws = &aws;
        let requests: Vec<PromoteRequest> = agents
            .iter()
            .map(|agent| PromoteRequest {
                agent: agent.name.clone(),
                version: self.version,
                endpoint: endpoint.clone(),
                expect_live: self.expect_live,
                require_newer: false,
                dry_run: self.dry_run,
                smoke: (!self.no_smoke).then(|| SmokeTest::for_agent(agent)),
            })
            .collect();
        let results: Vec<Result<PromoteOutcome>> = futures_util::stream::iter(requests.iter())
            .map(|request| promote(ctx, aws, request))
            .buffered(ctx.settings.max_parallel)
            .collect()
            .await;
        Report::new("promote", agents.iter().map(|agent| agent.name.clone()), results).publish(ctx.json, &ctx.github)
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// The environment whose runtime to roll back (default: prod)
    #[arg(long, value_name = "NAME")]
    pub(crate) env: Option<String>,
    /// Endpoint to move back (default: the environment's, the prod_endpoint setting, `prod`)
    #[arg(long, value_name = "NAME")]
    pub(crate) endpoint: Option<String>,
    /// Version to go back to (default: the one served before the last promotion)
    #[arg(long, value_name = "N")]
    pub(crate) to: Option<u32>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Give up waiting for the endpoint after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: u64,
}

impl RollbackArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let ctx = &ctx.for_env(self.env.as_deref().unwrap_or(crate::settings::PROD))?;
        let agents = self.selection.resolve(ctx)?;
        let endpoint = self.endpoint.clone().unwrap_or_else(|| ctx.settings.prod_endpoint.clone());
        check_endpoint(&endpoint)?;
        if self.to == Some(0) {
            bail!("--to must be at least 1");
        }
        let (mut aws, _stack) = crate::connect::connect(ctx).await?;
        aws.wait.timeout = Duration::from_secs(self.timeout);
        let aws = &aws;
        let endpoint = &endpoint;
        let results: Vec<Result<PromoteOutcome>> = futures_util::stream::iter(agents.iter())
            .map(|agent| rollback(ctx, aws, &agent.name, endpoint, self.to, self.dry_run))
            .buffered(ctx.settings.max_parallel)
            .collect()
            .await;
        Report::new("rollback", agents.iter().map(|agent| agent.name.clone()), results).publish(ctx.json, &ctx.github)
    }
}

/// One promotion (or rollback) request.
#[derive(Debug, Clone)]
pub struct PromoteRequest {
    pub agent: String,
    pub version: u32,
    pub endpoint: String,
    /// Compare and set: refuse unless the endpoint serves this version now.
    pub expect_live: Option<u32>,
    /// Refuse a version older than the one served now, so a replayed approval cannot roll prod back.
    pub require_newer: bool,
    pub dry_run: bool,
    /// The smoke gate's test; `None` skips the gate (`--no-smoke`), and the record says so.
    pub smoke: Option<SmokeTest>,
}

/// Endpoint names AgentCore accepts, minus DEFAULT, which follows every new version by itself.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<()> {
    if endpoint.eq_ignore_ascii_case("DEFAULT") {
        bail!(
            "refusing to move the DEFAULT endpoint: AgentCore points it at every new version; promote to a named endpoint such as `prod`"
        );
    }
    if !crate::naming::is_valid_name(endpoint) {
        bail!("endpoint name `{endpoint}` is not valid: a letter then up to 47 letters, digits or underscores");
    }
    Ok(())
}

/// Moves the endpoint of `request.agent`'s prod runtime to `request.version` and waits until live.
pub async fn promote(ctx: &Ctx, aws: &AwsClients, request: &PromoteRequest) -> Result<PromoteOutcome> {
    check_endpoint(&request.endpoint)?;
    if request.version == 0 {
        bail!("version must be at least 1");
    }
    let runtime_name = ctx.settings.scheme().runtime_name(&request.agent, Target::Prod)?;
    let direction = if request.require_newer { Direction::Forward } else { Direction::Any };
    let checked =
        approval::check(aws, &request.agent, &runtime_name, &request.endpoint, request.version, direction).await;
    let candidate = approval::worded(checked, |refusal| refusal.for_cli(&ctx.env_flag()))?;
    match &request.smoke {
        Some(test) if !request.dry_run => gated(ctx, aws, &candidate, request.expect_live, test).await,
        _ => {
            let note = (request.smoke.is_none() && !request.dry_run).then(|| {
                progress!("{}: no smoke gate (--no-smoke)", request.agent);
                "skipped (--no-smoke)".to_owned()
            });
            move_noted(ctx, aws, &candidate, request.expect_live, PromotionKind::Promote, request.dry_run, note).await
        }
    }
}

/// The smoke gate around a move: the exact version is tested first (on DEFAULT when it is the
/// latest, else on a temporary endpoint pinned to it, removed afterwards), then the endpoint moves,
/// then the endpoint itself is tested; if that fails, the endpoint moves back to the version it
/// served before (compare and set), both moves are recorded, and the promotion fails.
pub(crate) async fn gated(
    ctx: &Ctx,
    aws: &AwsClients,
    candidate: &Candidate,
    expect_live: Option<u32>,
    test: &SmokeTest,
) -> Result<PromoteOutcome> {
    let Candidate { agent, runtime_name, runtime_id, endpoint, version, .. } = candidate;
    let current = aws::get_endpoint(aws, runtime_id, endpoint).await?;
    let live = current.as_ref().and_then(|current| current.live_version().map(str::to_owned));
    if live.as_deref() == Some(version.to_string().as_str()) {
        // Nothing moves: nothing to gate.
        return move_noted(ctx, aws, candidate, expect_live, PromotionKind::Promote, false, None).await;
    }
    records::check_bucket(aws).await?;
    let before = smoke_version(aws, candidate, test).await?;
    if let Some(reason) = &before.reason {
        bail!(
            "the smoke test of version {version} of {runtime_name} on {} failed, so {endpoint} was not moved: {reason}",
            before.qualifier
        );
    }
    progress!("{agent}: version {version} passed its smoke test ({} ms)", before.latency_ms);
    let mut outcome =
        move_noted(ctx, aws, candidate, expect_live, PromotionKind::Promote, false, Some("passed".to_owned())).await?;
    let destination = destination(agent, runtime_name, endpoint);
    let after = crate::smoke::run(aws, &destination, Some(&version.to_string()), test).await;
    let Some(reason) = after.reason.clone() else {
        progress!("{agent}: {endpoint} passed its smoke test ({} ms)", after.latency_ms);
        outcome.smoke = Some(PromoteSmoke { before, after: Some(after) });
        return Ok(outcome);
    };
    let forward = outcome.record_key.clone().unwrap_or_default();
    let Some(previous) = outcome.previous_version.as_deref().and_then(|previous| previous.parse::<u32>().ok()) else {
        bail!(
            "the smoke test of {endpoint} of {runtime_name} failed after it moved to version {version}: {reason}; it served no version before, so it was not moved back: fix the agent and promote a version that passes (move recorded in {forward})"
        );
    };
    progress!("{agent}: {endpoint} failed its smoke test after the move; moving it back to version {previous}");
    let back = Candidate { version: previous, ..candidate.clone() };
    let note = format!("moved back: the smoke test of {endpoint} at version {version} failed after the move");
    let reverted =
        move_noted(ctx, aws, &back, Some(*version), PromotionKind::Rollback, false, Some(note)).await.with_context(|| {
            format!(
                "the smoke test of {endpoint} of {runtime_name} failed after it moved to version {version} ({reason}), and moving it back to version {previous} failed too: roll it back with `cargo xtask rollback {agent} {}`",
                ctx.env_flag()
            )
        })?;
    bail!(
        "the smoke test of {endpoint} of {runtime_name} failed after it moved to version {version}: {reason}; {endpoint} was moved back to version {previous} (both moves recorded: {forward}, {})",
        reverted.record_key.as_deref().unwrap_or("-")
    )
}

fn destination(agent: &str, runtime_name: &str, qualifier: &str) -> crate::invoke::Destination {
    crate::invoke::Destination {
        runtime: runtime_name.to_owned(),
        qualifier: qualifier.to_owned(),
        deploy_hint: None,
        agent: Some(agent.to_owned()),
    }
}

/// Smoke-tests the candidate's exact version: through DEFAULT when it is the runtime's latest,
/// else through a temporary endpoint pinned to it, deleted again whatever the result.
async fn smoke_version(aws: &AwsClients, candidate: &Candidate, test: &SmokeTest) -> Result<SmokeResult> {
    let Candidate { agent, runtime_name, runtime_id, version, .. } = candidate;
    let version_text = version.to_string();
    let latest =
        aws::get_runtime(aws, runtime_id, None).await?.map(|runtime| runtime.agent_runtime_version().to_owned());
    if latest.as_deref() == Some(version_text.as_str()) {
        progress!("{agent}: smoke-testing version {version} of {runtime_name} on DEFAULT (its latest version)");
        return Ok(
            crate::smoke::run(aws, &destination(agent, runtime_name, "DEFAULT"), Some(&version_text), test).await
        );
    }
    let temporary = format!("smoke_v{version}_{}", hex::encode(rand::random::<[u8; 4]>()));
    let resource = format!("endpoint {temporary} of runtime {runtime_name}");
    progress!("{agent}: smoke-testing version {version} of {runtime_name} on a temporary endpoint, {temporary}");
    aws.control
        .create_agent_runtime_endpoint()
        .agent_runtime_id(runtime_id)
        .name(&temporary)
        .agent_runtime_version(&version_text)
        .send()
        .await
        .map_err(|err| aws::explain(err, "bedrock-agentcore:CreateAgentRuntimeEndpoint", &resource))?;
    let result = match aws::wait_endpoint_live(aws, runtime_id, runtime_name, &temporary, &version_text).await {
        Ok(_) => {
            Ok(crate::smoke::run(aws, &destination(agent, runtime_name, &temporary), Some(&version_text), test).await)
        }
        Err(err) => Err(err),
    };
    let deleted = aws
        .control
        .delete_agent_runtime_endpoint()
        .agent_runtime_id(runtime_id)
        .endpoint_name(&temporary)
        .send()
        .await
        .map_err(|err| aws::explain(err, "bedrock-agentcore:DeleteAgentRuntimeEndpoint", &resource));
    match (result, deleted) {
        (Ok(result), Ok(_)) => Ok(result),
        (Err(err), _) => Err(err),
        (Ok(_), Err(err)) => Err(err.context(format!("delete the temporary {resource} by hand"))),
    }
}

/// Points the endpoint back at `to`, or at the version it served before its current one according
/// to the promotion records.
pub async fn rollback(
    ctx: &Ctx,
    aws: &AwsClients,
    agent: &str,
    endpoint: &str,
    to: Option<u32>,
    dry_run: bool,
) -> Result<PromoteOutcome> {
    check_endpoint(endpoint)?;
    let runtime_name = ctx.settings.scheme().runtime_name(agent, Target::Prod)?;
    let Some(runtime) = aws::index::runtime(aws, &runtime_name).await? else {
        bail!("{}", approval::missing_runtime(agent, &runtime_name, &ctx.env_flag()))
    };
    let live = served(aws, &runtime.id, &runtime_name, endpoint).await?;
    let version = match to {
        Some(version) => version,
        None => {
            let runtime_id = runtime.id.as_str();
            let last = records::last_promotion(aws, &runtime_name, endpoint, |record| {
                record.to_version == live && record.runtime_id == runtime_id
            })
            .await?;
            match last.and_then(|record| record.from_version.clone()) {
                Some(previous) => {
                    previous.parse().with_context(|| format!("promotion record names version `{previous}`"))?
                }
                None => bail!(
                    "no promotion record of {runtime_name} says which version {endpoint} served before version {live}; pass --to N"
                ),
            }
        }
    };
    let checked = approval::check(aws, agent, &runtime_name, endpoint, version, Direction::Any).await;
    let candidate = approval::worded(checked, |refusal| refusal.for_cli(&ctx.env_flag()))?;
    served_before(ctx, aws, &candidate).await?;
    // Compare and set against what was read, so a promotion meanwhile is not undone blindly.
    move_to(ctx, aws, &candidate, live.parse().ok(), PromotionKind::Rollback, dry_run).await
}

/// A rollback goes back only to a version the endpoint served before, as its promotion records say:
/// any other version, older or newer, was never approved there, and moving to it is a promotion.
async fn served_before(ctx: &Ctx, aws: &AwsClients, candidate: &Candidate) -> Result<()> {
    let Candidate { agent, runtime_name, runtime_id, endpoint, version, .. } = candidate;
    let wanted = version.to_string();
    let history = records::list_promotions(aws, runtime_name, endpoint).await?;
    let served = history
        .iter()
        .filter(|record| &record.runtime_id == runtime_id)
        .any(|record| record.to_version == wanted || record.from_version.as_deref() == Some(wanted.as_str()));
    if !served {
        bail!(
            "version {version} of {runtime_name} never served endpoint {endpoint} (no promotion record says so): a rollback \
             only goes back to a version that was live there; promote it instead, through its deployment issue's approval \
             or `cargo xtask promote {agent} {} --version {version}`",
            ctx.env_flag()
        );
    }
    Ok(())
}

/// Rolls the candidate's endpoint back to its version (the approval policy passed it): only an
/// endpoint that serves a version already, and only while it still serves that one.
pub(crate) async fn roll_back_to(ctx: &Ctx, aws: &AwsClients, candidate: &Candidate) -> Result<PromoteOutcome> {
    served_before(ctx, aws, candidate).await?;
    let live = served(aws, &candidate.runtime_id, &candidate.runtime_name, &candidate.endpoint).await?;
    move_to(ctx, aws, candidate, live.parse().ok(), PromotionKind::Rollback, false).await
}

/// The version the endpoint serves, which a rollback goes back from.
async fn served(aws: &AwsClients, runtime_id: &str, runtime_name: &str, endpoint: &str) -> Result<String> {
    let Some(current) = aws::get_endpoint(aws, runtime_id, endpoint).await? else {
        bail!("runtime {runtime_name} has no endpoint {endpoint}: nothing to roll back; promote a version first")
    };
    let Some(live) = current.live_version() else {
        bail!("endpoint {endpoint} of {runtime_name} serves no version yet: nothing to roll back")
    };
    Ok(live.to_owned())
}

/// Moves the candidate's endpoint to its version (the approval policy passed it) and waits until
/// live; with `expect_live`, only if the endpoint still serves that version. Records the move.
pub(crate) async fn move_to(
    ctx: &Ctx,
    aws: &AwsClients,
    candidate: &Candidate,
    expect_live: Option<u32>,
    kind: PromotionKind,
    dry_run: bool,
) -> Result<PromoteOutcome> {
    move_noted(ctx, aws, candidate, expect_live, kind, dry_run, None).await
}

/// [`move_to`], with what the smoke gate said written into the promotion record.
async fn move_noted(
    ctx: &Ctx,
    aws: &AwsClients,
    candidate: &Candidate,
    expect_live: Option<u32>,
    kind: PromotionKind,
    dry_run: bool,
    smoke: Option<String>,
) -> Result<PromoteOutcome> {
    let Candidate { agent, runtime_name, runtime_id, endpoint, .. } = candidate;
    let (endpoint, version) = (endpoint.as_str(), candidate.version.to_string());
    let current = aws::get_endpoint(aws, runtime_id, endpoint).await?;
    if let Some(current) = &current {
        refuse_deleted(current, runtime_name, runtime_id, endpoint)?;
    }
    let moving = current.as_ref().is_some_and(|current| {
        aws::is_transitional(&aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeStatus::from(
            current.status().as_str(),
        ))
    });
    // Already moving to this very version (an earlier run was interrupted while it waited): wait for
    // it and record it, rather than refuse and lose the record.
    let resume = moving && current.as_ref().and_then(|current| current.target_version()) == Some(version.as_str());
    if moving
        && !resume
        && let Some(current) = &current
    {
        bail!(
            "endpoint {endpoint} of {runtime_name} is {} (towards version {}); wait until it is READY and re-run",
            current.status().as_str(),
            current.target_version().unwrap_or("?")
        );
    }
    let live = current.as_ref().and_then(|current| current.live_version().map(str::to_owned));
    let mut outcome = PromoteOutcome {
        agent: agent.clone(),
        runtime_name: runtime_name.clone(),
        endpoint: endpoint.to_owned(),
        previous_version: live.clone(),
        live_version: version.clone(),
        action: PromoteAction::Planned,
        runtime_id: runtime_id.clone(),
        endpoint_arn: current.as_ref().map(|current| current.agent_runtime_endpoint_arn().to_owned()),
        record_key: None,
        plan: None,
        smoke: None,
    };
    let ready = current.as_ref().is_some_and(|current| current.status().as_str() == "READY");
    if live.as_deref() == Some(version.as_str()) && ready {
        progress!("{agent}: {endpoint} of {runtime_name} already serves version {version}");
        outcome.action = PromoteAction::AlreadyLive;
        // A move whose record was lost (its write failed after the endpoint moved) is recorded
        // now, so that rollback still knows what was served before.
        let newest =
            records::last_promotion(aws, runtime_name, endpoint, |record| record.runtime_id == *runtime_id).await?;
        if !dry_run && newest.as_ref().map(|record| record.to_version.as_str()) != Some(version.as_str()) {
            progress!("{agent}: no promotion record says so; recording it");
            let record = PromotionRecord {
                agent: agent.clone(),
                runtime_name: runtime_name.clone(),
                runtime_id: runtime_id.clone(),
                endpoint: endpoint.to_owned(),
                from_version: newest.map(|record| record.to_version),
                to_version: version.clone(),
                kind,
                actor: records::actor(),
                git_commit: records::git_commit(&ctx.root),
                at: records::now_rfc3339(),
                smoke: smoke.clone(),
            };
            outcome.record_key = Some(records::write_promotion(aws, &record).await?);
        }
        return Ok(outcome);
    }
    // After the no-op above: re-running a promotion that already happened succeeds even with the
    // --expect-live it was first run with.
    if let Some(expected) = expect_live
        && live.as_deref() != Some(expected.to_string().as_str())
    {
        bail!(
            "endpoint {endpoint} of {runtime_name} serves version {}, not {expected} (--expect-live): it moved meanwhile; check `cargo xtask status {agent}` and re-run",
            live.as_deref().unwrap_or("none"),
        );
    }
    // The record is written after the endpoint moved: make sure it can be, before moving it.
    records::check_bucket(aws).await?;
    if dry_run {
        outcome.action = PromoteAction::Planned;
        outcome.live_version = live.clone().unwrap_or_else(|| "none".to_owned());
        let (endpoint, runtime, from, to) = (endpoint.to_owned(), runtime_name.clone(), live.clone(), version.clone());
        outcome.plan = Some(match &current {
            Some(_) if resume => Plan::AwaitEndpoint { endpoint, runtime, from, to },
            None => Plan::CreateEndpoint { endpoint, runtime, version: to },
            Some(_) => Plan::MoveEndpoint { endpoint, runtime, from, to },
        });
        return Ok(outcome);
    }

    let resource = format!("endpoint {endpoint} of runtime {runtime_name}");
    if resume {
        progress!(
            "{agent}: {endpoint} of {runtime_name} is already moving from version {} to {version}; waiting until live",
            live.as_deref().unwrap_or("none")
        );
    } else if current.is_none() {
        progress!("{agent}: creating {endpoint} of {runtime_name} at version {version}");
        let created = aws
            .control
            .create_agent_runtime_endpoint()
            .agent_runtime_id(runtime_id)
            .name(endpoint)
            .agent_runtime_version(&version)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Created meanwhile by someone else: move it (that promotion is overtaken knowingly only
            // without --expect-live, which expected "none" here and must refuse).
            Err(err) if aws::error_code(&err).as_deref() == Some("ConflictException") && expect_live.is_none() => {
                update_endpoint(aws, runtime_id, endpoint, &version, &resource).await?;
            }
            Err(err) => return Err(aws::explain(err, "bedrock-agentcore:CreateAgentRuntimeEndpoint", &resource)),
        }
    } else {
        progress!(
            "{agent}: moving {endpoint} of {runtime_name} from version {} to {version}",
            live.as_deref().unwrap_or("none")
        );
        update_endpoint(aws, runtime_id, endpoint, &version, &resource).await?;
    }
    let state = aws::wait_endpoint_live(aws, runtime_id, runtime_name, endpoint, &version).await?;
    progress!("{agent}: {endpoint} of {runtime_name} serves version {version}");
    outcome.endpoint_arn = Some(state.agent_runtime_endpoint_arn().to_owned());
    outcome.action = match kind {
        PromotionKind::Promote => PromoteAction::Promoted,
        PromotionKind::Rollback => PromoteAction::RolledBack,
    };
    let record = PromotionRecord {
        agent: agent.clone(),
        runtime_name: runtime_name.clone(),
        runtime_id: runtime_id.clone(),
        endpoint: endpoint.to_owned(),
        from_version: live,
        to_version: version,
        kind,
        actor: records::actor(),
        git_commit: records::git_commit(&ctx.root),
        at: records::now_rfc3339(),
        smoke,
    };
    let key = records::write_promotion(aws, &record).await.with_context(|| {
        format!(
            "{endpoint} of {runtime_name} now serves version {} but its promotion record was not written",
            record.to_version
        )
    })?;
    outcome.record_key = Some(key);
    Ok(outcome)
}

/// An endpoint being deleted, or whose deletion failed, cannot be moved: AgentCore refuses, and a
/// promotion record of such a move would lie. The fix is to finish the deletion; a promotion then
/// creates the endpoint anew.
fn refuse_deleted(
    current: &aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime_endpoint::GetAgentRuntimeEndpointOutput,
    runtime_name: &str,
    runtime_id: &str,
    endpoint: &str,
) -> Result<()> {
    let again = format!(
        "`aws bedrock-agentcore-control delete-agent-runtime-endpoint --agent-runtime-id {runtime_id} --endpoint-name {endpoint}`"
    );
    match current.status().as_str() {
        "DELETE_FAILED" => bail!(
            "endpoint {endpoint} of {runtime_name} is DELETE_FAILED ({}): it cannot be moved; delete it again with {again}, \
             then promote to create it anew",
            current.failure_reason().unwrap_or("AgentCore gave no failureReason")
        ),
        "DELETING" => bail!(
            "endpoint {endpoint} of {runtime_name} is being deleted: it cannot be moved; once it is gone, promote to create it anew"
        ),
        _ => Ok(()),
    }
}

async fn update_endpoint(
    aws: &AwsClients,
    runtime_id: &str,
    endpoint: &str,
    version: &str,
    resource: &str,
) -> Result<()> {
    aws.control
        .update_agent_runtime_endpoint()
        .agent_runtime_id(runtime_id)
        .endpoint_name(endpoint)
        .agent_runtime_version(version)
        .send()
        .await
        .map_err(|err| aws::explain(err, "bedrock-agentcore:UpdateAgentRuntimeEndpoint", resource))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_default_and_bad_names() {
        assert!(check_endpoint("DEFAULT").unwrap_err().to_string().contains("DEFAULT"));
        assert!(check_endpoint("default").is_err());
        assert!(check_endpoint("prod-1").unwrap_err().to_string().contains("not valid"));
        check_endpoint("prod").unwrap();
    }
}
