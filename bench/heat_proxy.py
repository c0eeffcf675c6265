#!/usr/bin/env python3
"""A capturing proxy in front of a local DynamoDB (moto): forwards every request unchanged
and records what each one costs, per partition key of the table and of each GSI, by the
rules of bench/heat_model.py.

    heat_proxy.py --port 8001 --upstream http://127.0.0.1:8000 --log heat.jsonl

One JSON line per request, written before the answer goes back (so a caller that has its
answer finds the line in the log): {"seq", "op", "status", "charges": [{"index", "key",
"wcu", "rcu"}]}; index null is the table. Partition key values are logged, nothing else
(no item contents, no credentials).

Writes need the item before and after: the proxy reads it (consistent GetItem) around the
forwarded request. Requests go through one at a time, so no other write lands between
those reads and the write (the local DynamoDB serializes requests anyway). Schemas come
from DescribeTable, asked once per table. Modelled: PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems, GetItem, BatchGetItem, TransactGetItems, Query; other
operations (Scan, DescribeTable...) are forwarded and logged with no charges (the function
never scans). Standard library only, loopback only.
"""

import argparse
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heat_model as model  # noqa: E402

TARGET_PREFIX = "DynamoDB_20120810."
# moto reads the region from the credential scope; it checks no signature.
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


class Upstream:
    """One keep-alive connection to the local DynamoDB, used under the proxy's lock."""

    def __init__(self, url, region):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.region = region
        self.conn = None

    def send(self, headers, body):
        for attempt in (1, 2):  # once more on a connection the server closed meanwhile
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request("POST", "/", body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 2:
                    raise

    def call(self, op, payload):
        """A request of the proxy's own (DescribeTable, GetItem): (status, JSON)."""
        status, _, body = self.send(
            {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": TARGET_PREFIX + op,
                "Authorization": AUTH.format(region=self.region),
            },
            json.dumps(payload).encode(),
        )
        return status, json.loads(body or b"{}")


class Recorder:
    def __init__(self, upstream, log_path):
        self.upstream = upstream
        self.schemas = {}
        self.log = open(log_path, "a", buffering=1)
        self.seq = 0

    def schema(self, table):
        if table not in self.schemas:
            status, body = self.upstream.call("DescribeTable", {"TableName": table})
            if status != 200:
                return None
            self.schemas[table] = model.TableSchema.from_description(body["Table"])
        return self.schemas[table]

    def image(self, table, key):
        """The item as it is now (consistent read), or None."""
        status, body = self.upstream.call("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        return body.get("Item") if status == 200 else None

    # ---- per operation: what to read before, and the charges after --------------------

    def writes_of(self, op, req):
        """(table, key, transactional) of every item a write request touches."""
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            schema = self.schema(req["TableName"])
            key = schema.key_of(req["Item"]) if op == "PutItem" else req["Key"]
            return [(schema, key, False)]
        if op == "TransactWriteItems":
            out = []
            for entry in req["TransactItems"]:
                ((_, action),) = entry.items()
                schema = self.schema(action["TableName"])
                key = schema.key_of(action["Item"]) if "Item" in action else action["Key"]
                out.append((schema, key, True))
            return out
        if op == "BatchWriteItem":
            out = []
            for table, requests in req["RequestItems"].items():
                schema = self.schema(table)
                for r in requests:
                    if "PutRequest" in r:
                        out.append((schema, schema.key_of(r["PutRequest"]["Item"]), False))
                    else:
                        out.append((schema, r["DeleteRequest"]["Key"], False))
            return out
        return []

    def handle(self, op, req, forward):
        """Runs `forward()` (the real request) and returns (status, headers, body, charges)."""
        try:
            writes = self.writes_of(op, req)
            before = [self.image(s.name, key) for s, key, _ in writes]
        except (KeyError, TypeError, AttributeError):  # malformed: DynamoDB's own answer
            writes, before = [], []
        status, headers, body = forward()
        try:
            answer = json.loads(body or b"{}")
            charges = self.charges(op, req, status, answer, writes, before)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            charges = []
            print(f"heat_proxy: {op}: not modelled ({err!r})", file=sys.stderr)
        self.seq += 1
        self.log.write(
            json.dumps(
                {
                    "seq": self.seq,
                    "op": op,
                    "status": status,
                    "charges": [c.__dict__ for c in charges],
                }
            )
            + "\n"
        )
        return status, headers, body, charges

    def charges(self, op, req, status, answer, writes, before):
        error = answer.get("__type", "") if status != 200 else ""
        if writes:
            if status != 200 and not error.endswith(("ConditionalCheckFailedException", "TransactionCanceledException")):
                return []  # refused before any work (validation, throttling): not charged
            unprocessed = set()
            if op == "BatchWriteItem":
                for table, requests in (answer.get("UnprocessedItems") or {}).items():
                    for r in requests:
                        item = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                        unprocessed.add((table, json.dumps(self.schema(table).key_of(item), sort_keys=True)))
            out = []
            for (schema, key, transactional), old in zip(writes, before):
                if (schema.name, json.dumps(key, sort_keys=True)) in unprocessed:
                    continue
                if status != 200:
                    out += model.item_write(schema, key, old, None, succeeded=False)
                    continue
                new = self.image(schema.name, key)
                # A transaction's ConditionCheck changes nothing and is billed as a write.
                out += model.item_write(schema, key, old, new, transactional=transactional)
            return out
        if status != 200:
            return []
        if op == "GetItem":
            schema = self.schema(req["TableName"])
            item = answer.get("Item")
            if item is not None and (req.get("ProjectionExpression") or req.get("AttributesToGet")):
                item = self.image(schema.name, req["Key"])  # billed on the whole item
            key = model.partition_value(req["Key"][schema.hash_key])
            return model.item_reads(schema, key, [item], bool(req.get("ConsistentRead")), per_item=True)
        if op in ("BatchGetItem", "TransactGetItems"):
            out = []
            if op == "BatchGetItem":
                requested = [(t, k, bool(spec.get("ConsistentRead"))) for t, spec in req["RequestItems"].items() for k in spec["Keys"]]
                unprocessed = {
                    (t, json.dumps(k, sort_keys=True))
                    for t, spec in (answer.get("UnprocessedKeys") or {}).items()
                    for k in spec["Keys"]
                }
                factor = 1
            else:
                requested = [(e["Get"]["TableName"], e["Get"]["Key"], True) for e in req["TransactItems"]]
                unprocessed, factor = set(), 2
            for table, key, consistent in requested:
                if (table, json.dumps(key, sort_keys=True)) in unprocessed:
                    continue
                schema = self.schema(table)
                # Billed on the whole item, whatever the projection asked for.
                item = self.image(table, key)
                out += model.item_reads(
                    schema, model.partition_value(key[schema.hash_key]), [item], consistent,
                    per_item=True, factor=factor,
                )
            return out
        if op == "Query":
            schema = self.schema(req["TableName"])
            index = schema.index(req.get("IndexName")) if req.get("IndexName") else None
            hash_key = index.hash_key if index else schema.hash_key
            key = model.partition_value(model.query_partition(req, hash_key))
            evaluated = self.evaluated(req, answer)
            return model.item_reads(
                schema, key, evaluated, bool(req.get("ConsistentRead")), index=index and index.name
            )
        return []

    def evaluated(self, req, answer):
        """The items (index entries) a Query evaluated: its answer when nothing was
        filtered out or projected away, else the same query again without the filter and
        the projection (same key condition, Limit and start key: the same items)."""
        if not any(req.get(k) for k in ("FilterExpression", "QueryFilter", "ProjectionExpression", "AttributesToGet", "Select")):
            return answer.get("Items") or []
        again = {k: v for k, v in req.items() if k not in ("FilterExpression", "QueryFilter", "ProjectionExpression", "AttributesToGet", "Select", "ReturnConsumedCapacity")}
        used = model.placeholders_in(again.get("KeyConditionExpression"))
        if "ExpressionAttributeNames" in again:
            again["ExpressionAttributeNames"] = {k: v for k, v in again["ExpressionAttributeNames"].items() if k in used}
        if "ExpressionAttributeValues" in again:
            again["ExpressionAttributeValues"] = {k: v for k, v in again["ExpressionAttributeValues"].items() if k in used}
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if name in again and not again[name]:
                del again[name]
        status, body = self.upstream.call("Query", again)
        if status != 200:
            raise ValueError(f"re-query failed: {body.get('__type')}")
        return body.get("Items") or []


def make_handler(recorder, upstream, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK expects

        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
            target = self.headers.get("X-Amz-Target", "")
            op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
            forward = lambda: upstream.send(headers, body)  # noqa: E731
            with lock:
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = None
                if isinstance(request, dict):
                    status, out_headers, out_body, _ = recorder.handle(op, request, forward)
                else:
                    status, out_headers, out_body = forward()
            self.send_response(status)
            for k, v in out_headers:
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out_body)))
            self.end_headers()
            self.wfile.write(out_body)

        def do_GET(self):  # noqa: N802 — readiness probes (lib.sh's wait_http)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # one line per request would drown the log
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the local DynamoDB, e.g. http://127.0.0.1:8000")
    parser.add_argument("--log", required=True, help="JSON lines, one per request (appended)")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    host = urllib.parse.urlsplit(args.upstream).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("heat_proxy.py: the upstream must be on loopback")
    upstream = Upstream(args.upstream, args.region)
    recorder = Recorder(upstream, args.log)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(recorder, upstream, threading.Lock()))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
