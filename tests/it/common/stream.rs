//! Lambda's part of the events path, played against moto for `job_events`: the
//! table's DynamoDB stream read with the Streams API, records filtered with the
//! template's own filter, handed to the function in batches as Lambda hands them, the
//! function's `batchItemFailures` honoured (the batch is delivered again from the first
//! failed record), a bounded number of retries, bisection, and the on-failure
//! destination (an SQS message in Lambda's format naming the records' range).
//! `scripts/stream_poller.py` plays the same part for `scripts/run.sh`.
//!
//! moto takes any signature, so the JSON APIs (DynamoDB Streams, SQS) are called with a
//! plain HTTP client here; the code under test reaches moto through the SDK only.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use super::env;

/// moto, for the services the SDK of the code under test does not cover.
#[derive(Clone)]
pub struct Moto {
    url: String,
    http: reqwest::Client,
}

impl Moto {
    pub fn new() -> Moto {
        Moto {
            url: env("AWS_ENDPOINT_URL_DYNAMODB"),
            http: reqwest::Client::new(),
        }
    }

    /// One JSON-protocol call (`target` e.g. `DynamoDBStreams_20120810.GetRecords`).
    pub async fn call(&self, service: &str, target: &str, body: Value) -> Value {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let answer = self
            .http
            .post(&self.url)
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.0")
            .header("authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "{target}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}: {text}"))
    }

    pub async fn create_queue(&self, name: &str) -> (String, String) {
        let url = self
            .call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": name}))
            .await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let attributes = self
            .call(
                "sqs",
                "AmazonSQS.GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
            )
            .await;
        let arn = attributes["Attributes"]["QueueArn"]
            .as_str()
            .unwrap()
            .to_owned();
        (url, arn)
    }

    /// Every message now in the queue, oldest first, each received once.
    pub async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut bodies = Vec::new();
        for _ in 0..1000 {
            let answer = self
                .call(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 600}),
                )
                .await;
            let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                let body = message["Body"].as_str().unwrap();
                bodies.push(serde_json::from_str(body).unwrap());
            }
        }
        panic!("{queue_url}: more than 10,000 messages");
    }

    pub async fn send_message(&self, queue_url: &str, body: &Value) {
        self.call(
            "sqs",
            "AmazonSQS.SendMessage",
            json!({"QueueUrl": queue_url, "MessageBody": body.to_string()}),
        )
        .await;
    }
}

/// A position in the table's stream, and the records written after it.
pub struct Stream {
    moto: Moto,
    pub arn: String,
    shard_id: String,
    iterator: String,
}

impl Stream {
    /// The table's stream from now on (records written after this call).
    pub async fn latest(moto: &Moto, table: &str) -> Stream {
        let table = moto
            .call(
                "dynamodb",
                "DynamoDB_20120810.DescribeTable",
                json!({"TableName": table}),
            )
            .await;
        let arn = table["Table"]["LatestStreamArn"]
            .as_str()
            .expect("the table has a stream (template.yaml, create_table.py)")
            .to_owned();
        let described = moto
            .call(
                "dynamodb",
                "DynamoDBStreams_20120810.DescribeStream",
                json!({"StreamArn": arn}),
            )
            .await;
        let shard_id = described["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .unwrap()
            .to_owned();
        let iterator = moto
            .call(
                "dynamodb",
                "DynamoDBStreams_20120810.GetShardIterator",
                json!({"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "LATEST"}),
            )
            .await["ShardIterator"]
            .as_str()
            .unwrap()
            .to_owned();
        Stream {
            moto: moto.clone(),
            arn,
            shard_id,
            iterator,
        }
    }

    /// The records written since the last read, oldest first.
    pub async fn read(&mut self) -> Vec<Value> {
        let mut records = Vec::new();
        for _ in 0..10_000 {
            let page = self
                .moto
                .call(
                    "dynamodb",
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({"ShardIterator": self.iterator, "Limit": 1000}),
                )
                .await;
            if let Some(next) = page["NextShardIterator"].as_str() {
                self.iterator = next.to_owned();
            }
            let page = page["Records"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                return records;
            }
            records.extend(page);
        }
        panic!("the stream did not end");
    }

    pub fn shard_id(&self) -> &str {
        &self.shard_id
    }
}

/// The template's filter (`JobsEventsStreamMapping`'s pattern), read from template.yaml.
pub fn template_filter() -> Value {
    let path = format!("{}/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(&path).unwrap();
    let line = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("- Pattern: "))
        .expect("the stream mapping's filter pattern in template.yaml");
    serde_json::from_str(line.trim_matches('\'')).expect("the filter is JSON")
}

/// An EventBridge-style pattern (the subset filters use: objects, lists of exact values).
pub fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, sub)| value.get(name).is_some_and(|v| matches(sub, v))),
        Value::Array(options) => options.contains(value),
        other => other == value,
    }
}

pub type Invoke<'a> =
    Box<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<Value, String>> + 'a>> + 'a>;

/// The event source mapping's settings (as in template.yaml, retries fewer for speed).
pub struct Mapping {
    pub stream_arn: String,
    pub shard_id: String,
    pub batch_size: usize,
    pub max_retries: u32,
    pub bisect: bool,
    pub failure_queue: Option<String>,
}

/// What the mapping did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub invocations: usize,
    /// Answers that named a failed record.
    pub partial_failures: usize,
    pub function_errors: usize,
    /// Records that passed the filter.
    pub delivered_records: usize,
    /// On-failure messages sent.
    pub sent_to_failure: Vec<Value>,
}

impl Mapping {
    /// Filters `records`, then hands them to `invoke` in batches, in order.
    pub async fn deliver(&self, records: Vec<Value>, invoke: &Invoke<'_>) -> Delivery {
        let filter = template_filter();
        let records: Vec<Value> = records
            .into_iter()
            .filter(|r| matches(&filter, r))
            .map(|mut r| {
                r["eventSourceARN"] = json!(self.stream_arn);
                r
            })
            .collect();
        let mut delivery = Delivery {
            delivered_records: records.len(),
            ..Delivery::default()
        };
        for batch in records.chunks(self.batch_size) {
            self.process(batch.to_vec(), invoke, &mut delivery).await;
        }
        delivery
    }

    fn process<'s>(
        &'s self,
        mut batch: Vec<Value>,
        invoke: &'s Invoke<'_>,
        delivery: &'s mut Delivery,
    ) -> Pin<Box<dyn Future<Output = ()> + 's>> {
        Box::pin(async move {
            let mut retries = 0;
            while !batch.is_empty() {
                delivery.invocations += 1;
                let answer = invoke(json!({"Records": batch})).await;
                let failed_from = match &answer {
                    Ok(answer) => {
                        let failures = answer["batchItemFailures"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        if failures.is_empty() {
                            return;
                        }
                        delivery.partial_failures += 1;
                        // Lambda resumes at the lowest sequence number reported; an
                        // identifier it does not know fails the whole batch.
                        failures
                            .iter()
                            .filter_map(|f| f["itemIdentifier"].as_str())
                            .filter_map(|id| {
                                batch
                                    .iter()
                                    .position(|r| r["dynamodb"]["SequenceNumber"] == id)
                            })
                            .min()
                            .unwrap_or(0)
                    }
                    Err(_) => {
                        delivery.function_errors += 1;
                        if self.bisect && batch.len() > 1 {
                            let second = batch.split_off(batch.len() / 2);
                            self.process(batch, invoke, delivery).await;
                            self.process(second, invoke, delivery).await;
                            return;
                        }
                        0
                    }
                };
                batch.drain(..failed_from);
                if retries >= self.max_retries {
                    if self.bisect && batch.len() > 1 {
                        let second = batch.split_off(batch.len() / 2);
                        self.process(batch, invoke, delivery).await;
                        self.process(second, invoke, delivery).await;
                    } else {
                        self.send_to_failure(&batch, retries + 1, delivery).await;
                    }
                    return;
                }
                retries += 1;
            }
        })
    }

    /// Lambda's on-failure record for a stream batch: where the records are, not them.
    async fn send_to_failure(&self, batch: &[Value], invocations: u32, delivery: &mut Delivery) {
        let seq = |r: &Value| r["dynamodb"]["SequenceNumber"].clone();
        let message = json!({
            "requestContext": {
                "requestId": uuid::Uuid::now_v7().to_string(),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:jobs-events",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": seq(&batch[0]),
                "endSequenceNumber": seq(&batch[batch.len() - 1]),
                "batchSize": batch.len(),
                "streamArn": self.stream_arn,
            },
        });
        if let Some(queue) = &self.failure_queue {
            Moto::new().send_message(queue, &message).await;
        }
        delivery.sent_to_failure.push(message);
    }
}
