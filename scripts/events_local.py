#!/usr/bin/env python3
"""The local EventBridge side of the events path (moto), for scripts/run.sh.

    events_local.py setup --bus jobs     # the bus, a queue subscribed to all its job
                                         # events, the failure queue; prints their URLs
    events_local.py watch --queue-url URL   # print each event as it arrives (Ctrl-C stops)

The endpoint comes from AWS_ENDPOINT_URL_EVENTBRIDGE / AWS_ENDPOINT_URL_SQS and is
required: this never talks to real AWS. Setting up twice is harmless.
"""

import argparse
import json
import os
import sys
import time


def client(service, variable):
    import boto3

    endpoint = os.environ.get(variable)
    if not endpoint:
        sys.exit(f"events_local.py: error: {variable} is not set (refusing to use real AWS)")
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        aws_access_key_id="test", aws_secret_access_key="test")


def setup(opts):
    events = client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
    sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
    try:
        events.create_event_bus(Name=opts.bus)
    except events.exceptions.ResourceAlreadyExistsException:
        pass
    queue = sqs.create_queue(QueueName=f"{opts.bus}-events")["QueueUrl"]
    failed = sqs.create_queue(QueueName=f"{opts.bus}-events-failed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [opts.source], "detail-type": ["Job Status Changed"]}
    events.put_rule(Name="all-job-events", EventBusName=opts.bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="all-job-events", EventBusName=opts.bus, Targets=[{"Id": "queue", "Arn": arn}])
    print(json.dumps({"queue_url": queue, "failure_queue_url": failed}))


def watch(opts):
    sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
    deadline = time.monotonic() + opts.seconds if opts.seconds else None
    seen = 0
    while deadline is None or time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=opts.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            event = json.loads(message["Body"])
            detail = event.get("detail", {})
            print(f"{event.get('time')} {detail.get('job_id')} {detail.get('previous_status') or 'null'} -> {detail.get('status')}")
            print(json.dumps(event, indent=2), flush=True)
            sqs.delete_message(QueueUrl=opts.queue_url, ReceiptHandle=message["ReceiptHandle"])
            seen += 1
            if opts.count and seen >= opts.count:
                return 0
    return 0 if not opts.count else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--bus", required=True)
    s.add_argument("--source", default="jobs-api")
    w = sub.add_parser("watch")
    w.add_argument("--queue-url", required=True)
    w.add_argument("--count", type=int, default=0, help="stop after this many events")
    w.add_argument("--seconds", type=float, default=0, help="stop after this long (exit 1 if --count not reached)")
    opts = parser.parse_args()
    if opts.command == "setup":
        setup(opts)
        return 0
    try:
        return watch(opts)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
