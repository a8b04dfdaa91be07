//! Which agents a command works on: named ones, `--all`, or those changed since a git ref.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::agents::{self, Agent};
use crate::context::Ctx;

/// Agent selection shared by every command that works on agents.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Agents by directory name under agents/
    #[arg(value_name = "AGENT")]
    pub(crate) agents: Vec<String>,
    /// Every agent under agents/
    #[arg(long, conflicts_with = "agents")]
    pub all: bool,
    /// The agents whose files (or the shared tooling) changed since this git ref
    #[arg(long, value_name = "REF", conflicts_with_all = ["agents", "all"])]
    pub(crate) changed_since: Option<String>,
}

/// Files whose change affects every agent: the tooling that builds and ships them.
const SHARED_PATHS: &[&str] = &["Cargo.toml", "Cargo.lock", "xtask/", ".cargo/"];

impl Selection {
    pub(crate) fn resolve(&self, ctx: &Ctx) -> Result<Vec<Agent>> {
        let all = agents::discover(&ctx.root, &ctx.settings)?;
        if self.all {
            return Ok(all);
        }
        if let Some(reference) = &self.changed_since {
            let changed = changed_files(&ctx.root, reference)?;
            return Ok(affected(&ctx.root, &all, &changed));
        }
        if self.agents.is_empty() {
            let known: Vec<&str> = all.iter().map(|agent| agent.name.as_str()).collect();
            bail!(
                "name at least one agent ({}), or pass --all or --changed-since REF",
                if known.is_empty() {
                    "none exist under agents/ yet".to_owned()
                } else {
                    format!("known: {}", known.join(", "))
                }
            );
        }
        agents::pick(&all, &self.agents)
    }
}

/// Paths (relative to the root) changed between `reference` and the working tree.
pub(crate) fn changed_files(root: &Path, reference: &str) -> Result<Vec<String>> {
    if reference.starts_with('-') {
        bail!("--changed-since `{reference}` is not a git ref");
    }
    let sh = xshell::Shell::new()?;
    sh.change_dir(root);
    let base = xshell::cmd!(sh, "git merge-base {reference} HEAD").quiet().read().with_context(|| {
        format!("cannot find `{reference}` in git history; fetch it first (e.g. `git fetch origin {reference}`)")
    })?;
    let tracked = xshell::cmd!(sh, "git diff --name-only {base} --").quiet().read()?;
    let untracked = xshell::cmd!(sh, "git ls-files --others --exclude-standard").quiet().read()?;
    Ok(tracked.lines().chain(untracked.lines()).map(str::to_owned).collect())
}

/// Whether `sha` names a commit of the repository at `root` (false outside a git checkout).
pub fn has_commit(root: &Path, sha: &str) -> bool {
    let Ok(sh) = xshell::Shell::new() else { return false };
    sh.change_dir(root);
    let object = format!("{sha}^{{commit}}");
    xshell::cmd!(sh, "git cat-file -e {object}").quiet().ignore_stdout().ignore_stderr().run().is_ok()
}

/// The agents that `changed` paths affect, in `all`'s order.
pub(crate) fn affected(root: &Path, all: &[Agent], changed: &[String]) -> Vec<Agent> {
    if changed.iter().any(|path| {
        SHARED_PATHS.iter().any(|shared| path == shared || (shared.ends_with('/') && path.starts_with(shared)))
    }) {
        return all.to_vec();
    }
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    all.iter()
        .filter(|agent| {
            let dir = relative(root, &agent.dir) + "/";
            let prompt = relative(root, &agent.prompt);
            changed.iter().any(|path| path.starts_with(&dir) || *path == prompt)
        })
        .cloned()
        .collect()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}
