//! `local up`'s data plane through the clients the tests install: the AWS CLI and boto3's
//! `bedrock-agentcore` client invoke an agent with nothing but `local up`'s exports; the agent
//! process goes when `local up` is killed outright.

use std::ffi::OsStr;
use std::time::Duration;

use super::cli::spawn_up;
use super::{ROLE, client_script};

/// The standard-library test agent of the stack's own tests.
const HTTP_AGENT: &str = include_str!("../../../agentcore-local/tests/it/fixtures/http_agent.py");

#[test]
fn the_aws_cli_and_boto3_invoke_through_local_up() {
    let aws = crate::tools::aws_cli();
    let python = crate::tools::boto3_python();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("state");
    let args = [OsStr::new("--transition-delay"), OsStr::new("0"), OsStr::new("--dir"), dir.as_os_str()];
    let (up, exports, _log) = spawn_up(&args);
    let zip = temp.path().join("agent.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    for (name, content) in [("main.py", HTTP_AGENT), ("greeting.txt", "hello from local up")] {
        writer.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut writer, content.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    let script = r#"
set -eu
aws() { "$AWS_CLI" "$@"; }
eval "$EXPORTS"
aws s3api create-bucket --bucket invoke-bucket >/dev/null
aws s3 cp "$ZIP" s3://invoke-bucket/agent.zip >/dev/null
arn=$(aws bedrock-agentcore-control create-agent-runtime --agent-runtime-name invoked_by_cli \
  --agent-runtime-artifact '{"codeConfiguration":{"code":{"s3":{"bucket":"invoke-bucket","prefix":"agent.zip"}},"runtime":"PYTHON_3_12","entryPoint":["main.py"]}}' \
  --network-configuration '{"networkMode":"PUBLIC"}' --role-arn "$ROLE" --query agentRuntimeArn --output text)
aws bedrock-agentcore invoke-agent-runtime --agent-runtime-arn "$arn" \
  --runtime-session-id session-of-the-aws-cli-0123456789abcdef --payload '{"prompt": "from the AWS CLI"}' \
  "$OUT" --query '[contentType, runtimeSessionId, statusCode]' --output text
cat "$OUT"; echo
ARN="$arn" "$PYTHON" -c '
import json, os, boto3
client = boto3.client("bedrock-agentcore")
answer = client.invoke_agent_runtime(
    agentRuntimeArn=os.environ["ARN"],
    runtimeSessionId="session-of-boto3-0123456789abcdefghijkl",
    payload=json.dumps({"prompt": "from boto3"}),
)
print(answer["contentType"], answer["runtimeSessionId"])
print(answer["response"].read().decode())
'
"#;
    let (exports, out) = (exports.join("\n"), temp.path().join("answer.json"));
    let vars = [
        ("AWS_CLI", aws.as_os_str()),
        ("PYTHON", python.as_os_str()),
        ("EXPORTS", exports.as_ref()),
        ("ZIP", zip.as_os_str()),
        ("ROLE", ROLE.as_ref()),
        ("OUT", out.as_os_str()),
    ];
    let stdout = client_script(script, temp.path(), &vars);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "application/json\tsession-of-the-aws-cli-0123456789abcdef\t200", "{stdout}");
    assert_eq!(lines[2], "application/json session-of-boto3-0123456789abcdefghijkl", "{stdout}");
    let by_cli: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let by_boto3: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(
        (by_cli["greeting"].as_str(), by_cli["prompt"].as_str()),
        (Some("hello from local up"), Some("from the AWS CLI"))
    );
    assert_eq!(
        (by_boto3["prompt"].as_str(), by_boto3["session"].as_str()),
        (Some("from boto3"), Some("session-of-boto3-0123456789abcdefghijkl"))
    );
    assert_eq!(by_cli["pid"], by_boto3["pid"], "one process serves the version");

    // Killed outright, `local up` cannot stop its agent: the kernel does.
    drop(up);
    let pid = by_cli["pid"].as_u64().unwrap();
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("agent process {pid} outlived `local up`");
}
