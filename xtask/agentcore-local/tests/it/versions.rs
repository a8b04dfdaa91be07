//! Deleting one version of a runtime (DeleteAgentRuntime with the `version` query parameter, the
//! SDK's `agent_runtime_version`), through the SDK: what it deletes, what it refuses, and how Get and
//! ListAgentRuntimeVersions follow it (docs/local-stack.md, "Deleting one version").

use std::time::Duration;

use aws_sdk_bedrockagentcorecontrol as control;

use super::{ROLE, assert_error, code_artifact, control_client, create_runtime, start, upload, wait_runtime, zip_with};

/// The numbers of the versions ListAgentRuntimeVersions lists, with their status, newest first.
async fn listed(client: &control::Client, id: &str) -> Vec<(String, String)> {
    let versions = client.list_agent_runtime_versions().agent_runtime_id(id).send().await.unwrap();
    versions
        .agent_runtimes()
        .iter()
        .map(|version| (version.agent_runtime_version().to_owned(), version.status().as_str().to_owned()))
        .collect()
}

/// A new version of the runtime (an update with the same code); its number.
async fn add_version(client: &control::Client, id: &str) -> String {
    let updated = client
        .update_agent_runtime()
        .agent_runtime_id(id)
        .agent_runtime_artifact(code_artifact("a.zip"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    updated.agent_runtime_version().to_owned()
}

/// A runtime with `count` READY versions.
async fn runtime_with_versions(client: &control::Client, name: &str, count: u32) -> String {
    let id = create_runtime(client, name, "a.zip").await;
    wait_runtime(client, &id).await;
    for _ in 1..count {
        add_version(client, &id).await;
        wait_runtime(client, &id).await;
    }
    id
}

/// Polls until `version` of the runtime is gone (404), bounded.
async fn wait_version_gone(client: &control::Client, id: &str, version: &str) {
    for _ in 0..200 {
        match client.get_agent_runtime().agent_runtime_id(id).agent_runtime_version(version).send().await {
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return,
            Ok(runtime) => assert_eq!(runtime.status().as_str(), "DELETING", "version {version}"),
            Err(err) => panic!("{err:?}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("version {version} of {id} was never deleted");
}

/// A deleted version is DELETING in Get and the listing, then gone from both; asking again while it
/// is DELETING answers DELETING, and once it is gone 404. The others, the endpoints and the next
/// version number are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_version_goes_deleting_then_away_and_lists_follow() {
    let harness = start(300).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;
    let id = runtime_with_versions(&client, "pruned", 4).await;
    let delete =
        |version: &'static str| client.delete_agent_runtime().agent_runtime_id(&id).agent_runtime_version(version);

    let deleted = delete("2").send().await.unwrap();
    assert_eq!(
        (deleted.status().as_str(), deleted.agent_runtime_id(), deleted.agent_runtime_version()),
        ("DELETING", Some(id.as_str()), Some("2"))
    );
    let got = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("2").send().await.unwrap();
    assert_eq!(got.status().as_str(), "DELETING");
    let ready = |number: &str| (number.to_owned(), "READY".to_owned());
    assert_eq!(listed(&client, &id).await, [ready("4"), ready("3"), ("2".into(), "DELETING".into()), ready("1")]);
    let latest = client.get_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!((latest.agent_runtime_version(), latest.status().as_str()), ("4", "READY"), "the runtime stays READY");
    // Again while it is DELETING: the same answer, no error.
    assert_eq!(delete("2").send().await.unwrap().status().as_str(), "DELETING");
    // An endpoint cannot be pointed at a version being deleted.
    let err = client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("prod")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 2");

    wait_version_gone(&client, &id, "2").await;
    assert_eq!(listed(&client, &id).await, [ready("4"), ready("3"), ready("1")]);
    let err = delete("2").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 2");
    let err = client.get_agent_runtime().agent_runtime_id(&id).agent_runtime_version("2").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 2");
    // Version numbers are never reused.
    assert_eq!(add_version(&client, &id).await, "5");
}

/// What a single-version delete refuses: an unknown version (404), the only version, the latest one,
/// a version an endpoint serves or is moving to, one an endpoint being deleted still names, and any
/// version of a runtime being deleted (409). A client token replays its first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_single_version_delete_refuses() {
    let harness = start(300).await;
    let stack = &harness.stack;
    upload(stack, "a.zip", zip_with(&[("main.py", "")])).await;
    let client = control_client(stack).await;

    let single = runtime_with_versions(&client, "single", 1).await;
    let err =
        client.delete_agent_runtime().agent_runtime_id(&single).agent_runtime_version("1").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "version 1 is the only version of agent runtime");
    assert!(err.into_service_error().is_conflict_exception());

    let id = runtime_with_versions(&client, "guarded", 5).await;
    let delete =
        |version: &'static str| client.delete_agent_runtime().agent_runtime_id(&id).agent_runtime_version(version);
    let err = delete("9").send().await.unwrap_err();
    assert_error(&err, 404, "ResourceNotFoundException", "has no version 9");
    let err = delete("5").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "version 5 is the latest version");

    // `prod` serves 1 and is moving to 2: both are in use until the move is over.
    client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("prod")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let moving = client
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("prod")
        .agent_runtime_version("2")
        .send()
        .await
        .unwrap();
    assert_eq!((moving.live_version(), moving.target_version()), (Some("1"), Some("2")));
    for version in ["1", "2"] {
        let err = client
            .delete_agent_runtime()
            .agent_runtime_id(&id)
            .agent_runtime_version(version)
            .send()
            .await
            .unwrap_err();
        assert_error(
            &err,
            409,
            "ConflictException",
            &format!("version {version} of agent runtime {id} is used by endpoint(s) prod"),
        );
    }

    // An endpoint being deleted still names its version until it is gone.
    client
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("canary")
        .agent_runtime_version("3")
        .send()
        .await
        .unwrap();
    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("canary").send().await.unwrap();
    let err = delete("3").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "is used by endpoint(s) canary");

    // A client token replays the first answer; the same token for another version is refused.
    let token = "token-0000000000000000000000000000004";
    let first = delete("4").client_token(token).send().await.unwrap();
    let again = delete("4").client_token(token).send().await.unwrap();
    assert_eq!(
        (first.status().as_str(), first.agent_runtime_version()),
        (again.status().as_str(), again.agent_runtime_version())
    );
    let err = delete("3").client_token(token).send().await.unwrap_err();
    assert_error(&err, 400, "ValidationException", "clientToken was already used with different parameters");

    // A runtime being deleted: its versions go with it, none on its own.
    tokio::time::sleep(Duration::from_millis(400)).await;
    client.delete_agent_runtime_endpoint().agent_runtime_id(&id).endpoint_name("prod").send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let whole = client.delete_agent_runtime().agent_runtime_id(&id).send().await.unwrap();
    assert_eq!((whole.status().as_str(), whole.agent_runtime_version()), ("DELETING", None));
    let err = delete("2").send().await.unwrap_err();
    assert_error(&err, 409, "ConflictException", "is being deleted");
}
