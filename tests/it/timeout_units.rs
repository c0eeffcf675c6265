//! What heartbeats and timeouts cost, in DynamoDB's units: every request goes through
//! `bench/heat_proxy.py`, which charges it by DynamoDB's rules (bench/heat_model.py:
//! item sizes, write units of the table and of every index, from the item before and
//! after). Prints the figures the README quotes (`scripts/test.sh -- --nocapture
//! timeout_units`) and asserts the claims: a report on a job with a heartbeat timeout
//! writes no index, exactly like one on a job without; the sweep reads in proportion to
//! the due jobs.

use std::io::BufRead;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use jobs_api::job::time::Timestamp;
use jobs_api::store::Store;
use jobs_api::sweep;
use jobs_api::{App, Config};
use serde_json::{Value, json};

use crate::common::{self, Tenant, send};

/// The heat proxy, stopped (the process this test started, by its handle) when dropped.
struct HeatProxy {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    read: usize,
}

impl Drop for HeatProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HeatProxy {
    fn start() -> HeatProxy {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let root = env!("CARGO_MANIFEST_DIR");
        let log =
            std::env::temp_dir().join(format!("timeout-units-{}.jsonl", uuid::Uuid::now_v7()));
        let child = Command::new("python3")
            .arg(format!("{root}/bench/heat_proxy.py"))
            .args(["--port", &port.to_string()])
            .args(["--upstream", &common::env("AWS_ENDPOINT_URL_DYNAMODB")])
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting bench/heat_proxy.py");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        HeatProxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            read: 0,
        }
    }

    /// The requests logged since the last call: (operation, charges).
    fn take(&mut self) -> Vec<(String, Vec<Value>)> {
        let file = std::fs::File::open(&self.log).expect("the proxy's log");
        let lines: Vec<Value> = std::io::BufReader::new(file)
            .lines()
            .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
            .collect();
        let new = lines[self.read..]
            .iter()
            .map(|line| {
                let charges = line["charges"].as_array().cloned().unwrap_or_default();
                (line["op"].as_str().unwrap_or_default().to_owned(), charges)
            })
            .collect();
        self.read = lines.len();
        new
    }
}

/// Units of some requests: (table WCU, index WCU, RCU), and the index WCU by index.
#[derive(Debug, Default)]
struct Units {
    table_wcu: f64,
    index_wcu: f64,
    rcu: f64,
    by_index: std::collections::BTreeMap<String, f64>,
    requests: Vec<String>,
}

fn units(requests: &[(String, Vec<Value>)]) -> Units {
    let mut units = Units::default();
    for (op, charges) in requests {
        units.requests.push(op.clone());
        for charge in charges {
            let wcu = charge["wcu"].as_f64().unwrap_or(0.0);
            units.rcu += charge["rcu"].as_f64().unwrap_or(0.0);
            match charge["index"].as_str() {
                None => units.table_wcu += wcu,
                Some(index) => {
                    units.index_wcu += wcu;
                    *units.by_index.entry(index.to_owned()).or_default() += wcu;
                }
            }
        }
    }
    units
}

async fn client_at(url: &str) -> Client {
    let config = common::client()
        .await
        .config()
        .to_builder()
        .endpoint_url(url)
        .retry_partition(RetryPartition::new(format!(
            "heat-{}",
            uuid::Uuid::now_v7()
        )))
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn what_a_heartbeat_a_timeout_and_a_sweep_cost() {
    let table = common::fresh_table("timeout-units");
    let mut heat = HeatProxy::start();
    let client = client_at(&heat.url).await;
    let config = Config::from_lookup(|name| match name {
        "JOBS_TABLE_NAME" => Some(table.clone()),
        "JOBS_MIN_TIMEOUT_SECONDS" => Some("1".into()),
        other => std::env::var(other).ok(),
    })
    .unwrap();
    let app = App::new(config, client.clone());
    let store = Store::new(client, &table);
    let tenant = Tenant::new("units");
    let minimal = |id: &str, body: Value| {
        let mut request = tenant.post(&format!("/api/jobs/{id}/progress"), &body);
        request
            .headers_mut()
            .insert("prefer", "return=minimal".parse().unwrap());
        request
    };
    let mut figures = Vec::new();
    let mut step = |name: &str, heat: &mut HeatProxy| {
        let u = units(&heat.take());
        figures.push(format!(
            "| {name} | {} | {} | {:?} | {} | {} |",
            u.table_wcu,
            u.index_wcu,
            u.by_index,
            u.rcu,
            u.requests.join(", ")
        ));
        u
    };

    heat.take();
    let plain = tenant
        .create_id(&app, json!({"job_type": "crawl", "total_items": 100}))
        .await;
    let create_plain = step("create, no timeout", &mut heat);
    let timed = tenant
        .create_id(
            &app,
            json!({"job_type": "crawl", "total_items": 100,
                "heartbeat_timeout_seconds": 600, "timeout_seconds": 86400}),
        )
        .await;
    let create_timed = step("create, heartbeat + overall timeout", &mut heat);
    assert_eq!(
        create_timed.by_index.get("by_deadline"),
        Some(&1.0),
        "a job with a timeout enters the sweep's index once"
    );
    assert_eq!(create_plain.by_index.get("by_deadline"), None);
    let stalling = tenant
        .create_id(
            &app,
            json!({"job_type": "crawl", "total_items": 100, "heartbeat_timeout_seconds": 600,
                "timeout_seconds": 86400, "stall_timeout_seconds": 900}),
        )
        .await;
    let create_stalling = step("create, heartbeat + overall + stall timeout", &mut heat);
    assert_eq!(
        (create_stalling.table_wcu, create_stalling.index_wcu),
        (create_timed.table_wcu, create_timed.index_wcu),
        "a third timeout costs nothing more"
    );

    for id in [&plain, &timed, &stalling] {
        assert_eq!(
            send(&app, minimal(id, json!({"mark_started": true})))
                .await
                .status,
            200
        );
    }
    heat.take();
    let mut reports = Vec::new();
    for (id, name) in [
        (&plain, "no timeout"),
        (&timed, "heartbeat timeout"),
        (&stalling, "all three timeouts"),
    ] {
        for (body, what) in [
            (json!({"processed_items_increment": 5}), "increment"),
            (json!({}), "empty (heartbeat only)"),
        ] {
            let reply = send(&app, minimal(id, body)).await;
            assert_eq!(reply.status, 200);
            reports.push(step(
                &format!("report ({what}), {name}, minimal"),
                &mut heat,
            ));
        }
    }
    for pair in reports.chunks(2).collect::<Vec<_>>().windows(2) {
        let (without, with) = (pair[0], pair[1]);
        for (a, b) in without.iter().zip(with) {
            assert_eq!(b.index_wcu, 0.0, "a heartbeat writes no index: {b:?}");
            assert_eq!(a.index_wcu, 0.0);
            assert_eq!(
                a.table_wcu, b.table_wcu,
                "the same write units: {a:?} {b:?}"
            );
        }
    }

    // The ending of a job with a timeout takes it out of the sweep's index.
    let reply = send(&app, minimal(&timed, json!({"mark_failed": "gave up"}))).await;
    assert_eq!(reply.status, 200);
    let ending = step("report mark_failed, heartbeat timeout", &mut heat);
    assert_eq!(ending.by_index.get("by_deadline"), Some(&1.0));

    // The sweep: 1 job overdue, 1 found alive (to move), among 100 not due.
    for _ in 0..100 {
        tenant
            .create_id(
                &app,
                json!({"job_type": "crawl", "total_items": 1, "timeout_seconds": 3600}),
            )
            .await;
    }
    let overdue = tenant
        .create_id(
            &app,
            json!({"job_type": "crawl", "total_items": 1, "timeout_seconds": 1}),
        )
        .await;
    let alive = tenant
        .create(
            &app,
            json!({"job_type": "crawl", "total_items": 1, "heartbeat_timeout_seconds": 3}),
        )
        .await;
    let created = Timestamp::parse(alive["created_at"].as_str().unwrap()).unwrap();
    let alive = alive["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, minimal(&alive, json!({"mark_started": true})))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // A heartbeat: its deadline moves past the entry's instant (creation + 3 s).
    assert_eq!(send(&app, minimal(&alive, json!({}))).await.status, 200);
    let due = created.plus_seconds(3).millis() + 200;
    tokio::time::sleep(Duration::from_millis(
        due.saturating_sub(Timestamp::now().millis()),
    ))
    .await;
    heat.take();
    let report = sweep::run(&store, Timestamp::now(), Duration::from_secs(30)).await;
    assert_eq!(
        (report.entries, report.ended, report.moved),
        (2, 1, 1),
        "{report:?}"
    );
    let sweep = step(
        "sweep: 102 jobs with deadlines, 1 overdue, 1 moved",
        &mut heat,
    );
    let empty = {
        let report = sweep::run(&store, Timestamp::now(), Duration::from_secs(30)).await;
        assert_eq!(report.entries, 0);
        step("sweep: nothing due", &mut heat)
    };
    assert!(sweep.rcu < 16.0 * 0.5 + 4.0, "{sweep:?}");
    assert_eq!(empty.rcu, 16.0 * 0.5, "an idle sweep: 16 empty queries");
    assert_eq!(sweep.by_index.get("by_deadline"), Some(&3.0), "{sweep:?}");
    let _ = overdue;

    eprintln!(
        "\n| step | table WCU | index WCU | by index | RCU | requests |\n|---|---|---|---|---|---|"
    );
    for line in &figures {
        eprintln!("{line}");
    }
}
