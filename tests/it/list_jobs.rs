//! `GET /api/jobs/`: newest first, filters, pages, and cursors that stay inside the
//! caller's organization.

use serde_json::{Value, json};

use crate::common::*;

async fn page(app: &jobs_api::App, caller: &Tenant, query: &str) -> Reply {
    send(app, caller.get(&format!("/api/jobs/?{query}"))).await
}

/// Every job id of a listing, following cursors to the end.
async fn all_ids(app: &jobs_api::App, caller: &Tenant, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let reply = page(app, caller, &query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        for job in reply.body["items"].as_array().unwrap() {
            ids.push(job["job_id"].as_str().unwrap().to_owned());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

struct Created {
    id: String,
    job_type: &'static str,
    by: &'static str,
    created_at: String,
}

#[tokio::test]
async fn lists_newest_first_with_filters_and_pages() {
    let app = app().await;
    let caller = Tenant::new("list");
    let mut created = Vec::new();
    for (n, (job_type, by)) in [
        ("crawl", "alice"),
        ("import", "bob"),
        ("crawl", "bob"),
        ("export", "alice"),
        ("crawl", "alice"),
        ("import", "alice"),
        ("crawl", "carol"),
    ]
    .into_iter()
    .enumerate()
    {
        let job = caller
            .create(
                &app,
                json!({"job_type": job_type, "total_items": n, "triggered_by": by}),
            )
            .await;
        created.push(Created {
            id: job["job_id"].as_str().unwrap().to_owned(),
            job_type,
            by,
            created_at: job["created_at"].as_str().unwrap().to_owned(),
        });
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    // Two started, one of them then cancelled.
    caller
        .progress(&app, &created[1].id, json!({"mark_started": true}))
        .await;
    caller
        .progress(&app, &created[4].id, json!({"mark_started": true}))
        .await;
    send(
        &app,
        caller.post(&format!("/api/jobs/{}/cancel", created[4].id), &json!({})),
    )
    .await;

    let newest_first: Vec<String> = created.iter().rev().map(|c| c.id.clone()).collect();
    let first = page(&app, &caller, "").await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body["next_cursor"],
        Value::Null,
        "7 jobs fit the default page"
    );
    let ids: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, newest_first);
    for field in JOB_RESPONSE_FIELDS {
        assert!(
            first.body["items"][0].get(field).is_some(),
            "list items are JobResponses: {field}"
        );
    }

    // Pages of 2 cover everything once, in order.
    assert_eq!(all_ids(&app, &caller, "limit=2").await, newest_first);
    let two = page(&app, &caller, "limit=2").await;
    assert_eq!(two.body["items"].as_array().unwrap().len(), 2);
    assert!(two.body["next_cursor"].is_string());

    let expect = |keep: &dyn Fn(&Created) -> bool| -> Vec<String> {
        created
            .iter()
            .rev()
            .filter(|c| keep(c))
            .map(|c| c.id.clone())
            .collect()
    };
    assert_eq!(
        all_ids(&app, &caller, "limit=1&job_type=crawl").await,
        expect(&|c| c.job_type == "crawl")
    );
    assert_eq!(
        all_ids(&app, &caller, "limit=2&triggered_by=alice").await,
        expect(&|c| c.by == "alice")
    );
    assert_eq!(
        all_ids(&app, &caller, "limit=1&triggered_by=alice&job_type=crawl").await,
        expect(&|c| c.by == "alice" && c.job_type == "crawl")
    );
    assert_eq!(
        all_ids(&app, &caller, "status=in_progress").await,
        vec![created[1].id.clone()]
    );
    assert_eq!(
        all_ids(&app, &caller, "status=cancelled&job_type=crawl").await,
        vec![created[4].id.clone()]
    );
    assert_eq!(
        all_ids(&app, &caller, "status=pending&triggered_by=alice&limit=1").await,
        expect(&|c| c.by == "alice" && c.id != created[4].id)
    );
    assert_eq!(
        all_ids(&app, &caller, "status=failed").await,
        Vec::<String>::new()
    );

    let after = &created[2].created_at;
    let before = &created[5].created_at;
    let window = format!("created_after={after}&created_before={before}");
    assert_eq!(
        all_ids(&app, &caller, &window).await,
        vec![created[4].id.clone(), created[3].id.clone()]
    );
    let window_crawl = format!("{window}&job_type=crawl");
    assert_eq!(
        all_ids(&app, &caller, &window_crawl).await,
        vec![created[4].id.clone()]
    );
}

#[tokio::test]
async fn bad_queries_are_422_all_at_once() {
    let app = app().await;
    let caller = Tenant::new("badlist");
    let reply = page(
        &app,
        &caller,
        "limit=0&status=done&created_after=yesterday&cursor=%%%",
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    let locs: Vec<String> = reply.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"][1].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(locs, ["status", "created_after", "limit", "cursor"]);
    for query in [
        "limit=101",
        "limit=abc",
        "cursor=Sk9CIw",
        "created_before=2026-01-01",
    ] {
        assert_eq!(page(&app, &caller, query).await.status, 422, "{query}");
    }
}

#[tokio::test]
async fn a_cursor_cannot_reach_another_organizations_jobs() {
    let app = app().await;
    let (a, b) = (Tenant::new("cursor-a"), Tenant::new("cursor-b"));
    for _ in 0..3 {
        a.create(&app, json!({"job_type": "crawl", "total_items": 1}))
            .await;
    }
    let b_job = b
        .create(&app, json!({"job_type": "crawl", "total_items": 1}))
        .await;
    let a_page = page(&app, &a, "limit=1").await;
    let a_cursor = a_page.body["next_cursor"].as_str().unwrap().to_owned();
    // A's cursor, used by B, is only a position: B sees only B's jobs.
    let reply = page(&app, &b, &format!("cursor={a_cursor}")).await;
    assert_eq!(reply.status, 200);
    for job in reply.body["items"].as_array().unwrap() {
        assert_eq!(job["job_id"], b_job["job_id"]);
    }
    // An edited cursor that tries to name another partition is refused.
    use base64::Engine;
    let forged =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ORG#{}#JOB#x", a.org));
    assert_eq!(
        page(&app, &b, &format!("cursor={forged}")).await.status,
        422
    );
    assert!(
        all_ids(&app, &b, "limit=1")
            .await
            .iter()
            .all(|id| id == b_job["job_id"].as_str().unwrap())
    );
}

/// An organization's jobs are spread over the index shards (`store::keys::SHARDS`); a
/// listing merges them: every job once, newest first (by id, which is time-ordered),
/// whatever the page size, and a filter that matches few jobs still finds them all
/// (short pages go on from where each shard stopped).
#[tokio::test]
async fn pages_merge_every_shard_in_order() {
    let app = app().await;
    let caller = Tenant::new("shards");
    let mut all = Vec::new();
    let mut exports = Vec::new();
    for n in 0..40 {
        let job_type = if n % 8 == 3 { "export" } else { "crawl" };
        let job = caller
            .create(&app, json!({"job_type": job_type, "total_items": n}))
            .await;
        let id = job["job_id"].as_str().unwrap().to_owned();
        if job_type == "export" {
            exports.push(id.clone());
        }
        all.push(id);
    }
    let shards: std::collections::HashSet<u8> = all
        .iter()
        .map(|id| jobs_api::store::keys::shard(id))
        .collect();
    assert_eq!(shards.len(), 4, "40 jobs cover every shard");
    all.sort_by(|a, b| b.cmp(a));
    exports.sort_by(|a, b| b.cmp(a));
    for limit in [1, 3, 7, 40, 100] {
        assert_eq!(
            all_ids(&app, &caller, &format!("limit={limit}")).await,
            all,
            "limit {limit}"
        );
    }
    for limit in [1, 2, 5] {
        let query = format!("limit={limit}&job_type=export");
        assert_eq!(all_ids(&app, &caller, &query).await, exports, "{query}");
    }
}

/// The case the merge exists for: a filter (here `triggered_by` on top of the status
/// index) leaves one shard's query without a match among the entries it evaluated,
/// while another shard already returned older matches. Those older matches must wait:
/// the newer match in the first shard comes first.
#[tokio::test]
async fn a_sparse_filter_never_returns_an_older_job_before_a_newer_one() {
    use jobs_api::store::keys::shard;
    let app = app().await;
    let caller = Tenant::new("frontier");
    // (id, by) in creation order; ids grow with time.
    let mut jobs: Vec<(String, &str)> = Vec::new();
    let chosen = loop {
        for n in 0..16 {
            let by = if n % 2 == 0 { "alice" } else { "bob" };
            let job = caller
                .create(
                    &app,
                    json!({"job_type": "crawl", "total_items": 1, "triggered_by": by}),
                )
                .await;
            jobs.push((job["job_id"].as_str().unwrap().to_owned(), by));
        }
        // Shard Y: two of alice's jobs; shard X: a later one of alice's, then three of
        // bob's after it (what a query of X evaluates first, and filters out).
        let found = jobs.iter().enumerate().find_map(|(i, (y1, by))| {
            let y = shard(y1);
            let alice = |(_, (id, b)): &(usize, &(String, &str))| *b == "alice" && shard(id) == y;
            let (j, (y2, _)) = jobs.iter().enumerate().skip(i + 1).find(alice)?;
            (*by == "alice").then_some(())?;
            jobs.iter().enumerate().skip(j + 1).find_map(|(k, (x, b))| {
                let xs = shard(x);
                let bobs: Vec<&String> = jobs[k + 1..]
                    .iter()
                    .filter(|(id, b)| *b == "bob" && shard(id) == xs)
                    .map(|(id, _)| id)
                    .take(3)
                    .collect();
                (*b == "alice" && xs != y && bobs.len() == 3).then(|| {
                    let mut keep = vec![y1.clone(), y2.clone(), x.clone()];
                    keep.extend(bobs.into_iter().cloned());
                    keep
                })
            })
        });
        if let Some(keep) = found {
            break keep;
        }
    };
    for (id, _) in &jobs {
        if !chosen.contains(id) {
            let cancel = caller.post(&format!("/api/jobs/{id}/cancel"), &json!({}));
            assert_eq!(send(&app, cancel).await.status, 200);
        }
    }
    let expected = vec![chosen[2].clone(), chosen[1].clone(), chosen[0].clone()];
    let query = "status=pending&triggered_by=alice&limit=1";
    assert_eq!(all_ids(&app, &caller, query).await, expected);
}

/// `created_after` at or past `created_before`, or a cursor already below
/// `created_after`, select nothing: an empty last page, not a `BETWEEN` DynamoDB refuses
/// (low end above high end: a `500` against the strict local DynamoDB before).
#[tokio::test]
async fn an_empty_created_range_is_an_empty_page() {
    let app = app().await;
    let caller = Tenant::new("list-range");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            caller
                .create_id(&app, json!({"job_type": "crawl", "total_items": 1}))
                .await,
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let after = "2026-11-28T12:00:00.500Z";
    for query in [
        format!("created_after={after}&created_before={after}"),
        format!("created_after={after}&created_before=2026-11-28T12:00:00.499Z"),
        format!("created_after={after}&created_before=2026-11-28T12:00:00.501Z"),
        "created_after=2100-01-01T00:00:00Z&created_before=2000-01-01T00:00:00Z".to_owned(),
    ] {
        let reply = page(&app, &caller, &query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(
            reply.body,
            json!({"items": [], "next_cursor": null}),
            "{query}"
        );
    }
    // A cursor from a listing of every job, used with a bound above its position.
    let first = page(&app, &caller, "limit=1").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let created: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["created_at"].as_str().unwrap().to_owned())
        .collect();
    let query = format!("created_after={}&cursor={cursor}", created[0]);
    let reply = page(&app, &caller, &query).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    assert_eq!(reply.body, json!({"items": [], "next_cursor": null}));
    assert_eq!(all_ids(&app, &caller, "limit=2").await.len(), 3);
}

/// One job item this version cannot read (a status it does not know) never fails a
/// page: it is skipped (logged, counted in `UnreadableItems`), every other job is
/// listed, in order, on every page. Its own GET is a `500` for it alone.
#[tokio::test]
async fn an_unreadable_job_is_skipped_and_the_page_goes_on() {
    let app = app().await;
    let client = client().await;
    let caller = Tenant::new("list-bad");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            caller
                .create_id(&app, json!({"job_type": "crawl", "total_items": 1}))
                .await,
        );
    }
    let bad = ids.remove(2);
    spoil_job(&client, &env("JOBS_TABLE_NAME"), &caller.org, &bad, &[]).await;
    ids.reverse();
    for query in ["limit=20", "limit=1", "limit=2", "job_type=crawl&limit=3"] {
        assert_eq!(all_ids(&app, &caller, query).await, ids, "{query}");
    }
    let reply = send(&app, caller.get(&format!("/api/jobs/{bad}"))).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    let reply = send(&app, caller.get(&format!("/api/jobs/{}", ids[0]))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Lambda's limit on a function's answer: 6 MB, the invocation's whole JSON, in which
/// the body travels as a JSON string (each `"` and `\` escaped again).
const LAMBDA_RESPONSE_LIMIT: usize = 6_291_556;

/// What a page's items may take (`routes::list_jobs::PAGE_BUDGET_BYTES`, 5 MiB).
const PAGE_BUDGET: usize = 5 * 1024 * 1024;

/// The size of a page's body as Lambda carries it.
fn carried_size(body: &Value) -> usize {
    serde_json::to_string(&body.to_string()).unwrap().len()
}

/// The case: metadata grown patch by patch (quote-heavy text, which JSON
/// escapes, twice on its way through Lambda) makes ten jobs whose default page was
/// past Lambda's 6 MB, which API Gateway answers `502`. Every page now stops before the
/// budget with a cursor, even short of `limit`, and paging returns every job once, in
/// order.
#[tokio::test]
async fn pages_stay_under_lambdas_response_limit() {
    let app = app().await;
    let caller = Tenant::new("list-big");
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            caller
                .create_id(&app, json!({"job_type": "import", "total_items": 1}))
                .await,
        );
    }
    // 8,000 quotes: 16 KB of JSON per patch (the limit), 32 KB as Lambda carries it.
    let quotes = "\"".repeat(8_000);
    let grow = |id: String| {
        let (app, caller, quotes) = (&app, &caller, &quotes);
        async move {
            for patch in 0..25 {
                let body = json!({"metadata_patch": {format!("k{patch:02}"): quotes}});
                let reply =
                    send(app, caller.post(&format!("/api/jobs/{id}/progress"), &body)).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
        }
    };
    futures_util::future::join_all(ids.iter().cloned().map(grow)).await;
    ids.reverse();

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("cursor={c}"),
            None => String::new(),
        };
        let reply = page(&app, &caller, &query).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let size = carried_size(&reply.body);
        assert!(
            size <= PAGE_BUDGET + 1024,
            "page {pages} is {size} bytes as Lambda carries it (its limit: {LAMBDA_RESPONSE_LIMIT})"
        );
        pages += 1;
        for job in reply.body["items"].as_array().unwrap() {
            assert_eq!(job["metadata"]["k24"].as_str().map(str::len), Some(8_000));
            listed.push(job["job_id"].as_str().unwrap().to_owned());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, ids, "every job once, newest first");
    assert!(pages >= 2, "the default page of 20 could not hold them all");
}
