"""The partition-heat model: what one DynamoDB request costs, in write and read units, on
each partition key of the table and of each global secondary index, by DynamoDB's
published rules. Pure functions over the JSON wire format (`{"S": "..."}` values), no I/O:
bench/heat_proxy.py feeds them the requests it forwards and the item images it reads
around them; bench/heat.py extrapolates what they return; bench/test_heat_model.py pins
every rule. Standard library only.

Nothing here knows this project's key formats: the table's key schema and indexes come
from DescribeTable (`TableSchema.from_description`), and every figure is derived from the
request and the item images, so a new key layout is measured without changing a line.

The rules (DynamoDB developer guide, "Item sizes", "Read/write capacity units",
"Global secondary indexes", "Transactions"):

- Item size: the UTF-8 length of every attribute name plus its value's size. S: UTF-8
  bytes; B: raw bytes; N: about 1 byte per 2 significant digits, plus 1 (leading and
  trailing zeros do not count); BOOL and NULL: 1; M and L: 3 bytes plus, per element, 1
  byte plus its size (a map element also counts its name); SS/NS/BS: the sum of their
  elements.
- A write costs ceil(size / 1 KB) write units, at least 1, where size is the larger of
  the item before and after (a delete: the item deleted). A conditional write whose
  condition fails still costs ceil(size of the existing item / 1 KB), at least 1, on the
  table, and nothing on the indexes (nothing changed).
- Each GSI: the item is in the index when it has all the index's key attributes. Its
  entry is the index keys, the table keys and the projected attributes (KEYS_ONLY: keys
  only; INCLUDE: plus NonKeyAttributes; ALL: every attribute). Per write: entering the
  index is one put of the new entry, leaving it one delete of the old one; an index key
  that changes is a delete of the old entry plus a put of the new one (each on its own
  partition); same key and a changed entry is one write of the larger entry; an unchanged
  entry costs nothing. Each of those costs ceil(entry size / 1 KB) write units, at least 1.
- Transactions: every table write costs twice (prepare + commit); the index writes that
  follow the commit are ordinary writes, charged once. A cancelled transaction is charged
  its prepare phase: each item once, by its existing item, no index writes (DynamoDB does
  not publish this one; it is our assumption).
- A read of items: ceil(size / 4 KB) read units, at least 1; half for an eventually
  consistent read. GetItem and each key of BatchGetItem are rounded per item (a missing
  item costs the minimum); a Query is rounded once over the sum of the items it evaluated
  (before any FilterExpression, up to its Limit) — index entries for an index query —
  and charged to the partition key its KeyConditionExpression names. Index queries are
  always eventually consistent. TransactGetItems costs twice.
"""

import base64
import math
import re
from dataclasses import dataclass, field

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
TABLE = None  # the `index` of a charge to the table itself


# ---- item size --------------------------------------------------------------------------


def number_size(text):
    """DynamoDB's size of a number: 1 byte per 2 significant digits, plus 1."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    # Trailing zeros of an integer part or a fraction are not significant either.
    digits = digits.rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value):
    """Size in bytes of one attribute value in the wire format, e.g. {"S": "abc"}."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item):
    """Size in bytes of an item (or index entry): names plus values. None is 0."""
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def write_units(size):
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size, consistent):
    """Units of one read of `size` bytes: 4 KB per unit, at least 1, half if eventual."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


# ---- the schema -------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # ALL, KEYS_ONLY, INCLUDE
    non_key: tuple = ()

    @property
    def keys(self):
        return tuple(k for k in (self.hash_key, self.range_key) if k)


@dataclass(frozen=True)
class TableSchema:
    name: str
    hash_key: str
    range_key: str | None
    indexes: tuple = field(default_factory=tuple)

    @property
    def keys(self):
        return tuple(k for k in (self.hash_key, self.range_key) if k)

    @staticmethod
    def from_description(table):
        """From DescribeTable's `Table` (the GSIs; LSIs share the table's partition key,
        and their writes are charged to the table's partitions, so they are not modelled)."""

        def hash_range(schema):
            by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        indexes = []
        for gsi in table.get("GlobalSecondaryIndexes") or []:
            h, r = hash_range(gsi["KeySchema"])
            projection = gsi.get("Projection") or {}
            indexes.append(
                Index(
                    gsi["IndexName"], h, r, projection.get("ProjectionType", "ALL"),
                    tuple(projection.get("NonKeyAttributes") or ()),
                )
            )
        h, r = hash_range(table["KeySchema"])
        return TableSchema(table["TableName"], h, r, tuple(indexes))

    def index(self, name):
        return next((i for i in self.indexes if i.name == name), None)

    def key_of(self, item):
        return {k: item[k] for k in self.keys}


def partition_value(value):
    """A partition key value as a plain string, for reporting."""
    ((kind, inner),) = value.items()
    return inner if kind in ("S", "N") else f"{kind}:{inner}"


def index_entry(index, table, item):
    """The item's entry in `index`, or None when the item is not in it (sparse index)."""
    if not item or not all(k in item for k in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    names = {*index.keys, *table.keys}
    if index.projection == "INCLUDE":
        names.update(index.non_key)
    return {n: item[n] for n in names if n in item}


# ---- charges ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """Units one request puts on one partition: `index` None is the table."""

    index: str | None
    key: str
    wcu: float = 0
    rcu: float = 0


def index_writes(table, old, new):
    """The charges of every GSI for an item write from image `old` to image `new`
    (either None: the item did not exist / no longer exists)."""
    charges = []
    for index in table.indexes:
        before, after = index_entry(index, table, old), index_entry(index, table, new)
        if before is None and after is None:
            continue
        key_before = before and tuple(before[k] for k in index.keys)
        key_after = after and tuple(after[k] for k in index.keys)
        if before is not None and after is not None and key_before == key_after:
            if before != after:  # same key, a projected attribute changed: one write
                size = max(item_size(before), item_size(after))
                charges.append(Charge(index.name, partition_value(after[index.hash_key]), wcu=write_units(size)))
            continue
        if before is not None:  # left the index, or its key changed: delete the old entry
            charges.append(Charge(index.name, partition_value(before[index.hash_key]), wcu=write_units(item_size(before))))
        if after is not None:  # entered the index, or its key changed: put the new entry
            charges.append(Charge(index.name, partition_value(after[index.hash_key]), wcu=write_units(item_size(after))))
    return charges


def item_write(table, key, old, new, succeeded=True, transactional=False):
    """Every charge of one item write (PutItem, UpdateItem, DeleteItem, an item of a
    batch or of a transaction) of the item with primary `key`, from its images before
    and after (None: absent). A write of nothing (a delete of a missing item) still costs
    the minimum. A failed write (condition false, transaction cancelled) costs the table
    a write of the existing item (min 1), never doubled, and the indexes nothing."""
    partition = partition_value(key[table.hash_key])
    if not succeeded:
        return [Charge(TABLE, partition, wcu=write_units(item_size(old)))]
    units = write_units(max(item_size(old), item_size(new)))
    return [Charge(TABLE, partition, wcu=units * (2 if transactional else 1))] + index_writes(table, old, new)


def item_reads(table, key_value, items, consistent, index=None, per_item=False, factor=1):
    """A read on partition `key_value` of the table (or `index`) that evaluated `items`:
    one rounding over their total size (a Query), or one per item (GetItem and
    BatchGetItem, where a missing item is None and costs the minimum). Index reads are
    eventually consistent whatever was asked."""
    if index is not None:
        consistent = False
    if per_item:
        units = sum(read_units(item_size(i), consistent) for i in items)
    else:
        units = read_units(sum(item_size(i) for i in items), consistent)
    return [Charge(index, key_value, rcu=units * factor)]


# ---- key conditions ---------------------------------------------------------------------


def query_partition(request, hash_key):
    """The partition key value a Query reads: the `hash_key = :value` comparison of its
    KeyConditionExpression (names resolved through ExpressionAttributeNames), or the EQ
    of the legacy KeyConditions. Returns the value in wire format."""
    legacy = request.get("KeyConditions")
    if legacy:
        return legacy[hash_key]["AttributeValueList"][0]
    names = request.get("ExpressionAttributeNames") or {}
    values = request.get("ExpressionAttributeValues") or {}
    expression = request.get("KeyConditionExpression") or ""
    for left, right in re.findall(r"([#:\w.]+)\s*=\s*([#:\w.]+)", expression):
        if right.startswith(":") and names.get(left, left) == hash_key:
            return values[right]
        if left.startswith(":") and names.get(right, right) == hash_key:
            return values[left]
    raise ValueError(f"no equality on {hash_key} in {expression!r}")


def placeholders_in(expression):
    """The #names and :values an expression uses (to prune unused ones)."""
    return set(re.findall(r"[#:][A-Za-z0-9_]+", expression or ""))


# ---- extrapolation ----------------------------------------------------------------------


@dataclass
class Heat:
    """Per-second units on one partition, extrapolated from a scenario's sample."""

    index: str | None
    key: str
    wcu_per_s: float
    rcu_per_s: float
    entities: int  # how many sampled entities touched it
    shared: bool


def extrapolate(calls, entity_rate, population_rate):
    """Per-second units per partition from the `calls` of a measured phase.

    `calls` is a list of (entity, [Charge]) — one per operation replayed (an API call),
    each naming the sampled entity (a job, an organization) it belongs to.
    The rule: a partition touched by exactly one sampled entity is private to it, and
    takes that entity's units per operation times the entity's own rate
    (`entity_rate`, operations per second); a partition touched by several is shared,
    and takes its units per operation of the whole sample times the population's rate
    (`population_rate`, operations per second across all entities: population/sample
    times the sample's rate)."""
    total_ops = len(calls)
    ops_of = {}
    sums = {}
    for entity, charges in calls:
        ops_of[entity] = ops_of.get(entity, 0) + 1
        for c in charges:
            entry = sums.setdefault((c.index, c.key), [0.0, 0.0, set()])
            entry[0] += c.wcu
            entry[1] += c.rcu
            entry[2].add(entity)
    heat = []
    for (index, key), (wcu, rcu, entities) in sums.items():
        if len(entities) == 1:
            (entity,) = entities
            scale = entity_rate / ops_of[entity]
        else:
            scale = population_rate / total_ops
        heat.append(Heat(index, key, wcu * scale, rcu * scale, len(entities), len(entities) > 1))
    return heat


def peaks(heat, indexes):
    """The hottest partition of the table and of each index, for writes and for reads:
    {target: {"wcu": Heat|None, "rcu": Heat|None}}, target None for the table."""
    out = {}
    for target in (TABLE, *indexes):
        mine = [h for h in heat if h.index == target]
        out[target] = {
            "wcu": max((h for h in mine if h.wcu_per_s), key=lambda h: h.wcu_per_s, default=None),
            "rcu": max((h for h in mine if h.rcu_per_s), key=lambda h: h.rcu_per_s, default=None),
        }
    return out
