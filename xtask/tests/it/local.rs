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
    let empty = temp.path().join("no-aws-config");
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(&script)
        .envs(stack.env_exports())
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("PYTHONPATH")
        .kill_on_drop(true);
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
