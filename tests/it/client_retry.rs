//! `jobs-client` through the fault proxy in front of the function (`cargo lambda watch`):
//! a write whose answer is lost after the server applied it, or whose connection is
//! dropped before, is sent again under the same `Idempotency-Key` and lands once.

use futures_util::TryStreamExt;
use jobs_client::{Client, CreateJobRequest, Error, ProgressReport, RetryPolicy};
use std::time::Duration;

use crate::common::proxy::{Fault, Proxy};
use crate::common::*;

fn client_via(proxy: &Proxy, org: &str) -> Client {
    Client::builder(proxy.url())
        .token(token(&claims(org)))
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
        .build()
        .expect("a client")
}

/// Requests of the function seen by the proxy (it names non-DynamoDB requests "unknown").
fn requests(proxy: &Proxy) -> usize {
    proxy.attempts("unknown")
}

#[tokio::test]
async fn a_report_whose_answer_is_lost_is_retried_and_counted_once() {
    let proxy = Proxy::start(&env("JOBS_TEST_WATCH_URL"));
    proxy.honour_tokens(false);
    let org = unique_org("client-lost");
    let client = client_via(&proxy, &org);
    let job = client
        .create(&CreateJobRequest::new("import", 100))
        .await
        .expect("create");

    let before = requests(&proxy);
    proxy.arm(Fault::LoseAnswer, None, 1);
    let increment = ProgressReport {
        processed_items_increment: Some(5),
        ..Default::default()
    };
    let status = client
        .report(&job.job_id, &increment)
        .await
        .expect("the retry answers");
    assert_eq!(requests(&proxy) - before, 2, "one lost answer, one retry");
    assert_eq!(
        status.processed_items, 5,
        "the retry was replayed, not applied"
    );
    let job = client.get(&job.job_id).await.expect("get");
    assert_eq!(job.processed_items, 5);

    // A dropped connection before the function saw it: sent again, applied once.
    proxy.arm(Fault::Stop, None, 1);
    let status = client
        .report(&job.job_id, &increment)
        .await
        .expect("the retry lands");
    assert_eq!(status.processed_items, 10);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_makes_one_job() {
    let proxy = Proxy::start(&env("JOBS_TEST_WATCH_URL"));
    proxy.honour_tokens(false);
    let org = unique_org("client-create");
    let client = client_via(&proxy, &org);
    proxy.arm(Fault::LoseAnswer, None, 2);
    let job = client
        .create(&CreateJobRequest::new("crawl", 3))
        .await
        .expect("the third attempt answers");
    assert_eq!(requests(&proxy), 3);
    let jobs: Vec<_> = client
        .list(Default::default())
        .try_collect()
        .await
        .expect("list");
    assert_eq!(jobs.len(), 1, "one job for three attempts");
    assert_eq!(jobs[0].job_id, job.job_id);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_unavailable() {
    let proxy = Proxy::start(&env("JOBS_TEST_WATCH_URL"));
    let org = unique_org("client-down");
    let client = Client::builder(proxy.url())
        .token(token(&claims(&org)))
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    proxy.arm(Fault::Stop, None, 100);
    let err = client.status("0190d1c0-0000-7000-8000-000000000000").await;
    assert!(matches!(err, Err(Error::Unavailable(_))), "{err:?}");
    assert_eq!(proxy.seen().len(), 3, "exactly max_attempts sends");
}
