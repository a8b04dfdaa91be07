//! What the integration tests share: the one way to build a context, to run the binary in a clean
//! environment, to copy a workspace, and the one snapshot configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use xtask::context::Ctx;
use xtask::context::{AwsArgs, GithubFiles};
use xtask::settings::Settings;

/// This checkout of the repository.
pub fn repo_root() -> PathBuf {
    xtask::settings::workspace_root()
}

/// The release-flow fixture (`tests/fixtures/release`): two tiny agents the deploy and GitHub tests
/// ship from zips they write, so those tests hold whatever `agents/` holds. Tests use it in place and
/// write nothing into it; one that packages works on a copy ([`copy_workspace`]).
pub fn release_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/release")
}

/// The context of the workspace at `root`, its settings read from its `Cargo.toml` as the binary
/// reads them. It names no GitHub files: a command the tests run in-process never writes into the
/// `$GITHUB_OUTPUT` or `$GITHUB_STEP_SUMMARY` of a CI running them.
pub fn ctx(root: &Path, aws: AwsArgs) -> Ctx {
    let settings = Settings::from_workspace(root).unwrap_or_else(|err| panic!("{err:#}"));
    Ctx::new(root.to_path_buf(), settings, aws, false, GithubFiles::default())
}

/// `$GITHUB_OUTPUT` as the tool writes it (`key<<DELIMITER`, value lines, `DELIMITER`): key → value.
pub fn github_outputs(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (key, delimiter) = line.split_once("<<").unwrap_or_else(|| panic!("not a `key<<DELIMITER` line: {line}"));
        let mut value = Vec::new();
        for next in lines.by_ref() {
            if next == delimiter {
                break;
            }
            value.push(next);
        }
        assert!(outputs.insert(key.to_owned(), value.join("\n")).is_none(), "{key} written twice");
    }
    outputs
}

/// Variables of the machine running the tests that the binary reads, and that no test may inherit:
/// `AWS_*` (credentials, profiles, endpoints), `AGENTCORE_*` (settings, the workspace), `GITHUB_*`
/// (the `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` of a CI running the tests, `GITHUB_ACTIONS`,
/// `GITHUB_SHA`), `CI` (which, like `GITHUB_ACTIONS`, turns off the local-stack default), and the
/// `CARGO_MANIFEST_DIR` that `cargo test` sets, which points the binary at this checkout.
fn inherited(name: &str) -> bool {
    ["AWS_", "AGENTCORE_", "GITHUB_"].iter().any(|prefix| name.starts_with(prefix))
        || name == "CI"
        || name == "CARGO_MANIFEST_DIR"
}

/// The `xtask` binary, in a [`clean_env`] for the workspace at `root`: the one way the tests run it.
/// A test sets (or removes) what it means to on the command it gets.
pub fn xtask_command(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    clean_env(&mut command, root);
    command
}

/// The environment the binary runs in, set on `command` (the binary, or a program that runs it):
/// the workspace at `root` (`AGENTCORE_WORKSPACE`, and the working directory), none of the
/// machine's [`inherited`] variables, no shared AWS files and no instance metadata, and no terminal
/// on stdin.
pub fn clean_env(command: &mut Command, root: &Path) {
    for (name, _) in std::env::vars_os() {
        if inherited(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AGENTCORE_WORKSPACE", root)
        // Help text wraps at the terminal's width: the same width everywhere.
        .env("COLUMNS", "100")
        .current_dir(root)
        .stdin(Stdio::null());
}

/// Runs a command to its end: whether it succeeded, its stdout and its stderr.
pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.success(), text(output.stdout), text(output.stderr))
}

/// [`run`] from an async test, off the runtime's threads.
pub async fn run_async(mut command: Command) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || run(&mut command)).await.unwrap()
}

/// Copies the workspace at `from` into `to` (made if missing): its files as they are, without what
/// builds and tools leave (`target/` at the top, `.venv`, `__pycache__`) and without `.git`, be it a
/// directory or the file a git worktree has, which points at the checkout's own repository.
pub fn copy_workspace(from: &Path, to: &Path) {
    let skipped = |entry: &walkdir::DirEntry| {
        let name = entry.file_name().to_string_lossy();
        name == ".git"
            || entry.file_type().is_dir()
                && (matches!(&*name, ".venv" | "__pycache__") || (entry.depth() == 1 && name == "target"))
    };
    for entry in walkdir::WalkDir::new(from).into_iter().filter_entry(|entry| !skipped(entry)) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|err| panic!("copy {}: {err}", entry.path().display()));
        }
    }
}

/// The one insta configuration of this test binary: every snapshot in `xtask/tests/it/snapshots/`,
/// named `<module path>__<name>.snap` (insta's own scheme), with what differs between machines and
/// runs filtered out: temporary paths, loopback ports and times.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    let temp = std::env::temp_dir();
    let temp = temp.to_string_lossy();
    settings.add_filter(&format!(r"{}/\.tmp[A-Za-z0-9]+", regex::escape(temp.trim_end_matches('/'))), "[TEMP]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\d{8}T\d{9}Z", "[TIME]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    settings
}

/// [`snapshot_settings`] for what a deploy makes anew on every run: runtime ids, zip hashes and the
/// commit. Packaging snapshots keep their hashes (the zips are deterministic: the hashes are what they
/// check), and rendered markdown its fixed inputs.
pub fn release_snapshot_settings() -> insta::Settings {
    let mut settings = snapshot_settings();
    // Same-length replacements keep the human tables aligned.
    settings.add_filter(r"\b([a-zA-Z][a-zA-Z0-9_]*)-[a-zA-Z0-9]{10}\b", "$1-XXXXXXXXXX");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    settings
}

/// The buckets of [`environments_workspace`]'s two environments.
pub const STAGING_BUCKET: &str = "agentcore-staging-123456789012";
pub const PROD_BUCKET: &str = "agentcore-prod-210987654321";
/// Prod's runtimes are in another account: its calls use this role (the local stack, one account,
/// ignores it).
pub const PROD_DEPLOY_ROLE: &str = "arn:aws:iam::210987654321:role/AgentCoreDeploy";

/// The release fixture with two environments and a chain.
pub fn environments_workspace(root: &Path) {
    copy_workspace(&release_fixture(), root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        "uv_version = \"0.13.8\"\n",
        &format!(
            "uv_version = \"0.13.8\"\n\
             environments_chain = [\"staging\", \"prod\"]\n\n\
             [workspace.metadata.agentcore.environments.staging]\n\
             bucket = \"{STAGING_BUCKET}\"\n\
             endpoint = \"live\"\n\n\
             [workspace.metadata.agentcore.environments.prod]\n\
             region = \"eu-west-1\"\n\
             bucket = \"{PROD_BUCKET}\"\n\
             role_arn = \"arn:aws:iam::210987654321:role/AgentCoreRuntimeRole\"\n\
             assume_role_arn = \"{PROD_DEPLOY_ROLE}\"\n"
        ),
    );
    std::fs::write(&manifest, text).unwrap();
}
