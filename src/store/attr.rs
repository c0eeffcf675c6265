//! JSON values ⇄ DynamoDB attribute values, so that `metadata` and error `details` are
//! stored as native maps (readable in the console, patchable key by key).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

pub fn from_json(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(from_json).collect()),
        Value::Object(map) => AttributeValue::M(from_json_map(map)),
    }
}

pub fn from_json_map(map: &Map<String, Value>) -> HashMap<String, AttributeValue> {
    map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()
}

/// The JSON form of a stored attribute. DynamoDB may normalise numbers (`1.0` comes back
/// as `1`); sets, which this service never writes, become lists.
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

fn number(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(n) = text.parse::<u64>() {
        return Value::from(n);
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
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
    }
}
