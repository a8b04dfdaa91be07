//! Command-line interface: one subcommand per module, dispatched by a single match.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::context::{AwsArgs, Ctx, GithubFiles, block_on};
#[cfg(feature = "local")]
use crate::local;
use crate::settings::SettingsArgs;
use crate::{bench, cleanup, deploy, github, package, promote, prune, status};

/// Package, deploy, promote and roll back the monorepo's Bedrock AgentCore agents.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print results as JSON on stdout (progress stays on stderr)
    #[arg(long, global = true, display_order = 900)]
    pub(crate) json: bool,
    #[command(flatten, next_help_heading = "Project settings (override [workspace.metadata.agentcore])")]
    pub(crate) settings: SettingsArgs,
    #[command(flatten, next_help_heading = "AWS access")]
    pub aws: AwsArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build each agent's deterministic deployment zip (ARM64 dependencies included)
    Package(package::PackageArgs),
    /// Package, upload and create or update each agent's runtime for a PR or for prod
    Deploy(deploy::DeployArgs),
    /// Point an endpoint (default: prod) at a version
    Promote(promote::PromoteArgs),
    /// Point an endpoint back at the version it served before, or at --to N
    Rollback(promote::RollbackArgs),
    /// Delete runtimes (endpoints first); code zips and records stay in S3
    Cleanup(cleanup::CleanupArgs),
    /// Delete old versions of the prod runtimes that no endpoint or rollback needs
    Prune(prune::PruneArgs),
    /// Runtimes, versions, endpoints and quota use
    Status(status::StatusArgs),
    /// Call an agent through AgentCore's data plane and print its answer as it streams
    Invoke(crate::invoke::InvokeArgs),
    /// The bundled local AgentCore stack (control and data planes, S3, a Bedrock stand-in)
    #[cfg(feature = "local")]
    #[command(subcommand)]
    Local(local::LocalCommand),
    /// Steps of the GitHub workflows, driven by the event payload
    #[command(subcommand)]
    Github(github::GithubCommand),
    /// Benchmarks against a baseline measured in the same run
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read once, here: the context carries them to the commands, so nothing else reads the variables.
    let github = GithubFiles::from_env();
    match run(cli, &github) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            report_failure_to_github(&github, &format!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn run(cli: Cli, github: &GithubFiles) -> Result<()> {
    let mut aws = cli.aws;
    // Without the bundled stack (workflow builds) there is nothing to fall back to: AWS it is. The
    // fallback is taken, and said, only by a command that connects (`crate::connect`).
    aws.local_fallback = cfg!(feature = "local")
        && !aws.local
        && no_aws_account_configured(&aws, |name| std::env::var_os(name), |path| path.exists());
    let ctx = Ctx::load(crate::settings::find_workspace()?, &cli.settings, aws, cli.json, github.clone())?;
    match cli.command {
        Command::Package(args) => args.run(&ctx),
        Command::Deploy(args) => block_on(args.run(&ctx)),
        Command::Promote(args) => block_on(args.run(&ctx)),
        Command::Rollback(args) => block_on(args.run(&ctx)),
        Command::Cleanup(args) => block_on(args.run(&ctx)),
        Command::Prune(args) => block_on(args.run(&ctx)),
        Command::Status(args) => block_on(args.run(&ctx)),
        Command::Invoke(args) => block_on(args.run(&ctx)),
        #[cfg(feature = "local")]
        Command::Local(command) => block_on(command.run(&ctx)),
        Command::Github(command) => block_on(command.run(&ctx)),
        Command::Bench(command) => command.run(&ctx),
    }
}

/// Whether nothing at all points at an AWS account, judged from the environment and the shared
/// config files only (no network). Then the bundled local stack is the default. CI never falls back:
/// a workflow missing its credentials must fail, not deploy somewhere else.
pub(crate) fn no_aws_account_configured(
    aws: &AwsArgs,
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
    exists: impl Fn(&std::path::Path) -> bool,
) -> bool {
    const SIGNALS: &[&str] = &[
        "CI",
        "GITHUB_ACTIONS",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
    ];
    if aws.profile.is_some() || aws.endpoint_url.is_some() || SIGNALS.iter().any(|name| var(name).is_some()) {
        return false;
    }
    let home = var("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        var(variable).map(PathBuf::from).or_else(|| home.as_ref().map(|home| home.join(".aws").join(default)))
    };
    let files = [file("AWS_CONFIG_FILE", "config"), file("AWS_SHARED_CREDENTIALS_FILE", "credentials")];
    !files.iter().flatten().any(|path| exists(path))
}

/// Inside GitHub Actions a failed step still leaves an `error` output and a readable summary.
fn report_failure_to_github(github: &GithubFiles, message: &str) {
    let longest_run = message.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    let summary = format!("### cargo xtask failed\n\n{fence}text\n{message}\n{fence}\n");
    // Best effort: the error itself is already on stderr.
    let _ = crate::output::github_output(github, "error", message);
    let _ = crate::output::step_summary(github, &summary);
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn local_stack_is_the_default_only_without_any_aws_configuration() {
        use std::collections::HashMap;
        use std::path::Path;
        let bare = |vars: &[(&str, &str)], files: &[&str], aws: &super::AwsArgs| {
            let vars: HashMap<String, std::ffi::OsString> =
                vars.iter().map(|(name, value)| (name.to_string(), value.into())).collect();
            let files: Vec<&Path> = files.iter().map(Path::new).collect();
            super::no_aws_account_configured(aws, |name| vars.get(name).cloned(), |path| files.contains(&path))
        };
        let none = super::AwsArgs::default();
        assert!(bare(&[("HOME", "/home/dev")], &[], &none));
        assert!(!bare(&[("HOME", "/home/dev")], &["/home/dev/.aws/credentials"], &none));
        assert!(!bare(&[("HOME", "/home/dev")], &["/home/dev/.aws/config"], &none));
        assert!(!bare(&[("HOME", "/home/dev"), ("AWS_CONFIG_FILE", "/etc/aws")], &["/etc/aws"], &none));
        assert!(bare(&[("HOME", "/home/dev"), ("AWS_CONFIG_FILE", "/etc/aws")], &["/home/dev/.aws/other"], &none));
        for signal in ["CI", "GITHUB_ACTIONS", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"] {
            assert!(!bare(&[("HOME", "/home/dev"), (signal, "x")], &[], &none), "{signal}");
        }
        let profile = super::AwsArgs { profile: Some("dev".into()), ..Default::default() };
        assert!(!bare(&[("HOME", "/home/dev")], &[], &profile));
    }

    /// clap checks the whole command tree (duplicate flags, bad defaults) only when asked.
    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
