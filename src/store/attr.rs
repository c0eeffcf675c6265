//! JSON values ⇄ DynamoDB attribute values, so that `metadata` and error `details` are
//! stored as native maps (readable in the console, patchable key by key).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::job::decimal::Decimal;

/// The attribute value of `value`. Its numbers go as their text: validation made it the
/// canonical text of a number DynamoDB holds exactly (`validation::object`).
pub fn from_json(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.as_str().to_owned()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(from_json).collect()),
        Value::Object(map) => AttributeValue::M(from_json_map(map)),
    }
}

pub fn from_json_map(map: &Map<String, Value>) -> HashMap<String, AttributeValue> {
    map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()
}

/// The JSON form of a stored attribute. Numbers are read exactly and answered in
/// canonical text, so whatever form DynamoDB answers them in (`1E+2` as `100`), a read
/// answers what the write did; sets, which this service never writes, become lists.
pub fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => number(n),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(to_json).collect()),
        AttributeValue::M(map) => Value::Object(to_json_map(map)),
        AttributeValue::Ss(items) => items.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(items) => items.iter().map(|n| number(n)).collect(),
        _ => Value::Null,
    }
}

pub fn to_json_map(map: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()
}

/// A stored number as JSON: exact, in canonical text (its text as a string if it is none).
pub(super) fn number(text: &str) -> Value {
    Decimal::parse(text)
        .and_then(|decimal| decimal.to_number())
        .map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let value = json!({
            "s": "text", "i": -3, "u": 18446744073709551615u64, "f": 1.5,
            "b": true, "n": null, "l": [1, "two", {"three": 3}], "m": {"nested": {"deep": []}}
        });
        assert_eq!(to_json(&from_json(&value)), value);
    }

    #[test]
    fn numbers_are_stored_as_dynamodb_numbers() {
        assert_eq!(from_json(&json!(42)), AttributeValue::N("42".into()));
        assert_eq!(from_json(&json!(0.25)), AttributeValue::N("0.25".into()));
        let exact: Value = serde_json::from_str("12.345678901234567890123").unwrap();
        assert_eq!(
            from_json(&exact),
            AttributeValue::N("12.345678901234567890123".into())
        );
    }

    #[test]
    fn numbers_are_read_exactly_in_canonical_text() {
        for (stored, read) in [
            ("98765432109876543210", "98765432109876543210"),
            ("12.345678901234567890123", "12.345678901234567890123"),
            ("1E+2", "100"),
            ("1E-130", "1e-130"),
            (
                "9.9999999999999999999999999999999999999E+125",
                "9.9999999999999999999999999999999999999e+125",
            ),
            ("-0", "0"),
        ] {
            let value = to_json(&AttributeValue::N(stored.into()));
            assert_eq!(value.to_string(), read, "{stored}");
        }
        let set = to_json(&AttributeValue::Ns(vec!["1.50".into(), "2".into()]));
        assert_eq!(set.to_string(), "[1.5,2]");
    }
}
