//! Bench floor, warm: the bare SDK's PutItem, GetItem and UpdateItem in a loop, no Lambda
//! and no application code, against `AWS_ENDPOINT_URL_DYNAMODB`, table `JOBS_TABLE_NAME`.
//! What a warm invocation of the function costs is read against these.
//!
//! bench_sdk_loop --n N [--warmup W] --out FILE.json
//!
//! Also asks for `ReturnConsumedCapacity=TOTAL` once per operation, to see whether the
//! endpoint reports capacity (DynamoDB does; a local fake may not).

use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, ReturnValue};
use serde_json::{Value, json};

#[path = "../bench/job_item.rs"]
mod job_item;
#[path = "../bench/proc_stats.rs"]
mod proc_stats;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let n: usize = arg("--n").map_or(Ok(1000), |v| v.parse())?;
    let warmup: usize = arg("--warmup").map_or(Ok(20), |v| v.parse())?;
    let out = arg("--out").ok_or("--out FILE is required")?;

    let client = Client::new(&aws_config::load_from_env().await);
    let table = std::env::var("JOBS_TABLE_NAME")?;
    let job_id = uuid::Uuid::now_v7().to_string();
    let key = |name: &str, value: String| (name.to_owned(), AttributeValue::S(value));
    let (pk, sk) = (
        key("pk", format!("ORG#{}", job_item::ORGANIZATION)),
        key("sk", format!("JOB#{job_id}")),
    );

    let put = |job_id: String, capacity: ReturnConsumedCapacity| {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(job_item::job_item(&job_id)))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(capacity)
            .send()
    };
    let get = |capacity: ReturnConsumedCapacity| {
        client
            .get_item()
            .table_name(&table)
            .key(pk.0.clone(), pk.1.clone())
            .key(sk.0.clone(), sk.1.clone())
            .consistent_read(true)
            .return_consumed_capacity(capacity)
            .send()
    };
    // The shape of a progress report: counters and status set, only if the job exists.
    let update = |i: usize, capacity: ReturnConsumedCapacity| {
        client
            .update_item()
            .table_name(&table)
            .key(pk.0.clone(), pk.1.clone())
            .key(sk.0.clone(), sk.1.clone())
            .condition_expression("attribute_exists(pk)")
            .update_expression(
                "SET processed_items = :p, failed_items = :f, #s = :s, updated_at = :u",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":p", AttributeValue::N((i % 100).to_string()))
            .expression_attribute_values(":f", AttributeValue::N("0".into()))
            .expression_attribute_values(":s", AttributeValue::S("in_progress".into()))
            .expression_attribute_values(":u", AttributeValue::S(job_item::rfc3339_now()))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(capacity)
            .send()
    };

    let total = ReturnConsumedCapacity::Total;
    let capacity = json!({
        "put": put(job_id.clone(), total.clone()).await?.consumed_capacity.and_then(|c| c.capacity_units),
        "get": get(total.clone()).await?.consumed_capacity.and_then(|c| c.capacity_units),
        "update": update(0, total.clone()).await?.consumed_capacity.and_then(|c| c.capacity_units),
    });

    let none = ReturnConsumedCapacity::None;
    let mut results = serde_json::Map::new();
    for op in ["put", "get", "update"] {
        let mut latencies_us = Vec::with_capacity(n);
        let (mut cpu_before, mut started) = (0, Instant::now());
        for i in 0..warmup + n {
            if i == warmup {
                (cpu_before, started) = (proc_stats::cpu_ns(std::process::id()), Instant::now());
            }
            let t0 = Instant::now();
            match op {
                "put" => drop(put(uuid::Uuid::now_v7().to_string(), none.clone()).await?),
                "get" => drop(get(none.clone()).await?),
                _ => drop(update(i, none.clone()).await?),
            }
            if i >= warmup {
                latencies_us.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        let wall_s = started.elapsed().as_secs_f64();
        let cpu_ns = proc_stats::cpu_ns(std::process::id()) - cpu_before;
        results.insert(
            op.into(),
            json!({ "n": n, "latencies_us": latencies_us, "wall_s": wall_s, "cpu_ns": cpu_ns }),
        );
    }
    let report: Value = json!({
        "endpoint": std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok(),
        "consumed_capacity": capacity,
        "ops": results,
        "peak_rss_kb": proc_stats::peak_rss_kb(std::process::id()),
    });
    std::fs::write(&out, serde_json::to_vec(&report)?)?;
    Ok(())
}
