"""The local DynamoDB refuses what DynamoDB refuses (scripts/dynamodb_strict.py).

Each rule: the refused request sent straight to the server (boto3 with its own parameter
validation off, so the server alone decides), and a request just inside the limit that it
accepts. Run by scripts/test.sh; alone:
    .tools/venv/bin/python -m pytest tests/test_dynamodb_server.py -q
It starts its own server on a free port (scripts/dynamodb_server.py), unless
STRICT_DYNAMODB_URL names one already running. STRICT_DYNAMODB_TARGET=dynalite runs the
rules dynalite implements against it (test.sh starts one from .tools/node, installed by
scripts/tools.sh --dynalite from tools/package-lock.json); the others are skipped.
"""
import os
import socket
import subprocess
import sys
import time
import unittest
import uuid
from pathlib import Path

import boto3
import botocore
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
TARGET = os.environ.get("STRICT_DYNAMODB_TARGET", "moto")
KB = 1024
_server = None
client = None


def setUpModule():
    global _server, client
    url = os.environ.get("STRICT_DYNAMODB_URL")
    if not url:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        _server = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/dynamodb_server.py"), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or _server.poll() is not None:
                    raise RuntimeError("the local DynamoDB did not start")
                time.sleep(0.1)
    client = boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def tearDownModule():
    if _server is not None:
        _server.terminate()
        _server.wait(10)


def only_moto(reason):
    """A rule dynalite does not implement (it has no transactions, ...)."""
    return unittest.skipIf(TARGET != "moto", reason)


class Strict(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.table = f"strict-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=cls.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=cls.table, WaiterConfig={"Delay": 0.2})

    def key(self, pk="p", sk="s"):
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def refused(self, call, message, code="ValidationException"):
        """`call` is refused with `code` and a message starting with `message`."""
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call()
        error = caught.exception.response["Error"]
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(error["Code"], code, error)
        self.assertTrue(error["Message"].startswith(message), error["Message"])
        return caught.exception.response

    def stored(self, key):
        return client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")

    # ---- expressions (Constraints, "Expression parameters") --------------------------------

    def test_between_with_reversed_bounds_is_refused(self):
        def query(low, high):
            return client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":p": {"S": "p"}, ":low": low, ":high": high},
            )
        self.refused(
            lambda: query({"S": "b"}, {"S": "a"}),
            "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or "
            "equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound operand: AttributeValue: {S:a}",
        )
        self.assertEqual(query({"S": "a"}, {"S": "a"})["Count"], 0)  # equal bounds are fine

    @only_moto("dynalite compares by value only in conditions")
    def test_between_compares_strings_by_utf8_bytes(self):
        # "\uff01" sorts after "\U0001f600" in UTF-16 but before it in UTF-8 (DynamoDB's order).
        client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":p": {"S": "p"}, ":low": {"S": "\uff01"}, ":high": {"S": "\U0001f600"}},
        )

    @only_moto("dynalite does not limit expression lengths")
    def test_expression_over_4_kb_is_refused(self):
        # "SET " + 314 × "#kNNNN = :v" joined by ", ": 4 + 11·314 + 2·313 = 4084 bytes,
        # padded with spaces to the size wanted.
        names = {f"#k{i:04}": f"k{i}" for i in range(314)}
        expression = "SET " + ", ".join(f"{n} = :v" for n in names)
        update = lambda size: client.update_item(
            TableName=self.table, Key=self.key(), UpdateExpression=expression.ljust(size),
            ExpressionAttributeNames=names, ExpressionAttributeValues={":v": {"S": "x"}},
        )
        update(4096)
        self.refused(lambda: update(4097), "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size")

    @only_moto("dynalite refuses it too, as an undefined name (another message)")
    def test_empty_attribute_name_is_refused(self):
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=self.key(), UpdateExpression="SET #k = :v",
                ExpressionAttributeNames={"#k": ""}, ExpressionAttributeValues={":v": {"S": "x"}},
            ),
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key #k",
        )

    def test_unused_and_undefined_placeholders_are_refused(self):
        self.refused(
            lambda: client.get_item(
                TableName=self.table, Key=self.key(), ProjectionExpression="#a",
                ExpressionAttributeNames={"#a": "a", "#b": "b"},
            ),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}",
        )
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=self.key(), UpdateExpression="SET a = :a",
                ExpressionAttributeValues={":a": {"S": "x"}, ":b": {"S": "y"}},
            ),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}",
        )
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=self.key(), UpdateExpression="SET #a = :a",
                ExpressionAttributeValues={":a": {"S": "x"}},
            ),
            "Invalid UpdateExpression: An expression attribute name used in the document path is not defined",
        )
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=self.key(), UpdateExpression="SET a = :b",
                ExpressionAttributeValues={":a": {"S": "x"}},
            ),
            "Invalid UpdateExpression: An expression attribute value used in expression is not defined",
        )

    @only_moto("dynalite does not limit the substitution variables")
    def test_substitution_variables_over_2_mb_are_refused(self):
        # A condition's value does not go into the item: only the 2 MB limit applies.
        # ":v" (2 bytes) plus the string; the names map is empty.
        put = lambda size: client.put_item(
            TableName=self.table, Item=self.key("subst"), ConditionExpression="attribute_not_exists(pk) OR a <> :v",
            ExpressionAttributeValues={":v": {"S": "x" * (size - 2)}},
        )
        put(2 * KB * KB)
        client.delete_item(TableName=self.table, Key=self.key("subst"))
        self.refused(lambda: put(2 * KB * KB + 1), "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum allowed size")

    @only_moto("dynalite does not check placeholder keys")
    def test_placeholder_keys_are_checked(self):
        def get(key):
            return client.get_item(
                TableName=self.table, Key=self.key(), ProjectionExpression=key, ExpressionAttributeNames={key: "a"}
            )
        get("#" + "a" * 254)  # 255 bytes
        self.refused(lambda: get("#" + "a" * 255), "ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long; size of key: 256")
        self.refused(lambda: get("#a-b"), 'ExpressionAttributeNames contains invalid key: Syntax error; key: "#a-b"')

    # ---- items and keys (Constraints "Items", "Partition keys and sort keys"; item sizes) --

    def test_item_over_400_kb_is_refused(self):
        # Names pk, sk, d (5 bytes) and the key's values "big", "s" (4): 9 bytes beside d's.
        item = {**self.key("big"), "d": {"S": "x" * (400 * KB - 9)}}
        client.put_item(TableName=self.table, Item=item)
        item["d"]["S"] += "x"
        self.refused(lambda: client.put_item(TableName=self.table, Item=item), "Item size has exceeded the maximum allowed size")

    @only_moto("dynalite sizes numbers and containers differently")
    def test_item_size_counts_numbers_lists_and_maps_as_documented(self):
        # Key: pk, "sized", sk, "x" (10 bytes). A 20-digit number: 10 + 1; an empty map, 3;
        # a list of one BOOL: 3 + (1 + 1); a map {"ab": NULL}: 3 + (2 + 1 + 1). Names n, m,
        # l, o, d: 5.
        rest = 10 + 11 + 3 + 5 + 7 + 5
        item = {
            **self.key("sized", "x"), "n": {"N": "1" * 20}, "m": {"M": {}}, "l": {"L": [{"BOOL": True}]},
            "o": {"M": {"ab": {"NULL": True}}}, "d": {"S": "x" * (400 * KB - rest)},
        }
        client.put_item(TableName=self.table, Item=item)
        item["d"]["S"] += "x"
        self.refused(lambda: client.put_item(TableName=self.table, Item=item), "Item size has exceeded the maximum allowed size")

    def test_update_past_400_kb_is_refused_and_changes_nothing(self):
        key = self.key("grow")
        client.put_item(TableName=self.table, Item={**key, "a": {"S": "x" * (300 * KB)}})
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=key, UpdateExpression="SET b = :v",
                ExpressionAttributeValues={":v": {"S": "x" * (100 * KB)}},
            ),
            "Item size to update has exceeded the maximum allowed size",
        )
        self.assertNotIn("b", self.stored(key))
        client.update_item(
            TableName=self.table, Key=key, UpdateExpression="SET b = :v",
            ExpressionAttributeValues={":v": {"S": "x" * (100 * KB - 100)}},
        )

    def test_key_sizes_and_empty_keys_are_refused(self):
        client.put_item(TableName=self.table, Item=self.key("k" * 2048, "s" * 1024))
        self.refused(
            lambda: client.put_item(TableName=self.table, Item=self.key("k" * 2049, "s")),
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        )
        self.refused(
            lambda: client.get_item(TableName=self.table, Key=self.key("p", "s" * 1025)),
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        )
        self.refused(
            lambda: client.put_item(TableName=self.table, Item=self.key("p", "")),
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: sk",
        )

    @only_moto("dynalite does not limit nesting")
    def test_nesting_past_32_levels_is_refused(self):
        def nested(levels):
            value = {"S": "x"}
            for _ in range(levels):
                value = {"L": [value]}
            return {**self.key("deep"), "d": value}
        client.put_item(TableName=self.table, Item=nested(32))
        self.refused(lambda: client.put_item(TableName=self.table, Item=nested(33)), "Nesting Levels have exceeded supported limits")

    # ---- numbers (naming rules and data types, "Number") ------------------------------------

    def test_numbers_out_of_range_or_precision_are_refused(self):
        def put(number):
            client.put_item(TableName=self.table, Item={**self.key("num"), "n": {"N": number}})
        for number in ("9" * 38, "9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130", "1" + "0" * 60):
            put(number)
        self.refused(lambda: put("1" * 39), "Attempting to store more than 38 significant digits in a Number")
        self.refused(lambda: put("1E+126"), "Number overflow. Attempting to store a number with magnitude larger than supported range")
        self.refused(lambda: put("1E-131"), "Number underflow. Attempting to store a number with magnitude smaller than supported range")

    @only_moto("dynalite checks the operands, not the sum")
    def test_a_sum_past_38_digits_is_refused_and_changes_nothing(self):
        key = self.key("count")
        client.put_item(TableName=self.table, Item={**key, "n": {"N": "9" * 37}})
        add = lambda n: client.update_item(
            TableName=self.table, Key=key, UpdateExpression="ADD n :n", ExpressionAttributeValues={":n": {"N": n}}
        )
        add("9" + "0" * 37)  # 99…9 (38 digits): still 38 significant digits
        self.assertEqual(self.stored(key)["n"], {"N": "9" * 38})
        self.refused(lambda: add("2"), "Attempting to store more than 38 significant digits in a Number")
        self.assertEqual(self.stored(key)["n"], {"N": "9" * 38})
        # The same through SET n = n + :n.
        self.refused(
            lambda: client.update_item(
                TableName=self.table, Key=key, UpdateExpression="SET n = n + :n",
                ExpressionAttributeValues={":n": {"N": "2"}},
            ),
            "Attempting to store more than 38 significant digits in a Number",
        )
        # Past the magnitude range: 9.99…E+125 + 1E+125 (both integers, as counts are).
        client.put_item(TableName=self.table, Item={**key, "n": {"N": "9" * 38 + "0" * 88}})
        self.refused(lambda: add("1" + "0" * 125), "Number overflow. Attempting to store a number with magnitude larger than supported range")

    # ---- batches, Query and Scan (Constraints, "API-specific constraints") -------------------

    def test_batch_sizes_are_refused(self):
        keys = [self.key("batch", str(i)) for i in range(101)]
        client.batch_get_item(RequestItems={self.table: {"Keys": keys[:100]}})
        self.refused(lambda: client.batch_get_item(RequestItems={self.table: {"Keys": keys}}), "1 validation error detected")
        writes = [{"PutRequest": {"Item": key}} for key in keys[:26]]
        client.batch_write_item(RequestItems={self.table: writes[:25]})
        self.refused(lambda: client.batch_write_item(RequestItems={self.table: writes}), "1 validation error detected")

    def test_query_limit_below_1_is_refused(self):
        query = lambda limit: client.query(
            TableName=self.table, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}}, Limit=limit,
        )
        query(1)
        self.refused(lambda: query(0), "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint")

    @only_moto("dynalite sizes lists without DynamoDB's byte per element")
    def test_a_query_page_ends_at_1_mb_of_items_sized_as_dynamodb_does(self):
        # Each item: a 310,000-byte string and a list of 20,000 NULLs, 2 bytes each with
        # its element byte (40,003 with the list's 3): ~350,020 bytes, so two fit in 1 MB
        # (1,048,576) and three do not. moto's own estimate (1 byte a NULL, 1,000,000 a
        # page) would fit three.
        for i in range(3):
            item = {**self.key("page", str(i)), "s": {"S": "x" * 310000}, "l": {"L": [{"NULL": True}] * 20000}}
            client.put_item(TableName=self.table, Item=item)
        page = client.query(
            TableName=self.table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "page"}}
        )
        self.assertEqual(page["Count"], 2)
        self.assertEqual(page["LastEvaluatedKey"], self.key("page", "1"))

    # ---- transactions (Constraints, "DynamoDB transactions"; API_TransactWriteItems) --------

    @only_moto("dynalite has no transactions")
    def test_transaction_item_size_cancels_with_a_validation_error_reason(self):
        key = self.key("tx")
        client.put_item(TableName=self.table, Item={**key, "a": {"S": "x" * (300 * KB)}})
        other = self.key("tx-other")
        response = self.refused(
            lambda: client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": other}},
                {"Update": {
                    "TableName": self.table, "Key": key, "UpdateExpression": "SET b = :v",
                    "ExpressionAttributeValues": {":v": {"S": "x" * (100 * KB)}},
                }},
            ]),
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError]",
            code="TransactionCanceledException",
        )
        self.assertEqual(
            response["CancellationReasons"],
            [{"Code": "None"}, {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"}],
        )
        self.assertIsNone(self.stored(other))
        self.assertNotIn("b", self.stored(key))

    @only_moto("dynalite has no transactions")
    def test_transaction_put_over_400_kb_cancels(self):
        response = self.refused(
            lambda: client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": {**self.key("tx-big"), "d": {"S": "x" * (400 * KB)}}}},
            ]),
            "Transaction cancelled",
            code="TransactionCanceledException",
        )
        self.assertEqual(response["CancellationReasons"][0]["Code"], "ValidationError")

    @only_moto("dynalite has no transactions")
    def test_transaction_limits(self):
        puts = [{"Put": {"TableName": self.table, "Item": self.key("tx-many", str(i))}} for i in range(101)]
        client.transact_write_items(TransactItems=puts[:100])
        self.refused(lambda: client.transact_write_items(TransactItems=puts), "1 validation error detected")
        self.refused(
            lambda: client.transact_write_items(TransactItems=[puts[0], puts[0]]),
            "Transaction request cannot include multiple operations on one item",
        )
        # 11 items of ~390 KB: past 4 MB.
        big = [
            {"Put": {"TableName": self.table, "Item": {**self.key("tx-4mb", str(i)), "d": {"S": "x" * (390 * KB)}}}}
            for i in range(11)
        ]
        client.transact_write_items(TransactItems=big[:10])
        self.refused(lambda: client.transact_write_items(TransactItems=big), "Transaction request size has exceeded")


if __name__ == "__main__":
    unittest.main()
