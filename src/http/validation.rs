//! Field errors in FastAPI's `422` shape, and the checks that produce them. Each check
//! returns the value or one [`FieldError`]; a route collects them all before answering,
//! so the caller sees every problem at once.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::ObjectLimits;
use crate::job::MAX_COUNT;
use crate::job::decimal::{self, Decimal};

/// One entry of `{"detail": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Field names (strings) and list indices (integers), as pydantic writes them.
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Box<Value>>,
}

impl FieldError {
    pub fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>, input: &Value) -> Self {
        FieldError {
            kind,
            loc: loc.iter().map(|&part| Value::from(part)).collect(),
            msg: msg.into(),
            input: input.clone(),
            ctx: None,
        }
    }

    fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(Box::new(ctx));
        self
    }

    /// A required field is absent; FastAPI echoes the enclosing object as `input`.
    pub fn missing(loc: &[&str], enclosing: &Value) -> Self {
        Self::new("missing", loc, "Field required", enclosing)
    }

    pub fn value_error(loc: &[&str], reason: &str, input: &Value) -> Self {
        Self::new("value_error", loc, format!("Value error, {reason}"), input)
    }
}

/// Collects the problems of a request so that all are reported at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// The value, or `None` with the problem recorded.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    /// `value` when no problem was recorded, else all of them (a `422` listing each).
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self.0),
        }
    }
}

/// The request body as a JSON object, or the `422` FastAPI gives for a missing body or
/// one that is not an object.
pub fn body_object(body: &Value) -> Result<&Map<String, Value>, FieldError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Err(FieldError::missing(&["body"], &Value::Null)),
        other => Err(FieldError::new(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )),
    }
}

/// A count that is within [`MAX_COUNT`] alone but passes it together with `what`.
pub fn count_past_limit(loc: &[&str], value: &Value, what: &str) -> FieldError {
    FieldError::new(
        "less_than_equal",
        loc,
        format!("Input should be less than or equal to {MAX_COUNT} {what}"),
        value,
    )
    .with_ctx(json!({ "le": MAX_COUNT }))
}

/// A JSON integer in `0..=MAX_COUNT`: not `1.5`, not `1.0`, not `"3"`, not `true`.
pub fn count(value: &Value, loc: &[&str]) -> Result<u64, FieldError> {
    let int_type = || FieldError::new("int_type", loc, "Input should be a valid integer", value);
    let too_small = || {
        FieldError::new(
            "greater_than_equal",
            loc,
            "Input should be greater than or equal to 0",
            value,
        )
        .with_ctx(json!({ "ge": 0 }))
    };
    let too_large = || {
        FieldError::new(
            "less_than_equal",
            loc,
            format!("Input should be less than or equal to {MAX_COUNT}"),
            value,
        )
        .with_ctx(json!({ "le": MAX_COUNT }))
    };
    let Value::Number(number) = value else {
        return Err(int_type());
    };
    let text = number.as_str();
    let Some(decimal) = Decimal::parse(text) else {
        return Err(int_type());
    };
    if !decimal.is_integer() {
        return Err(FieldError::new(
            "int_from_float",
            loc,
            "Input should be a valid integer, got a number with a fractional part",
            value,
        ));
    }
    match decimal.integer_magnitude().filter(|&n| n <= MAX_COUNT) {
        None if decimal.is_negative() => Err(too_small()),
        None => Err(too_large()),
        // A whole number written as a float (`1.0`, `1e2`) is not a JSON integer.
        Some(_) if text.contains(['.', 'e', 'E']) => Err(int_type()),
        Some(_) if decimal.is_negative() => Err(too_small()),
        Some(n) => Ok(n),
    }
}

/// A JSON integer in `min..=max` (pydantic's `ge`/`le`), refused like [`count`] otherwise.
pub fn integer_in(value: &Value, loc: &[&str], min: u64, max: u64) -> Result<u64, FieldError> {
    let out_of_range = |kind: &'static str, word: &str, bound: u64, ctx: Value| {
        FieldError::new(kind, loc, format!("Input should be {word} {bound}"), value).with_ctx(ctx)
    };
    match count(value, loc) {
        Ok(n) if n < min => Err(out_of_range(
            "greater_than_equal",
            "greater than or equal to",
            min,
            json!({ "ge": min }),
        )),
        Ok(n) if n > max => Err(out_of_range(
            "less_than_equal",
            "less than or equal to",
            max,
            json!({ "le": max }),
        )),
        Err(error) if error.kind == "greater_than_equal" => Err(out_of_range(
            "greater_than_equal",
            "greater than or equal to",
            min,
            json!({ "ge": min }),
        )),
        Err(error) if error.kind == "less_than_equal" => Err(out_of_range(
            "less_than_equal",
            "less than or equal to",
            max,
            json!({ "le": max }),
        )),
        other => other,
    }
}

/// `true` or `false`, nothing else.
pub fn boolean(value: &Value, loc: &[&str]) -> Result<bool, FieldError> {
    value
        .as_bool()
        .ok_or_else(|| FieldError::new("bool_type", loc, "Input should be a valid boolean", value))
}

/// A string of at most `max_chars` characters.
pub fn string(value: &Value, loc: &[&str], max_chars: usize) -> Result<String, FieldError> {
    let Value::String(text) = value else {
        return Err(FieldError::new(
            "string_type",
            loc,
            "Input should be a valid string",
            value,
        ));
    };
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            "string_too_long",
            loc,
            format!("String should have at most {max_chars} characters"),
            value,
        )
        .with_ctx(json!({ "max_length": max_chars })));
    }
    Ok(text.clone())
}

/// One of `allowed`, as pydantic reports an enum.
pub fn one_of(value: &Value, loc: &[&str], allowed: &[String]) -> Result<String, FieldError> {
    if let Value::String(text) = value
        && allowed.iter().any(|choice| choice == text)
    {
        return Ok(text.clone());
    }
    let expected = quoted_choices(allowed);
    Err(
        FieldError::new("enum", loc, format!("Input should be {expected}"), value)
            .with_ctx(json!({ "expected": expected })),
    )
}

/// `'a', 'b' or 'c'`, pydantic's wording.
fn quoted_choices(allowed: &[String]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|choice| format!("'{choice}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A JSON object within `limits` whose numbers DynamoDB can store.
pub fn object(
    value: &Value,
    loc: &[&str],
    limits: ObjectLimits,
) -> Result<Map<String, Value>, FieldError> {
    let Value::Object(map) = value else {
        return Err(FieldError::new(
            "dict_type",
            loc,
            "Input should be a valid dictionary",
            value,
        ));
    };
    if depth(value) > limits.max_depth {
        let reason = format!("nested deeper than {} levels", limits.max_depth);
        return Err(FieldError::value_error(loc, &reason, value));
    }
    // Numbers are kept as the decimals sent, in canonical text, so that the answer, the
    // item and every later read agree; one DynamoDB would round is refused instead.
    let map = decimal::rewrite_numbers_in(map, &decimal::as_stored).map_err(|refused| {
        let input = Value::Number(refused.number);
        let mut error = FieldError::value_error(loc, &refused.reason.to_string(), &input);
        error.loc.extend(refused.path);
        error
    })?;
    // Measured as stored: canonical text can be longer than the text sent (`1e37`).
    let size = serde_json::to_vec(&map).map_or(usize::MAX, |bytes| bytes.len());
    if size > limits.max_bytes {
        let reason = format!("larger than {} bytes as JSON", limits.max_bytes);
        return Err(FieldError::value_error(loc, &reason, &json!({})));
    }
    if let Some(path) = empty_key_path(value) {
        // DynamoDB cannot name an empty attribute in an update, nor read one back reliably.
        let reason = "is an empty key (keys must be at least one character)";
        let mut error = FieldError::value_error(loc, reason, &Value::String(String::new()));
        error.loc.extend(path);
        return Err(error);
    }
    Ok(map)
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Where the first empty key is: the keys and indices down to it, itself last.
fn empty_key_path(value: &Value) -> Option<Vec<Value>> {
    let (step, mut rest) = match value {
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            if key.is_empty() {
                return Some((Value::from(""), Vec::new()));
            }
            empty_key_path(value).map(|rest| (Value::from(key.as_str()), rest))
        })?,
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            empty_key_path(item).map(|rest| (Value::from(index), rest))
        })?,
        _ => return None,
    };
    rest.insert(0, step);
    Some(rest)
}

/// `loc` as `body.metadata.items.0`, for tests.
#[cfg(test)]
pub fn loc_text(loc: &[Value]) -> String {
    let parts: Vec<String> = loc
        .iter()
        .map(|part| {
            part.as_str()
                .map_or_else(|| part.to_string(), str::to_owned)
        })
        .collect();
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOC: &[&str] = &["body", "total_items"];

    fn kind(result: Result<u64, FieldError>) -> &'static str {
        result.expect_err("should be refused").kind
    }

    #[test]
    fn count_accepts_non_negative_json_integers_only() {
        assert_eq!(count(&json!(0), LOC), Ok(0));
        assert_eq!(count(&json!(MAX_COUNT), LOC), Ok(MAX_COUNT));
        assert_eq!(kind(count(&json!(-1), LOC)), "greater_than_equal");
        assert_eq!(kind(count(&json!(1.5), LOC)), "int_from_float");
        assert_eq!(kind(count(&json!(1.0), LOC)), "int_type");
        assert_eq!(kind(count(&json!("3"), LOC)), "int_type");
        assert_eq!(kind(count(&json!(true), LOC)), "int_type");
        assert_eq!(kind(count(&json!(null), LOC)), "int_type");
        assert_eq!(kind(count(&json!(MAX_COUNT + 1), LOC)), "less_than_equal");
        let huge: Value = serde_json::from_str("1000000000000000000000000").unwrap();
        assert_eq!(kind(count(&huge, LOC)), "less_than_equal");
        let very_negative: Value = serde_json::from_str("-1000000000000000000000000").unwrap();
        assert_eq!(kind(count(&very_negative, LOC)), "greater_than_equal");
    }

    #[test]
    fn count_reads_the_number_sent_exactly() {
        let read = |text: &str| count(&serde_json::from_str(text).unwrap(), LOC);
        assert_eq!(read("-0"), Ok(0), "-0 is the integer 0");
        assert_eq!(read("9007199254740991"), Ok(MAX_COUNT));
        for (text, expected) in [
            ("1e400", "less_than_equal"),
            ("-1e400", "greater_than_equal"),
            ("9007199254740992", "less_than_equal"),
            ("1e2", "int_type"),
            ("-1.0", "int_type"),
            ("-0.0", "int_type"),
            ("1.0000000000000000000001", "int_from_float"),
            ("1e-400", "int_from_float"),
            ("-0.5", "int_from_float"),
        ] {
            assert_eq!(kind(read(text)), expected, "{text}");
        }
    }

    #[test]
    fn count_error_has_fastapi_fields() {
        let error = count(&json!(-5), LOC).unwrap_err();
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({
                "type": "greater_than_equal",
                "loc": ["body", "total_items"],
                "msg": "Input should be greater than or equal to 0",
                "input": -5,
                "ctx": {"ge": 0}
            })
        );
    }

    #[test]
    fn one_of_lists_the_choices_like_pydantic() {
        let allowed = vec!["crawl".to_owned(), "import".to_owned(), "export".to_owned()];
        assert_eq!(one_of(&json!("crawl"), LOC, &allowed), Ok("crawl".into()));
        let error = one_of(&json!("mining"), LOC, &allowed).unwrap_err();
        assert_eq!(error.kind, "enum");
        assert_eq!(error.msg, "Input should be 'crawl', 'import' or 'export'");
        assert_eq!(one_of(&json!(3), LOC, &allowed).unwrap_err().kind, "enum");
    }

    #[test]
    fn string_checks_type_and_length_in_characters() {
        assert_eq!(string(&json!("héllo"), LOC, 5), Ok("héllo".into()));
        assert_eq!(
            string(&json!("héllo!"), LOC, 5).unwrap_err().kind,
            "string_too_long"
        );
        assert_eq!(string(&json!(5), LOC, 5).unwrap_err().kind, "string_type");
    }

    #[test]
    fn object_enforces_type_depth_size_and_storable_numbers() {
        let limits = ObjectLimits {
            max_bytes: 64,
            max_depth: 3,
        };
        assert!(object(&json!({"a": {"b": [1]}}), LOC, limits).is_ok());
        assert_eq!(
            object(&json!([1]), LOC, limits).unwrap_err().kind,
            "dict_type"
        );
        assert_eq!(
            object(&json!({"a": {"b": {"c": {}}}}), LOC, limits)
                .unwrap_err()
                .kind,
            "value_error"
        );
        let big = json!({ "text": "x".repeat(100) });
        assert_eq!(object(&big, LOC, limits).unwrap_err().kind, "value_error");
        let unstorable: Value = serde_json::from_str(r#"{"n": 1e200}"#).unwrap();
        assert_eq!(
            object(&unstorable, LOC, limits).unwrap_err().kind,
            "value_error"
        );
        assert!(object(&json!({"n": 0.0, "m": 1.5e-3}), LOC, limits).is_ok());
        assert_eq!(
            object(&json!({"": 1}), LOC, limits).unwrap_err().kind,
            "value_error"
        );
        let nested = object(&json!({"a": [{"b": 1, "": 1}]}), LOC, limits).unwrap_err();
        assert_eq!(nested.kind, "value_error");
        assert_eq!(
            loc_text(&nested.loc),
            "body.total_items.a.0.",
            "at the empty key's path"
        );
    }

    #[test]
    fn object_numbers_are_canonical_or_refused_at_their_path() {
        let limits = ObjectLimits {
            max_bytes: 1024,
            max_depth: 5,
        };
        let sent: Value =
            serde_json::from_str(r#"{"a": [1E+2, {"b": 1.50}], "id": 98765432109876543210}"#)
                .unwrap();
        let loc = &["body", "metadata"];
        let kept = Value::Object(object(&sent, loc, limits).unwrap());
        assert_eq!(
            kept.to_string(),
            r#"{"a":[100,{"b":1.5}],"id":98765432109876543210}"#
        );
        let too_precise = format!(
            r#"{{"order": {{"lines": [1, {{"id": 1{}}}]}}}}"#,
            "0".repeat(37) + "1"
        );
        let error = object(&serde_json::from_str(&too_precise).unwrap(), loc, limits).unwrap_err();
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({
                "type": "value_error",
                "loc": ["body", "metadata", "order", "lines", 1, "id"],
                "msg": "Value error, a number with more than 38 significant digits, which DynamoDB cannot store exactly",
                "input": serde_json::from_str::<Value>(&format!("1{}1", "0".repeat(37))).unwrap(),
            })
        );
        // The size limit applies to the numbers as stored.
        let small = ObjectLimits {
            max_bytes: 30,
            max_depth: 5,
        };
        let short: Value = serde_json::from_str(r#"{"n": 1e37}"#).unwrap();
        assert_eq!(object(&short, loc, small).unwrap_err().kind, "value_error");
    }

    #[test]
    fn body_object_refuses_missing_and_non_object_bodies() {
        let missing = body_object(&Value::Null).unwrap_err();
        assert_eq!(
            (missing.kind, missing.loc),
            ("missing", vec![json!("body")])
        );
        let list = body_object(&json!([1, 2])).unwrap_err();
        assert_eq!(list.kind, "model_attributes_type");
    }
}
