//! The whole release story driven by event payloads against the local stack: bootstrap prod, a pull
//! request deployed twice, its merge, the approval, a replayed old approval, a rollback, a pull
//! request closed without merge, and the nightly sweep.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack};
use serde_json::{Value, json};
use xtask::aws::{self, AwsClients};
use xtask::github::{self as gh, EventArgs, render};
use xtask::report::AskedVersion;

use super::{ctx, events_dir};
use crate::support::Ctx;

/// The release fixture's agents.
const AGENTS: [&str; 2] = ["echo_bot", "weather_report_bot"];

struct Story {
    ctx: Ctx,
    aws: AwsClients,
    dir: tempfile::TempDir,
    step: usize,
}

impl Story {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an event payload (a fixture with edits) and returns the args pointing at it.
    fn event(&mut self, fixture: &str, edit: impl FnOnce(&mut Value)) -> EventArgs {
        self.step += 1;
        let mut payload: Value =
            serde_json::from_str(&std::fs::read_to_string(events_dir().join(fixture)).unwrap()).unwrap();
        edit(&mut payload);
        let event = self.path(&format!("event-{}.json", self.step));
        std::fs::write(&event, payload.to_string()).unwrap();
        EventArgs { event, out: Some(self.path(&format!("out-{}.md", self.step))) }
    }

    /// Zips for every agent; those listed carry their own revision (a new version), the others the
    /// bootstrap one.
    fn zips(&self, revisions: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(&format!("zips-{}", self.step));
        std::fs::create_dir_all(&dir).unwrap();
        for agent in AGENTS {
            let revision =
                revisions.iter().find(|(name, _)| *name == agent).map_or("bootstrap", |(_, revision)| revision);
            let main = std::fs::read_to_string(self.ctx.root.join("agents").join(agent).join("main.py")).unwrap();
            let mut buffer = std::io::Cursor::new(Vec::new());
            let mut writer = zip::ZipWriter::new(&mut buffer);
            for (name, content) in [("main.py", main), ("REVISION", revision.to_owned())] {
                writer.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
                writer.write_all(content.as_bytes()).unwrap();
            }
            writer.finish().unwrap();
            std::fs::write(dir.join(format!("{agent}.zip")), buffer.into_inner()).unwrap();
        }
        dir
    }

    fn changed(&self, paths: &[&str]) -> PathBuf {
        let file = self.path(&format!("changed-{}.txt", self.step));
        std::fs::write(&file, paths.join("\n")).unwrap();
        file
    }

    async fn runtime_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            aws::list_runtimes(&self.aws).await.unwrap().iter().map(|r| r.agent_runtime_name().to_owned()).collect();
        names.sort();
        names
    }

    async fn live(&self, agent: &str) -> Option<String> {
        let runtime = aws::find_runtime(&self.aws, &format!("{agent}_prod")).await.unwrap()?;
        let endpoint = aws::get_endpoint(&self.aws, runtime.agent_runtime_id(), "prod").await.unwrap()?;
        endpoint.live_version().map(str::to_owned)
    }

    async fn pr_deploy(
        &mut self,
        fixture: &str,
        pr: u64,
        revision: &str,
        changed: &[&str],
    ) -> xtask::report::StepReport {
        let revisions: Vec<(&str, &str)> = AGENTS.iter().map(|agent| (*agent, revision)).collect();
        let event = self.event(fixture, |payload| {
            payload["number"] = pr.into();
            payload["pull_request"]["number"] = pr.into();
        });
        let args = gh::PrDeployArgs {
            event,
            changed_files: Some(self.changed(changed)),
            agent: None,
            result: None,
            force: false,
            package_dir: Some(self.zips(&revisions)),
            smoke: false,
        };
        gh::pr_deploy(&self.ctx, &args, Some(self.aws.clone())).await.unwrap()
    }

    /// The pr-deploy workflow as it runs: `pr-plan`, one `pr-deploy --agent` per planned agent
    /// writing its result, then `pr-comment` over the results. Returns the plan and the comment.
    async fn pr_matrix(&mut self, fixture: &str, pr: u64, revision: &str, changed: &[&str]) -> (Vec<String>, String) {
        let revisions: Vec<(&str, &str)> = AGENTS.iter().map(|agent| (*agent, revision)).collect();
        let set_number = |payload: &mut Value| {
            payload["number"] = pr.into();
            payload["pull_request"]["number"] = pr.into();
        };
        let event = self.event(fixture, set_number);
        let plan = gh::pr_plan(&self.ctx, &gh::PrPlanArgs { event, changed_files: Some(self.changed(changed)) })
            .unwrap()
            .agents;
        let results = self.path(&format!("results-{}", self.step));
        std::fs::create_dir_all(&results).unwrap();
        for agent in &plan {
            let event = self.event(fixture, set_number);
            let args = gh::PrDeployArgs {
                event,
                changed_files: None,
                agent: Some(agent.clone()),
                result: Some(results.join(format!("{agent}.json"))),
                force: false,
                package_dir: Some(self.zips(&revisions)),
                smoke: false,
            };
            gh::pr_deploy(&self.ctx, &args, Some(self.aws.clone())).await.unwrap();
        }
        let event = self.event(fixture, set_number);
        let args = gh::PrCommentArgs { event, agents: serde_json::to_string(&plan).unwrap(), results };
        gh::pr_comment(&self.ctx, &args).unwrap();
        (plan, self.last_out())
    }

    /// A push to main; `open_issues` are bodies of open deployment issues by the bot.
    async fn prod_deploy(
        &mut self,
        revisions: &[(&str, &str)],
        pulls: Option<PathBuf>,
        open_issues: &[&str],
    ) -> (xtask::report::StepReport, String) {
        let event = self.event("push_main_squash.json", |_| {});
        let title_out = self.path(&format!("title-{}.txt", self.step));
        let numbered: Vec<(u64, &str)> =
            open_issues.iter().enumerate().map(|(index, body)| (index as u64 + 40, *body)).collect();
        let issues_file = self.open_issues(&numbered);
        let args = gh::ProdDeployArgs {
            event,
            pulls,
            changed_files: None,
            only_changed: false,
            open_issues: Some(issues_file),
            bot_login: gh::DEFAULT_BOT_LOGIN.into(),
            title_out: Some(title_out.clone()),
            package_dir: Some(self.zips(revisions)),
            smoke: false,
        };
        let report = gh::prod_deploy(&self.ctx, &args, Some(self.aws.clone())).await.unwrap();
        let title = std::fs::read_to_string(title_out).unwrap_or_default();
        (report, title)
    }

    async fn approve(&mut self, body: &str, permission: &str) -> anyhow::Result<xtask::report::StepReport> {
        self.approve_issue(40, body, permission, &[]).await
    }

    /// The approval of issue `number` with `body`; `open_issues` are the other open deployment
    /// issues by the bot, (number, body), as the workflow lists them. Superseded issues' comments go
    /// to `superseded-<step>/`.
    async fn approve_issue(
        &mut self,
        number: u64,
        body: &str,
        permission: &str,
        open_issues: &[(u64, &str)],
    ) -> anyhow::Result<xtask::report::StepReport> {
        let body = body.to_owned();
        let event = self.event("issues_labeled_approved.json", move |payload| {
            payload["issue"]["body"] = body.into();
            payload["issue"]["number"] = number.into();
        });
        let args = gh::PromoteArgs {
            event,
            labeller_permission: permission.into(),
            bot_login: gh::DEFAULT_BOT_LOGIN.into(),
            open_issues: Some(self.open_issues(open_issues)),
            superseded_dir: Some(self.path(&format!("superseded-{}", self.step))),
            smoke: false,
        };
        gh::promote(&self.ctx, &args, Some(self.aws.clone())).await
    }

    /// `github promote` on an event [`Story::event`] wrote, with no other open issue listed.
    async fn promote(&self, event: EventArgs, permission: &str) -> anyhow::Result<xtask::report::StepReport> {
        let args = gh::PromoteArgs {
            event,
            labeller_permission: permission.into(),
            bot_login: gh::DEFAULT_BOT_LOGIN.into(),
            open_issues: None,
            superseded_dir: None,
            smoke: false,
        };
        gh::promote(&self.ctx, &args, Some(self.aws.clone())).await
    }

    /// A listing of open deployment issues by the bot, (number, body), as `gh api` writes it.
    fn open_issues(&self, issues: &[(u64, &str)]) -> PathBuf {
        let listed: Vec<Value> = issues
            .iter()
            .map(|(number, body)| json!({"number": number, "user": {"login": gh::DEFAULT_BOT_LOGIN}, "body": body}))
            .collect();
        let file = self.path(&format!("open-issues-{}.json", self.step));
        std::fs::write(&file, Value::from(listed).to_string()).unwrap();
        file
    }

    /// The commits API's answer for a push that merged pull request `pr`.
    fn pulls(&self, pr: u64) -> PathBuf {
        let file = self.path(&format!("pulls-{pr}.json"));
        let listed = std::fs::read_to_string(events_dir().join("commit_pulls_squash.json")).unwrap();
        std::fs::write(&file, listed.replace("\"number\": 12", &format!("\"number\": {pr}"))).unwrap();
        file
    }

    /// The nightly sweep with these pull requests open and these deployment issues by the bot open,
    /// (number, body); comments go to `superseded-<step>/` and `idle-<step>/`.
    async fn gc(&mut self, open_pulls: &[u64], open_issues: &[(u64, &str)]) -> xtask::report::StepReport {
        let event = self.event("schedule.json", |_| {});
        let pulls = self.path(&format!("open-pulls-{}.json", self.step));
        let listed: Vec<Value> = open_pulls.iter().map(|number| json!({"number": number})).collect();
        std::fs::write(&pulls, Value::from(listed).to_string()).unwrap();
        let args = gh::GcArgs {
            event,
            open_pulls: Some(pulls),
            open_issues: Some(self.open_issues(open_issues)),
            newest_number: None,
            bot_login: gh::DEFAULT_BOT_LOGIN.into(),
            superseded_dir: Some(self.path(&format!("superseded-{}", self.step))),
            idle_dir: Some(self.path(&format!("idle-{}", self.step))),
            prune: false,
            dry_run: false,
        };
        gh::gc(&self.ctx, &args, Some(self.aws.clone())).await.unwrap()
    }

    /// The comment a step wrote for issue or pull request `number` into `<what>-<step>/`, if any.
    fn comment(&self, what: &str, number: u64) -> Option<String> {
        std::fs::read_to_string(self.path(&format!("{what}-{}/{number}.md", self.step))).ok()
    }

    fn last_out(&self) -> String {
        std::fs::read_to_string(self.path(&format!("out-{}.md", self.step))).unwrap()
    }
}

async fn start() -> (LocalStack, Story) {
    start_with(|_| ctx(None)).await
}

/// [`start`] on a workspace `workspace` makes in the story's directory (its context).
async fn start_with(workspace: impl FnOnce(&std::path::Path) -> Ctx) -> (LocalStack, Story) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(dir.path().join("state"));
    config.transition_delay = Duration::from_millis(30);
    let stack = LocalStack::start(config).await.unwrap();
    let mut ctx = workspace(dir.path());
    ctx.aws = xtask::context::AwsArgs { local: true, local_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    for env in ctx.settings.environments().unwrap() {
        stack.ensure_bucket(&env.bucket).await.unwrap();
    }
    stack.ensure_bucket(&ctx.settings.bucket).await.unwrap();
    let mut aws = aws::local_clients(
        &stack.s3_endpoint(),
        &stack.control_endpoint(),
        stack.region(),
        &ctx.settings.bucket,
        agentcore_local::credentials(),
    )
    .await;
    aws.wait.first_interval = Duration::from_millis(20);
    aws.wait.max_interval = Duration::from_millis(100);
    aws.wait.timeout = Duration::from_secs(60);
    (stack, Story { ctx, aws, dir, step: 0 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_merge_approve_and_cleanup_against_the_local_stack() {
    let (stack, mut story) = start().await;

    // Bootstrap: a direct push creates both prod runtimes; approving its issue makes version 1 live.
    let (report, title) = story.prod_deploy(&[], None, &[]).await;
    assert_eq!((report.result.as_str(), report.pr), ("issue", None));
    assert_eq!(title, "Promote to prod: echo_bot v1, weather_report_bot v1 (direct push)");
    let bootstrap_body = report.markdown.unwrap();
    // A body cut down to one of the release's agents promotes nothing: all of the release or none.
    let mut partial = gh::metadata::extract(&bootstrap_body).unwrap();
    let full_block = partial.render();
    partial.agents.retain(|entry| entry.agent == "echo_bot");
    let cut = bootstrap_body.replace(&full_block, &partial.render());
    assert_ne!(cut, bootstrap_body);
    let err = format!("{:#}", story.approve(&cut, "admin").await.unwrap_err());
    assert!(err.contains("also asked to promote `weather_report_bot`, which the issue does not list"), "{err}");
    assert!(story.last_out().contains("Promotion refused"));
    assert_eq!(story.live("echo_bot").await, None, "nothing moved");
    let report = story.approve(&bootstrap_body, "admin").await.unwrap();
    assert_eq!((report.result.as_str(), report.deleted.len()), ("promoted", 0));
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));

    // PR 12 changes one prompt: the plan lists only that agent, whose matrix job deploys its PR
    // runtime; the comment job renders the one comment from the job's result.
    let (plan, comment) = story.pr_matrix("pr_opened.json", 12, "pr12-a", &["prompts/echo_bot.txt"]).await;
    assert_eq!(plan, ["echo_bot"]);
    assert!(comment.starts_with(render::PR_COMMENT_MARKER), "{comment}");
    assert!(comment.contains("| `echo_bot` | `echo_bot_pr_12` | `1` | `READY` | created |"), "{comment}");
    assert!(comment.contains("deployed 1 of 1 affected agents"), "{comment}");
    // A second push makes version 2 (here through the all-in-one step).
    story.pr_deploy("pr_synchronize.json", 12, "pr12-b", &["prompts/echo_bot.txt"]).await;
    let comment = story.last_out();
    assert!(comment.contains("`echo_bot_pr_12` | `2` | `READY` | updated"), "{comment}");
    // Untrusted text of the payload (branch name, title, body) never reaches the comment.
    assert!(!comment.contains("pwned") && !comment.contains("groanier"), "{comment}");

    // A fork's pull request gets no runtime.
    assert!(!story.runtime_names().await.iter().any(|name| name.ends_with("_pr_13")));

    // The squash merge of PR 12: a new prod version, not live, and an issue pointing at PR 12.
    let merged = [("echo_bot", "main-2")];
    let (report, title) = story.prod_deploy(&merged, Some(story.pulls(12)), &[]).await;
    assert_eq!((report.result.as_str(), report.pr), ("issue", Some(12)));
    assert_eq!(title, "Promote to prod: echo_bot v2 (PR #12)");
    let issue_body = report.markdown.unwrap();
    // Main's zip is not the one the preview's last push ran (`pr12-b`): the issue says so.
    assert!(issue_body.contains("The zip of `echo_bot` is not the one PR #12's preview ran"), "{issue_body}");
    assert!(issue_body.contains("| `2` |") && issue_body.contains("| **no** |"), "{issue_body}");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"), "a merge must not go live");
    // Re-running that push (or the next push after a replaced run) asks for nothing twice...
    let (report, _) = story.prod_deploy(&merged, Some(story.pulls(12)), &[&issue_body]).await;
    assert_eq!((report.result.as_str(), report.agents.len()), ("nothing", 0));
    // ...but does ask when the first issue was never opened (its run failed or was replaced).
    let (report, _) = story.prod_deploy(&merged, Some(story.pulls(12)), &[]).await;
    assert_eq!((report.result.as_str(), report.agents.as_slice()), ("issue", &["echo_bot".to_owned()][..]));
    assert_eq!(report.markdown.as_deref(), Some(issue_body.as_str()), "same versions, same issue");
    // The merged PR keeps its runtime until the promotion.
    let event = story.event("pr_closed_merged.json", |_| {});
    let report =
        gh::pr_closed(&story.ctx, &gh::PrClosedArgs { event, dry_run: false }, Some(story.aws.clone())).await.unwrap();
    assert_eq!(report.result, "kept");
    assert!(story.runtime_names().await.contains(&"echo_bot_pr_12".to_owned()));

    // A reader cannot approve; nothing moves.
    let err = story.approve(&issue_body, "read").await.unwrap_err().to_string();
    assert!(err.contains("needs write or admin"), "{err}");
    assert!(story.last_out().contains("Promotion refused"));
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));

    // A tampered body naming a version that does not exist is refused before anything moves.
    let tampered = issue_body.replace(r#""version":"2""#, r#""version":"9""#);
    let err = format!("{:#}", story.approve(&tampered, "write").await.unwrap_err());
    assert!(err.contains("has no version 9"), "{err}");
    assert!(story.runtime_names().await.contains(&"echo_bot_pr_12".to_owned()));

    // The metadata is held against the records in S3: a body naming another pull request (whose
    // runtimes the promotion would delete), another commit, or another existing version is refused.
    let other_pr = issue_body.replace(r#""pr":12"#, r#""pr":14"#);
    let err = format!("{:#}", story.approve(&other_pr, "write").await.unwrap_err());
    assert!(err.contains("names PR #12, the issue PR #14"), "{err}");
    assert!(story.last_out().contains("Promotion refused"));
    let commit = "e".repeat(40);
    let merged_commit = gh::metadata::extract(&issue_body).unwrap().commit;
    let other_commit =
        issue_body.replace(&format!(r#""commit":"{merged_commit}""#), &format!(r#""commit":"{commit}""#));
    assert_ne!(other_commit, issue_body);
    let err = format!("{:#}", story.approve(&other_commit, "write").await.unwrap_err());
    assert!(err.contains("no release record") && err.contains(&commit), "{err}");
    let older = issue_body.replace(r#""version":"2""#, r#""version":"1""#);
    let err = format!("{:#}", story.approve(&older, "write").await.unwrap_err());
    assert!(err.contains("names no pull request, the issue PR #12"), "{err}");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));
    assert!(story.runtime_names().await.contains(&"echo_bot_pr_12".to_owned()));

    // The real approval: version 2 goes live and PR 12's runtime is deleted.
    let report = story.approve(&issue_body, "write").await.unwrap();
    assert_eq!(report.result, "promoted");
    assert_eq!(report.deleted, ["echo_bot_pr_12"]);
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("2"));
    let summary = story.last_out();
    assert!(summary.contains("| `echo_bot` | `echo_bot_prod` | `prod` | `1` | `2` | promoted |"), "{summary}");
    assert_eq!(story.runtime_names().await, ["echo_bot_prod", "weather_report_bot_prod"]);

    // Approving the same issue again converges; replaying the old bootstrap approval cannot roll back.
    let report = story.approve(&issue_body, "write").await.unwrap();
    assert!(report.markdown.unwrap().contains("already_live"));
    let err = format!("{:#}", story.approve(&bootstrap_body, "write").await.unwrap_err());
    assert!(err.contains("serves version 2, newer than 1"), "{err}");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("2"));

    // A rollback target must be a version deploy recorded for prod: without its record, refused.
    story
        .aws
        .s3
        .delete_object()
        .bucket(&story.aws.bucket)
        .key("weather_report_bot_prod/v1/record.json")
        .send()
        .await
        .unwrap();
    let event = story.event("workflow_dispatch_rollback.json", |payload| {
        payload["inputs"] = json!({"agent": "weather_report_bot", "version": "1"});
    });
    let err = format!("{:#}", story.promote(event, "admin").await.unwrap_err());
    assert!(err.contains("has no deploy record"), "{err}");
    assert!(story.last_out().contains("Rollback refused"));

    // Rollback is its own explicit act.
    let event = story.event("workflow_dispatch_rollback.json", |payload| {
        payload["inputs"] = json!({"agent": "echo_bot", "version": "1"});
    });
    let report = story.promote(event, "admin").await.unwrap();
    assert_eq!(report.result, "rolled_back");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));
    assert!(story.last_out().contains("## Rolled back"));

    // PR 14 is closed without merge: its runtimes go at once.
    story.pr_deploy("pr_opened.json", 14, "pr14", &["Cargo.toml"]).await;
    assert!(story.runtime_names().await.contains(&"weather_report_bot_pr_14".to_owned()));
    let event = story.event("pr_closed_unmerged.json", |_| {});
    let report =
        gh::pr_closed(&story.ctx, &gh::PrClosedArgs { event, dry_run: false }, Some(story.aws.clone())).await.unwrap();
    assert_eq!(report.deleted, ["echo_bot_pr_14", "weather_report_bot_pr_14"]);

    // The sweep: PR 15 is open, PR 17 is merged and awaiting promotion, PR 16 leaked, and PR 18 was
    // opened after the lists were read (newest number 17).
    for pr in [15, 16, 17, 18] {
        story.pr_deploy("pr_opened.json", pr, &format!("pr{pr}"), &["prompts/weather_report_bot.txt"]).await;
    }
    let pending = issue_body.replace(r#""pr":12"#, r#""pr":17"#);
    let issues = json!([{"number": 41, "user": {"login": "github-actions[bot]"}, "body": pending}]);
    let issues_file = story.path("open-issues.json");
    std::fs::write(&issues_file, issues.to_string()).unwrap();
    let event = story.event("schedule.json", |_| {});
    let gc_args = |event, dry_run| gh::GcArgs {
        event,
        open_pulls: Some(events_dir().join("open_pulls.json")),
        open_issues: Some(issues_file.clone()),
        newest_number: Some(17),
        bot_login: gh::DEFAULT_BOT_LOGIN.into(),
        superseded_dir: None,
        idle_dir: None,
        prune: false,
        dry_run,
    };
    let report = gh::gc(&story.ctx, &gc_args(event, true), Some(story.aws.clone())).await.unwrap();
    assert_eq!(report.deleted, ["weather_report_bot_pr_16"]);
    assert!(story.runtime_names().await.contains(&"weather_report_bot_pr_16".to_owned()), "dry run");
    let event = story.event("schedule.json", |_| {});
    let report = gh::gc(&story.ctx, &gc_args(event, false), Some(story.aws.clone())).await.unwrap();
    assert_eq!(report.deleted, ["weather_report_bot_pr_16"]);
    assert_eq!(
        story.runtime_names().await,
        [
            "echo_bot_prod",
            "weather_report_bot_pr_15",
            "weather_report_bot_pr_17",
            "weather_report_bot_pr_18",
            "weather_report_bot_prod"
        ]
    );
    // A second sweep finds nothing more.
    let event = story.event("schedule.json", |_| {});
    let report = gh::gc(&story.ctx, &gc_args(event, false), Some(story.aws.clone())).await.unwrap();
    assert!(report.deleted.is_empty());

    // A version that never became READY cannot be promoted, whatever a body says: its deploy opens
    // no issue, and a body naming it is refused.
    stack.faults().fail("UpdateAgentRuntime", 1, "the role cannot be assumed by bedrock-agentcore").unwrap();
    let event = story.event("push_main_squash.json", |_| {});
    let args = gh::ProdDeployArgs {
        event,
        pulls: None,
        // Only this agent: the fault must hit its update, not another agent's.
        changed_files: Some(story.changed(&["prompts/echo_bot.txt"])),
        only_changed: false,
        open_issues: None,
        bot_login: gh::DEFAULT_BOT_LOGIN.into(),
        title_out: None,
        package_dir: Some(story.zips(&[("echo_bot", "main-3")])),
        smoke: false,
    };
    let err = format!("{:#}", gh::prod_deploy(&story.ctx, &args, Some(story.aws.clone())).await.unwrap_err());
    assert!(err.contains("no deployment issue opened") && err.contains("the role cannot be assumed"), "{err}");
    let failed = issue_body.replace(r#""version":"2""#, r#""version":"3""#);
    let err = format!("{:#}", story.approve(&failed, "admin").await.unwrap_err());
    assert!(err.contains("version 3 of `echo_bot_prod` is UPDATE_FAILED, not READY"), "{err}");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));

    // The versions go live but deleting the PR's runtimes fails (it never finishes): the issue gets
    // a comment saying so, and the step's result is `failed`, so it is not labelled promoted.
    let pulls = story.pulls(15);
    // Another push: a commit of its own, as on GitHub.
    let event = story.event("push_main_squash.json", |payload| payload["after"] = "4d".repeat(20).into());
    let args = gh::ProdDeployArgs {
        event,
        pulls: Some(pulls),
        changed_files: Some(story.changed(&["prompts/weather_report_bot.txt"])),
        only_changed: false,
        open_issues: None,
        bot_login: gh::DEFAULT_BOT_LOGIN.into(),
        title_out: None,
        package_dir: Some(story.zips(&[("weather_report_bot", "main-4")])),
        smoke: false,
    };
    let report = gh::prod_deploy(&story.ctx, &args, Some(story.aws.clone())).await.unwrap();
    assert_eq!((report.result.as_str(), report.pr), ("issue", Some(15)));
    let body = report.markdown.unwrap();
    stack.faults().stuck("DeleteAgentRuntime", 1).unwrap();
    let patient = story.aws.wait.timeout;
    story.aws.wait.timeout = Duration::from_millis(300);
    let err = format!("{:#}", story.approve(&body, "write").await.unwrap_err());
    assert!(err.contains("the versions are live, but deleting the runtimes of PR #15 failed"), "{err}");
    assert!(story.last_out().contains("## Promotion failed"), "{}", story.last_out());
    assert_eq!(story.live("weather_report_bot").await.as_deref(), Some("2"));
    story.aws.wait.timeout = patient;
    stack.shutdown().await;
}

/// A later release supersedes earlier deployment issues. PRs 20, 21 and 22 change one agent and are
/// merged one after the other, each merge opening an issue for its own version (A, B, C); approving
/// B closes A as superseded and deletes PR 20's runtimes, while C, which asks for a newer version,
/// stays open. A replayed approval of A is refused; gc closes a superseded issue left open and
/// deletes what its pull request leaked, but never on the word of a body the records contradict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_release_supersedes_earlier_deployment_issues() {
    let (stack, mut story) = start().await;
    let (report, _) = story.prod_deploy(&[], None, &[]).await;
    story.approve(&report.markdown.unwrap(), "admin").await.unwrap();
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("1"));

    let mut bodies: Vec<String> = Vec::new();
    for (pr, revision) in [(20, "main-a"), (21, "main-b"), (22, "main-c")] {
        story.pr_deploy("pr_opened.json", pr, revision, &["prompts/echo_bot.txt"]).await;
        let pulls = story.pulls(pr);
        let open: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let (report, title) = story.prod_deploy(&[("echo_bot", revision)], Some(pulls), &open).await;
        let version = pr - 18;
        assert_eq!(title, format!("Promote to prod: echo_bot v{version} (PR #{pr})"));
        bodies.push(report.markdown.unwrap());
    }
    let [a, b, c] = [&bodies[0], &bodies[1], &bodies[2]];
    let listed = [(50, a.as_str()), (51, b.as_str()), (52, c.as_str()), (53, "no block: a note someone filed")];

    // Approving B (issue 51) makes version 3 live: A (version 2) is superseded, C (version 4) waits.
    let report = story.approve_issue(51, b, "write", &listed).await.unwrap();
    assert_eq!((report.result.as_str(), report.deleted.as_slice()), ("promoted", &["echo_bot_pr_21".to_owned()][..]));
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("3"));
    let fates: Vec<(u64, &str, &[String])> =
        report.issues.iter().map(|issue| (issue.issue, issue.fate.as_str(), issue.deleted.as_slice())).collect();
    assert_eq!(
        fates,
        [(50, "superseded", &["echo_bot_pr_20".to_owned()][..]), (52, "waiting", &[][..]), (53, "left_open", &[][..]),]
    );
    assert_eq!(report.issues[1].versions, [AskedVersion { agent: "echo_bot".into(), version: 4, live: Some(3) }]);
    let names = story.runtime_names().await;
    assert!(!names.iter().any(|name| name.ends_with("_pr_20") || name.ends_with("_pr_21")), "{names:?}");
    assert!(names.contains(&"echo_bot_pr_22".to_owned()), "C's pull request keeps its runtime: {names:?}");
    // The workflow posts A's comment, labels it `superseded` and closes it; only A has a comment.
    let comment = story.comment("superseded", 50).expect("A's comment");
    assert!(comment.starts_with(render::SUPERSEDED_MARKER), "{comment}");
    assert!(comment.contains("The promotion of #51") && comment.contains("PR #21"), "{comment}");
    assert!(comment.contains("| `echo_bot` | `2` | `3` |"), "{comment}");
    assert!(comment.contains("Deleted the runtimes of PR #20: `echo_bot_pr_20`."), "{comment}");
    assert!(story.comment("superseded", 52).is_none() && story.comment("superseded", 53).is_none());
    let summary = story.last_out();
    assert!(summary.contains("| #50 | superseded: closed |") && summary.contains("| #52 | waits for its approval |"));
    assert!(summary.contains("#53: its metadata does not verify"), "{summary}");

    // A replayed approval of A is refused, closed as it is, and were it still open.
    let replay = a.clone();
    let event = story.event("issues_labeled_approved.json", move |payload| {
        payload["issue"]["body"] = replay.into();
        payload["issue"]["number"] = 50.into();
        payload["issue"]["state"] = "closed".into();
    });
    let err = format!("{:#}", story.promote(event, "admin").await.unwrap_err());
    assert!(err.contains("issue #50 is closed"), "{err}");
    let err = format!("{:#}", story.approve_issue(50, a, "admin", &[]).await.unwrap_err());
    assert!(err.contains("serves version 3, newer than 2"), "{err}");
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("3"));

    // gc, for issues a promotion left behind: A is still open (its close failed) and PR 20 leaked a
    // runtime since. A body copied from A onto PR 22 by someone else's edit names a pull request the
    // records do not: it is left open and PR 22 keeps its runtime, as C still asks for it.
    story.pr_deploy("pr_opened.json", 20, "leaked", &["prompts/echo_bot.txt"]).await;
    let forged = a.replace(r#""pr":20"#, r#""pr":22"#);
    assert_ne!(&forged, a);
    let report = story.gc(&[], &[(50, a), (52, c), (54, &forged)]).await;
    let fates: Vec<(u64, &str)> = report.issues.iter().map(|issue| (issue.issue, issue.fate.as_str())).collect();
    assert_eq!(fates, [(50, "superseded"), (52, "waiting"), (54, "left_open")]);
    assert_eq!(report.issues[0].deleted, ["echo_bot_pr_20"]);
    let reason = report.issues[2].reason.as_deref().unwrap();
    assert!(reason.contains("names PR #20, the issue PR #22"), "{reason}");
    assert!(report.deleted.is_empty(), "{:?}", report.deleted);
    let comment = story.comment("superseded", 50).expect("A's comment");
    assert!(comment.contains("A later release is live.") && comment.contains("`echo_bot_pr_20`"), "{comment}");
    assert!(story.comment("superseded", 54).is_none());
    let markdown = report.markdown.unwrap();
    assert!(markdown.contains("#54: agent `echo_bot`: the release record"), "{markdown}");
    let names = story.runtime_names().await;
    assert!(!names.contains(&"echo_bot_pr_20".to_owned()) && names.contains(&"echo_bot_pr_22".to_owned()));

    // Approving C makes version 4 live and deletes PR 22's runtime: no preview is left.
    story.approve_issue(52, c, "write", &[]).await.unwrap();
    assert_eq!(story.live("echo_bot").await.as_deref(), Some("4"));
    assert!(!story.runtime_names().await.iter().any(|name| name.contains("_pr_")));
    stack.shutdown().await;
}

/// Open pull requests nothing was deployed to for `idle_preview_days` lose their previews, with a
/// comment saying how to get them back; 0 keeps them. The local stack's clock, set back, makes a
/// preview old. The next push makes the runtime again, at version 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_deletes_the_previews_of_idle_pull_requests() {
    let (stack, mut story) = start().await;
    let days = |n: i64| n * 86_400_000;
    stack.faults().set_clock_offset(-days(20)).unwrap();
    story.pr_deploy("pr_opened.json", 30, "old", &["prompts/echo_bot.txt"]).await;
    story.pr_deploy("pr_opened.json", 32, "old", &["prompts/echo_bot.txt"]).await;
    stack.faults().set_clock_offset(-days(3)).unwrap();
    story.pr_deploy("pr_opened.json", 31, "recent", &["prompts/echo_bot.txt"]).await;
    stack.faults().set_clock_offset(0).unwrap();

    // With 0, idle previews are kept.
    story.ctx.settings.idle_preview_days = 0;
    let report = story.gc(&[30, 31, 32], &[]).await;
    assert!(report.idle.is_empty() && report.deleted.is_empty(), "{report:?}");
    assert_eq!(story.runtime_names().await, ["echo_bot_pr_30", "echo_bot_pr_31", "echo_bot_pr_32"]);

    // With the default of 14 days, PRs 30 and 32 (20 days) lose theirs; PR 31 (3 days) keeps it.
    story.ctx.settings.idle_preview_days = 14;
    let report = story.gc(&[30, 31, 32], &[]).await;
    let idle: Vec<(u64, u64, &[String])> =
        report.idle.iter().map(|idle| (idle.pr, idle.idle_days, idle.deleted.as_slice())).collect();
    assert_eq!(idle, [(30, 20, &["echo_bot_pr_30".to_owned()][..]), (32, 20, &["echo_bot_pr_32".to_owned()][..])]);
    assert_eq!(story.runtime_names().await, ["echo_bot_pr_31"]);
    let comment = story.comment("idle", 30).expect("PR 30's comment");
    assert!(comment.starts_with(render::IDLE_MARKER), "{comment}");
    assert!(comment.contains("for 20 days, more than the 14 days") && comment.contains("push a commit"), "{comment}");
    assert!(story.comment("idle", 31).is_none());
    assert!(report.markdown.unwrap().contains("PR #30 was idle for 20 days: deleted `echo_bot_pr_30`"));

    // The next push makes the runtime again, at version 1, its records under the new runtime id.
    story.pr_deploy("pr_synchronize.json", 30, "new", &["prompts/echo_bot.txt"]).await;
    let comment = story.last_out();
    assert!(comment.contains("| `echo_bot` | `echo_bot_pr_30` | `1` | `READY` | created |"), "{comment}");
    let keys: Vec<String> = story
        .aws
        .s3
        .list_objects_v2()
        .bucket(&story.aws.bucket)
        .prefix("echo_bot_pr_30/v1/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|object| object.key().map(str::to_owned))
        .collect();
    assert!(keys.contains(&"echo_bot_pr_30/v1/record.json".to_owned()), "{keys:?}");
    assert!(keys.iter().any(|key| key.starts_with("echo_bot_pr_30/v1/record-echo_bot_pr_30-")), "{keys:?}");
    stack.shutdown().await;
}

/// An `environments_chain` of staging then prod, each with its own bucket: a merge deploys to
/// staging and makes its versions live there; the deployment issue says whether each zip is the one
/// the merged pull request's preview ran; the approval takes those very zips to prod (verified by
/// SHA-256, never built again) and makes them live. Issues naming other environments are refused,
/// as is a zip changed in S3, before anything changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_promotes_the_same_bytes_from_staging_to_prod() {
    use crate::support::{PROD_BUCKET, STAGING_BUCKET};
    let (stack, mut story) = start_with(|dir| {
        let root = dir.join("workspace");
        crate::support::environments_workspace(&root);
        crate::support::ctx(&root, Default::default())
    })
    .await;
    let clients = story.aws.clone();
    let live_on = |runtime: &'static str, endpoint: &'static str| {
        let aws = clients.clone();
        async move {
            let runtime = aws::find_runtime(&aws, runtime).await.unwrap()?;
            let state = aws::get_endpoint(&aws, runtime.agent_runtime_id(), endpoint).await.unwrap()?;
            state.live_version().map(str::to_owned)
        }
    };
    let record = |bucket: &'static str, key: String| {
        let s3 = clients.s3.clone();
        async move {
            let output = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
            serde_json::from_slice::<Value>(&output.body.collect().await.unwrap().into_bytes()).unwrap()
        }
    };

    // Bootstrap: a direct push goes live on staging at once; prod has nothing yet.
    let (report, title) = story.prod_deploy(&[], None, &[]).await;
    assert_eq!((report.result.as_str(), report.pr), ("issue", None));
    assert_eq!(title, "Promote to prod: echo_bot v1, weather_report_bot v1 of staging (direct push)");
    let bootstrap = report.markdown.unwrap();
    assert!(bootstrap.contains("deployed these versions to **staging** and made them live there"), "{bootstrap}");
    let block = gh::metadata::extract(&bootstrap).unwrap();
    assert_eq!((block.from.as_deref(), block.env.as_deref()), (Some("staging"), Some("prod")));
    assert_eq!(block.agents[0].runtime, "echo_bot_staging");
    assert_eq!(live_on("echo_bot_staging", "live").await.as_deref(), Some("1"));
    assert!(aws::find_runtime(&story.aws, "echo_bot_prod").await.unwrap().is_none());
    let report = story.approve(&bootstrap, "admin").await.unwrap();
    assert_eq!(report.result, "promoted");
    assert_eq!(live_on("echo_bot_prod", "prod").await.as_deref(), Some("1"));
    let summary = story.last_out();
    assert!(summary.contains("### The same bytes"), "{summary}");

    // PR 12's preview, then its merge with the very same code: staging v2, live, and the issue says
    // the zip is the one the preview ran.
    story.pr_deploy("pr_opened.json", 12, "pr12", &["prompts/echo_bot.txt"]).await;
    let merged = [("echo_bot", "pr12")];
    let (report, title) = story.prod_deploy(&merged, Some(story.pulls(12)), &[]).await;
    assert_eq!(title, "Promote to prod: echo_bot v2 of staging (PR #12)");
    let body = report.markdown.unwrap();
    assert_eq!(live_on("echo_bot_staging", "live").await.as_deref(), Some("2"));
    assert_eq!(live_on("echo_bot_prod", "prod").await.as_deref(), Some("1"), "prod waits for the approval");
    assert!(body.contains("### Same bytes as the preview"), "{body}");
    assert!(body.contains("| `2` |") && body.contains("| yes |") && !body.contains("[!WARNING]"), "{body}");
    // Run again, the push asks for nothing twice.
    let (report, _) = story.prod_deploy(&merged, Some(story.pulls(12)), &[&body]).await;
    assert_eq!(report.result, "nothing");

    // Bodies naming other environments than the chain's are refused, before anything changes.
    for (name, edited, expected) in [
        (
            "promoting to staging",
            body.replace(r#""env":"prod""#, r#""env":"staging""#),
            "promotes from `staging` to `staging`, but the settings' environments_chain promotes from `staging` to `prod`",
        ),
        (
            "promoting from prod",
            body.replace(r#""from":"staging""#, r#""from":"prod""#),
            "promotes from `prod` to `prod`",
        ),
        (
            "today's flow",
            body.replace(r#","env":"prod","from":"staging""#, ""),
            "promotes from no environment to no environment",
        ),
        (
            "prod's own runtime",
            body.replace(r#""runtime":"echo_bot_staging""#, r#""runtime":"echo_bot_prod""#),
            "but its staging runtime is `echo_bot_staging`",
        ),
    ] {
        assert_ne!(edited, body, "{name}");
        let err = format!("{:#}", story.approve(&edited, "admin").await.unwrap_err());
        assert!(err.contains(expected), "{name}: {err}");
        assert_eq!(live_on("echo_bot_prod", "prod").await.as_deref(), Some("1"), "{name}");
    }

    // Staging's zip changed in S3 after its version was made: refused, and prod makes no version.
    let key = "echo_bot_staging/v2/code.zip";
    let original = story.aws.s3.get_object().bucket(STAGING_BUCKET).key(key).send().await.unwrap();
    let original = original.body.collect().await.unwrap().into_bytes();
    let put = |bytes: Vec<u8>| clients.s3.put_object().bucket(STAGING_BUCKET).key(key).body(bytes.into()).send();
    put(b"tampered".to_vec()).await.unwrap();
    let err = format!("{:#}", story.approve(&body, "admin").await.unwrap_err());
    assert!(err.contains("refusing the zip of staging's echo_bot_staging version 2"), "{err}");
    assert!(story.last_out().contains("Promotion refused"));
    let prod_id = aws::find_runtime(&story.aws, "echo_bot_prod").await.unwrap().unwrap().agent_runtime_id().to_owned();
    assert_eq!(aws::list_versions(&story.aws, &prod_id).await.unwrap().len(), 1, "no version was made");
    put(original.to_vec()).await.unwrap();

    // The approval: prod version 2 made of staging version 2's very zip, live; PR 12's runtime goes.
    let report = story.approve(&body, "write").await.unwrap();
    assert_eq!((report.result.as_str(), report.deleted.as_slice()), ("promoted", &["echo_bot_pr_12".to_owned()][..]));
    assert_eq!(live_on("echo_bot_prod", "prod").await.as_deref(), Some("2"));
    let staging = record(STAGING_BUCKET, "echo_bot_staging/v2/record.json".into()).await;
    let prod = record(PROD_BUCKET, "echo_bot_prod/v2/record.json".into()).await;
    assert_eq!(prod["zip_sha256"], staging["zip_sha256"]);
    assert_eq!((prod["env"].as_str(), staging["env"].as_str()), (Some("prod"), Some("staging")));
    assert_eq!(prod["source"]["env"], "staging");
    assert_eq!(prod["source"]["version"], "2");
    assert_eq!(prod["source"]["runtime_id"], staging["runtime_id"]);
    assert_eq!(prod["source"]["zip_sha256"], staging["zip_sha256"]);
    let summary = story.last_out();
    assert!(summary.contains("| `echo_bot` | `2` | `echo_bot_prod` | `2` | updated |"), "{summary}");

    // The bootstrap approval replayed cannot take older bytes to prod.
    let err = format!("{:#}", story.approve(&bootstrap, "admin").await.unwrap_err());
    assert!(err.contains("serves the zip of staging version 2, newer than 1"), "{err}");
    assert_eq!(live_on("echo_bot_prod", "prod").await.as_deref(), Some("2"));
    // The same approval again converges: nothing new is made.
    let report = story.approve(&body, "write").await.unwrap();
    assert!(report.markdown.unwrap().contains("already_live"));
    assert_eq!(aws::list_versions(&story.aws, &prod_id).await.unwrap().len(), 2);

    // A merge whose zip is not the preview's is flagged.
    story.pr_deploy("pr_opened.json", 14, "pr14", &["prompts/weather_report_bot.txt"]).await;
    let merged = [("echo_bot", "pr12"), ("weather_report_bot", "main-14")];
    let (report, _) = story.prod_deploy(&merged, Some(story.pulls(14)), &[]).await;
    assert_eq!(report.agents, ["weather_report_bot"]);
    let body = report.markdown.unwrap();
    assert!(body.contains("| **no** |") && body.contains("[!WARNING]"), "{body}");
    assert!(body.contains("The zip of `weather_report_bot` is not the one PR #14's preview ran"), "{body}");

    // A merged pull request that never had a preview (a fork's, say): the issue says there was none,
    // and warns that these bytes were not tried.
    let merged = [("echo_bot", "pr12"), ("weather_report_bot", "main-15")];
    let (report, _) = story.prod_deploy(&merged, Some(story.pulls(15)), &[]).await;
    assert_eq!(report.agents, ["weather_report_bot"]);
    let body = report.markdown.unwrap();
    assert!(body.contains("### Same bytes as the preview"), "{body}");
    assert!(body.contains("| - | - | no preview |"), "{body}");
    assert!(body.contains("The zip of `weather_report_bot` is not the one PR #15's preview ran"), "{body}");
    assert!(body.contains("or the preview was never deployed"), "{body}");
    stack.shutdown().await;
}
