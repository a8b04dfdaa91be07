"""The local AgentCore stack driven through boto3, a second client independent of the Rust SDK.

Run by `cargo test` (xtask/tests/it/local.rs) with the stack's `export` variables in the environment.
"""

import io
import sys
import time
import zipfile

import boto3
import botocore.config
import botocore.exceptions

BUCKET = "boto3-artifacts"
ROLE = "arn:aws:iam::123456789012:role/AgentCoreRuntimeRole"
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


def step(text):
    print(f"boto3 scenario: {text}", file=sys.stderr, flush=True)


def expect_error(call, status, code, fragment, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as err:
        meta = err.response["ResponseMetadata"]
        error = err.response["Error"]
        assert meta["HTTPStatusCode"] == status, (meta["HTTPStatusCode"], err.response)
        assert error["Code"] == code, err.response
        assert fragment in error["Message"], (fragment, error["Message"])
        return err.response
    raise AssertionError(f"{call.__name__} did not fail with {code}")


def wait(control, runtime_id, version=None):
    """Polls until the runtime (or version) leaves CREATING/UPDATING; bounded to 400 polls."""
    kwargs = {"agentRuntimeId": runtime_id}
    if version:
        kwargs["agentRuntimeVersion"] = version
    for _ in range(400):
        runtime = control.get_agent_runtime(**kwargs)
        if runtime["status"] not in ("CREATING", "UPDATING"):
            return runtime
        time.sleep(0.025)
    raise AssertionError(f"{runtime_id} never became ready")


def code_artifact(key):
    return {
        "codeConfiguration": {
            "code": {"s3": {"bucket": BUCKET, "prefix": key}},
            "runtime": "PYTHON_3_12",
            "entryPoint": ["main.py"],
        }
    }


def main():
    # Endpoints, region and credentials come from the environment (`cargo xtask local up` exports).
    s3 = boto3.client("s3")
    control = boto3.client("bedrock-agentcore-control")
    strict = boto3.client("bedrock-agentcore-control", config=NO_RETRIES)

    step("S3: bucket, upload, conditional write")
    s3.create_bucket(Bucket=BUCKET)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("main.py", "print('hello')\n")
    s3.put_object(Bucket=BUCKET, Key="agents/echo.zip", Body=package.getvalue())
    s3.put_object(Bucket=BUCKET, Key="records/1.json", Body=b"{}", IfNoneMatch="*")
    expect_error(s3.put_object, 412, "PreconditionFailed", "", Bucket=BUCKET, Key="records/1.json", Body=b"{}",
                 IfNoneMatch="*")

    step("create, wait, DEFAULT endpoint")
    created = control.create_agent_runtime(
        agentRuntimeName="echo_boto3",
        agentRuntimeArtifact=code_artifact("agents/echo.zip"),
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
        description="from boto3",
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202, created
    assert created["status"] == "CREATING" and created["agentRuntimeVersion"] == "1", created
    runtime_id = created["agentRuntimeId"]
    assert runtime_id.startswith("echo_boto3-") and len(runtime_id) == len("echo_boto3-") + 10, runtime_id
    runtime = wait(control, runtime_id)
    assert runtime["status"] == "READY", runtime
    assert runtime["description"] == "from boto3", runtime
    assert runtime["createdAt"].year >= 2025, runtime  # parsed as a timestamp
    default = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT")
    assert default["liveVersion"] == "1" and default["status"] == "READY", default

    step("update makes version 2; a named endpoint stays pinned")
    control.create_agent_runtime_endpoint(agentRuntimeId=runtime_id, name="prod")
    updated = control.update_agent_runtime(
        agentRuntimeId=runtime_id,
        agentRuntimeArtifact=code_artifact("agents/echo.zip"),
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    assert updated["agentRuntimeVersion"] == "2" and updated["status"] == "UPDATING", updated
    wait(control, runtime_id)
    prod = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod")
    assert prod["targetVersion"] == "1" and prod["liveVersion"] == "1", prod
    default = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT")
    assert default["liveVersion"] == "2", default

    step("promote prod to version 2")
    moved = control.update_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod",
                                                  agentRuntimeVersion="2")
    assert moved["targetVersion"] == "2" and moved["liveVersion"] == "1", moved
    for _ in range(400):
        prod = control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod")
        if prod["status"] == "READY":
            break
        time.sleep(0.025)
    assert prod["liveVersion"] == "2" and prod["targetVersion"] == "2", prod

    step("paginators")
    versions = [v["agentRuntimeVersion"]
                for page in control.get_paginator("list_agent_runtime_versions").paginate(
                    agentRuntimeId=runtime_id, PaginationConfig={"PageSize": 1})
                for v in page["agentRuntimes"]]
    assert versions == ["2", "1"], versions
    endpoints = [e["name"]
                 for page in control.get_paginator("list_agent_runtime_endpoints").paginate(agentRuntimeId=runtime_id)
                 for e in page["runtimeEndpoints"]]
    assert endpoints == ["DEFAULT", "prod"], endpoints
    runtimes = control.list_agent_runtimes()["agentRuntimes"]
    assert [r["agentRuntimeId"] for r in runtimes] == [runtime_id], runtimes

    step("documented errors")
    expect_error(strict.create_agent_runtime, 409, "ConflictException", "already exists",
                 agentRuntimeName="echo_boto3", agentRuntimeArtifact=code_artifact("agents/echo.zip"), roleArn=ROLE)
    expect_error(strict.delete_agent_runtime_endpoint, 409, "ConflictException", "default endpoints are removed",
                 agentRuntimeId=runtime_id, endpointName="DEFAULT")
    expect_error(strict.delete_agent_runtime, 409, "ConflictException", "must be deleted first: prod",
                 agentRuntimeId=runtime_id)
    expect_error(strict.get_agent_runtime, 404, "ResourceNotFoundException", "does not exist",
                 agentRuntimeId="missing-0123456789")
    response = expect_error(strict.create_agent_runtime, 400, "ValidationException", "validation error",
                            agentRuntimeName="bad-name", agentRuntimeArtifact=code_artifact("agents/echo.zip"),
                            roleArn=ROLE)
    assert response["reason"] == "FieldValidationFailed", response
    assert [f["name"] for f in response["fieldList"]] == ["agentRuntimeName"], response
    expect_error(strict.create_agent_runtime, 402, "ServiceQuotaExceededException", "quota",
                 agentRuntimeName="over_quota", agentRuntimeArtifact=code_artifact("agents/echo.zip"), roleArn=ROLE)

    step("idempotent create")
    token = "boto3-token-000000000000000000000000001"
    first = control.delete_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod", clientToken=token)
    again = control.delete_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="prod", clientToken=token)
    assert first["status"] == again["status"] == "DELETING", (first, again)

    step("delete the runtime")
    for _ in range(400):
        names = [e["name"] for e in control.list_agent_runtime_endpoints(agentRuntimeId=runtime_id)["runtimeEndpoints"]]
        if names == ["DEFAULT"]:
            break
        time.sleep(0.025)
    deleted = control.delete_agent_runtime(agentRuntimeId=runtime_id)
    assert deleted["status"] == "DELETING", deleted
    for _ in range(400):
        try:
            control.get_agent_runtime(agentRuntimeId=runtime_id)
        except control.exceptions.ResourceNotFoundException:
            break
        time.sleep(0.025)
    else:
        raise AssertionError("the runtime was never deleted")
    step("ok")


if __name__ == "__main__":
    main()
