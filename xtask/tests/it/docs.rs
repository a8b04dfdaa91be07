//! The documentation holds: README.md and docs/*.md link only to files and headings that exist,
//! every `cargo xtask` command line they show parses as the binary parses it, README's quick start
//! is the one CI relies on, the documented ways to try the GitHub steps run in a fresh clone, and
//! code that sends readers to a section of them names one that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use clap::CommandFactory;
use clap::Parser;
use clap::error::ErrorKind;
use regex::Regex;
use xtask::cli::{Cli, Command};

use crate::support::{clean_env, copy_workspace, repo_root, run};

/// One Markdown file: its path relative to the repository root (`/`-separated) and its text.
struct Doc {
    path: String,
    text: String,
}

/// README.md, then docs/*.md in name order.
fn docs(root: &Path) -> Vec<Doc> {
    let mut paths = vec!["README.md".to_owned()];
    let mut in_docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ holds the reference README.md links to")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    in_docs.sort();
    paths.extend(in_docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(root.join(&path)).unwrap_or_else(|err| panic!("{path}: {err}"));
            Doc { path, text }
        })
        .collect()
}

/// What a Markdown file holds, as far as these checks care. Line numbers count from 1.
#[derive(Default)]
struct Scan {
    /// Heading texts (ATX headings outside code blocks), in order.
    headings: Vec<String>,
    /// Lines of fenced code blocks, a trailing `\` joining a line to the next: (first line, text).
    code: Vec<(usize, String)>,
    /// Paragraphs outside code blocks, headings and table rows included: (first line, text).
    prose: Vec<(usize, String)>,
}

fn scan(text: &str) -> Scan {
    let mut scan = Scan::default();
    // (fence character, its length) while inside a fenced block.
    let mut fence: Option<(char, usize)> = None;
    let mut paragraph: Option<(usize, String)> = None;
    let mut continued: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        if let Some((c, length)) = fence {
            if run(c) >= length && trimmed.trim_start_matches(c).trim().is_empty() {
                scan.code.extend(continued.take());
                fence = None;
            } else {
                let (start, mut joined) = continued.take().unwrap_or((number, String::new()));
                match line.trim_end().strip_suffix('\\') {
                    Some(head) => {
                        joined.push_str(head);
                        joined.push(' ');
                        continued = Some((start, joined));
                    }
                    None => {
                        joined.push_str(line);
                        scan.code.push((start, joined));
                    }
                }
            }
            continue;
        }
        let opening = ['`', '~'].into_iter().find(|&c| run(c) >= 3);
        if let Some(c) = opening {
            scan.prose.extend(paragraph.take());
            fence = Some((c, run(c)));
            continue;
        }
        if trimmed.is_empty() {
            scan.prose.extend(paragraph.take());
            continue;
        }
        let hashes = run('#');
        if (1..=6).contains(&hashes) && trimmed[hashes..].chars().next().is_none_or(char::is_whitespace) {
            scan.prose.extend(paragraph.take());
            let heading = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
            scan.headings.push(heading.to_owned());
            scan.prose.push((number, heading.to_owned()));
            continue;
        }
        match &mut paragraph {
            Some((_, text)) => {
                text.push('\n');
                text.push_str(line);
            }
            None => paragraph = Some((number, line.to_owned())),
        }
    }
    scan.prose.extend(paragraph);
    scan
}

/// The code spans of a paragraph, (byte offset, content), and the paragraph with them blanked out,
/// so that a link shown as code is not taken for a link.
fn code_spans(text: &str) -> (Vec<(usize, String)>, String) {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut outside = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            let next = text[i..].find('`').map_or(text.len(), |at| i + at);
            outside.push_str(&text[i..next]);
            i = next;
            continue;
        }
        let ticks = text[i..].bytes().take_while(|&b| b == b'`').count();
        let opener = &text[i..i + ticks];
        // The closing run has exactly as many backticks.
        let mut search = i + ticks;
        let mut close = None;
        while let Some(at) = text[search..].find(opener) {
            let start = search + at;
            let length = text[start..].bytes().take_while(|&b| b == b'`').count();
            if length == ticks {
                close = Some(start);
                break;
            }
            search = start + length;
        }
        match close {
            Some(close) => {
                let content = text[i + ticks..close].replace('\n', " ");
                spans.push((i, content.trim().to_owned()));
                outside.push_str(&" ".repeat(close + ticks - i));
                i = close + ticks;
            }
            None => {
                outside.push_str(opener);
                i += ticks;
            }
        }
    }
    (spans, outside)
}

/// GitHub's anchor of a heading: the rendered text lowercased, spaces to hyphens, and everything
/// but letters, digits, `-` and `_` left out (so `` `agent.toml` `` is `agenttoml`).
fn slug(heading: &str) -> String {
    static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap());
    let text = LINK.replace_all(heading, "$1");
    let mut slug = String::new();
    for c in text.chars() {
        if c == ' ' {
            slug.push('-');
        } else if c.is_alphanumeric() || c == '-' || c == '_' {
            slug.extend(c.to_lowercase());
        }
    }
    slug
}

/// Every anchor of a file's headings, numbered as GitHub numbers repeated ones (`x`, `x-1`, …).
fn anchors(headings: &[String]) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for heading in headings {
        let base = slug(heading);
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *count == 0 { base.clone() } else { format!("{base}-{count}") });
        *count += 1;
    }
    anchors
}

/// The anchors of the Markdown file at `path` (relative to `root`): from `docs` when it is one of
/// them, else read from disk.
fn anchors_of(root: &Path, docs: &[Doc], path: &str) -> Option<BTreeSet<String>> {
    let text = match docs.iter().find(|doc| doc.path == path) {
        Some(doc) => doc.text.clone(),
        None => std::fs::read_to_string(root.join(path)).ok()?,
    };
    Some(anchors(&scan(&text).headings))
}

/// `dir/target` with `.` and `..` resolved, or `None` when it leaves the repository.
fn resolve(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let joined = if dir.is_empty() { PathBuf::from(target) } else { Path::new(dir).join(target) };
    for component in joined.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Every relative link of `docs` (inline links, images and reference definitions, outside code)
/// whose file or heading does not exist, as `file:line: problem`.
fn broken_links(root: &Path, docs: &[Doc]) -> Vec<String> {
    static INLINE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)"#).unwrap());
    static DEFINITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$").unwrap());
    static SCHEME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*:").unwrap());
    static LINE_ANCHOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^L\d+(-L\d+)?$").unwrap());
    let mut problems = Vec::new();
    for doc in docs {
        let dir = doc.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for (start, paragraph) in scan(&doc.text).prose {
            let (_, outside) = code_spans(&paragraph);
            let targets = INLINE.captures_iter(&outside).chain(DEFINITION.captures_iter(&outside));
            for captures in targets {
                let whole = captures.get(0).unwrap();
                let line = start + outside[..whole.start()].matches('\n').count();
                let target = &captures[1];
                let at = format!("{}:{line}: link `{target}`", doc.path);
                if target.is_empty() {
                    problems.push(format!("{at} is empty"));
                    continue;
                }
                if SCHEME.is_match(target) || target.starts_with("//") {
                    continue;
                }
                let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
                let file = if path.is_empty() {
                    doc.path.clone()
                } else {
                    match resolve(dir, path) {
                        Some(file) => file,
                        None => {
                            problems.push(format!("{at} leads out of the repository"));
                            continue;
                        }
                    }
                };
                if !path.is_empty() && !root.join(&file).exists() {
                    problems.push(format!("{at}: there is no {file}"));
                    continue;
                }
                if anchor.is_empty() {
                    continue;
                }
                if file.ends_with(".md") {
                    let anchors = anchors_of(root, docs, &file).unwrap_or_default();
                    if !anchors.contains(anchor) {
                        problems.push(format!(
                            "{at}: {file} has no heading whose anchor is `{anchor}`; its anchors: {}",
                            anchors.into_iter().collect::<Vec<_>>().join(", ")
                        ));
                    }
                } else if !LINE_ANCHOR.is_match(anchor) {
                    problems.push(format!("{at}: only Markdown files have heading anchors"));
                }
            }
        }
    }
    problems
}

/// A word of a shell command line, or the end of one command (`;`, `&&`, `||`, `|`, a redirection).
#[derive(Debug, Clone, PartialEq)]
enum Word {
    /// An argument as the shell passes it. `placeholder` when it holds, unquoted, `…`, `<…>`,
    /// brackets, parentheses, an alternatives bar or a `$` expansion: the line is a synopsis.
    Arg {
        text: String,
        placeholder: bool,
    },
    End,
}

/// Splits `line` as a POSIX shell would into words: quotes, backslashes, comments and the
/// operators that end a command. Brackets and parentheses group a synopsis's alternatives, so a
/// `|` inside them is a word, not a pipe.
fn words(line: &str) -> Vec<Word> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut text = String::new();
    let (mut in_word, mut placeholder, mut depth) = (false, false, 0usize);
    let finish = |out: &mut Vec<Word>, text: &mut String, in_word: &mut bool, placeholder: &mut bool| {
        if *in_word {
            out.push(Word::Arg { text: std::mem::take(text), placeholder: *placeholder });
        }
        (*in_word, *placeholder) = (false, false);
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => finish(&mut out, &mut text, &mut in_word, &mut placeholder),
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    text.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) {
                        i += 1;
                    } else if chars[i] == '$' {
                        placeholder = true;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&next) = chars.get(i + 1) {
                    text.push(next);
                    i += 1;
                }
            }
            '#' if !in_word => break,
            // A `>` closing a `<DIR>` placeholder is part of it.
            ';' | '&' | '|' | '>' if depth == 0 && !(c == '>' && text.contains('<')) => {
                finish(&mut out, &mut text, &mut in_word, &mut placeholder);
                out.push(Word::End);
                while matches!(chars.get(i + 1), Some('&' | '|' | '>')) {
                    i += 1;
                }
            }
            // `<DIR>` is a placeholder; a `<` that closes nothing is a redirection.
            '<' if !chars[i..].iter().take_while(|c| !c.is_whitespace()).any(|&c| c == '>') && depth == 0 => {
                finish(&mut out, &mut text, &mut in_word, &mut placeholder);
                out.push(Word::End);
            }
            '(' | '[' | ')' | ']' | '<' | '>' | '|' | '…' | '$' => {
                match c {
                    '(' | '[' => depth += 1,
                    ')' | ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                (in_word, placeholder) = (true, true);
                text.push(c);
            }
            _ => {
                in_word = true;
                text.push(c);
            }
        }
        i += 1;
    }
    finish(&mut out, &mut text, &mut in_word, &mut placeholder);
    out
}

/// The arguments of every xtask invocation in `line`: what follows `cargo xtask` (or the installed
/// binary `xtask`, as workflows run it, at the start of a command) up to the command's end.
fn invocations(line: &str) -> Vec<Vec<Word>> {
    let mut found = Vec::new();
    for command in words(line).split(|word| *word == Word::End) {
        let text = |word: &Word| match word {
            Word::Arg { text, .. } => text.clone(),
            Word::End => String::new(),
        };
        let start = (0..command.len())
            .find(|&at| text(&command[at]) == "cargo" && command.get(at + 1).map(text).as_deref() == Some("xtask"));
        match start {
            Some(at) => found.push(command[at + 2..].to_vec()),
            None if command.first().map(text).as_deref() == Some("xtask") => found.push(command[1..].to_vec()),
            None => {}
        }
    }
    found
}

/// Every xtask invocation of `docs`, in fenced code blocks and code spans: (where, its arguments).
/// A code span of several words that starts with a subcommand (`deploy --all --prod --local`,
/// `github pr-plan`) is one too, the `cargo xtask` left out.
fn command_lines(docs: &[Doc]) -> Vec<(String, Vec<Word>)> {
    let tree = command_tree();
    let subcommands: BTreeSet<&str> =
        tree.get_subcommands().map(clap::Command::get_name).filter(|name| *name != "help").collect();
    let mut lines = Vec::new();
    for doc in docs {
        let scan = scan(&doc.text);
        for (line, text) in &scan.code {
            lines.extend(invocations(text).into_iter().map(|args| (format!("{}:{line}", doc.path), args)));
        }
        for (start, paragraph) in &scan.prose {
            for (offset, span) in code_spans(paragraph).0 {
                let line = start + paragraph[..offset].matches('\n').count();
                let mut found = invocations(&span);
                let span_words = words(&span);
                if found.is_empty()
                    && span_words.len() > 1
                    && matches!(&span_words[0], Word::Arg { text, .. } if subcommands.contains(text.as_str()))
                {
                    found.push(span_words);
                }
                lines.extend(found.into_iter().map(|args| (format!("{}:{line}", doc.path), args)));
            }
        }
    }
    lines
}

/// The command tree with the global flags and `--help` propagated to every subcommand.
fn command_tree() -> clap::Command {
    let mut tree = Cli::command();
    tree.build();
    tree
}

/// Every value name the CLI shows (`N`, `DIR`, `AGENT`, …): in a synopsis those are placeholders.
fn value_names(command: &clap::Command, names: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        names.extend(arg.get_value_names().into_iter().flatten().map(|name| name.to_string()));
        if arg.is_positional() {
            names.insert(arg.get_id().as_str().to_uppercase());
        }
    }
    for sub in command.get_subcommands() {
        value_names(sub, names);
    }
}

/// Whether the invocation parses as the binary parses it. A runnable line must parse completely
/// (asking for `--help` or `--version` counts); a synopsis (placeholders, brackets, alternatives)
/// must name existing subcommands, and each of its flags must be one that subcommand takes; a
/// command's name alone (`cargo xtask deploy`, in prose) must name one that exists.
fn check_invocation(tree: &clap::Command, placeholders: &BTreeSet<String>, args: &[Word]) -> Result<(), String> {
    let args: Vec<(String, bool)> = args
        .iter()
        .filter_map(|word| match word {
            Word::Arg { text, placeholder } => Some((text.clone(), *placeholder || placeholders.contains(text))),
            Word::End => None,
        })
        .collect();
    // `cargo xtask` or `cargo xtask github pr-plan` alone names a command: its subcommands must exist.
    let mut named = Some(tree);
    for (text, _) in &args {
        named = named.and_then(|command| command.find_subcommand(text));
    }
    if named.is_some() {
        return Ok(());
    }
    if !args.iter().any(|(_, placeholder)| *placeholder) {
        return match Cli::try_parse_from(
            std::iter::once("cargo xtask".to_owned()).chain(args.into_iter().map(|(text, _)| text)),
        ) {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
            Err(err) => Err(err.to_string().lines().next().unwrap_or_default().to_owned()),
        };
    }
    let mut command = tree;
    let mut path = vec!["cargo xtask".to_owned()];
    let mut subcommands_done = false;
    let mut words = args.iter().peekable();
    while let Some((text, placeholder)) = words.next() {
        let bare = text.trim_start_matches(['[', '(']).trim_end_matches([']', ')', '…', ',']);
        if bare.is_empty() || bare == "|" {
            continue;
        }
        if let Some(long) = bare.strip_prefix("--") {
            let (name, value) = long.split_once('=').map_or((long, None), |(name, value)| (name, Some(value)));
            let Some(arg) = command.get_arguments().find(|arg| arg.get_long() == Some(name)) else {
                return Err(format!("`{}` takes no flag --{name}", path.join(" ")));
            };
            // Its value is no subcommand name.
            if arg.get_action().takes_values()
                && value.is_none()
                && words.peek().is_some_and(|(next, _)| !next.starts_with('-'))
            {
                words.next();
            }
            continue;
        }
        if let Some(short) = bare.strip_prefix('-') {
            let mut letters = short.chars();
            if let (Some(letter), None) = (letters.next(), letters.next())
                && command.get_arguments().any(|arg| arg.get_short() == Some(letter))
            {
                continue;
            }
            return Err(format!("`{}` takes no flag -{short}", path.join(" ")));
        }
        if subcommands_done || !command.has_subcommands() {
            continue;
        }
        if *placeholder {
            subcommands_done = true;
            continue;
        }
        match command.find_subcommand(bare) {
            Some(sub) => {
                path.push(bare.to_owned());
                command = sub;
            }
            None => {
                let names: Vec<&str> = command.get_subcommands().map(clap::Command::get_name).collect();
                return Err(format!("`{}` has no subcommand `{bare}` (it has {})", path.join(" "), names.join(", ")));
            }
        }
    }
    Ok(())
}

/// Every xtask command line of `docs` that does not parse, as `file:line: cargo xtask …: why`.
fn bad_command_lines(docs: &[Doc]) -> Vec<String> {
    let tree = command_tree();
    let mut placeholders = BTreeSet::new();
    value_names(&tree, &mut placeholders);
    let mut problems = Vec::new();
    for (at, args) in command_lines(docs) {
        if let Err(why) = check_invocation(&tree, &placeholders, &args) {
            let shown: Vec<String> = args
                .iter()
                .filter_map(|word| match word {
                    Word::Arg { text, .. } => Some(text.clone()),
                    Word::End => None,
                })
                .collect();
            problems.push(format!("{at}: `cargo xtask {}`: {why}", shown.join(" ")));
        }
    }
    problems
}

#[test]
fn every_relative_link_and_anchor_leads_somewhere() {
    let root = repo_root();
    let problems = broken_links(&root, &docs(&root));
    assert!(problems.is_empty(), "broken links in the documentation:\n{}", problems.join("\n"));
}

#[test]
fn every_cargo_xtask_command_line_parses() {
    let root = repo_root();
    let docs = docs(&root);
    let count = command_lines(&docs).len();
    assert!(count > 50, "found only {count} xtask command lines in README.md and docs/: is the scan broken?");
    let problems = bad_command_lines(&docs);
    assert!(problems.is_empty(), "command lines that do not parse:\n{}", problems.join("\n"));
}

#[test]
fn readme_links_every_doc() {
    let root = repo_root();
    let docs = docs(&root);
    let readme = &docs[0].text;
    let missing: Vec<&str> = docs[1..]
        .iter()
        .map(|doc| doc.path.as_str())
        .filter(|path| !readme.contains(&format!("]({path})")) && !readme.contains(&format!("]({path}#")))
        .collect();
    assert!(missing.is_empty(), "README.md links to none of {missing:?}: add them to its Documentation list");
}

/// The quick start has exactly two commands: the main job, which parses as a deploy of every agent
/// to the local stack for PR 1 and which a test runs, and the test command, which `.ci/run` runs.
#[test]
fn readme_quick_start_is_what_ci_relies_on() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme.split("\n## Quick start\n").nth(1).expect("README.md has a `## Quick start` section");
    let section = section.split("\n## ").next().unwrap();
    let lines: Vec<String> = scan(section).code.into_iter().map(|(_, text)| text).collect();
    assert_eq!(
        lines.len(),
        2,
        "README.md's quick start shows exactly two commands, the main job and the tests: {lines:?}"
    );
    let command = |comment: &str| -> String {
        let line = lines
            .iter()
            .find(|line| line.split_once('#').is_some_and(|(_, text)| text.trim().starts_with(comment)))
            .unwrap_or_else(|| panic!("README.md's quick start has no command commented `# {comment}`: {lines:?}"));
        line.split_once('#').unwrap().0.trim().to_owned()
    };
    let (main_job, tests) = (command("the main job"), command("the tests"));

    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(ci.lines().any(|line| line.trim() == tests), ".ci/run must run `{tests}`, README.md's test command");

    let words: Vec<String> = shell_words(&main_job);
    assert!(
        words.starts_with(&["cargo".to_owned(), "xtask".to_owned()]),
        "README.md's main job runs `cargo xtask`: {main_job}"
    );
    let cli = Cli::try_parse_from(std::iter::once("cargo xtask").chain(words[2..].iter().map(String::as_str)))
        .unwrap_or_else(|err| panic!("README.md's main job `{main_job}`: {err}"));
    match &cli.command {
        Command::Deploy(args) => assert!(
            args.selection.all && args.pr == Some(1) && !args.prod && cli.aws.local,
            "README.md's main job deploys every agent for PR 1 to the local stack: {main_job}"
        ),
        other => panic!("README.md's main job is a deploy, not {other:?}"),
    }

    // `cargo test --workspace` runs the main job: a test passes its arguments to the binary.
    let main_args = &words[2..];
    let runs_it =
        test_sources(&root).iter().any(|source| args_lists(source).iter().any(|list| is_subsequence(main_args, list)));
    assert!(
        runs_it,
        "no test under xtask/tests runs README.md's main job (`.args([...])` holding {main_args:?} in order), so CI would not notice it breaking"
    );
}

/// `line`'s words, without the placeholder marks: for a command known to be runnable.
fn shell_words(line: &str) -> Vec<String> {
    words(line)
        .into_iter()
        .map_while(|word| match word {
            Word::Arg { text, .. } => Some(text),
            Word::End => None,
        })
        .collect()
}

fn test_sources(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root.join("xtask/tests"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "rs"))
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect()
}

/// The string literals of each `.args([...])` call in Rust source.
fn args_lists(source: &str) -> Vec<Vec<String>> {
    static ARGS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\.args\(\[([^\]]*)\]\)").unwrap());
    static LITERAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""([^"\\]*)""#).unwrap());
    ARGS.captures_iter(source)
        .map(|list| LITERAL.captures_iter(&list[1]).map(|literal| literal[1].to_owned()).collect())
        .collect()
}

fn is_subsequence(needle: &[String], haystack: &[String]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|word| rest.any(|other| other == word))
}

/// Code, manifests, workflows and CI scripts that send readers to README.md or docs/ (a `(see
/// FILE, "Heading")` note or an error message) name a file and, when given, a heading that exist.
#[test]
fn code_sends_readers_to_doc_sections_that_exist() {
    static POINTER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\((?:see )?(README\.md|docs/[A-Za-z0-9_-]+\.md)(?:, \\?"([^"\\]+)\\?")?"#).unwrap()
    });
    let root = repo_root();
    let docs = docs(&root);
    let skip = |entry: &walkdir::DirEntry| {
        let name = entry.file_name().to_string_lossy();
        entry.depth() == 1 && (name == "target" || name == ".git")
    };
    let mut problems = Vec::new();
    let mut pointers = 0;
    for entry in walkdir::WalkDir::new(&root).into_iter().filter_entry(|entry| !skip(entry)) {
        let entry = entry.unwrap();
        let path = entry.path();
        let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let wanted = ["rs", "toml", "yml", "yaml", "sh", "py"].iter().any(|ext| relative.ends_with(&format!(".{ext}")))
            || relative.starts_with(".ci/");
        if !entry.file_type().is_file() || !wanted {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        for captures in POINTER.captures_iter(&text) {
            pointers += 1;
            let line = text[..captures.get(0).unwrap().start()].matches('\n').count() + 1;
            let file = &captures[1];
            let Some(anchors) = anchors_of(&root, &docs, file) else {
                problems.push(format!("{relative}:{line}: there is no {file}"));
                continue;
            };
            if let Some(heading) = captures.get(2)
                && !anchors.contains(&slug(heading.as_str()))
            {
                problems.push(format!("{relative}:{line}: {file} has no heading \"{}\"", heading.as_str()));
            }
        }
    }
    assert!(pointers > 0, "found no pointer into the documentation at all: is the pattern broken?");
    assert!(problems.is_empty(), "pointers to documentation that is not there:\n{}", problems.join("\n"));
}

/// The checks themselves catch what they are for: a missing file, a missing heading, an unknown
/// flag, a bad value and an unknown subcommand, in a code block as in a code span, and in a synopsis.
#[test]
fn docs_checks_catch_broken_links_and_bad_flags() {
    let root = repo_root();
    let doc = |text: &str| vec![Doc { path: "docs/example.md".to_owned(), text: text.to_owned() }];

    let good = doc(
        "# Title\n\n## `agent.toml`\n\nSee [here](#agenttoml), [packaging](packaging.md), [the readme](../README.md#quick-start).\n",
    );
    assert_eq!(broken_links(&root, &good), Vec::<String>::new());
    let bad = doc(
        "# Title\n\nA [gone](nowhere.md), [no heading](packaging.md#no-such-heading),\nand [up](../../outside.md); `[shown](as-code.md)` is code.\n",
    );
    let problems = broken_links(&root, &bad);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].starts_with("docs/example.md:3: link `nowhere.md`: there is no docs/nowhere.md"),
        "{problems:#?}"
    );
    assert!(problems[1].contains("has no heading whose anchor is `no-such-heading`"), "{problems:#?}");
    assert!(problems[2].contains("leads out of the repository"), "{problems:#?}");

    let good = doc(concat!(
        "```sh\ncargo xtask deploy --all --pr 1 --local   # fine\n",
        "cargo xtask github pr-comment --event e.json \\\n  --agents '[\"a\"]' --results dir\n```\n\n",
        "Also `cargo xtask status --help`, `cargo xtask deploy (AGENT… | --all) (--pr N | --prod) [--dry-run]`\n",
        "and `cargo xtask bench package [AGENT] [--runs N]`, `xtask github pr-deploy --agent NAME --result FILE`.\n",
    ));
    assert_eq!(command_lines(&good).len(), 6);
    assert_eq!(bad_command_lines(&good), Vec::<String>::new());
    let bad = doc(concat!(
        "```sh\ncargo xtask deploy --all --pr 1 --lokal\n",
        "echo && cargo xtask promote dad_joke_bot --version seven\n```\n\n",
        "Try `cargo xtask github pr-plant --event e.json` or\n`cargo xtask cleanup (RUNTIME… | --pr N) [--yes-please]`.\n",
    ));
    let problems = bad_command_lines(&bad);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        problems[0].starts_with(
            "docs/example.md:2: `cargo xtask deploy --all --pr 1 --lokal`: error: unexpected argument '--lokal'"
        ),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("docs/example.md:3: ") && problems[1].contains("invalid value 'seven'"),
        "{problems:#?}"
    );
    assert!(problems[2].contains("error: unrecognized subcommand 'pr-plant'"), "{problems:#?}");
    assert!(
        problems[3].starts_with("docs/example.md:7: ")
            && problems[3].contains("`cargo xtask cleanup` takes no flag --yes-please"),
        "{problems:#?}"
    );
}

#[test]
fn shell_words_split_as_a_shell_does() {
    let args = |line: &str| -> Vec<(String, bool)> {
        words(line)
            .into_iter()
            .map(|word| match word {
                Word::Arg { text, placeholder } => (text, placeholder),
                Word::End => (";".to_owned(), false),
            })
            .collect()
    };
    let plain = |text: &str| (text.to_owned(), false);
    assert_eq!(
        args(r#"a 'b c' "d \"e\"" f\ g # comment"#),
        [plain("a"), plain("b c"), plain(r#"d "e""#), plain("f g")]
    );
    assert_eq!(
        args("a | b && c > out"),
        [plain("a"), plain(";"), plain("b"), plain(";"), plain("c"), plain(";"), plain("out")]
    );
    assert_eq!(args("'[\"x\"]' a#b ''"), [plain("[\"x\"]"), plain("a#b"), plain("")]);
    let synopsis = args("(A… | --b) [--c <D>] \"$E\"");
    assert!(synopsis.iter().all(|(text, placeholder)| *placeholder || text.starts_with("--")), "{synopsis:?}");
    assert_eq!(synopsis.len(), 6, "{synopsis:?}");
}

/// A documented step to try without GitHub: where it is, the shell line, and whether the docs say
/// it is refused.
struct Example {
    at: String,
    line: String,
    refused: bool,
}

/// The lines of the "Try the steps without GitHub or AWS" section of docs/github-workflows.md, its
/// code blocks and its `cargo xtask` code spans in document order, then the `github` examples of
/// README.md's command table. A line is refused when its comment (or, in the table, its row) says so.
fn github_examples(root: &Path) -> Vec<Example> {
    let doc = std::fs::read_to_string(root.join("docs/github-workflows.md")).unwrap();
    let heading = "\n## Try the steps without GitHub or AWS\n";
    let start = doc.find(heading).expect("docs/github-workflows.md has its \"Try the steps\" section");
    let first_line = doc[..start].matches('\n').count() + 2;
    let section = &doc[start + heading.len()..];
    let section = section.split("\n## ").next().unwrap();
    let scan = scan(section);
    let mut lines: Vec<(usize, String)> = scan.code.clone();
    for (start, paragraph) in &scan.prose {
        for (offset, span) in code_spans(paragraph).0 {
            if span.starts_with("cargo xtask ") {
                lines.push((start + paragraph[..offset].matches('\n').count(), span));
            }
        }
    }
    lines.sort_by_key(|(line, _)| *line);
    let mut examples: Vec<Example> = lines
        .into_iter()
        .map(|(line, text)| Example {
            at: format!("docs/github-workflows.md:{}", first_line + line),
            refused: text.split_once(" # ").is_some_and(|(_, comment)| comment.contains("refused")),
            line: text,
        })
        .collect();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (index, row) in readme.lines().enumerate().filter(|(_, row)| row.starts_with("| `github ")) {
        let (spans, _) = code_spans(row);
        let (_, example) = spans.last().expect("a command row ends with its example");
        examples.push(Example {
            at: format!("README.md:{}", index + 1),
            line: example.clone(),
            refused: row.contains("refused"),
        });
    }
    examples
}

/// The documented ways to try the workflow steps without GitHub run as they are, in order, in a fresh
/// clone: a copy of the repository committed to a new git repository, which has none of the sample
/// events' base commits. Each line runs through `sh` with `cargo xtask` being this binary; one the docs
/// call refused must be refused, every other must succeed, and the steps that make no AWS call do not
/// say they run against the local stack. Packaging shares this checkout's dependency cache and uv.
#[cfg(unix)]
#[test]
fn documented_github_steps_run_in_a_fresh_clone() {
    let root = repo_root();
    let examples = github_examples(&root);
    assert!(examples.len() >= 15, "too few examples found: {:?}", examples.iter().map(|e| &e.at).collect::<Vec<_>>());
    let temp = tempfile::tempdir().unwrap();
    let clone = temp.path().join("clone");
    copy_workspace(&root, &clone);
    let git = |args: &[&str]| {
        let (ok, _, stderr) = run(std::process::Command::new("git")
            .args(["-c", "user.name=Fresh Clone", "-c", "user.email=fresh@example.com"])
            .args(args)
            .current_dir(&clone));
        assert!(ok, "git {args:?}: {stderr}");
    };
    git(&["init", "--quiet"]);
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "--message", "a fresh clone"]);
    for shared in ["target/agentcore/deps", "target/tools"] {
        std::fs::create_dir_all(root.join(shared)).unwrap();
        std::fs::create_dir_all(clone.join(shared).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(root.join(shared), clone.join(shared)).unwrap();
    }
    // `cargo xtask …` is this binary; anything else the shim refuses.
    let bin = temp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(&shim, "#!/bin/sh\n[ \"$1\" = xtask ] || { echo \"not cargo xtask: $*\" >&2; exit 97; }\nshift\nexec \"$XTASK_BIN\" \"$@\"\n").unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    for example in &examples {
        let mut command = std::process::Command::new("sh");
        clean_env(&mut command, &clone);
        command
            .args(["-c", &example.line])
            .env("PATH", &path)
            .env("XTASK_BIN", env!("CARGO_BIN_EXE_xtask"))
            .env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let shown = format!("{} `{}`", example.at, example.line);
        if example.refused {
            assert_eq!(output.status.code(), Some(1), "{shown} is documented as refused: {stderr}");
            assert!(stderr.contains("promotion refused"), "{shown}: {stderr}");
        } else {
            assert!(output.status.success(), "{shown} failed in a fresh clone: {stderr}");
        }
        let makes_no_aws_call = ["github pr-plan", "github pr-comment"].iter().any(|step| example.line.contains(step));
        if makes_no_aws_call {
            assert!(!stderr.contains("no AWS account is configured"), "{shown}: {stderr}");
        }
        if example.line.contains("github pr-plan") && !example.line.contains("--changed-files") {
            assert!(stderr.contains("is not in this checkout"), "{shown}: {stderr}");
        }
    }
}
