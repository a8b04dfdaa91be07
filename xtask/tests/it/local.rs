//! `cargo xtask local` as users run it, and the stack through the clients the tests install: the
//! xtask binary's `local up` and `local reset`, the AWS CLI against `local up`'s exports (the
//! control plane, S3 and invocations), and boto3.
//! The stack's own tests (every operation, the model, faults, state) live with it in
//! `xtask/agentcore-local/tests`.

use std::path::Path;
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod cli;
mod data;
mod state;

const ROLE: &str = "arn:aws:iam::123456789012:role/AgentCoreRuntimeRole";

/// A code zip holding an empty `main.py`: the entry point the stack looks for at the root.
fn main_py_zip() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("main.py", zip::write::SimpleFileOptions::default()).unwrap();
    writer.finish().unwrap().into_inner()
}

/// Asserts an SDK error's HTTP status, error code and a fragment of its message.
fn assert_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: &SdkError<E, HttpResponse>,
    status: u16,
    code: &str,
    message: &str,
) {
    assert_eq!(err.raw_response().map(|raw| raw.status().as_u16()), Some(status), "{err:?}");
    assert_eq!(err.code(), Some(code), "{err:?}");
    assert!(err.message().is_some_and(|text| text.contains(message)), "{err:?}");
}

/// A command for `program` driving the stack as a user's AWS client would, from the stack's exports
/// (which the caller adds) alone: no shared config files, and none of the machine's profile, global
/// endpoint, session token or PYTHONPATH.
fn client_command(program: impl AsRef<std::ffi::OsStr>, temp: &Path) -> std::process::Command {
    let empty = temp.join("no-aws-config");
    let mut command = std::process::Command::new(program);
    command
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("PYTHONPATH");
    command
}

/// Runs the bash `script` as a [`client_command`] with `vars` (bounded to 300 s) and returns its
/// stdout; a failure shows both outputs.
fn client_script(script: &str, temp: &Path, vars: &[(&str, &std::ffi::OsStr)]) -> String {
    use std::io::Read;
    let mut command = client_command("bash", temp);
    command.args(["-c", script]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut running = cli::Running(command.spawn().unwrap());
    let status = cli::wait_bounded(&mut running, Duration::from_secs(300));
    let mut stdout = String::new();
    let mut stderr = String::new();
    running.0.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    running.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_scenario() {
    let python = crate::tools::boto3_python();
    let temp = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(temp.path().join("state"));
    config.transition_delay = Duration::from_millis(20);
    let stack = LocalStack::start(config).await.unwrap();
    // One runtime fits: the scenario's second create must hit the quota.
    stack.faults().set_quotas(agentcore_local::Quotas { runtimes: 1, ..Default::default() }).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/boto3/scenario.py");
    let mut command = tokio::process::Command::from(client_command(&python, temp.path()));
    command.arg(&script).envs(stack.env_exports()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // The step it stopped at and the exception first; the tails of its output below.
        let last_step = stderr.lines().rev().find_map(|line| line.strip_prefix("boto3 scenario: ")).unwrap_or("start");
        // Python's exception: the unindented lines after its last traceback, else the last line.
        let exception = match stderr.rsplit_once("Traceback (most recent call last):") {
            Some((_, traceback)) => {
                let unindented = traceback.lines().filter(|line| !line.is_empty() && !line.starts_with(' '));
                unindented.collect::<Vec<_>>().join(" ")
            }
            None => stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no output").to_owned(),
        };
        panic!(
            "tests/boto3/scenario.py ({}, {}) failed after step `{last_step}`: {exception}\nstdout:\n{}\nstderr:\n{}",
            python.display(),
            output.status,
            xtask::package::uv::tail(&String::from_utf8_lossy(&output.stdout), 20),
            xtask::package::uv::tail(&stderr, 40)
        );
    }
    assert!(stderr.contains("boto3 scenario: ok"), "{stderr}");
}
