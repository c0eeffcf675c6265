//! A stored attribute written out as JSON straight from the item: what `attr::to_json`
//! reads, without building its `serde_json::Value` tree first, so that an answer copies
//! the item's text once, into its own bytes. Numbers (and the sets this service never
//! writes) are read by `attr::to_json` itself, so the two never disagree on them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::attr;

/// Any attribute value as JSON.
pub struct AttrJson<'a>(pub &'a AttributeValue);

impl Serialize for AttrJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AttributeValue::Null(_) => serializer.serialize_unit(),
            AttributeValue::Bool(b) => serializer.serialize_bool(*b),
            AttributeValue::S(s) => serializer.serialize_str(s),
            AttributeValue::L(items) => serializer.collect_seq(items.iter().map(AttrJson)),
            AttributeValue::M(map) => MapJson(Some(map)).serialize(serializer),
            other => attr::to_json(other).serialize(serializer),
        }
    }
}

/// A map attribute as a JSON object, keys in order (as `serde_json::Map` writes them);
/// `None`, an empty object.
pub struct MapJson<'a>(pub Option<&'a HashMap<String, AttributeValue>>);

impl<'a> MapJson<'a> {
    /// A map attribute; anything else reads as an empty object (as `attr` reads it).
    pub fn of(value: &'a AttributeValue) -> Self {
        match value {
            AttributeValue::M(map) => MapJson(Some(map)),
            _ => MapJson(None),
        }
    }
}

impl Serialize for MapJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &AttributeValue)> =
            self.0.into_iter().flat_map(HashMap::iter).collect();
        entries.sort_unstable_by_key(|(key, _)| *key);
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(key, &AttrJson(value))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_the_json_attr_reads() {
        let value = json!({
            "s": "text \"quoted\"", "i": -3, "u": 18446744073709551615u64, "f": 1.5,
            "b": true, "n": null, "l": [1, "two", {"three": 3, "a": [false]}],
            "m": {"z": {"deep": []}, "a": {}}, "e": 1e300
        });
        let stored = attr::from_json(&value);
        let direct = serde_json::to_string(&AttrJson(&stored)).unwrap();
        assert_eq!(direct, attr::to_json(&stored).to_string());
    }

    #[test]
    fn keys_come_in_serde_json_order() {
        let value = json!({"b": "x", "a": {"z": true, "y": [null]}, "c": false});
        let stored = attr::from_json(&value);
        let direct = serde_json::to_string(&AttrJson(&stored)).unwrap();
        assert_eq!(direct, value.to_string());
    }

    #[test]
    fn a_map_of_anything_else_is_an_empty_object() {
        let text = AttributeValue::S("x".into());
        assert_eq!(serde_json::to_string(&MapJson::of(&text)).unwrap(), "{}");
    }
}
