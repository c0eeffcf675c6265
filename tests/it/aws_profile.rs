//! Off Lambda, the DynamoDB client takes its region and credentials from the standard
//! chain (here an `AWS_PROFILE` in a config file of its own), as every AWS tool does;
//! on Lambda, from the variables Lambda sets. The test changes the process's environment,
//! which every other test of this binary reads: it runs itself again in a child process
//! of the same binary, alone there, and passes when that run passes.

use std::process::Command;

use jobs_api::store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common;

/// Set in the child process, where the test's own body runs.
const CHILD: &str = "JOBS_TEST_AWS_PROFILE_CHILD";

const CONFIG: &str = "[profile jobs-test]\nregion = eu-west-3\n";
const CREDENTIALS: &str =
    "[jobs-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n";

/// The access key and region a client signs with, read off the `Authorization` header
/// of one call it makes to a listener standing in for DynamoDB
/// (`Credential=KEY/DATE/REGION/dynamodb/aws4_request`).
async fn signed_with(
    client: &aws_sdk_dynamodb::Client,
    listener: &TcpListener,
) -> (String, String) {
    let answer = async {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the client hung up");
            request.extend_from_slice(&buffer[..read]);
        }
        let body = r#"{"TableNames":[]}"#;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(reply.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    };
    let (request, called) = tokio::join!(answer, client.list_tables().send());
    called.expect("ListTables answered");
    let authorization = request
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("authorization:"))
        .expect("a signed request");
    let scope = authorization.split("Credential=").nth(1).unwrap();
    let parts: Vec<&str> = scope.split('/').collect();
    (parts[0].to_owned(), parts[2].to_owned())
}

#[test]
fn off_lambda_the_profile_is_used_and_on_lambda_the_environment() {
    if std::env::var_os(CHILD).is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(profile_then_lambda());
        return;
    }
    // This test's name as the harness knows it: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, path)| path);
    let name = format!("{module}::off_lambda_the_profile_is_used_and_on_lambda_the_environment");
    let child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("running the test binary again");
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    // "1 passed": the child ran exactly this test (a wrong name would pass 0).
    assert!(
        child.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child process of {name}: {}\n{stdout}\n{stderr}",
        child.status
    );
}

/// The test's body, in a process of its own (see the module's comment).
async fn profile_then_lambda() {
    let endpoint = common::env("AWS_ENDPOINT_URL_DYNAMODB");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let folder = std::env::temp_dir().join(format!("jobs-aws-profile-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config"), CONFIG).unwrap();
    std::fs::write(folder.join("credentials"), CREDENTIALS).unwrap();
    // SAFETY: the only test of this child process (run with `--exact` on one thread), and
    // it starts no thread that reads the environment before these writes.
    unsafe {
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_LAMBDA_INITIALIZATION_TYPE",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("AWS_PROFILE", "jobs-test");
        std::env::set_var("AWS_CONFIG_FILE", folder.join("config"));
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", folder.join("credentials"));
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var(
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://{}", listener.local_addr().unwrap()),
        );
    }

    let client = store::connect(&jobs_api::config::AwsConfig::from_env())
        .await
        .expect("a client from the profile");
    assert_eq!(
        signed_with(&client, &listener).await,
        ("AKIDPROFILE".to_owned(), "eu-west-3".to_owned())
    );
    // And it works: the local DynamoDB answers a call signed with the profile's keys.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &endpoint) };
    let client = store::connect(&jobs_api::config::AwsConfig::from_env())
        .await
        .expect("a client from the profile");
    client
        .list_tables()
        .send()
        .await
        .unwrap_or_else(|error| panic!("ListTables at {endpoint} with the profile: {error:?}"));

    // On Lambda, the profile is not even read: the role's variables are the truth.
    unsafe {
        std::env::set_var("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        std::env::set_var("AWS_REGION", "ap-south-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDLAMBDA");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "lambda-secret");
        std::env::set_var(
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://{}", listener.local_addr().unwrap()),
        );
    }
    let client = store::connect(&jobs_api::config::AwsConfig::from_env())
        .await
        .expect("a client from Lambda's variables");
    assert_eq!(
        signed_with(&client, &listener).await,
        ("AKIDLAMBDA".to_owned(), "ap-south-1".to_owned())
    );

    // Neither a region in the environment nor in the profile: a clear error.
    unsafe {
        std::env::remove_var("AWS_LAMBDA_INITIALIZATION_TYPE");
        std::env::remove_var("AWS_REGION");
        std::env::set_var("AWS_PROFILE", "no-such-profile");
    }
    let error = store::connect(&jobs_api::config::AwsConfig::from_env())
        .await
        .expect_err("no region anywhere");
    assert!(error.contains("region"), "{error}");
    std::fs::remove_dir_all(&folder).ok();
}
