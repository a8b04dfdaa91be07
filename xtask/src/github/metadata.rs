//! The hidden metadata block of a deployment issue: how it is written, and the strict parser that
//! reads it back.
//!
//! The block is a pointer, never the authority: it names a pull request, a commit and, per agent, a
//! version. Runtime names are recomputed from the naming scheme, agents must exist, and every
//! version is checked against AgentCore before anything changes.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::agents::Agent;
use crate::context::Ctx;
use crate::naming::{Scheme, Target};

/// Opens the block; the compact JSON follows on the same line, then ` -->`.
pub const OPEN: &str = "<!-- agentcore:metadata ";
pub const CLOSE: &str = " -->";
/// Anything that mentions the block's tag counts as a block, so near-miss copies are refused too.
const TAG: &str = "agentcore:metadata";
/// GitHub caps issue bodies at 65536 characters; anything longer did not come from the bot.
pub const MAX_BODY_BYTES: usize = 65_536;
/// The JSON itself stays small: a few agents with short names.
pub const MAX_BLOCK_BYTES: usize = 4_096;
/// More agents than this in one deployment is not something the bot writes.
pub(crate) const MAX_AGENTS: usize = 50;
/// Version 1 of the block's format.
pub const FORMAT: u32 = 1;

/// What a deployment issue records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Format version, always [`FORMAT`].
    pub v: u32,
    /// The merged pull request, if the push came from one.
    pub pr: Option<u64>,
    /// The commit on main that was deployed (40 lowercase hex digits).
    pub commit: String,
    /// With an `environments_chain`: the environment the approval promotes to. Absent in today's
    /// single-prod flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// With an `environments_chain`: the environment whose versions `agents` names, live there
    /// already; the approval deploys their very zips to `env`. Absent in today's flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub agents: Vec<AgentVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentVersion {
    pub agent: String,
    /// Informational: the parser recomputes it and refuses a body where it differs.
    pub runtime: String,
    /// AgentCore's version string: decimal 1 to 99999, no sign, no leading zero.
    pub version: String,
}

/// A validated promotion: agents that exist, with recomputed runtime names and checked versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub pr: Option<u64>,
    pub commit: String,
    /// The environment the approval makes the versions live in, checked against the settings:
    /// `prod`, or the chain's second environment.
    pub env: String,
    /// With a chain: the environment the versions are of (the chain's first), whose zips the
    /// approval deploys to `env`.
    pub from: Option<String>,
    pub agents: Vec<VerifiedAgent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedAgent {
    pub(crate) agent: String,
    /// The runtime whose version the issue names, from the naming scheme: the prod runtime, or with
    /// a chain the first environment's.
    pub(crate) runtime: String,
    pub version: u32,
    /// This agent's runtime for the pull request, from the naming scheme (it may already be gone).
    pub pr_runtime: Option<String>,
}

impl Metadata {
    /// The block as it appears in an issue body: one line, compact JSON, ASCII only.
    pub fn render(&self) -> String {
        let json = serde_json::to_string(self).expect("metadata serializes");
        format!("{OPEN}{json}{CLOSE}")
    }
}

/// Parses a version as AgentCore writes it: `1` to `99999`, decimal digits only.
pub(crate) fn parse_version(text: &str) -> Result<u32> {
    let bytes = text.as_bytes();
    let well_formed = (1..=5).contains(&bytes.len()) && bytes[0] != b'0' && bytes.iter().all(u8::is_ascii_digit);
    if !well_formed {
        bail!("version `{}` is not a number from 1 to 99999 written in plain decimal digits", text.escape_default());
    }
    Ok(text.parse().expect("five ASCII digits fit in u32"))
}

fn is_lower_hex_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Extracts the one metadata block from an issue body and checks its shape. Refuses bodies that are
/// oversized, hold zero or several blocks, hide the block in a code fence, or carry anything but
/// ASCII inside it.
pub fn extract(body: &str) -> Result<Metadata> {
    if body.len() > MAX_BODY_BYTES {
        bail!("the issue body is {} bytes, over the {MAX_BODY_BYTES} a deployment issue can hold", body.len());
    }
    let mentions = body.matches(TAG).count();
    if mentions == 0 {
        bail!("the issue body holds no `{TAG}` block; only issues opened by the prod-deploy workflow can be approved");
    }
    if mentions > 1 {
        bail!("the issue body mentions `{TAG}` {mentions} times; exactly one metadata block is allowed");
    }
    let mut fence: Option<(u8, usize)> = None;
    let mut found = None;
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = &line[indent..];
        // CommonMark fences: ``` or ~~~ (three or more), indented at most three spaces.
        if indent <= 3 {
            for marker in [b'`', b'~'] {
                let run = trimmed.bytes().take_while(|b| *b == marker).count();
                if run >= 3 {
                    match fence {
                        None => fence = Some((marker, run)),
                        Some((open, len)) if open == marker && run >= len && is_blank(&trimmed[run..]) => fence = None,
                        Some(_) => {}
                    }
                }
            }
        }
        if line.contains(TAG) {
            if fence.is_some() {
                bail!("the metadata block sits inside a code fence; the bot never writes it there");
            }
            if !line.starts_with(OPEN) || !line.ends_with(CLOSE) {
                bail!("the metadata block must be a line of its own: `{OPEN}{{...}}{CLOSE}`");
            }
            found = Some(&line[OPEN.len()..line.len() - CLOSE.len()]);
        }
    }
    let Some(json) = found else {
        // The tag is there but not on a line of its own (e.g. split across a carriage return).
        bail!("the metadata block must be a line of its own: `{OPEN}{{...}}{CLOSE}`");
    };
    if json.len() > MAX_BLOCK_BYTES {
        bail!("the metadata block is {} bytes, over the limit of {MAX_BLOCK_BYTES}", json.len());
    }
    if let Some(c) = json.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        bail!("the metadata block holds the character U+{:04X}; it must be plain ASCII", u32::from(c));
    }
    let metadata: Metadata =
        serde_json::from_str(json).map_err(|err| anyhow::anyhow!("the metadata block is not valid: {err}"))?;
    if metadata.v != FORMAT {
        bail!("the metadata block has format version {}, this tool reads version {FORMAT}", metadata.v);
    }
    if metadata.pr == Some(0) {
        bail!("the metadata block names pull request 0; pull request numbers start at 1");
    }
    if !is_lower_hex_sha(&metadata.commit) {
        bail!("the metadata block's commit `{}` is not a 40-digit lowercase hex SHA", metadata.commit);
    }
    for (key, name) in [("env", &metadata.env), ("from", &metadata.from)] {
        if let Some(name) = name
            && !(1..=24).contains(&name.len())
        {
            bail!("the metadata block's {key} `{}` is not an environment name", name.escape_default());
        }
    }
    if metadata.agents.is_empty() || metadata.agents.len() > MAX_AGENTS {
        bail!("the metadata block must list 1 to {MAX_AGENTS} agents, it lists {}", metadata.agents.len());
    }
    Ok(metadata)
}

/// Whether what follows a closing fence leaves it one: only spaces and tabs, as CommonMark says. A
/// no-break space or a vertical tab is text, and GitHub keeps the fence open.
fn is_blank(rest: &str) -> bool {
    rest.bytes().all(|byte| byte == b' ' || byte == b'\t')
}

/// Checks a parsed block against the workspace: agents exist, each is listed once, runtime names
/// are the scheme's own, versions are well formed, and the environments are the ones the settings'
/// flow promotes between (none named in today's single-prod flow; with an `environments_chain`,
/// from its first to its second). Nothing here trusts the body's runtime or environment names.
pub fn verify(metadata: &Metadata, agents: &[Agent], ctx: &Ctx) -> Result<Verified> {
    let flow = super::Flow::of(ctx)?;
    let named = (metadata.from.as_deref(), metadata.env.as_deref());
    let (env, from, scheme) = if flow.chained() {
        let (first, second) = (flow.merge.env_name(), flow.approve.env_name());
        if named != (Some(first), Some(second)) {
            bail!(
                "the metadata block promotes from {} to {}, but the settings' environments_chain promotes from `{first}` to `{second}`",
                shown(named.0),
                shown(named.1)
            );
        }
        (second.to_owned(), Some(first.to_owned()), flow.merge.settings.scheme())
    } else {
        if named != (None, None) {
            bail!(
                "the metadata block promotes from {} to {}, but the settings have no environments_chain: an approval makes prod's own versions live",
                shown(named.0),
                shown(named.1)
            );
        }
        (flow.approve.env_name().to_owned(), None, flow.approve.settings.scheme())
    };
    let mut verified = verify_agents(metadata, agents, &scheme)?;
    verified.env = env;
    verified.from = from;
    Ok(verified)
}

/// An environment name of a block as its refusal shows it.
fn shown(name: Option<&str>) -> String {
    name.map_or_else(|| "no environment".to_owned(), |name| format!("`{}`", name.escape_default()))
}

/// [`verify`]'s checks of the agents, their runtime names (made by `scheme`) and versions.
fn verify_agents(metadata: &Metadata, agents: &[Agent], scheme: &Scheme) -> Result<Verified> {
    let mut seen = BTreeSet::new();
    let mut verified = Vec::new();
    for entry in &metadata.agents {
        let Some(agent) = agents.iter().find(|agent| agent.name == entry.agent) else {
            bail!(
                "the metadata block names agent `{}`, which is not in agents/ (known agents: {})",
                entry.agent,
                agents.iter().map(|agent| agent.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        };
        if !seen.insert(agent.name.as_str()) {
            bail!("the metadata block lists agent `{}` twice", agent.name);
        }
        let runtime = scheme.runtime_name(&agent.name, Target::Prod)?;
        if entry.runtime != runtime {
            let whose = metadata.from.as_deref().unwrap_or("prod");
            bail!(
                "the metadata block names runtime `{}` for agent `{}`, but its {whose} runtime is `{runtime}`",
                entry.runtime,
                agent.name
            );
        }
        let version = parse_version(&entry.version)?;
        let pr_runtime = metadata.pr.map(|pr| scheme.runtime_name(&agent.name, Target::Pr(pr))).transpose()?;
        verified.push(VerifiedAgent { agent: agent.name.clone(), runtime, version, pr_runtime });
    }
    Ok(Verified {
        pr: metadata.pr,
        commit: metadata.commit.clone(),
        env: crate::settings::PROD.to_owned(),
        from: None,
        agents: verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_plain_decimal() {
        for good in ["1", "9", "10", "99999"] {
            assert_eq!(parse_version(good).unwrap().to_string(), good);
        }
        for bad in ["", "0", "-1", "+1", "01", "v2", "100000", " 1", "1 ", "1.0", "١", "１", "0x1"] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn render_then_extract_round_trips() {
        let metadata = Metadata {
            v: FORMAT,
            pr: Some(7),
            commit: "a".repeat(40),
            env: None,
            from: None,
            agents: vec![AgentVersion { agent: "bot".into(), runtime: "bot_prod".into(), version: "3".into() }],
        };
        let body = format!("# Deploy\n\n{}\n\ntext\n", metadata.render());
        assert_eq!(extract(&body).unwrap(), metadata);
    }
}
