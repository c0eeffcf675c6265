"""The partition-heat model's rules (bench/heat_model.py), one test per rule, each with a
case that a wrong rule would fail. Run by scripts/test.sh:

    .tools/venv/bin/python -m unittest discover -s bench -p 'test_heat_model.py'
"""

import unittest

import heat_model as m

S = lambda text: {"S": text}  # noqa: E731
N = lambda text: {"N": text}  # noqa: E731

# A table shaped like none of ours on purpose: the model learns the schema.
DESCRIPTION = {
    "TableName": "t",
    "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_state",
            "KeySchema": [{"AttributeName": "state_key", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state"]},
        },
        {
            "IndexName": "keys_only",
            "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
        {
            "IndexName": "everything",
            "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
}
TABLE = m.TableSchema.from_description(DESCRIPTION)
KEY = {"p": S("A"), "s": S("1")}


def item(**extra):
    return {**KEY, **{k: S(v) if isinstance(v, str) else v for k, v in extra.items()}}


def by_target(charges):
    return sorted((c.index or "", c.key, c.wcu, c.rcu) for c in charges)


class ItemSize(unittest.TestCase):
    def test_strings_count_utf8_bytes_of_names_and_values(self):
        self.assertEqual(m.item_size({"ab": S("é")}), 2 + 2)

    def test_numbers_count_significant_digits(self):
        # 1 byte per 2 significant digits + 1; leading/trailing zeros and the sign are free.
        self.assertEqual(m.number_size("12345"), 4)
        self.assertEqual(m.number_size("000120"), 2)
        self.assertEqual(m.number_size("-0.0015"), 2)
        self.assertEqual(m.number_size("0"), 2)

    def test_binary_counts_raw_bytes_not_base64(self):
        self.assertEqual(m.value_size({"B": "AAECAwQ="}), 5)

    def test_maps_and_lists_add_3_bytes_and_1_per_element(self):
        self.assertEqual(m.value_size({"M": {}}), 3)
        self.assertEqual(m.value_size({"M": {"k": S("vv")}}), 3 + 1 + 1 + 2)
        self.assertEqual(m.value_size({"L": [S("a"), {"BOOL": True}]}), 3 + (1 + 1) + (1 + 1))

    def test_sets_and_nulls(self):
        self.assertEqual(m.value_size({"SS": ["ab", "c"]}), 3)
        self.assertEqual(m.value_size({"NULL": True}), 1)


class Units(unittest.TestCase):
    def test_writes_are_per_started_kilobyte_at_least_one(self):
        self.assertEqual([m.write_units(s) for s in (0, 1, 1024, 1025)], [1, 1, 1, 2])

    def test_reads_are_per_started_4kb_halved_when_eventual(self):
        self.assertEqual(m.read_units(4096, True), 1)
        self.assertEqual(m.read_units(4097, True), 2)
        self.assertEqual(m.read_units(4097, False), 1)
        self.assertEqual(m.read_units(0, False), 0.5)


class Schema(unittest.TestCase):
    def test_learned_from_describe_table(self):
        self.assertEqual((TABLE.hash_key, TABLE.range_key), ("p", "s"))
        self.assertEqual([i.name for i in TABLE.indexes], ["by_state", "keys_only", "everything"])
        self.assertEqual(TABLE.index("by_state").non_key, ("state",))
        self.assertIsNone(TABLE.index("keys_only").range_key)

    def test_index_entries_hold_keys_table_keys_and_projection(self):
        full = item(state_key="A#open", state="open", owner="u", group="g", note="x" * 50)
        self.assertEqual(set(m.index_entry(TABLE.index("by_state"), TABLE, full)), {"p", "s", "state_key", "state"})
        self.assertEqual(set(m.index_entry(TABLE.index("keys_only"), TABLE, full)), {"p", "s", "owner"})
        self.assertEqual(m.index_entry(TABLE.index("everything"), TABLE, full), full)

    def test_an_item_without_the_index_keys_is_not_in_it(self):
        self.assertIsNone(m.index_entry(TABLE.index("by_state"), TABLE, item(state="open")))


class Writes(unittest.TestCase):
    def test_a_put_costs_the_larger_image_on_the_table_partition(self):
        old, new = item(body="x" * 2000), item(body="y")
        self.assertEqual(by_target(m.item_write(TABLE, KEY, old, new)), [("", "A", 2, 0)])

    def test_a_transactional_write_costs_double_on_the_table_only(self):
        new = item(owner="u")
        self.assertEqual(
            by_target(m.item_write(TABLE, KEY, None, new, transactional=True)),
            [("", "A", 2, 0), ("keys_only", "u", 1, 0)],
        )

    def test_a_failed_condition_costs_the_existing_item_and_no_index(self):
        old = item(owner="u", body="x" * 3000)
        self.assertEqual(by_target(m.item_write(TABLE, KEY, old, None, succeeded=False)), [("", "A", 3, 0)])
        self.assertEqual(by_target(m.item_write(TABLE, KEY, None, None, succeeded=False)), [("", "A", 1, 0)])

    def test_a_delete_of_a_missing_item_costs_the_minimum(self):
        self.assertEqual(by_target(m.item_write(TABLE, KEY, None, None)), [("", "A", 1, 0)])

    def test_entering_an_index_is_one_put_on_the_new_key(self):
        self.assertEqual(by_target(m.index_writes(TABLE, item(), item(owner="u"))), [("keys_only", "u", 1, 0)])

    def test_leaving_an_index_is_one_delete_on_the_old_key(self):
        self.assertEqual(by_target(m.index_writes(TABLE, item(owner="u"), item())), [("keys_only", "u", 1, 0)])

    def test_a_changed_index_key_is_a_delete_and_a_put_on_both_partitions(self):
        old, new = item(state_key="A#open", state="open"), item(state_key="A#done", state="done")
        self.assertEqual(
            by_target(m.index_writes(TABLE, old, new)),
            [("by_state", "A#done", 1, 0), ("by_state", "A#open", 1, 0)],
        )

    def test_a_changed_projected_attribute_is_one_write(self):
        old, new = item(state_key="K", state="open"), item(state_key="K", state="paused")
        self.assertEqual(by_target(m.index_writes(TABLE, old, new)), [("by_state", "K", 1, 0)])

    def test_an_unprojected_change_costs_the_index_nothing(self):
        old, new = item(state_key="K", owner="u", count=N("1")), item(state_key="K", owner="u", count=N("2"))
        self.assertEqual(m.index_writes(TABLE, old, new), [])

    def test_an_all_projection_index_sees_every_change(self):
        old, new = item(group="g", count=N("1")), item(group="g", count=N("2"))
        self.assertEqual(by_target(m.index_writes(TABLE, old, new)), [("everything", "g", 1, 0)])

    def test_index_entries_are_sized_by_their_own_attributes(self):
        # A 3 KB attribute the index does not project does not make its write bigger;
        # the ALL index carries it and pays 3 units.
        big = "x" * 3000
        old = item(state_key="K", state="a", group="g", body=S(big))
        new = item(state_key="K", state="b", group="g", body=S(big))
        self.assertEqual(by_target(m.index_writes(TABLE, old, new)), [("by_state", "K", 1, 0), ("everything", "g", 3, 0)])


class Reads(unittest.TestCase):
    def test_get_is_rounded_per_item_and_a_missing_item_costs_the_minimum(self):
        charges = m.item_reads(TABLE, "A", [item(body="x" * 5000), None], consistent=True, per_item=True)
        self.assertEqual(by_target(charges), [("", "A", 0, 2 + 1)])

    def test_a_query_is_rounded_once_over_what_it_evaluated(self):
        items = [item(body="x" * 1000)] * 5  # ~5 KB: 2 units, not 5
        self.assertEqual(by_target(m.item_reads(TABLE, "A", items, consistent=True)), [("", "A", 0, 2)])

    def test_index_queries_are_eventually_consistent_whatever_was_asked(self):
        charges = m.item_reads(TABLE, "K", [item()], consistent=True, index="by_state")
        self.assertEqual(by_target(charges), [("by_state", "K", 0, 0.5)])

    def test_transactional_reads_cost_double(self):
        charges = m.item_reads(TABLE, "A", [item()], consistent=True, per_item=True, factor=2)
        self.assertEqual(by_target(charges), [("", "A", 0, 2)])

    def test_the_queried_partition_comes_from_the_key_condition(self):
        request = {
            "KeyConditionExpression": "#k = :k AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": {"#k": "state_key"},
            "ExpressionAttributeValues": {":k": S("K"), ":lo": S("a"), ":hi": S("b")},
        }
        self.assertEqual(m.query_partition(request, "state_key"), S("K"))
        swapped = {**request, "KeyConditionExpression": ":k = state_key"}
        self.assertEqual(m.query_partition(swapped, "state_key"), S("K"))
        legacy = {"KeyConditions": {"p": {"ComparisonOperator": "EQ", "AttributeValueList": [S("A")]}}}
        self.assertEqual(m.query_partition(legacy, "p"), S("A"))
        with self.assertRaises(ValueError):
            m.query_partition(request, "p")

    def test_placeholders_of_an_expression(self):
        self.assertEqual(m.placeholders_in("#k = :k AND begins_with(sk, :p)"), {"#k", ":k", ":p"})


class Extrapolation(unittest.TestCase):
    def test_private_partitions_scale_with_their_entity_shared_with_the_population(self):
        # Two sampled jobs, two reports each; each report writes 1 unit on the job's own
        # partition and 1 on the organization's.
        calls = [(job, [m.Charge(None, f"JOB#{job}", wcu=1), m.Charge(None, "ORG", wcu=1)]) for job in "ab" for _ in range(2)]
        heat = {h.key: h for h in m.extrapolate(calls, entity_rate=1, population_rate=5000)}
        # Private: 2 units over 2 operations of that job, at 1 operation/s.
        self.assertEqual(heat["JOB#a"].wcu_per_s, 1)
        self.assertFalse(heat["JOB#a"].shared)
        # Shared: 4 units over 4 operations, at the population's 5,000 operations/s.
        self.assertEqual(heat["ORG"].wcu_per_s, 5000)
        self.assertEqual(heat["ORG"].entities, 2)

    def test_a_shard_shared_by_part_of_the_sample_keeps_its_share(self):
        # 4 jobs over 2 shards: each shard takes half the population's load.
        calls = [(job, [m.Charge("idx", f"S#{i % 2}", wcu=1)]) for i, job in enumerate("abcd")]
        heat = m.extrapolate(calls, entity_rate=1, population_rate=1000)
        self.assertEqual(sorted(h.wcu_per_s for h in heat), [500, 500])

    def test_peaks_pick_the_hottest_key_per_target_and_kind(self):
        heat = [
            m.Heat(None, "a", 10, 0, 1, False),
            m.Heat(None, "b", 5, 7, 2, True),
            m.Heat("idx", "c", 3, 0, 2, True),
        ]
        p = m.peaks(heat, ["idx", "other"])
        self.assertEqual((p[None]["wcu"].key, p[None]["rcu"].key), ("a", "b"))
        self.assertEqual(p["idx"]["wcu"].key, "c")
        self.assertIsNone(p["idx"]["rcu"])
        self.assertEqual(p["other"], {"wcu": None, "rcu": None})


if __name__ == "__main__":
    unittest.main()
