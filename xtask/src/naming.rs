//! Runtime names: `{agent}_{target}` where the target is `pr_<N>` or the long-lived `prod`.
//!
//! The scheme is injective and reversible: a runtime name gives back its agent and target, so a
//! runtime to delete is always derived from a PR number, never read from untrusted text.

use std::fmt;

use anyhow::{Result, bail};
use regex::Regex;

/// AgentCore's limit on runtime and endpoint names: `[a-zA-Z][a-zA-Z0-9_]{0,47}`.
pub(crate) const NAME_MAX: usize = 48;

pub(crate) fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= NAME_MAX
        && bytes[0].is_ascii_alphabetic()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Where a runtime belongs: one pull request, or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Pr(u64),
    Prod,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pr(number) => write!(f, "PR #{number}"),
            Target::Prod => f.write_str("prod"),
        }
    }
}

/// A parsed naming scheme.
#[derive(Debug, Clone)]
pub struct Scheme {
    template: String,
    prod: String,
    parse: Regex,
}

impl Scheme {
    pub(crate) fn new(template: &str, prod: &str) -> Result<Scheme> {
        for placeholder in ["{agent}", "{target}"] {
            if template.matches(placeholder).count() != 1 {
                bail!(
                    "runtime_name `{template}` must contain `{placeholder}` exactly once, for example `{{agent}}_{{target}}` (--runtime-name, AGENTCORE_RUNTIME_NAME)"
                );
            }
        }
        if template.contains("{agent}{target}") || template.contains("{target}{agent}") {
            bail!("runtime_name `{template}` is ambiguous: separate `{{agent}}` and `{{target}}` with an underscore");
        }
        let literal = template.replace("{agent}", "").replace("{target}", "");
        if !literal.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("runtime_name `{template}` may only add letters, digits and underscores around its placeholders");
        }
        if !is_valid_name(prod) || prod.starts_with("pr_") {
            bail!(
                "prod_runtime `{prod}` must be a letter then letters, digits or underscores, and not start with `pr_` (--prod-runtime, AGENTCORE_PROD_RUNTIME)"
            );
        }
        // Agents are `[a-zA-Z][a-zA-Z0-9_]*`; targets are `pr_<digits>` or the prod name. Placeholders
        // are separated by literal text, and anchoring makes the match unique for both orders.
        let pattern = regex::escape(template)
            .replace(r"\{agent\}", "(?P<agent>[a-zA-Z][a-zA-Z0-9_]*?)")
            .replace(r"\{target\}", &format!("(?P<target>pr_(?P<pr>[1-9][0-9]{{0,8}})|{})", regex::escape(prod)));
        let parse = Regex::new(&format!("^{pattern}$"))?;
        let scheme = Scheme { template: template.to_owned(), prod: prod.to_owned(), parse };
        Ok(scheme)
    }

    /// The runtime name of `agent` for `target`, refused when AgentCore would refuse it.
    pub fn runtime_name(&self, agent: &str, target: Target) -> Result<String> {
        let target_text = match target {
            Target::Pr(0) => bail!("pull request numbers start at 1"),
            Target::Pr(number) => format!("pr_{number}"),
            Target::Prod => self.prod.clone(),
        };
        let name = self.template.replace("{agent}", agent).replace("{target}", &target_text);
        if !is_valid_name(&name) {
            bail!(
                "runtime name `{name}` for agent `{agent}` ({target}) is not valid for AgentCore: at most {NAME_MAX} letters, digits and underscores, starting with a letter; shorten the agent's directory name"
            );
        }
        Ok(name)
    }

    /// The agent and target a runtime name was made from, or `None` if this scheme did not make it.
    pub(crate) fn parse(&self, runtime_name: &str) -> Option<(String, Target)> {
        let captures = self.parse.captures(runtime_name)?;
        let agent = captures.name("agent")?.as_str().to_owned();
        let target = match captures.name("pr") {
            Some(number) => Target::Pr(number.as_str().parse().ok()?),
            None => Target::Prod,
        };
        // Round-trip so that only names this scheme would produce are accepted.
        (self.runtime_name(&agent, target).ok()? == runtime_name).then_some((agent, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let scheme = Scheme::new("{agent}_{target}", "prod").unwrap();
        for (agent, target, name) in [
            ("dad_joke_bot", Target::Pr(12), "dad_joke_bot_pr_12"),
            ("dad_joke_bot", Target::Prod, "dad_joke_bot_prod"),
            ("x_pr_3", Target::Prod, "x_pr_3_prod"),
            ("a_prod", Target::Pr(7), "a_prod_pr_7"),
        ] {
            assert_eq!(scheme.runtime_name(agent, target).unwrap(), name);
            assert_eq!(scheme.parse(name), Some((agent.to_owned(), target)), "{name}");
        }
        assert_eq!(scheme.parse("dad_joke_bot"), None);
        assert_eq!(scheme.parse("dad_joke_bot_pr_0"), None);
        assert_eq!(scheme.parse("dad_joke_bot_pr_01"), None);
        assert_eq!(scheme.parse("bot-pr_1"), None);
    }

    #[test]
    fn target_first_scheme() {
        let scheme = Scheme::new("{target}_{agent}", "live").unwrap();
        assert_eq!(scheme.runtime_name("bot", Target::Pr(4)).unwrap(), "pr_4_bot");
        assert_eq!(scheme.parse("pr_4_bot"), Some(("bot".into(), Target::Pr(4))));
        assert_eq!(scheme.parse("live_bot"), Some(("bot".into(), Target::Prod)));
    }

    #[test]
    fn refuses_bad_schemes_and_names() {
        assert!(Scheme::new("{agent}", "prod").unwrap_err().to_string().contains("`{target}` exactly once"));
        assert!(Scheme::new("{agent}-{target}", "prod").is_err());
        assert!(Scheme::new("{agent}{target}", "prod").unwrap_err().to_string().contains("ambiguous"));
        assert!(Scheme::new("{agent}_{target}", "pr_1").is_err());
        let scheme = Scheme::new("{agent}_{target}", "prod").unwrap();
        let long = "a".repeat(44);
        let err = scheme.runtime_name(&long, Target::Pr(12345)).unwrap_err().to_string();
        assert!(err.contains("shorten"), "{err}");
        assert!(scheme.runtime_name("bot", Target::Pr(0)).is_err());
    }
}
