#!/usr/bin/env python3
"""Create the local DynamoDB table from the AWS::DynamoDB::Table in template.yaml.

The deployed and the local table come from one definition, so they cannot drift.
Runs with the tools venv's python (cfn-lint parses the template, !Ref/!Sub included;
boto3 comes with moto):

    .tools/venv/bin/python scripts/create_table.py --table-name jobs

The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB (or --endpoint-url) and is required:
this script never talks to real AWS. An existing table is left as it is.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The index fields CreateTable accepts; CloudFormation-only ones (ContributorInsights...)
# are dropped.
GSI_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")
LSI_KEYS = ("IndexName", "KeySchema", "Projection")


def fail(msg):
    sys.exit(f"create_table.py: error: {msg}")


def table_definition(template_path, logical_id):
    from cfnlint.decode import decode

    template, matches = decode(str(template_path))
    if template is None or matches:
        fail(f"cannot parse {template_path}: " + "; ".join(str(m) for m in matches))
    tables = {
        name: res
        for name, res in (template.get("Resources") or {}).items()
        if isinstance(res, dict) and res.get("Type") == "AWS::DynamoDB::Table"
    }
    if logical_id:
        if logical_id not in tables:
            fail(f"no AWS::DynamoDB::Table named {logical_id} in {template_path}")
        name = logical_id
    elif len(tables) == 1:
        (name,) = tables
    else:
        fail(f"{len(tables)} AWS::DynamoDB::Table resources in {template_path}; pick one with --resource")
    # Round-trip through JSON: plain dicts/strs instead of cfn-lint's node classes.
    return name, json.loads(json.dumps(tables[name].get("Properties") or {}))


def create_args(props, table_name):
    for key in ("AttributeDefinitions", "KeySchema"):
        if key not in props:
            fail(f"the table resource has no {key}")
    args = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if "ProvisionedThroughput" in props:
        args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in GSI_KEYS} for gsi in props["GlobalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        # The local poller (scripts/stream_poller.py) and the events tests read it.
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if props.get("LocalSecondaryIndexes"):
        args["LocalSecondaryIndexes"] = [
            {k: v for k, v in lsi.items() if k in LSI_KEYS} for lsi in props["LocalSecondaryIndexes"]
        ]
    return args


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table-name", required=True, help="name of the local table")
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--resource", help="logical id of the table (default: the only one)")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    opts = parser.parse_args()
    if not opts.endpoint_url:
        fail("AWS_ENDPOINT_URL_DYNAMODB is not set (refusing to create a table in real AWS)")

    logical_id, props = table_definition(opts.template, opts.resource)
    args = create_args(props, opts.table_name)

    import boto3
    import botocore.exceptions

    client = boto3.client(
        "dynamodb",
        endpoint_url=opts.endpoint_url,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    try:
        try:
            client.create_table(**args)
        except client.exceptions.ResourceInUseException:
            print(f"table {opts.table_name} already exists at {opts.endpoint_url}; left as it is")
            return
        client.get_waiter("table_exists").wait(
            TableName=opts.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=opts.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        fail(f"{opts.endpoint_url}: {err}")
    print(f"created table {opts.table_name} from {logical_id} in {Path(opts.template).name} at {opts.endpoint_url}")


if __name__ == "__main__":
    main()
