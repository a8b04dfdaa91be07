//! The Python tools the tests drive (uv, boto3, the AWS CLI): pinned versions that the tests install
//! once into `target/test-tools/` themselves and reuse, never the boto3 or `aws` that happen to be
//! installed (the virtualenvs are made from the `python3` on PATH, nothing more).
//!
//! Overrides, for a machine without access to PyPI: `AGENTCORE_TEST_PYTHON` (an interpreter that
//! has the pinned boto3), `AGENTCORE_TEST_AWS_CLI` (an `aws` of the pinned version) and
//! `AGENTCORE_TEST_TOOLS_DIR` (another directory for the installs).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use xtask::settings::{Settings, workspace_root};

/// One pinned Python tool, installed with uv into a virtualenv of its own.
pub struct Tool {
    /// What the messages call it.
    what: &'static str,
    /// Its directory is `<name>-<version>` in the tools directory.
    name: &'static str,
    version: &'static str,
    requirements: &'static [&'static str],
    /// The program the tests run, relative to the virtualenv.
    program: &'static str,
    /// Arguments that make `program` print the version (the first word, after any `/`).
    version_args: &'static [&'static str],
    env_var: &'static str,
    /// What `env_var` must point at.
    override_is: &'static str,
}

/// boto3 for `tests/boto3/scenario.py`, with the botocore released beside it.
pub const BOTO3: Tool = Tool {
    what: "boto3",
    name: "boto3",
    version: "1.44.5",
    requirements: &["boto3==1.44.5", "botocore==1.44.5"],
    program: "bin/python",
    version_args: &["-c", "import boto3; print(boto3.__version__)"],
    env_var: "AGENTCORE_TEST_PYTHON",
    override_is: "a Python that has boto3 1.44.5",
};

/// The AWS CLI (v1, from PyPI; it pins its own botocore).
pub const AWS_CLI: Tool = Tool {
    what: "the AWS CLI",
    name: "awscli",
    version: "1.46.2",
    requirements: &["awscli==1.46.2"],
    program: "bin/aws",
    version_args: &["--version"],
    env_var: "AGENTCORE_TEST_AWS_CLI",
    override_is: "an `aws` 1.46.2 executable",
};

/// Written last into a tool's virtualenv, before it is renamed into place.
const MARKER: &str = "agentcore-test-tool";

/// Where the tests install their tools: `AGENTCORE_TEST_TOOLS_DIR`, else the repository's
/// `target/test-tools`.
pub fn dir() -> PathBuf {
    match std::env::var_os("AGENTCORE_TEST_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("test-tools"),
    }
}

/// The pinned uv (from PATH at that version, or installed once into [`dir`]).
pub fn uv() -> PathBuf {
    static UV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    unwrap_or_panic(UV.get_or_init(|| {
        let installer = Installer::for_tests();
        installer.pinned_uv().map_err(|reason| {
            format!(
                "missing test tool: uv {} is not on PATH and {reason}; give the tests access to PyPI once \
                 (HTTPS_PROXY, or PIP_INDEX_URL for a mirror), or put uv {} on PATH",
                installer.uv_version, installer.uv_version
            )
        })
    }))
}

/// A Python with the pinned boto3: `AGENTCORE_TEST_PYTHON`, else the tests' own virtualenv.
pub fn boto3_python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    unwrap_or_panic(PYTHON.get_or_init(|| provide(&BOTO3)))
}

/// The pinned AWS CLI: `AGENTCORE_TEST_AWS_CLI`, else the tests' own virtualenv's `aws`.
pub fn aws_cli() -> PathBuf {
    static AWS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    unwrap_or_panic(AWS.get_or_init(|| provide(&AWS_CLI)))
}

/// The Python 3 on PATH the tests make their virtualenvs from, as the path of the interpreter it
/// runs: uv takes that even when `python3` is a virtualenv's (by name, `uv venv` looks for system
/// interpreters only, and would download one) or a pyenv shim.
pub fn base_python() -> PathBuf {
    static BASE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    unwrap_or_panic(
        BASE.get_or_init(|| executable_of("python3").map_err(|reason| format!("missing test tool: {reason}"))),
    )
}

fn executable_of(python: &str) -> Result<PathBuf, String> {
    let output =
        Command::new(python).args(["-c", "import sys; print(sys.executable)"]).env_remove("PYTHONPATH").output();
    let path = match &output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        _ => String::new(),
    };
    if path.is_empty() {
        let why = output.map_or_else(|err| err.to_string(), |output| summary(&String::from_utf8_lossy(&output.stderr)));
        return Err(format!(
            "`{python}` does not run ({why}): the tests make their virtualenvs from Python 3; install it, with venv and pip"
        ));
    }
    Ok(PathBuf::from(path))
}

/// A failed install is kept as its message: every test that needs the tool fails with that one line.
fn unwrap_or_panic(result: &Result<PathBuf, String>) -> PathBuf {
    match result {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn provide(tool: &Tool) -> Result<PathBuf, String> {
    match std::env::var_os(tool.env_var).filter(|path| !path.is_empty()) {
        Some(path) => tool.checked_override(Path::new(&path)),
        None => Installer::for_tests().ensure(tool),
    }
}

impl Tool {
    /// The program named by the tool's environment variable, when it is of the pinned version.
    fn checked_override(&self, program: &Path) -> Result<PathBuf, String> {
        let problem = match self.version_of(program) {
            Ok(found) if found == self.version => return Ok(program.to_path_buf()),
            Ok(found) => format!("has {} {found}, the tests need {}", self.what, self.version),
            Err(reason) => reason,
        };
        Err(format!(
            "{}={} {problem}: point it at {}, or unset it to let the tests install their own into {}",
            self.env_var,
            program.display(),
            self.override_is,
            dir().display()
        ))
    }

    /// The version `program` reports, or why it reports none.
    fn version_of(&self, program: &Path) -> Result<String, String> {
        let output = Command::new(program)
            .args(self.version_args)
            .env_remove("PYTHONPATH")
            .output()
            .map_err(|err| format!("does not run ({err})"))?;
        // Old AWS CLIs print their version on stderr.
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let word = text.split_whitespace().next().unwrap_or_default();
        let version = word.rsplit('/').next().unwrap_or_default();
        if !output.status.success() || version.is_empty() {
            return Err(format!("does not report a {} version ({})", self.what, summary(&text)));
        }
        Ok(version.to_owned())
    }
}

/// Where and how tools get installed. The tests use [`Installer::for_tests`]; a test of the
/// installer itself changes the directory and the environment of the install processes (never
/// the environment of the test process, which every test shares).
pub struct Installer {
    pub dir: PathBuf,
    pub uv_version: String,
    /// A uv to use as it is; `None` finds or installs the pinned one (see `xtask::package::uv::ensure`).
    pub uv: Option<PathBuf>,
    /// The Python 3 the virtualenvs are made from, whose pip installs uv when it is missing.
    pub python: String,
    /// Added to the environment of the uv processes.
    pub env: Vec<(String, String)>,
}

impl Installer {
    pub fn for_tests() -> Installer {
        let settings = Settings::from_workspace(&workspace_root()).expect("the workspace settings load");
        Installer { dir: dir(), uv_version: settings.uv_version, uv: None, python: "python3".into(), env: Vec::new() }
    }

    fn pinned_uv(&self) -> Result<PathBuf, String> {
        xtask::package::uv::ensure(&self.uv_version, &self.dir, self.uv.as_deref(), &self.python)
            .map(|uv| uv.path)
            .map_err(|err| {
                eprintln!("{err:#}");
                format!("pip cannot install it into {}: see above", self.dir.display())
            })
    }

    /// The tool's program, installed into `<dir>/<name>-<version>/` unless it is there already.
    pub fn ensure(&self, tool: &Tool) -> Result<PathBuf, String> {
        let home = self.dir.join(format!("{}-{}", tool.name, tool.version));
        let program = home.join(tool.program);
        if self.installed(tool, &home) {
            return Ok(program);
        }
        // One install at a time, across the test threads and any other test processes.
        let _lock = self.lock().map_err(|reason| self.missing(tool, &home, &reason))?;
        if !self.installed(tool, &home) {
            self.install(tool, &home).map_err(|reason| self.missing(tool, &home, &reason))?;
        }
        match tool.version_of(&program) {
            Ok(found) if found == tool.version => Ok(program),
            Ok(found) => Err(self.missing(tool, &home, &format!("it reports {found} after the install"))),
            Err(reason) => Err(self.missing(tool, &home, &format!("{} {reason} after the install", program.display()))),
        }
    }

    /// The one line a test fails with when it cannot have its tool.
    fn missing(&self, tool: &Tool, home: &Path, reason: &str) -> String {
        format!(
            "missing test tool: {} {} cannot be installed into {} ({reason}); give the tests access to \
             PyPI once (HTTPS_PROXY, or UV_INDEX_URL and PIP_INDEX_URL for a mirror), or set {} to {}",
            tool.what,
            tool.version,
            home.display(),
            tool.env_var,
            tool.override_is
        )
    }

    fn installed(&self, tool: &Tool, home: &Path) -> bool {
        home.join(MARKER).is_file()
            && tool.version_of(&home.join(tool.program)).is_ok_and(|found| found == tool.version)
    }

    fn lock(&self) -> Result<File, String> {
        let path = self.dir.join(".lock");
        let locked = std::fs::create_dir_all(&self.dir)
            .and_then(|()| File::options().create(true).truncate(false).write(true).open(&path))
            .and_then(|file| file.lock().map(|()| file));
        locked.map_err(|err| format!("cannot lock {}: {err}", path.display()))
    }

    /// Installs into a staging directory renamed into place when complete, so an interrupted
    /// install never looks like a finished one. Called with the lock held, so any staging
    /// directory found is one a killed run left.
    fn install(&self, tool: &Tool, home: &Path) -> Result<(), String> {
        let staging = self.dir.join(format!(".tmp-{}-{}", tool.name, tool.version));
        for leftover in [&staging, home] {
            match std::fs::remove_dir_all(leftover) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("cannot remove {}: {err}", leftover.display()));
                }
                _ => {}
            }
        }
        let base = executable_of(&self.python)?;
        let uv = self.pinned_uv().map_err(|_| format!("pip cannot install uv {}: see above", self.uv_version))?;
        eprintln!("installing {} {} into {} (uv)", tool.what, tool.version, home.display());
        let python = staging.join("bin").join("python");
        // Relocatable: the scripts in bin/ still run after the rename.
        let installed = self
            .run(Command::new(&uv).args(["venv", "--quiet", "--relocatable", "--python"]).arg(&base).arg(&staging))
            .and_then(|()| {
                self.run(
                    Command::new(&uv)
                        .args(["pip", "install", "--quiet", "--python"])
                        .arg(&python)
                        .args(tool.requirements),
                )
            })
            .and_then(|()| {
                std::fs::write(staging.join(MARKER), tool.requirements.join("\n") + "\n")
                    .and_then(|()| std::fs::rename(&staging, home))
                    .map_err(|err| format!("cannot move the install into place: {err}"))
            });
        if installed.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        installed
    }

    /// Runs a uv command; a failure is uv's own reason in a line (the whole output goes to stderr).
    fn run(&self, command: &mut Command) -> Result<(), String> {
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        let shown = format!(
            "{} {}",
            Path::new(command.get_program()).file_name().unwrap_or_default().to_string_lossy(),
            command.get_args().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>().join(" ")
        );
        let output = command.output().map_err(|err| format!("cannot run `{shown}`: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!("`{shown}` failed:\n{stderr}");
        Err(format!("uv: {}", summary(&stderr)))
    }
}

/// The line of a tool's error output that says why: uv's innermost `cause:` or its `error:`,
/// else the last line.
fn summary(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let reason = lines
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("cause: ").or_else(|| line.strip_prefix("Caused by: ")))
        .or_else(|| lines.iter().find_map(|line| line.strip_prefix("error: ")))
        .or_else(|| lines.last().copied())
        .unwrap_or("no output");
    reason.to_owned()
}

/// The tools dir is empty and no index can be reached: each tool's tests fail with one line
/// naming the tool, its version and both fixes, and nothing is left that looks installed.
#[test]
fn an_offline_install_fails_with_one_line_naming_the_tool_and_the_fixes() {
    let scratch = tempfile::tempdir().unwrap();
    let offline_env = vec![("UV_OFFLINE".to_owned(), "1".to_owned()), ("UV_NO_CACHE".to_owned(), "1".to_owned())];
    // With the pinned uv at hand, uv itself cannot reach PyPI.
    let with_uv = Installer {
        dir: scratch.path().join("with-uv"),
        uv: Some(uv()),
        env: offline_env.clone(),
        ..Installer::for_tests()
    };
    // Without uv, pip cannot fetch it either (or a uv of the pinned version on PATH is offline).
    let python = scratch.path().join("offline-python3");
    write_script(
        &python,
        "#!/bin/sh\nexport PIP_NO_INDEX=1 PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1\nexec python3 \"$@\"\n",
    );
    let without_uv = Installer {
        dir: scratch.path().join("without-uv"),
        python: python.to_str().unwrap().to_owned(),
        env: offline_env,
        ..Installer::for_tests()
    };
    for installer in [&with_uv, &without_uv] {
        for tool in [&BOTO3, &AWS_CLI] {
            let message = installer.ensure(tool).unwrap_err();
            let home = installer.dir.join(format!("{}-{}", tool.name, tool.version));
            let expected = format!(
                "missing test tool: {} {} cannot be installed into {} (",
                tool.what,
                tool.version,
                home.display()
            );
            assert!(message.starts_with(&expected), "{message}");
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(message.contains("access to PyPI") && message.contains(tool.env_var), "{message}");
            assert!(!home.exists() && !installer.dir.join(format!(".tmp-{}-{}", tool.name, tool.version)).exists());
        }
    }
}

/// An override of another version, or one that does not run, is refused in one line too.
#[test]
fn an_override_of_another_version_is_refused_in_one_line() {
    let scratch = tempfile::tempdir().unwrap();
    let aws = scratch.path().join("aws");
    write_script(&aws, "#!/bin/sh\necho 'aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11'\n");
    let message = AWS_CLI.checked_override(&aws).unwrap_err();
    let expected = format!(
        "AGENTCORE_TEST_AWS_CLI={} has the AWS CLI 1.45.11, the tests need 1.46.2: point it at an `aws` 1.46.2 executable, or unset it",
        aws.display()
    );
    assert!(message.starts_with(&expected) && !message.contains('\n'), "{message}");
    let python = scratch.path().join("python");
    write_script(
        &python,
        "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'boto3'\" >&2\nexit 1\n",
    );
    let message = BOTO3.checked_override(&python).unwrap_err();
    let expected = format!(
        "AGENTCORE_TEST_PYTHON={} does not report a boto3 version (ModuleNotFoundError: No module named 'boto3'): point it at a Python that has boto3 1.44.5",
        python.display()
    );
    assert!(message.starts_with(&expected) && !message.contains('\n'), "{message}");
    let message = BOTO3.checked_override(&scratch.path().join("nothing")).unwrap_err();
    assert!(message.contains("nothing does not run (") && !message.contains('\n'), "{message}");
    let uv_says = "error: No solution found when resolving dependencies\n  cause: Because boto3 was not found in the cache\n\nhint: the network was disabled\n";
    assert_eq!(summary(uv_says), "Because boto3 was not found in the cache");
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
