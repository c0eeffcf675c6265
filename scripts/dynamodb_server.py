#!/usr/bin/env python3
"""The local DynamoDB for runs and tests: moto's DynamoDB server, with changes that
make it keep DynamoDB's guarantees under concurrent clients. Usage:
    dynamodb_server.py --host 127.0.0.1 --port 8000

1. One request at a time. moto's backend is not thread-safe: a cancelled transaction
   rolls back by putting back a snapshot of the whole table, erasing what other threads
   wrote meanwhile. DynamoDB makes every item write atomic; serializing the requests
   gives the same results (at moto's speed either way: it holds the GIL).
2. A transaction snapshots only the items it names instead of deep-copying every table
   it touches: the same all-or-nothing outcome, at a cost that no longer grows with the
   table (a job with thousands of errors made each transaction slower, O(n^2) overall).
3. A query of the table reads only its partition, and a query of an index does not sort
   the whole table first (it sorts its own matches anyway). moto otherwise lists and
   sorts every item of the table for every query, so a test run slowed as it went.
4. An index entry of attributes named one by one (KEYS_ONLY, INCLUDE) copies those
   attributes. moto turns the whole item into Python values first, and its decimal
   context refuses numbers DynamoDB stores (38 digits near 1e-130), so an index query
   failed on an item whose metadata held one, although the index projects no metadata.

5. A cancelled transaction leaves nothing in the table's stream. moto applies a
   transaction's writes one by one, recording each in the stream, and undoes them on
   failure (recording the undo too); DynamoDB records a transaction only once it
   commits. The records written during a cancelled one are dropped again.

6. Strict: it refuses what DynamoDB refuses (scripts/dynamodb_strict.py, each rule with
   the developer-guide page it follows). Before moto handles a request: expression
   lengths, placeholders (defined, used, well-formed, no empty attribute name), BETWEEN
   bounds, item sizes as DynamoDB computes them (400 KB), key sizes and empty keys,
   numbers (38 digits, 1E-130 .. 9.99E+125), nesting depth, batch and transaction sizes,
   Query/Scan Limit. After moto applies an UpdateItem: the resulting item's size and
   numbers (a count summed past DynamoDB's range), the update undone when refused. Inside
   a transaction an item's limits cancel it with a `ValidationError` reason at that
   action's index, as DynamoDB does. moto's own item-size check (its estimate, against
   405,000 bytes, recomputed at every attribute set) is replaced by this one, and a Query
   or Scan page ends at 1 MB of items sized as DynamoDB sizes them (moto: 1,000,000
   bytes of its estimate).

7. No long pauses: objects alive for 1000 requests are frozen out of Python's full
   garbage collections (over a whole test run's tables, one took 1-2 s under the lock,
   past the function's 2 s DynamoDB timeout: the load check's 503s), and a request that
   holds the server over 0.5 s is logged, as is every strict refusal.

Everything else, the parsing, conditions, expressions, indexes and errors, is moto's.
"""
import argparse
import copy
import gc
import json
import sys
import threading
import time

import dynamodb_strict as strict
import moto.dynamodb.models as models
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

_moto_transact_write_items = DynamoDBBackend.transact_write_items


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's transact_write_items, whose
    whole-table snapshot then costs nothing; the journal below does the rollback. Only
    tables go uncopied: an update's copy of its item is the old image of its stream
    record, which must not change with the item (else a transaction's status change
    reads in the stream as no change, and publishes no event)."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _named_items(backend, transact_items):
    """(table, hash key, range key) of every item a transaction names."""
    for entry in transact_items:
        ((_, op),) = entry.items()
        table = backend.get_table(op["TableName"])
        key = op.get("Key") or op["Item"]
        range_attr = table.range_key_attr
        yield (
            table,
            DynamoType(key[table.hash_key_attr]),
            DynamoType(key[range_attr]) if range_attr else None,
        )


def _restore(table, hash_value, range_value, saved):
    table.delete_item(hash_value, range_value)
    if saved is not None:
        if range_value is not None:
            table.items[hash_value][range_value] = saved
        else:
            table.items[hash_value] = saved


_in_transaction = False


def transact_write_items(self, transact_items):
    global _in_transaction
    try:
        journal = [
            (table, h, r, copy.deepcopy(table.get_item(h, r)))
            for table, h, r in _named_items(self, transact_items)
        ]
    except Exception:
        # A malformed request: moto's own validation answers it.
        return _moto_transact_write_items(self, transact_items)
    shards = {id(t.stream_shard): t.stream_shard for t, *_ in journal if t.stream_shard is not None}
    stream_marks = [(shard, len(shard.items)) for shard in shards.values()]
    models.copy = _TablesNotCopied
    _in_transaction = True
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        for entry in reversed(journal):
            _restore(*entry)
        for shard, mark in stream_marks:
            del shard.items[mark:]
        raise
    finally:
        models.copy = copy
        _in_transaction = False


class ValidationError(Exception):
    """An item's limit broken inside a transaction: moto's transact_write_items names a
    cancellation reason after the exception's class, so this one reads `ValidationError`
    (DynamoDB's code), with the message as the reason's."""


_moto_update_item = DynamoDBBackend.update_item


def update_item(self, table_name, key, *args, **kwargs):
    """moto's update, then DynamoDB's limits on the item it produced (its size, its
    numbers); a refused update is undone, stream record included."""
    try:
        table = self.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    except Exception:
        return _moto_update_item(self, table_name, key, *args, **kwargs)
    saved = copy.deepcopy(table.get_item(hash_value, range_value))
    shard = table.stream_shard
    mark = len(shard.items) if shard is not None else 0
    item = _moto_update_item(self, table_name, key, *args, **kwargs)
    try:
        strict.check_updated(item)
    except strict.ItemRefusal as problem:
        _restore(table, hash_value, range_value, saved)
        if shard is not None:
            del shard.items[mark:]
        print(f"strict: UpdateItem result refused: {problem}", file=sys.stderr, flush=True)
        raise (ValidationError if _in_transaction else MockValidationException)(str(problem))
    return item


_moto_call_action = DynamoHandler.call_action


def call_action(self):
    """DynamoDB's limits on the request (dynamodb_strict.CHECKS), then moto."""
    check = strict.CHECKS.get(self._get_action())
    if check is not None:
        try:
            check(self.params, self.dynamodb_backend)
        except strict.Refusal as refusal:
            # In the server's log: which rule a test run hit, without reading the client's.
            print(f"strict: {self._get_action()} refused: {refusal.message[:300]}", file=sys.stderr, flush=True)
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(refusal.body())
        except (JsonRESTError, LookupError, TypeError, AttributeError, ValueError):
            pass  # an unknown table or a malformed request: moto's own answer
    return _moto_call_action(self)


_moto_query = Table.query


def query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name is None and hash_key is not None:
        partition = self.items.get(hash_key)
        if isinstance(partition, dict):
            candidates = list(partition.values())
            # Already in order, moto's own sort is one pass (string keys sort natively).
            if all(item.range_key.type == "S" for item in candidates):
                candidates.sort(key=lambda item: item.range_key.value)
        else:
            candidates = [partition] if partition is not None else []
    else:
        candidates = [
            item
            for entry in self.items.values()
            for item in (entry.values() if isinstance(entry, dict) else [entry])
        ]
    self.all_items = lambda: candidates
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


_moto_project = Item.project


def project(self, projection_expressions):
    if any(len(path) != 1 for path in projection_expressions):
        return _moto_project(self, projection_expressions)
    names = {path[0] for path in projection_expressions}
    projected = Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
    for name, value in self.attrs.items():
        if name in names:
            projected.attrs[name] = value
    return projected


class OneRequestAtATime:
    """WSGI middleware: the whole request, body included, under one lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.requests = 0

    def __call__(self, environ, start_response):
        with self.lock:
            # Python's full garbage collections walk every object alive, and a whole test
            # run's tables and stream are millions: a pause of 1-2 s under the lock (seen:
            # a BatchGetItem held the server 2.15 s), past the function's 2 s DynamoDB
            # timeout. What has lived this long stays (moto's items hold no cycles), so it
            # is moved out of the collector's reach from time to time.
            self.requests += 1
            if self.requests % 1000 == 0:
                gc.freeze()
            started = time.monotonic()
            try:
                return list(self.app(environ, start_response))
            finally:
                # Every other client waits meanwhile: a slow request is worth a line.
                took = time.monotonic() - started
                if took > 0.5:
                    target = environ.get("HTTP_X_AMZ_TARGET", environ.get("PATH_INFO"))
                    print(f"slow: {target} held the server {took:.2f} s", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    DynamoDBBackend.transact_write_items = transact_write_items
    Table.query = query
    Item.project = project
    DynamoDBBackend.update_item = update_item
    DynamoHandler.call_action = call_action
    LimitedSizeDict.__setitem__ = dict.__setitem__
    Item.size = strict.item_read_size
    models.table.RESULT_SIZE_LIMIT = strict.MAX_READ_BYTES
    # moto parses an UpdateExpression into a tree as deep as its clauses are many, and
    # deep-copies it: a few hundred SET clauses, still under DynamoDB's 4 KB, exceed
    # Python's default recursion limit (a 500 where DynamoDB answers). Room for the 4 KB.
    sys.setrecursionlimit(20000)
    threading.stack_size(256 * 1024 * 1024)
    app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
    # Threaded, so that an idle keep-alive connection never blocks another client.
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
