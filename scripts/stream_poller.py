#!/usr/bin/env python3
"""Lambda's event source mapping for jobs-events, played locally (scripts/run.sh).

Reads the local table's DynamoDB stream (moto) from its start, keeps the records that
the template's filter passes (JobsEventsStreamMapping in template.yaml: its pattern,
BatchSize, MaximumRetryAttempts, BisectBatchOnFunctionError), and hands them in batches
to the jobs-events function under `cargo lambda watch`, as Lambda does: a batch is
delivered again from the first record the answer's batchItemFailures names; a function
error with more than one record splits the batch in two; once the retries are spent the
remaining records are split again while there are several, and a single record's range
goes to the on-failure queue in Lambda's format (the records' range, not the records).
tests/it/common/stream.rs plays the same part for the tests.

    .tools/venv/bin/python scripts/stream_poller.py --table-name jobs \\
        --invoke-url http://127.0.0.1:9000/2015-03-31/functions/jobs-events/invocations \\
        --failure-queue-url URL

The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB and is required (never real AWS).
Runs until stopped; one line per batch on stdout.
"""

import argparse
import base64
import datetime
import json
import os
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fail(msg):
    sys.exit(f"stream_poller.py: error: {msg}")


def mapping_settings(template_path):
    from cfnlint.decode import decode

    template, matches = decode(str(template_path))
    if template is None or matches:
        fail(f"cannot parse {template_path}")
    for res in (template.get("Resources") or {}).values():
        if isinstance(res, dict) and res.get("Type") == "AWS::Lambda::EventSourceMapping":
            props = json.loads(json.dumps(res["Properties"], default=str))
            return {
                "filter": json.loads(props["FilterCriteria"]["Filters"][0]["Pattern"]),
                "batch_size": int(props.get("BatchSize", 100)),
                "max_retries": int(props.get("MaximumRetryAttempts", 0)),
                "bisect": bool(props.get("BisectBatchOnFunctionError")),
            }
    fail(f"no AWS::Lambda::EventSourceMapping in {template_path}")


def matches(pattern, value):
    """The subset of EventBridge patterns filters use: objects and lists of values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(v, value[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return pattern == value


def as_json(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(type(value))


class Mapping:
    def __init__(self, opts, settings, sqs, stream_arn, shard_id):
        self.opts, self.settings, self.sqs = opts, settings, sqs
        self.stream_arn, self.shard_id = stream_arn, shard_id

    def invoke(self, batch):
        body = json.dumps({"Records": batch}, default=as_json).encode()
        request = urllib.request.Request(self.opts.invoke_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return json.loads(answer.read() or b"{}"), None
        except Exception as err:  # a function error, as Lambda sees one
            return None, str(err)

    def process(self, batch):
        retries = 0
        while batch:
            answer, error = self.invoke(batch)
            if error is None:
                failures = (answer or {}).get("batchItemFailures") or []
                if not failures:
                    print(f"batch of {len(batch)}: ok", flush=True)
                    return
                ids = {f.get("itemIdentifier") for f in failures}
                positions = [i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in ids]
                first = min(positions) if positions else 0
                print(f"batch of {len(batch)}: failed from record {first}; delivered again", flush=True)
                batch = batch[first:]
            else:
                print(f"batch of {len(batch)}: function error ({error})", flush=True)
                if self.settings["bisect"] and len(batch) > 1:
                    half = len(batch) // 2
                    self.process(batch[:half])
                    self.process(batch[half:])
                    return
            if retries >= self.settings["max_retries"]:
                if self.settings["bisect"] and len(batch) > 1:
                    half = len(batch) // 2
                    self.process(batch[:half])
                    self.process(batch[half:])
                else:
                    self.send_to_failure(batch, retries + 1)
                return
            retries += 1
            time.sleep(min(2 ** retries * 0.1, 5))

    def send_to_failure(self, batch, invocations):
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:jobs-events",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.opts.failure_queue_url, MessageBody=json.dumps(message))
        print(f"batch of {len(batch)}: retries spent; its range sent to the failure queue", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table-name", required=True)
    parser.add_argument("--invoke-url", required=True)
    parser.add_argument("--failure-queue-url", required=True)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    opts = parser.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if not endpoint:
        fail("AWS_ENDPOINT_URL_DYNAMODB is not set (refusing to read a stream in real AWS)")
    settings = mapping_settings(opts.template)

    import boto3

    kw = dict(endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"),
              aws_access_key_id="test", aws_secret_access_key="test")
    dynamodb, streams, sqs = (boto3.client(s, **kw) for s in ("dynamodb", "dynamodbstreams", "sqs"))
    stream_arn = dynamodb.describe_table(TableName=opts.table_name)["Table"].get("LatestStreamArn")
    if not stream_arn:
        fail(f"table {opts.table_name} has no stream (create it with scripts/create_table.py)")
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    mapping = Mapping(opts, settings, sqs, stream_arn, shard_id)
    print(f"reading {stream_arn}; delivering to {opts.invoke_url}", flush=True)
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        iterator = page.get("NextShardIterator") or iterator
        records = [r for r in page.get("Records", []) if matches(settings["filter"], r)]
        for record in records:
            record["eventSourceARN"] = stream_arn
        for start in range(0, len(records), settings["batch_size"]):
            mapping.process(records[start:start + settings["batch_size"]])
        if not page.get("Records"):
            time.sleep(opts.poll_seconds)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
