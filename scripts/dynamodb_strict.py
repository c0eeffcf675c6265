"""DynamoDB's documented limits, checked by the local DynamoDB (scripts/dynamodb_server.py)
before moto handles a request, so that a request DynamoDB refuses fails locally too.

moto accepts much that DynamoDB refuses (expressions of any length, a BETWEEN whose bounds
are reversed, numbers past 38 digits or out of range, a count summed past that range,
items past 400 KB measured DynamoDB's way...). Each rule below names the developer-guide
page it follows; messages are DynamoDB's own where known (captured from the service by
other emulators' test suites, or documented), else marked as ours.

Pages (https://docs.aws.amazon.com/amazondynamodb/latest/...):
  CONSTRAINTS  developerguide/Constraints.html (formerly "Service, account, and table
               quotas", ServiceQuotas.html): expression parameters, items, attributes,
               keys, data types, transactions, API-specific limits
  ITEM_SIZES   developerguide/CapacityUnitCalculations.html ("DynamoDB item sizes and
               formats"): how an item's size is computed
  DATA_TYPES   developerguide/HowItWorks.NamingRulesDataTypes.html: numbers, names
  EXPR_NAMES   developerguide/Expressions.ExpressionAttributeNames.html
  TRANSACT     APIReference/API_TransactWriteItems.html: which failures cancel a
               transaction with a `ValidationError` reason

Cost: the checks walk the request once (moto itself parses and copies it several times);
small requests take the fast paths (short plain numbers, short expressions).
"""
import base64
import re
from decimal import Decimal, InvalidOperation

VALIDATION = "com.amazon.coral.validate#ValidationException"
CANCELED = "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"

# CONSTRAINTS, "Items": 400 KB, binary units (1 KB = 1024 bytes).
MAX_ITEM_BYTES = 400 * 1024
# CONSTRAINTS, "Partition keys and sort keys".
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
# CONSTRAINTS, "Expression parameters": any expression string at most 4 KB; any single
# expression attribute name or value placeholder at most 255 bytes; all substitution
# variables (ExpressionAttributeNames and ExpressionAttributeValues) at most 2 MB.
MAX_EXPRESSION_BYTES = 4 * 1024
MAX_PLACEHOLDER_BYTES = 255
MAX_SUBSTITUTION_BYTES = 2 * 1024 * 1024
# CONSTRAINTS, "Expression parameters": operators or functions in an UpdateExpression; IN.
MAX_UPDATE_OPERATORS = 300
MAX_IN_OPERANDS = 100
# CONSTRAINTS, "Attributes": nested attributes up to 32 levels deep.
MAX_NESTING = 32
# CONSTRAINTS, "DynamoDB transactions": 100 actions (unique items), 4 MB of data.
MAX_TRANSACT_ACTIONS = 100
MAX_TRANSACT_BYTES = 4 * 1024 * 1024
# CONSTRAINTS, "API-specific constraints": BatchGetItem 100 items, BatchWriteItem 25; a
# Query or Scan reads at most 1 MB before it returns a page.
MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25
MAX_READ_BYTES = 1024 * 1024
# DATA_TYPES, "Number": 38 digits of precision; magnitude 1E-130 .. 9.99...9E+125.
MAX_DIGITS = 38
MAX_EXPONENT = 125   # adjusted exponent (of the leading digit)
MIN_EXPONENT = -130

EXPRESSIONS = (
    "KeyConditionExpression", "FilterExpression", "ConditionExpression",
    "UpdateExpression", "ProjectionExpression",
)
NAME_TOKEN = re.compile(r"#[A-Za-z0-9_]+")
VALUE_TOKEN = re.compile(r":[A-Za-z0-9_]+")
PLACEHOLDER = {"#": re.compile(r"#[A-Za-z0-9_]+\Z"), ":": re.compile(r":[A-Za-z0-9_]+\Z")}
BETWEEN = re.compile(r"\bBETWEEN\s+(:[A-Za-z0-9_]+)\s+AND\s+(:[A-Za-z0-9_]+)", re.I)
IN_LIST = re.compile(r"\bIN\s*\(([^()]*)\)", re.I)
UPDATE_OPERATOR = re.compile(r"[+-]|\b[A-Za-z_]+\s*\(")
SHORT_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}\Z|-?0\Z")
NUMBER_SYNTAX = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


class Refusal(Exception):
    """DynamoDB's answer to a request it refuses: a `ValidationException` by default."""

    def __init__(self, message, reasons=None):
        super().__init__(message)
        self.message = message
        self.reasons = reasons

    def body(self):
        if self.reasons is None:
            return {"__type": VALIDATION, "message": self.message}
        return {"__type": CANCELED, "Message": self.message, "CancellationReasons": self.reasons}


class ItemRefusal(Exception):
    """A limit one item of a write breaks: a `ValidationException` alone, a
    `ValidationError` cancellation reason inside a transaction (TRANSACT)."""


# ---- numbers (DATA_TYPES "Number"; ITEM_SIZES for their size) ---------------------------

def number_problem(text):
    """DynamoDB's message for a number it cannot store, or None."""
    if SHORT_INTEGER.match(text):
        return None
    if not NUMBER_SYNTAX.match(text):
        return f"The parameter cannot be converted to a numeric value: {text}"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"The parameter cannot be converted to a numeric value: {text}"
    if not value:
        return None
    significant = len("".join(map(str, value.as_tuple().digits)).strip("0"))
    exponent = value.adjusted()
    if exponent > MAX_EXPONENT:
        return "Number overflow. Attempting to store a number with magnitude larger than supported range"
    if exponent < MIN_EXPONENT:
        return "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    if significant > MAX_DIGITS:
        return "Attempting to store more than 38 significant digits in a Number"
    return None


def number_size(text):
    """ITEM_SIZES: 1 byte per two significant digits, plus 1 byte (leading and trailing
    zeroes trimmed)."""
    mantissa = text.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(mantissa) + 1) // 2 + 1


# ---- attribute values: size, nesting, numbers -------------------------------------------

def binary_size(value):
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    # Base64 text as sent; the raw length counts (ITEM_SIZES).
    return len(value) * 3 // 4 - value[-2:].count("=") if value else 0


def value_size(av, depth=1):
    """Size of one attribute value in bytes (ITEM_SIZES), checking its numbers (DATA_TYPES)
    and its nesting (CONSTRAINTS "Attributes"). Raises ItemRefusal."""
    if not isinstance(av, dict) or len(av) != 1:
        raise ItemRefusal(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
            if isinstance(av, dict) and av
            else "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    ((kind, value),) = av.items()
    if kind == "S":
        return len(value.encode()) if not value.isascii() else len(value)
    if kind == "N":
        problem = number_problem(value)
        if problem:
            raise ItemRefusal(problem)
        return number_size(value)
    if kind == "B":
        return binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("M", "L"):
        if depth > MAX_NESTING:
            raise ItemRefusal(
                "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
            )
        # 3 bytes for the container, 1 more per element (ITEM_SIZES).
        if kind == "M":
            return 3 + sum(
                len(name.encode()) + 1 + value_size(child, depth + 1) for name, child in value.items()
            )
        return 3 + sum(1 + value_size(child, depth + 1) for child in value)
    if kind == "SS":
        return sum(len(s.encode()) for s in value)
    if kind == "NS":
        total = 0
        for text in value:
            problem = number_problem(text)
            if problem:
                raise ItemRefusal(problem)
            total += number_size(text)
        return total
    if kind == "BS":
        return sum(binary_size(b) for b in value)
    raise ItemRefusal(f"Supplied AttributeValue has an unknown datatype: {kind}")  # ours


def item_size(item):
    """An item's size (ITEM_SIZES): its attribute names plus their values."""
    total = 0
    for name, av in item.items():
        if name == "":
            # CONSTRAINTS "Naming rules": attribute names are at least one character long.
            raise ItemRefusal("One or more parameter values were invalid: Empty attribute name")  # ours
        total += len(name.encode()) + value_size(av)
    return total


def check_item(item):
    """A whole item to write: every value valid, at most 400 KB (CONSTRAINTS "Items")."""
    if item_size(item) > MAX_ITEM_BYTES:
        raise ItemRefusal("Item size has exceeded the maximum allowed size")


# ---- keys (CONSTRAINTS "Partition keys and sort keys") -----------------------------------

def key_schema(table):
    """[(attribute, is_partition_key, index name or None)] of a moto table: its own key,
    then every global index's key (their values are limited alike)."""
    cached = getattr(table, "_strict_keys", None)
    if cached is not None:
        return cached
    keys = [(table.hash_key_attr, True, None)]
    if table.range_key_attr:
        keys.append((table.range_key_attr, False, None))
    for index in list(table.global_indexes) + list(getattr(table, "indexes", [])):
        for part in index.schema:
            keys.append((part["AttributeName"], part["KeyType"] == "HASH", index.name))
    table._strict_keys = keys
    return keys


def key_value_size(av):
    ((kind, value),) = av.items()
    if kind == "S":
        return len(value.encode())
    if kind == "B":
        return binary_size(value)
    return 0  # a number key is bounded by the number rules


def check_key_values(table, attrs, indexes=True):
    """Key attributes of an item or a Key: non-empty strings and binaries (a top-level
    ValidationException, even in a transaction), within the key sizes (ItemRefusal)."""
    for name, is_hash, index in key_schema(table):
        if index is not None and not indexes:
            continue
        av = attrs.get(name)
        if not isinstance(av, dict) or len(av) != 1:
            continue  # missing or malformed: moto's own validation answers
        ((kind, value),) = av.items()
        if kind in ("S", "B") and not value:
            if index is None:
                raise Refusal(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute "
                    f"cannot contain an empty {'string' if kind == 'S' else 'binary'} value. Key: {name}"
                )
            raise Refusal(
                "One or more parameter values are not valid. A value specified for a secondary index key "
                "is not supported. The AttributeValue for a key attribute cannot contain an empty "
                f"{'string' if kind == 'S' else 'binary'} value. IndexName: {index}, IndexKey: {name}"
            )
        size = key_value_size(av)
        if is_hash and size > MAX_PARTITION_KEY_BYTES:
            # Sic: no space before the number, as DynamoDB words it.
            raise ItemRefusal(
                "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
            )
        if not is_hash and size > MAX_SORT_KEY_BYTES:
            raise ItemRefusal(
                "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
            )


# ---- expressions (CONSTRAINTS "Expression parameters"; EXPR_NAMES) -----------------------

def describe(av):
    """An attribute value as DynamoDB's messages print it: {S:abc}, {N:10}."""
    ((kind, value),) = av.items()
    return "{%s:%s}" % (kind, value)


def compare(low, high):
    """>0 when low sorts after high (DynamoDB orders strings and binaries by their bytes,
    numbers by value); None when they are not comparable."""
    ((low_kind, low_value),) = low.items()
    ((high_kind, high_value),) = high.items()
    if low_kind == "N":
        try:
            a, b = Decimal(low_value), Decimal(high_value)
        except InvalidOperation:
            return None
    elif low_kind == "S":
        a, b = low_value.encode(), high_value.encode()
    elif low_kind == "B":
        decode = lambda v: v if isinstance(v, (bytes, bytearray)) else base64.b64decode(v)
        a, b = decode(low_value), decode(high_value)
    else:
        return None
    return (a > b) - (a < b)


def check_expressions(request):
    """Lengths, placeholders defined and used, the maps' entries, BETWEEN bounds and
    operator counts of one request (or one transaction action)."""
    present = [(field, request[field]) for field in EXPRESSIONS if request.get(field) is not None]
    names = request.get("ExpressionAttributeNames")
    values = request.get("ExpressionAttributeValues")
    if not present:
        if names:
            raise Refusal("ExpressionAttributeNames can only be specified when using expressions")
        if values:
            raise Refusal("ExpressionAttributeValues can only be specified when using expressions")
        return
    substitution = 0
    for key, name in (names or {}).items():
        check_placeholder("ExpressionAttributeNames", key, "#")
        if not name:
            raise Refusal(f"ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}")
        substitution += len(key) + len(name.encode())
    for key, av in (values or {}).items():
        check_placeholder("ExpressionAttributeValues", key, ":")
        try:
            substitution += len(key) + value_size(av)
        except ItemRefusal as problem:
            raise Refusal(f"ExpressionAttributeValues contains invalid value: {problem} for key {key}")
    if substitution > MAX_SUBSTITUTION_BYTES:
        # Ours: the limit is documented, DynamoDB's wording of this refusal is not.
        raise Refusal(
            "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum allowed size "
            f"of all substitution variables; size: {substitution}"
        )
    used_names, used_values = set(), set()
    for field, expression in present:
        size = len(expression.encode())
        if not expression.strip():
            raise Refusal(f"Invalid {field}: The expression can not be empty;")
        if size > MAX_EXPRESSION_BYTES:
            # Filter and condition expressions report the size, the others do not.
            suffix = f" expression size: {size}" if field in ("FilterExpression", "ConditionExpression") else ""
            raise Refusal(f"Invalid {field}: Expression size has exceeded the maximum allowed size;{suffix}")
        for token in NAME_TOKEN.findall(expression):
            if names is None or token not in names:
                raise Refusal(
                    f"Invalid {field}: An expression attribute name used in the document path is not defined; attribute name: {token}"
                )
            used_names.add(token)
        for token in VALUE_TOKEN.findall(expression):
            if values is None or token not in values:
                raise Refusal(
                    f"Invalid {field}: An expression attribute value used in expression is not defined; attribute value: {token}"
                )
            used_values.add(token)
        if field == "UpdateExpression":
            operators = len(UPDATE_OPERATOR.findall(expression))
            if operators > MAX_UPDATE_OPERATORS:
                raise Refusal(
                    f"Invalid UpdateExpression: The expression contains too many operators; operator count: {operators}"
                )
        elif field != "ProjectionExpression":
            check_condition(field, expression, values)
    unused = [key for key in names or {} if key not in used_names]
    if unused:
        raise Refusal(f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{', '.join(unused)}}}")
    unused = [key for key in values or {} if key not in used_values]
    if unused:
        raise Refusal(f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused)}}}")


def check_placeholder(field, key, prefix):
    size = len(key.encode())
    if size > MAX_PLACEHOLDER_BYTES:
        if prefix == "#":
            raise Refusal(f"{field} contains invalid key: The expression attribute map contains a key that is too long; size of key: {size}")
        raise Refusal(f"{field} contains invalid key: The expression attribute map contains a key that is too long;")
    if not PLACEHOLDER[prefix].match(key):
        raise Refusal(f'{field} contains invalid key: Syntax error; key: "{key}"')


def check_condition(field, expression, values):
    upper = expression.upper()
    if "BETWEEN" in upper:
        for low_key, high_key in BETWEEN.findall(expression):
            low, high = values[low_key], values[high_key]
            prefix = f"Invalid {field}: The BETWEEN operator requires"
            if list(low) != list(high):
                raise Refusal(
                    f"{prefix} same data type for lower and upper bounds; lower bound operand: "
                    f"AttributeValue: {describe(low)}, upper bound operand: AttributeValue: {describe(high)}"
                )
            order = compare(low, high)
            if order is not None and order > 0:
                raise Refusal(
                    f"{prefix} upper bound to be greater than or equal to lower bound; lower bound operand: "
                    f"AttributeValue: {describe(low)}, upper bound operand: AttributeValue: {describe(high)}"
                )
    if " IN" in upper:
        for operands in IN_LIST.findall(expression):
            count = operands.count(",") + 1
            if count > MAX_IN_OPERANDS:
                # Ours: the limit is documented, not DynamoDB's wording of it.
                raise Refusal(f"Invalid {field}: The IN operator has too many operands; operand count: {count}")


# ---- operations -----------------------------------------------------------------------------

def check_limit(request):
    limit = request.get("Limit")
    if limit is not None and limit < 1:
        raise Refusal(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1"
        )


def alone(check):
    """An item-level check outside a transaction: its refusal is a ValidationException."""
    try:
        check()
    except ItemRefusal as problem:
        raise Refusal(str(problem))


def put_item(request, backend):
    check_expressions(request)
    table = backend.get_table(request["TableName"])
    item = request.get("Item") or {}
    alone(lambda: check_key_values(table, item))
    alone(lambda: check_item(item))


def keyed(request, backend):
    check_expressions(request)
    if request.get("Key"):
        table = backend.get_table(request["TableName"])
        alone(lambda: check_key_values(table, request["Key"], indexes=False))


def query(request, backend):
    check_expressions(request)
    check_limit(request)


def scan(request, backend):
    check_expressions(request)
    check_limit(request)


def batch_get_item(request, backend):
    tables = request.get("RequestItems") or {}
    for name, entry in tables.items():
        if len(entry.get("Keys") or []) > MAX_BATCH_GET:
            raise Refusal(
                f"1 validation error detected: Value at 'requestItems.{name}.member.keys' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_BATCH_GET}"
            )
    if sum(len(t.get("Keys") or []) for t in tables.values()) > MAX_BATCH_GET:
        raise Refusal("Too many items requested for the BatchGetItem call")
    for name, entry in tables.items():
        table = backend.get_table(name)
        check_expressions(entry)
        for key in entry.get("Keys") or []:
            alone(lambda: check_key_values(table, key, indexes=False))


def batch_write_item(request, backend):
    tables = request.get("RequestItems") or {}
    for name, writes in tables.items():
        if len(writes) > MAX_BATCH_WRITE:
            raise Refusal(
                f"1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value "
                "must satisfy constraint: [Member must have length less than or equal to 25, "
                "Member must have length greater than or equal to 1]"
            )
    if sum(len(w) for w in tables.values()) > MAX_BATCH_WRITE:
        raise Refusal("Too many items requested for the BatchWriteItem call")
    for name, writes in tables.items():
        table = backend.get_table(name)
        for write in writes:
            if "PutRequest" in write:
                item = write["PutRequest"].get("Item") or {}
                alone(lambda: check_key_values(table, item))
                alone(lambda: check_item(item))
            elif "DeleteRequest" in write:
                alone(lambda: check_key_values(table, write["DeleteRequest"].get("Key") or {}, indexes=False))


def transact_items(request):
    """A transaction's actions, at most MAX_TRANSACT_ACTIONS of them (CONSTRAINTS)."""
    actions = request.get("TransactItems") or []
    if len(actions) > MAX_TRANSACT_ACTIONS:
        raise Refusal(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_TRANSACT_ACTIONS}"
        )
    return actions


def transact_write_items(request, backend):
    actions = transact_items(request)
    reasons, total, failed = [], 0, False
    for action in actions:
        if len(action) != 1:
            return  # moto's own validation answers
        ((kind, op),) = action.items()
        check_expressions(op)
        table = backend.get_table(op["TableName"])
        try:
            if kind == "Put":
                item = op.get("Item") or {}
                check_key_values(table, item)
                total += item_size(item)
                check_item(item)
            else:
                key = op.get("Key") or {}
                check_key_values(table, key, indexes=False)
                total += item_size(key)
            reasons.append({"Code": "None"})
        except ItemRefusal as problem:
            reasons.append({"Code": "ValidationError", "Message": str(problem)})
            failed = True
    if failed:
        codes = ", ".join(r["Code"] for r in reasons)
        raise Refusal(
            f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]", reasons
        )
    if total > MAX_TRANSACT_BYTES:
        # Ours: the 4 MB limit is documented, DynamoDB's wording of this refusal is not.
        raise Refusal(f"Transaction request size has exceeded the maximum allowed size of 4 MB; size: {total}")


def transact_get_items(request, backend):
    actions = transact_items(request)
    for action in actions:
        get = action.get("Get") or {}
        check_expressions(get)


CHECKS = {
    "PutItem": put_item,
    "GetItem": keyed,
    "DeleteItem": keyed,
    "UpdateItem": keyed,
    "Query": query,
    "Scan": scan,
    "BatchGetItem": batch_get_item,
    "BatchWriteItem": batch_write_item,
    "TransactWriteItems": transact_write_items,
    "TransactGetItems": transact_get_items,
}


# ---- after an update: the item as it would be stored (moto's DynamoType tree) ---------------

def stored_size(value, depth=1):
    """value_size() for moto's stored representation (DynamoType for lists and maps)."""
    kind = value.type
    if kind in ("M", "L"):
        if depth > MAX_NESTING:
            raise ItemRefusal("Nesting Levels have exceeded supported limits")
        if kind == "M":
            return 3 + sum(
                len(name.encode()) + 1 + stored_size(child, depth + 1) for name, child in value.value.items()
            )
        return 3 + sum(1 + stored_size(child, depth + 1) for child in value.value)
    return value_size({kind: value.value}, depth)


def read_size(value):
    """stored_size() without the checks, for what is already stored (ITEM_SIZES)."""
    kind, inner = value.type, value.value
    if kind == "S":
        return len(inner) if inner.isascii() else len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + read_size(child) for name, child in inner.items())
    if kind == "L":
        return 3 + sum(1 + read_size(child) for child in inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return binary_size(inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    return sum(binary_size(b) for b in inner)


def item_read_size(item):
    """A stored item's size as DynamoDB counts it toward a Query's or Scan's 1 MB
    (CONSTRAINTS "API-specific constraints"): moto's own Item.size() leaves out the lists'
    and maps' overhead and counts a number by its text."""
    return sum(len(name.encode()) + read_size(value) for name, value in item.attrs.items())


def check_updated(item, size_message="Item size to update has exceeded the maximum allowed size"):
    """The item an UpdateItem produced: its numbers (an ADD or SET a = a + :n may leave
    DynamoDB's range: TRANSACT lists "Number overflow") and its size."""
    total = 0
    for name, value in item.attrs.items():
        total += len(name.encode()) + stored_size(value)
    if total > MAX_ITEM_BYTES:
        raise ItemRefusal(size_message)
