//! Exact decimal numbers. A JSON number is read from its text (serde_json keeps it:
//! `arbitrary_precision`) as a sign, significant digits and a power of ten — never through
//! `f64` — so that the number a caller sends is the number DynamoDB stores and every read
//! answers.
//!
//! DynamoDB holds numbers of up to 38 significant digits whose magnitude is 0 or from
//! 1e-130 to below 1e126 ([`Decimal::storable`]). Each value has one canonical text
//! ([`Decimal`]'s `Display`), which is what this service writes and answers:
//! - zero is `0` (`-0`, `0.00` and `0e5` too); no `+` sign, no leading or trailing zeros;
//! - plain notation for magnitudes from 1e-6 to below 1e38: `100` (`1E+2`), `1.5`
//!   (`1.50`), `0.000001`, `98765432109876543210`;
//! - otherwise one digit, the others after a point, and a signed exponent: `1e-7`,
//!   `1.5e+125`.

use std::cmp::Ordering;
use std::fmt;
use std::ops::RangeInclusive;

use serde_json::{Map, Number, Value};

/// The most significant digits DynamoDB keeps.
const MAX_DIGITS: usize = 38;
/// Powers of ten of a storable number's first digit: 1e-130 to 9.99…e125.
const STORABLE_MAGNITUDES: RangeInclusive<i64> = -130..=125;
/// Powers of ten of the first digit written in plain notation: JavaScript's lower bound,
/// and every integer DynamoDB holds all digits of.
const PLAIN_MAGNITUDES: RangeInclusive<i64> = -6..=37;
/// Exponents with more digits are not read: they are far outside DynamoDB's range, and
/// refusing them keeps the arithmetic on exponents well within `i64`.
const MAX_EXPONENT_DIGITS: usize = 18;

/// `±digits × 10^exponent`, exactly. Normalized, so equal values are equal structs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Significant digits (ASCII), without leading or trailing zeros; empty for zero.
    digits: String,
    /// The power of ten of the last digit.
    exponent: i64,
}

/// Why DynamoDB cannot hold a number exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unstorable {
    TooPrecise,
    OutOfRange,
}

impl fmt::Display for Unstorable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unstorable::TooPrecise => {
                "a number with more than 38 significant digits, which DynamoDB cannot store exactly"
            }
            Unstorable::OutOfRange => {
                "a number DynamoDB cannot store (magnitude must be 0 or from 1e-130 to below 1e126)"
            }
        })
    }
}

impl Decimal {
    /// A number's text: JSON's grammar, also with a leading `+` or a point without digits
    /// on one side. `None` for anything else, and for an exponent of more than 18 digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = split_sign(text);
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, parse_exponent(exponent)?),
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let fraction_digits = i64::try_from(fraction.len()).ok()?;
        Some(Decimal::new(
            negative,
            &format!("{whole}{fraction}"),
            exponent - fraction_digits,
        ))
    }

    /// `±digits × 10^exponent`, the zeros around `digits` dropped.
    fn new(negative: bool, digits: &str, exponent: i64) -> Decimal {
        let leading = digits.trim_start_matches('0');
        let significant = leading.trim_end_matches('0');
        if significant.is_empty() {
            return Decimal {
                negative: false,
                digits: String::new(),
                exponent: 0,
            };
        }
        Decimal {
            negative,
            digits: significant.to_owned(),
            exponent: exponent + (leading.len() - significant.len()) as i64,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Below zero (zero itself, even written `-0`, is not).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    pub fn is_integer(&self) -> bool {
        self.exponent >= 0
    }

    /// The absolute value of an integer, if it fits in a `u64`.
    pub fn integer_magnitude(&self) -> Option<u64> {
        if self.is_zero() {
            return Some(0);
        }
        let scale = 10u64.checked_pow(u32::try_from(self.exponent).ok()?)?;
        self.digits.parse::<u64>().ok()?.checked_mul(scale)
    }

    /// The power of ten of the first significant digit (`2` for `123`, `-3` for `0.00123`).
    fn magnitude(&self) -> i64 {
        self.exponent + self.digits.len() as i64 - 1
    }

    /// Whether DynamoDB holds this number exactly.
    pub fn storable(&self) -> Result<(), Unstorable> {
        if self.is_zero() {
            Ok(())
        } else if self.digits.len() > MAX_DIGITS {
            Err(Unstorable::TooPrecise)
        } else if !STORABLE_MAGNITUDES.contains(&self.magnitude()) {
            Err(Unstorable::OutOfRange)
        } else {
            Ok(())
        }
    }

    /// The JSON number with this value, in canonical text.
    pub fn to_number(&self) -> Option<Number> {
        self.to_string().parse().ok()
    }
}

impl From<u64> for Decimal {
    fn from(value: u64) -> Self {
        Decimal::new(false, &value.to_string(), 0)
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |d: &Decimal| match (d.is_zero(), d.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        sign(self).cmp(&sign(other)).then_with(|| {
            // Same sign; without trailing zeros, digits of the same magnitude compare as text.
            let magnitudes = self
                .magnitude()
                .cmp(&other.magnitude())
                .then_with(|| self.digits.cmp(&other.digits));
            if self.negative {
                magnitudes.reverse()
            } else {
                magnitudes
            }
        })
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The canonical text (see the module's documentation).
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let (digits, magnitude) = (self.digits.as_str(), self.magnitude());
        if !PLAIN_MAGNITUDES.contains(&magnitude) {
            let (first, rest) = digits.split_at(1);
            let point = if rest.is_empty() { "" } else { "." };
            let sign = if magnitude < 0 { '-' } else { '+' };
            let power = magnitude.unsigned_abs();
            write!(f, "{first}{point}{rest}e{sign}{power}")
        } else if self.exponent >= 0 {
            write!(f, "{digits}{}", "0".repeat(self.exponent as usize))
        } else if magnitude >= 0 {
            let (whole, fraction) = digits.split_at(magnitude as usize + 1);
            write!(f, "{whole}.{fraction}")
        } else {
            write!(
                f,
                "0.{}{digits}",
                "0".repeat(magnitude.unsigned_abs() as usize - 1)
            )
        }
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    }
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = split_sign(text);
    if digits.is_empty() || !all_digits(digits) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > MAX_EXPONENT_DIGITS {
        return None;
    }
    let value = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().ok()?
    };
    Some(if negative { -value } else { value })
}

/// `number` as DynamoDB stores it, in canonical text; refused if DynamoDB cannot hold it
/// exactly (never rounded).
pub fn as_stored(number: &Number) -> Result<Number, Unstorable> {
    let decimal = Decimal::parse(number.as_str()).ok_or(Unstorable::OutOfRange)?;
    decimal.storable()?;
    Ok(decimal.to_number().unwrap_or_else(|| number.clone()))
}

/// `number` in canonical text, whatever its size.
pub fn canonical(number: &Number) -> Number {
    Decimal::parse(number.as_str())
        .and_then(|decimal| decimal.to_number())
        .unwrap_or_else(|| number.clone())
}

/// A number `rewrite` refused, somewhere inside a JSON value.
#[derive(Debug, PartialEq)]
pub struct Refused<E> {
    /// The keys and list indices (as JSON integers) from the value down to the number.
    pub path: Vec<Value>,
    pub number: Number,
    pub reason: E,
}

/// `value` with each number replaced by what `rewrite` makes of it; the first number it
/// refuses stops the walk.
pub fn rewrite_numbers<E>(
    value: &Value,
    rewrite: &impl Fn(&Number) -> Result<Number, E>,
) -> Result<Value, Refused<E>> {
    let mut path = Vec::new();
    rewrite_value(value, rewrite, &mut path)
}

/// [`rewrite_numbers`] for the entries of an object.
pub fn rewrite_numbers_in<E>(
    map: &Map<String, Value>,
    rewrite: &impl Fn(&Number) -> Result<Number, E>,
) -> Result<Map<String, Value>, Refused<E>> {
    let mut path = Vec::new();
    rewrite_map(map, rewrite, &mut path)
}

fn rewrite_value<E>(
    value: &Value,
    rewrite: &impl Fn(&Number) -> Result<Number, E>,
    path: &mut Vec<Value>,
) -> Result<Value, Refused<E>> {
    match value {
        Value::Number(number) => rewrite(number)
            .map(Value::Number)
            .map_err(|reason| Refused {
                path: path.clone(),
                number: number.clone(),
                reason,
            }),
        Value::Array(items) => {
            let mut rewritten = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                path.push(Value::from(index));
                rewritten.push(rewrite_value(item, rewrite, path)?);
                path.pop();
            }
            Ok(Value::Array(rewritten))
        }
        Value::Object(map) => rewrite_map(map, rewrite, path).map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn rewrite_map<E>(
    map: &Map<String, Value>,
    rewrite: &impl Fn(&Number) -> Result<Number, E>,
    path: &mut Vec<Value>,
) -> Result<Map<String, Value>, Refused<E>> {
    let mut rewritten = Map::new();
    for (key, item) in map {
        path.push(Value::from(key.as_str()));
        rewritten.insert(key.clone(), rewrite_value(item, rewrite, path)?);
        path.pop();
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical_text(text: &str) -> String {
        Decimal::parse(text)
            .unwrap_or_else(|| panic!("{text} parses"))
            .to_string()
    }

    fn storable_text(text: &str) -> Result<String, Unstorable> {
        let number: Number = text.parse().unwrap_or_else(|_| panic!("{text} is JSON"));
        as_stored(&number).map(|n| n.as_str().to_owned())
    }

    #[test]
    fn the_issues_numbers_keep_their_digits() {
        for (sent, kept) in [
            ("98765432109876543210", "98765432109876543210"),
            ("12.345678901234567890123", "12.345678901234567890123"),
            ("-0", "0"),
            ("1e-130", "1e-130"),
            ("1E+2", "100"),
        ] {
            assert_eq!(storable_text(sent).as_deref(), Ok(kept), "{sent}");
        }
        assert_eq!(storable_text("1e126"), Err(Unstorable::OutOfRange));
    }

    #[test]
    fn each_value_has_one_canonical_text() {
        for (text, canonical) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("-0.0e-5", "0"),
            ("0e999", "0"),
            ("1.50", "1.5"),
            ("001.500", "1.5"),
            ("+7", "7"),
            ("1E+2", "100"),
            ("1e2", "100"),
            ("100e-2", "1"),
            ("-12.5", "-12.5"),
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("0.00000123", "0.00000123"),
            ("-0.000000123", "-1.23e-7"),
            ("1e37", "10000000000000000000000000000000000000"),
            ("1e38", "1e+38"),
            ("12345e34", "1.2345e+38"),
            ("1.5e125", "1.5e+125"),
            ("123456789.123456789", "123456789.123456789"),
        ] {
            assert_eq!(canonical_text(text), canonical, "{text}");
            assert_eq!(
                canonical_text(canonical),
                canonical,
                "{canonical} is a fixed point"
            );
        }
    }

    #[test]
    fn the_canonical_text_is_json_with_the_same_value() {
        for text in [
            "1e-130",
            "-1.23e-7",
            "1e+38",
            "0.000001",
            "-98765432109876543210",
        ] {
            let number = Decimal::parse(text).unwrap().to_number().unwrap();
            assert_eq!(number.as_str(), text);
            assert_eq!(Decimal::parse(number.as_str()), Decimal::parse(text));
        }
    }

    #[test]
    fn only_json_like_numbers_parse() {
        for text in [
            "",
            "-",
            "+",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1x",
            "--1",
            "+-1",
            "0x10",
            "1e5.5",
            " 1",
            "NaN",
            "Infinity",
            "1e1234567890123456789",
        ] {
            assert_eq!(Decimal::parse(text), None, "{text:?}");
        }
        assert_eq!(canonical_text("1e000000000000000000000005"), "100000");
    }

    #[test]
    fn dynamodb_holds_38_significant_digits() {
        let digits = |n: usize| "9".repeat(n);
        assert_eq!(storable_text(&digits(38)), Ok(digits(38)));
        assert_eq!(storable_text(&digits(39)), Err(Unstorable::TooPrecise));
        let fraction_38 = format!("0.{}", "1".repeat(38));
        assert_eq!(storable_text(&fraction_38), Ok(fraction_38.clone()));
        let fraction_39 = format!("1.{}", "1".repeat(38));
        assert_eq!(storable_text(&fraction_39), Err(Unstorable::TooPrecise));
        // Leading and trailing zeros are not significant.
        let trailing = format!("{}.{}", "1".repeat(38), "0".repeat(30));
        assert_eq!(storable_text(&trailing), Ok("1".repeat(38)));
        let leading = format!("0.00000{}", "1".repeat(38));
        assert_eq!(storable_text(&leading), Ok(leading.clone()));
        let long_integer = format!("1{}", "0".repeat(60));
        assert_eq!(storable_text(&long_integer).as_deref(), Ok("1e+60"));
        assert_eq!(
            storable_text(&format!("0.{}1", "0".repeat(100))).as_deref(),
            Ok("1e-101")
        );
    }

    #[test]
    fn dynamodb_holds_magnitudes_from_1e_minus_130_to_below_1e126() {
        let largest = format!("9.{}e125", "9".repeat(37));
        for ok in [
            "1e-130",
            "-1e-130",
            "1.5e-130",
            "1e125",
            "-1e125",
            largest.as_str(),
        ] {
            assert!(storable_text(ok).is_ok(), "{ok}");
        }
        for refused in ["1e126", "-1e126", "1e-131", "9.9e-131", "1e400", "1e-400"] {
            assert_eq!(
                storable_text(refused),
                Err(Unstorable::OutOfRange),
                "{refused}"
            );
        }
        let canonical = format!("9.{}e+125", "9".repeat(37));
        assert_eq!(storable_text(&largest), Ok(canonical));
    }

    #[test]
    fn integers_and_their_magnitude() {
        let magnitude = |text: &str| Decimal::parse(text).unwrap().integer_magnitude();
        assert_eq!(magnitude("0"), Some(0));
        assert_eq!(magnitude("-0"), Some(0));
        assert_eq!(magnitude("1e2"), Some(100));
        assert_eq!(magnitude("-25"), Some(25));
        assert_eq!(magnitude("18446744073709551615"), Some(u64::MAX));
        assert_eq!(magnitude("18446744073709551616"), None);
        assert_eq!(magnitude("1e20"), None);
        assert_eq!(magnitude("1.5"), None);
        assert!(Decimal::parse("1.0").unwrap().is_integer());
        assert!(!Decimal::parse("1e-1").unwrap().is_integer());
        assert!(!Decimal::parse("-0").unwrap().is_negative());
    }

    #[test]
    fn decimals_order_by_value() {
        let ascending = [
            "-1e125", "-2", "-1.5", "-1", "-1e-130", "0", "1e-130", "0.5", "1", "1.05", "1.5", "2",
            "10", "1e125",
        ];
        let decimals: Vec<Decimal> = ascending
            .iter()
            .map(|t| Decimal::parse(t).unwrap())
            .collect();
        for (i, a) in decimals.iter().enumerate() {
            for (j, b) in decimals.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{} vs {}", ascending[i], ascending[j]);
            }
        }
        assert_eq!(Decimal::parse("-0"), Decimal::parse("0.0"));
        assert_eq!(
            Decimal::from(1_700_000_000),
            Decimal::parse("1.7e9").unwrap()
        );
    }

    #[test]
    fn rewriting_names_the_path_to_the_refused_number() {
        let value: Value =
            serde_json::from_str(r#"{"a": [1, {"b": 2}], "c": {"d": [3, 1e126]}}"#).unwrap();
        let refused = rewrite_numbers(&value, &as_stored).unwrap_err();
        assert_eq!(
            refused.path,
            vec![Value::from("c"), Value::from("d"), Value::from(1)]
        );
        assert_eq!(refused.number.as_str(), "1e+126");
        assert_eq!(refused.reason, Unstorable::OutOfRange);
        let value: Value =
            serde_json::from_str(r#"{"a": [1E+2, {"b": 1.50}], "s": "1E+2"}"#).unwrap();
        let rewritten = rewrite_numbers(&value, &as_stored).unwrap();
        assert_eq!(rewritten.to_string(), r#"{"a":[100,{"b":1.5}],"s":"1E+2"}"#);
    }
}
