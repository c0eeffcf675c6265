//! A bounded loopback load through `cargo lambda watch`: creates, progress increments and
//! reads from several workers in parallel across several organizations, then checks that
//! nothing failed (no 5xx, no 4xx: every request here is valid), that every created job is
//! readable in its own organization and listed there, and that every job's
//! `processed_items` is exactly the sum of the increments reported for it (many of them
//! concurrent, on the same jobs).
//!
//! Run by `scripts/test.sh` (a full run) after it starts a second function instance on
//! the same watch, so requests are served by two processes as by two Lambda instances:
//!     cargo test --test it -- --ignored --nocapture load::
//! Requests/second and latency percentiles are printed (information, not asserted).
//! `LOAD_REQUESTS` (default 2400) and `LOAD_WORKERS` (default 8) change the size.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::http::{HttpReply, send};
use crate::common::*;

const ORGANIZATIONS: usize = 4;
/// The whole load must end within this; past it workers stop and the test fails.
const DEADLINE: Duration = Duration::from_secs(150);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Create,
    CreateWithKey,
    Increment,
    Get,
    Status,
    List,
}

/// xorshift64*: reproducible per worker, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Org {
    id: String,
    auth: String,
    /// job id → the sum of the increments the API accepted for it.
    jobs: Mutex<Vec<(String, u64)>>,
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<(Op, Duration)>,
    failures: Vec<String>,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn call(
    base: &str,
    org: &Org,
    method: &str,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> HttpReply {
    let mut headers = vec![("Authorization", org.auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    if let Some(key) = key {
        headers.push(("Idempotency-Key", key));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    send(base, method, path, &headers, &body)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

#[test]
#[ignore = "load check: scripts/test.sh runs it after starting a second function instance"]
fn a_bounded_mixed_load_loses_and_doubles_nothing() {
    let base = env("JOBS_TEST_WATCH_URL");
    let total = env_or("LOAD_REQUESTS", 2400);
    let workers = env_or("LOAD_WORKERS", 8).max(1);
    let orgs: Vec<Org> = (0..ORGANIZATIONS)
        .map(|_| {
            let id = unique_org("load");
            let auth = format!("Bearer {}", token(&claims(&id)));
            Org {
                id,
                auth,
                jobs: Mutex::new(Vec::new()),
            }
        })
        .collect();

    let started = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (base, orgs) = (&base, &orgs);
                scope.spawn(move || work(base, orgs, worker, total / workers, started))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();

    let mut latencies: Vec<(Op, Duration)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for outcome in outcomes {
        latencies.extend(outcome.latencies);
        failures.extend(outcome.failures);
    }
    report(&latencies, elapsed, workers);
    assert!(
        failures.is_empty(),
        "{} of {} requests failed, first: {:?}",
        failures.len(),
        latencies.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(elapsed < DEADLINE, "the load took {elapsed:?}");

    // Afterwards: every job readable with its exact count, every organization's list whole.
    let mut jobs = 0;
    for org in &orgs {
        let expected: HashMap<String, u64> = org.jobs.lock().unwrap().iter().cloned().collect();
        for (job_id, increments) in &expected {
            let reply = call(
                &base,
                org,
                "GET",
                &format!("/api/jobs/{job_id}"),
                None,
                None,
            );
            assert_eq!(reply.status, 200, "job {job_id} of {} unreadable", org.id);
            let job = reply.json();
            assert_eq!(
                job["processed_items"], *increments,
                "job {job_id}: processed_items is not the sum of the accepted increments"
            );
        }
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let path = match &cursor {
                None => "/api/jobs/?limit=100".to_owned(),
                Some(c) => format!("/api/jobs/?limit=100&cursor={c}"),
            };
            let page = call(&base, org, "GET", &path, None, None);
            assert_eq!(page.status, 200);
            let page = page.json();
            for item in page["items"].as_array().unwrap() {
                listed.push(item["job_id"].as_str().unwrap().to_owned());
            }
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        listed.sort();
        let mut created: Vec<String> = expected.keys().cloned().collect();
        created.sort();
        assert_eq!(
            listed, created,
            "{}: the list is exactly the jobs created",
            org.id
        );
        jobs += created.len();
    }
    println!(
        "load: verified {jobs} jobs in {ORGANIZATIONS} organizations: all readable, counts exact"
    );
}

fn work(base: &str, orgs: &[Org], worker: usize, requests: usize, started: Instant) -> Outcome {
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15 ^ (worker as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    let mut outcome = Outcome::default();
    let org = &orgs[worker % orgs.len()];
    for i in 0..requests {
        if started.elapsed() > DEADLINE {
            outcome
                .failures
                .push(format!("worker {worker}: deadline passed at request {i}"));
            break;
        }
        let known = org.jobs.lock().unwrap().len();
        // The first requests of each worker create; then 1 in 8 creates (1 in 4 of those
        // with a key), half increment, the rest read.
        let op = match (i < 5 || known == 0, rng.below(16)) {
            (true, _) | (false, 0) => Op::Create,
            (false, 1) => Op::CreateWithKey,
            (false, 2..=9) => Op::Increment,
            (false, 10..=12) => Op::Get,
            (false, 13..=14) => Op::Status,
            (false, _) => Op::List,
        };
        let pick = |rng: &mut Rng| {
            let jobs = org.jobs.lock().unwrap();
            jobs[rng.below(jobs.len())].0.clone()
        };
        let t = Instant::now();
        let (reply, expected) = match op {
            Op::Create | Op::CreateWithKey => {
                let body = json!({"job_type": "import", "total_items": 1000, "metadata": {"worker": worker}});
                let key = format!("w{worker}-r{i}");
                let key = (op == Op::CreateWithKey).then_some(key.as_str());
                (call(base, org, "POST", "/api/jobs/", Some(&body), key), 201)
            }
            Op::Increment => {
                let job = pick(&mut rng);
                let by = 1 + rng.below(5) as u64;
                let body = json!({"processed_items_increment": by});
                let reply = call(
                    base,
                    org,
                    "POST",
                    &format!("/api/jobs/{job}/progress"),
                    Some(&body),
                    None,
                );
                if reply.status == 200 {
                    let mut jobs = org.jobs.lock().unwrap();
                    if let Some(entry) = jobs.iter_mut().find(|(id, _)| *id == job) {
                        entry.1 += by;
                    }
                }
                (reply, 200)
            }
            Op::Get => (
                call(
                    base,
                    org,
                    "GET",
                    &format!("/api/jobs/{}", pick(&mut rng)),
                    None,
                    None,
                ),
                200,
            ),
            Op::Status => (
                call(
                    base,
                    org,
                    "GET",
                    &format!("/api/jobs/{}/status", pick(&mut rng)),
                    None,
                    None,
                ),
                200,
            ),
            Op::List => (
                call(base, org, "GET", "/api/jobs/?limit=20", None, None),
                200,
            ),
        };
        outcome.latencies.push((op, t.elapsed()));
        if reply.status != expected {
            outcome.failures.push(format!(
                "{op:?}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
            continue;
        }
        if matches!(op, Op::Create | Op::CreateWithKey) {
            let id = reply.json()["job_id"].as_str().unwrap().to_owned();
            org.jobs.lock().unwrap().push((id, 0));
        }
    }
    outcome
}

fn report(latencies: &[(Op, Duration)], elapsed: Duration, workers: usize) {
    let mut by_op: HashMap<Op, Vec<Duration>> = HashMap::new();
    for (op, latency) in latencies {
        by_op.entry(*op).or_default().push(*latency);
    }
    let mut all: Vec<Duration> = latencies.iter().map(|(_, d)| *d).collect();
    all.sort();
    println!(
        "load: {} requests, {workers} workers, {:.1} s: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by_key(|(op, _)| *op);
    for (op, mut durations) in ops {
        durations.sort();
        println!(
            "load:   {op:?}: {} requests, p50 {:.1} ms, p99 {:.1} ms",
            durations.len(),
            percentile(&durations, 0.50),
            percentile(&durations, 0.99)
        );
    }
}
