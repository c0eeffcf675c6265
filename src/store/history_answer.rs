//! A history `Query`'s answer read from its bytes, not through the SDK's deserializer.
//!
//! Why: the SDK reads every item of an answer into a `HashMap<String, AttributeValue>`
//! (a SipHash of every name, an allocation for every name and value) which the history
//! only reads to write it out again as JSON; for the 20 most recent errors a full
//! progress report answers, that was 35 % of the report's instructions
//! (docs/benchmarks.md). Here the items are parsed borrowed from the body and each
//! written once, straight into its answer's JSON.
//!
//! How: [`send`] gives that one `Query` an interceptor that puts [`HistoryDeserializer`]
//! in the place of the SDK's deserializer for this operation only. A `200` whose body it
//! reads completely is parsed here, and the SDK is handed an empty `QueryOutput`. Anything
//! else goes to the SDK's own deserializer, untouched: an error status (so the same
//! errors, the same retries), a malformed body, and every shape this service never
//! writes (binary values, unknown types, `__type`, a `null` where the SDK skips one,
//! `ConsumedCapacity`); [`send`] then reads the SDK's items as before. So what this parser
//! accepts, the SDK reads the same way, and what it refuses, the SDK decides (the tests
//! compare both on the same bytes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextMut;
use aws_sdk_dynamodb::config::{
    ConfigBag, FrozenLayer, Intercept, RuntimeComponents, RuntimePlugin,
};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::{Query, QueryOutput};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{Error, Output};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::ser_de::{DeserializeResponse, SharedResponseDeserializer};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::item::{self, BadItem, IssueFields};
use super::{StoreError, attr};
use crate::job::RecordedIssue;

/// One page of a job's history, in the order DynamoDB answered it.
#[derive(Debug, PartialEq)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// The sort key of the answer's `LastEvaluatedKey`: where the next page starts.
    pub last_evaluated_sort_key: Option<String>,
}

#[derive(Debug, PartialEq)]
pub struct HistoryEntry {
    /// The item's `sk`, when it is a string.
    pub sort_key: Option<String>,
    /// The item as answers carry it; an item this version cannot read fails only the
    /// answers that show it.
    pub issue: Result<RecordedIssue, BadItem>,
}

/// Sends a history query and reads its page (see the module's comment).
pub async fn send(query: QueryFluentBuilder) -> Result<HistoryPage, StoreError> {
    Ok(read(query).await?.0)
}

/// [`send`], and whether the page was read here (`false`: by the SDK).
async fn read(query: QueryFluentBuilder) -> Result<(HistoryPage, bool), StoreError> {
    let read = Arc::new(Mutex::new(None));
    // Boxed: the SDK's future of a query is ~7.8 KB, and a full answer awaits two (errors
    // and warnings) at once; inline, they made every request's future 18.5 KB (10.4 KB
    // boxed, measured with `size_of_val`).
    let output = Box::pin(
        query
            .customize()
            .interceptor(ReadHistory(Arc::clone(&read)))
            .send(),
    )
    .await?;
    let parsed = read.lock().ok().and_then(|mut read| read.take());
    Ok(match parsed {
        Some(page) => (page, true),
        None => (from_sdk(output), false),
    })
}

/// The page the SDK read, when this module left the answer to it.
fn from_sdk(output: QueryOutput) -> HistoryPage {
    let sort_key = |item: &item::Item| item::optional_text(item, "sk");
    HistoryPage {
        entries: output
            .items
            .unwrap_or_default()
            .iter()
            .map(|found| HistoryEntry {
                sort_key: sort_key(found),
                issue: item::to_recorded_issue(found),
            })
            .collect(),
        last_evaluated_sort_key: output.last_evaluated_key.as_ref().and_then(sort_key),
    }
}

/// Where [`HistoryDeserializer`] leaves the page it read.
type Slot = Arc<Mutex<Option<HistoryPage>>>;

struct ReadHistory(Slot);

// Not derived: the SDK may print its interceptors, and the slot can hold a job's history.
impl fmt::Debug for ReadHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadHistory")
    }
}

impl Intercept for ReadHistory {
    fn name(&self) -> &'static str {
        "ReadHistory"
    }

    // Once per operation, before its attempts: every attempt's answer comes here.
    fn modify_before_serialization(
        &self,
        _context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(SharedResponseDeserializer::new(HistoryDeserializer(
                Arc::clone(&self.0),
            )));
        Ok(())
    }
}

struct HistoryDeserializer(Slot);

impl fmt::Debug for HistoryDeserializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HistoryDeserializer")
    }
}

impl DeserializeResponse for HistoryDeserializer {
    fn deserialize_nonstreaming_with_config(
        &self,
        response: &HttpResponse,
        cfg: &ConfigBag,
    ) -> Result<Output, OrchestratorError<Error>> {
        if response.status().as_u16() == 200
            && let Some(page) = response.body().bytes().and_then(|body| parse(body).ok())
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(page);
            return Ok(Output::erase(QueryOutput::builder().build()));
        }
        match sdk_deserializer() {
            Some(sdk) => sdk.deserialize_nonstreaming_with_config(response, cfg),
            None => Err(OrchestratorError::other(
                "the SDK's Query deserializer is missing",
            )),
        }
    }
}

/// The SDK's own deserializer of `Query` answers, from the operation's own settings.
fn sdk_deserializer() -> Option<&'static SharedResponseDeserializer> {
    static QUERY: OnceLock<Option<FrozenLayer>> = OnceLock::new();
    QUERY
        .get_or_init(|| Query::new().config())
        .as_ref()?
        .load::<SharedResponseDeserializer>()
}

/// The page a `Query`'s answer holds, if this parser reads all of it (see the module's
/// comment for what it leaves to the SDK).
pub fn parse(body: &[u8]) -> Result<HistoryPage, serde_json::Error> {
    let answer: Answer<'_> = serde_json::from_slice(body)?;
    let sort_key = |item: &HistoryItem<'_>| item.text(&item.sk).map(str::to_owned);
    Ok(HistoryPage {
        entries: answer
            .items
            .iter()
            .map(|found| HistoryEntry {
                sort_key: sort_key(found),
                issue: found.to_recorded_issue(),
            })
            .collect(),
        last_evaluated_sort_key: answer.last_evaluated_key.as_ref().and_then(sort_key),
    })
}

/// The parts of a `Query` answer read here.
struct Answer<'a> {
    items: Vec<HistoryItem<'a>>,
    last_evaluated_key: Option<HistoryItem<'a>>,
}

impl<'de> Deserialize<'de> for Answer<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AnswerVisitor)
    }
}

struct AnswerVisitor;

impl<'de> Visitor<'de> for AnswerVisitor {
    type Value = Answer<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Query answer")
    }

    // As the SDK: a later duplicate wins, other members are skipped, `null` is absent.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut answer = Answer {
            items: Vec::new(),
            last_evaluated_key: None,
        };
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "Items" => {
                    answer.items = map
                        .next_value::<Option<Vec<HistoryItem<'de>>>>()?
                        .unwrap_or_default()
                }
                "LastEvaluatedKey" => answer.last_evaluated_key = map.next_value()?,
                // Numbers the SDK reads as `i32`: refused here when it would refuse them.
                "Count" | "ScannedCount" => {
                    map.next_value::<Option<i32>>()?;
                }
                // Never asked for; a structure the SDK checks.
                "ConsumedCapacity" => return Err(de::Error::custom("left to the SDK")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(answer)
    }
}

/// The attributes of a history item that answers show (`item::ISSUE_ATTRIBUTES`); any
/// other is read, so that it is checked as the SDK checks it, and dropped.
#[derive(Default)]
struct HistoryItem<'a> {
    sk: Option<Attr<'a>>,
    entity_key: Option<Attr<'a>>,
    entity_type: Option<Attr<'a>>,
    error_type: Option<Attr<'a>>,
    message: Option<Attr<'a>>,
    timestamp: Option<Attr<'a>>,
    details: Option<Attr<'a>>,
    step: Option<Attr<'a>>,
}

impl HistoryItem<'_> {
    /// A string attribute's text (anything else reads as absent, as `item` reads it).
    fn text<'s>(&'s self, value: &'s Option<Attr<'_>>) -> Option<&'s str> {
        match value {
            Some(Attr::S(text)) => Some(text.0.as_ref()),
            _ => None,
        }
    }

    fn to_recorded_issue(&self) -> Result<RecordedIssue, BadItem> {
        IssueFields {
            entity_key: item::required(self.text(&self.entity_key), "entity_key"),
            entity_type: item::required(self.text(&self.entity_type), "entity_type"),
            error_type: item::required(self.text(&self.error_type), "error_type"),
            message: item::required(self.text(&self.message), "message"),
            timestamp: self.text(&self.timestamp),
            details: self.details.as_ref().map(DetailsJson),
            step: self.text(&self.step),
        }
        .into_recorded_issue()
    }
}

impl<'de> Deserialize<'de> for HistoryItem<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HistoryItemVisitor)
    }
}

struct HistoryItemVisitor;

impl<'de> Visitor<'de> for HistoryItemVisitor {
    type Value = HistoryItem<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut item = HistoryItem::default();
        while let Some(name) = map.next_key::<Text<'de>>()? {
            let value = Some(map.next_value::<Attr<'de>>()?);
            let field = match name.0.as_ref() {
                "sk" => &mut item.sk,
                "entity_key" => &mut item.entity_key,
                "entity_type" => &mut item.entity_type,
                "error_type" => &mut item.error_type,
                "message" => &mut item.message,
                "timestamp" => &mut item.timestamp,
                "details" => &mut item.details,
                "step" => &mut item.step,
                _ => continue,
            };
            *field = value;
        }
        Ok(item)
    }
}

/// A string of the answer, borrowed when it has no escapes. Ordered as `String`s are
/// (bytes), which is the key order `serde_json::Map` writes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

/// An attribute value of the types this service writes. A map keeps its names in
/// order; a later duplicate wins, as in the SDK's `HashMap`.
enum Attr<'a> {
    S(Text<'a>),
    N(Text<'a>),
    Ss(Vec<Text<'a>>),
    Ns(Vec<Text<'a>>),
    M(BTreeMap<Text<'a>, Attr<'a>>),
    L(Vec<Attr<'a>>),
    Null,
    Bool(bool),
}

impl<'de> Deserialize<'de> for Attr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AttrVisitor)
    }
}

struct AttrVisitor;

impl<'de> Visitor<'de> for AttrVisitor {
    type Value = Attr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute value")
    }

    // Exactly one member, of a type read here, whose value is not `null`: the SDK reads
    // these the same way; every other shape is refused, and so left to it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(kind) = map.next_key::<Text<'de>>()? else {
            return Err(de::Error::custom("no type"));
        };
        let value = match kind.0.as_ref() {
            "S" => Attr::S(map.next_value()?),
            "N" => Attr::N(map.next_value()?),
            "SS" => Attr::Ss(map.next_value()?),
            "NS" => Attr::Ns(map.next_value()?),
            "M" => Attr::M(map.next_value()?),
            "L" => Attr::L(map.next_value()?),
            "NULL" => {
                map.next_value::<bool>()?;
                Attr::Null
            }
            "BOOL" => Attr::Bool(map.next_value()?),
            _ => return Err(de::Error::custom("left to the SDK")),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("left to the SDK"));
        }
        Ok(value)
    }
}

/// `details` as `item` writes it: a map attribute as an object, anything else `{}`.
struct DetailsJson<'a>(&'a Attr<'a>);

impl Serialize for DetailsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Attr::M(_) => self.0.serialize(serializer),
            _ => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// The JSON `attr::to_json` makes of the same attribute (numbers by its own rule).
impl Serialize for Attr<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Attr::S(text) => serializer.serialize_str(&text.0),
            Attr::N(text) => attr::number(&text.0).serialize(serializer),
            Attr::Ss(texts) => serializer.collect_seq(texts.iter().map(|text| text.0.as_ref())),
            Attr::Ns(texts) => {
                serializer.collect_seq(texts.iter().map(|text| attr::number(&text.0)))
            }
            Attr::M(fields) => {
                serializer.collect_map(fields.iter().map(|(name, value)| (name.0.as_ref(), value)))
            }
            Attr::L(values) => serializer.collect_seq(values),
            Attr::Null => serializer.serialize_unit(),
            Attr::Bool(b) => serializer.serialize_bool(*b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use base64::Engine;
    use proptest::prelude::*;

    fn response(status: u16, body: &[u8]) -> HttpResponse {
        let status = StatusCode::try_from(status).unwrap();
        HttpResponse::new(status, SdkBody::from(body.to_vec()))
    }

    /// What a query's caller gets: the page, or the SDK's error (its `Debug` text).
    type Read = Result<HistoryPage, String>;

    fn output_page(result: Result<Output, OrchestratorError<Error>>) -> Read {
        match result {
            Ok(output) => Ok(from_sdk(output.downcast::<QueryOutput>().unwrap())),
            Err(error) => Err(format!("{error:?}")),
        }
    }

    /// The SDK alone, as before this module.
    fn sdk_read(status: u16, body: &[u8]) -> Read {
        let sdk = sdk_deserializer().unwrap();
        output_page(
            sdk.deserialize_nonstreaming_with_config(&response(status, body), &ConfigBag::base()),
        )
    }

    /// This module's deserializer, and what `send` makes of its result.
    fn our_read(status: u16, body: &[u8]) -> (Read, bool) {
        let slot = Slot::default();
        let ours = HistoryDeserializer(Arc::clone(&slot));
        let result =
            ours.deserialize_nonstreaming_with_config(&response(status, body), &ConfigBag::base());
        let parsed = slot.lock().unwrap().take();
        let read_here = parsed.is_some();
        let read = match parsed {
            Some(page) => result.map(|_| page).map_err(|error| format!("{error:?}")),
            None => output_page(result),
        };
        (read, read_here)
    }

    /// DynamoDB's JSON of a value; `escape` writes every non-ASCII character, and `/`, as
    /// `\u` escapes (DynamoDB may send either form).
    fn wire(value: &AttributeValue, escape: bool) -> String {
        let text = |s: &str| string(s, escape);
        let texts = |items: &[String]| {
            let items: Vec<String> = items.iter().map(|s| text(s)).collect();
            format!("[{}]", items.join(","))
        };
        let blob = |b: &[u8]| text(&base64::engine::general_purpose::STANDARD.encode(b));
        match value {
            AttributeValue::S(s) => format!("{{\"S\":{}}}", text(s)),
            AttributeValue::N(n) => format!("{{\"N\":{}}}", text(n)),
            AttributeValue::B(b) => format!("{{\"B\":{}}}", blob(b.as_ref())),
            AttributeValue::Ss(items) => format!("{{\"SS\":{}}}", texts(items)),
            AttributeValue::Ns(items) => format!("{{\"NS\":{}}}", texts(items)),
            AttributeValue::Bs(items) => {
                let items: Vec<String> = items.iter().map(|b| blob(b.as_ref())).collect();
                format!("{{\"BS\":[{}]}}", items.join(","))
            }
            AttributeValue::M(fields) => format!("{{\"M\":{}}}", object(fields, escape)),
            AttributeValue::L(items) => {
                let items: Vec<String> = items.iter().map(|v| wire(v, escape)).collect();
                format!("{{\"L\":[{}]}}", items.join(","))
            }
            AttributeValue::Null(b) => format!("{{\"NULL\":{b}}}"),
            AttributeValue::Bool(b) => format!("{{\"BOOL\":{b}}}"),
            _ => unreachable!(),
        }
    }

    fn object(fields: &item::Item, escape: bool) -> String {
        let fields: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}:{}", string(name, escape), wire(value, escape)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    fn string(s: &str, escape: bool) -> String {
        if !escape {
            return serde_json::to_string(s).unwrap();
        }
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                ' '..='~' if c != '/' => out.push(c),
                _ => {
                    let mut units = [0; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    fn answer(items: &[item::Item], last: Option<&item::Item>, escape: bool) -> String {
        let items: Vec<String> = items.iter().map(|i| object(i, escape)).collect();
        let last = last.map_or_else(String::new, |key| {
            format!(",\"LastEvaluatedKey\":{}", object(key, escape))
        });
        let n = items.len();
        format!(
            "{{\"Items\":[{}],\"Count\":{n},\"ScannedCount\":{n}{last}}}",
            items.join(",")
        )
    }

    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?[0-9]{1,25}(\\.[0-9]{1,12})?",
            "-?[1-9](\\.[0-9]{1,5})?E[+-]?[0-9]{1,3}",
            Just("-0".to_owned()),
            Just("0.10".to_owned()),
            Just("1E+2".to_owned()),
            "[a-z ]{0,4}",
        ]
    }

    /// Any attribute value; `binary`: B and BS too (left to the SDK).
    fn value(binary: bool) -> impl Strategy<Value = AttributeValue> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..8);
        let leaf = prop_oneof![
            8 => any::<String>().prop_map(AttributeValue::S),
            4 => number().prop_map(AttributeValue::N),
            1 => proptest::collection::vec(any::<String>(), 0..3).prop_map(AttributeValue::Ss),
            1 => proptest::collection::vec(number(), 0..3).prop_map(AttributeValue::Ns),
            1 => any::<bool>().prop_map(AttributeValue::Null),
            2 => any::<bool>().prop_map(AttributeValue::Bool),
            if binary { 1 } else { 0 } => bytes.clone().prop_map(|b| AttributeValue::B(b.into())),
            if binary { 1 } else { 0 } => proptest::collection::vec(bytes, 0..3)
                .prop_map(|items| AttributeValue::Bs(items.into_iter().map(Into::into).collect())),
        ];
        leaf.prop_recursive(4, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::hash_map("[a-zA-Z_é/\"]{0,6}", inner.clone(), 0..5)
                    .prop_map(AttributeValue::M),
                proptest::collection::vec(inner, 0..4).prop_map(AttributeValue::L),
            ]
        })
    }

    fn timestamp() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (0u64..4_102_444_800_000).prop_map(|ms| crate::job::time::Timestamp::from_millis(ms).to_string()),
            1 => "[0-9TZ:.-]{0,24}",
        ]
    }

    /// A history item as the store writes it (each field sometimes missing or of another
    /// type), with attributes the answers do not show.
    fn history_item(binary: bool) -> impl Strategy<Value = item::Item> {
        let text = || {
            prop_oneof![
                8 => any::<String>().prop_map(|s| Some(AttributeValue::S(s))),
                1 => Just(None),
                1 => value(binary).prop_map(Some),
            ]
        };
        let details = prop_oneof![
            4 => proptest::collection::hash_map("[a-z_]{1,8}", value(binary), 0..8)
                .prop_map(|m| Some(AttributeValue::M(m))),
            1 => Just(None),
            1 => value(binary).prop_map(Some),
        ];
        let stamp = prop_oneof![
            8 => timestamp().prop_map(|s| Some(AttributeValue::S(s))),
            1 => Just(None),
            1 => value(binary).prop_map(Some),
        ];
        let extra = proptest::collection::hash_map("[a-z_]{1,16}", value(binary), 0..3);
        (
            (text(), text(), text(), text()),
            (text(), stamp, details, text()),
            extra,
        )
            .prop_map(
                |(
                    (sk, entity_key, entity_type, error_type),
                    (message, stamp, details, step),
                    extra,
                )| {
                    let mut item: item::Item = extra;
                    let fields = [
                        ("sk", sk),
                        ("entity_key", entity_key),
                        ("entity_type", entity_type),
                        ("error_type", error_type),
                        ("message", message),
                        ("timestamp", stamp),
                        ("details", details),
                        ("step", step),
                    ];
                    for (name, value) in fields {
                        match value {
                            Some(value) => item.insert(name.to_owned(), value),
                            None => item.remove(name),
                        };
                    }
                    item
                },
            )
    }

    fn page(binary: bool) -> impl Strategy<Value = (Vec<item::Item>, Option<item::Item>, bool)> {
        (
            proptest::collection::vec(history_item(binary), 0..6),
            proptest::option::of(history_item(binary)),
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// What the store writes is read here, and read exactly as the SDK reads it.
        #[test]
        fn reads_what_the_sdk_reads((items, last, escape) in page(false)) {
            let body = answer(&items, last.as_ref(), escape);
            let sdk = sdk_read(200, body.as_bytes());
            prop_assert!(sdk.is_ok(), "{sdk:?}");
            prop_assert_eq!(parse(body.as_bytes()).ok(), sdk.ok());
            let (ours, read_here) = our_read(200, body.as_bytes());
            prop_assert!(read_here);
            prop_assert_eq!(ours, sdk_read(200, body.as_bytes()));
        }

        /// With binary values in the mix, each answer is either read the same way here or
        /// left to the SDK: the caller gets the same page either way.
        #[test]
        fn anything_it_does_not_read_is_the_sdks((items, last, escape) in page(true)) {
            let body = answer(&items, last.as_ref(), escape);
            let (ours, _) = our_read(200, body.as_bytes());
            prop_assert_eq!(ours, sdk_read(200, body.as_bytes()));
        }
    }

    /// Answers of every odd shape, each read by the caller as the SDK reads it; `true`
    /// where this module must read it itself (the shapes DynamoDB sends).
    #[test]
    fn odd_answers_read_as_the_sdk_reads_them() {
        let issue = r#""entity_key":{"S":"k"},"entity_type":{"S":"row"},"error_type":{"S":"t"},"message":{"S":"m"},"timestamp":{"S":"2026-11-28T12:00:00.123Z"}"#;
        let with = |extra: &str| format!(r#"{{"Items":[{{{issue}{extra}}}],"Count":1}}"#);
        let cases: Vec<(String, bool)> = vec![
            (String::new(), false),
            ("{}".into(), true),
            (
                r#"{"Items":null,"LastEvaluatedKey":null,"Count":null}"#.into(),
                true,
            ),
            (r#"{"Items":[],"Count":0,"ScannedCount":0}"#.into(), true),
            (
                r#"{"Items":[],"LastEvaluatedKey":{"pk":{"S":"p"},"sk":{"S":"ERROR#x"}}}"#.into(),
                true,
            ),
            (
                r#"{"Items":[],"LastEvaluatedKey":{"sk":{"N":"1"}}}"#.into(),
                true,
            ),
            (r#"{"Items":[{"sk":{"S":"a"}}],"Items":[]}"#.into(), true),
            (
                r#"{"Items":[],"Other":{"deep":[1,2,{"x":null}]}}"#.into(),
                true,
            ),
            (r#"{"Items":[],"Count":1.5}"#.into(), false),
            (r#"{"Items":[],"Count":3000000000}"#.into(), false),
            (
                r#"{"Items":[],"ConsumedCapacity":{"TableName":"t","CapacityUnits":4.5}}"#.into(),
                false,
            ),
            (r#"{"Items":[null]}"#.into(), false),
            (r#"{"Items":{}}"#.into(), false),
            (r#"{"Items":[]} x"#.into(), false),
            ("[]".into(), false),
            ("not json".into(), false),
            (with(""), true),
            (
                with(
                    r#","details":{"M":{"b":{"N":"1E+2"},"a":{"NS":["1.50","-0"]},"a":{"S":"later"}}}"#,
                ),
                true,
            ),
            (
                with(
                    r#","details":{"M":{"l":{"L":[{"NULL":false},{"BOOL":true},{"SS":["x","\ud83d\ude00"]}]}}}"#,
                ),
                true,
            ),
            (
                with(r#","details":{"S":"not a map"},"step":{"N":"1"}"#),
                true,
            ),
            (with(r#","message":{"S":"later \u00e9\/"}"#), true),
            (with(r#","timestamp":{"S":"yesterday"}"#), true),
            (with(r#","message":{"N":"1"}"#), true),
            (
                with(r#","pk":{"S":"ORG#o#JOB#j"},"job_id":{"S":"j"}"#),
                true,
            ),
            (with(r#","details":{"M":{"b":{"B":"AAEC"}}}"#), false),
            (with(r#","details":{"M":{"b":{"B":"not base64!"}}}"#), false),
            (with(r#","details":{"BS":["AAEC"]}"#), false),
            (with(r#","details":{"X":1}"#), false),
            (with(r#","details":{"__type":"x","S":"y"}"#), false),
            (with(r#","details":{"S":null,"N":"1"}"#), false),
            (with(r#","details":{"S":"a","N":"1"}"#), false),
            (with(r#","details":{}"#), false),
            (with(r#","details":null"#), false),
            (with(r#","details":{"N":1}"#), false),
            (with(r#","details":{"NULL":null}"#), false),
            (with(r#","details":{"L":[null]}"#), false),
            (with(r#","details":{"SS":[null]}"#), false),
            (with(r#","details":{"M":{"a":null}}"#), false),
            (with(r#","pk":null"#), false),
            (with(r#","message":{"S":"bad \ud800 surrogate"}"#), false),
        ];
        for (body, read_here) in cases {
            let (ours, was_read_here) = our_read(200, body.as_bytes());
            assert_eq!(ours, sdk_read(200, body.as_bytes()), "{body}");
            assert_eq!(was_read_here, read_here, "{body}");
        }
    }

    #[test]
    fn error_answers_are_the_sdks() {
        let throttled = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
        for (status, body) in [
            (400, &throttled[..]),
            (
                400,
                br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"no"}"#,
            ),
            (
                500,
                br#"{"__type":"com.amazon.coral.service#InternalFailure"}"#,
            ),
            (503, b"<html>unavailable</html>"),
            (200, b"{\"Items\":[{\"sk\":"),
        ] {
            let (ours, read_here) = our_read(status, body);
            assert!(!read_here);
            let sdk = sdk_read(status, body);
            assert!(sdk.is_err(), "{status}: {sdk:?}");
            assert_eq!(ours, sdk, "{status}");
        }
        let (ours, _) = our_read(400, throttled);
        assert!(ours.unwrap_err().contains("ProvisionedThroughputExceeded"));
    }

    /// serde_json's nesting limit and the SDK's meet at the same depth, or this parser
    /// stops first: nothing deeper than the SDK reads is read here.
    #[test]
    fn nesting_is_refused_where_the_sdk_refuses_it() {
        let issue = r#""entity_key":{"S":"k"},"entity_type":{"S":"row"},"error_type":{"S":"t"},"message":{"S":"m"},"timestamp":{"S":"2026-11-28T12:00:00.123Z"}"#;
        let mut outcomes = std::collections::HashSet::new();
        for depth in 55..70 {
            for (open, close) in [(r#"{"M":{"a":"#, "}}"), (r#"{"L":["#, "]}")] {
                let details = format!(
                    "{}{{\"S\":\"x\"}}{}",
                    open.repeat(depth),
                    close.repeat(depth)
                );
                let body =
                    format!(r#"{{"Items":[{{{issue},"details":{{"M":{{"d":{details}}}}}}}]}}"#);
                let (ours, read_here) = our_read(200, body.as_bytes());
                let sdk = sdk_read(200, body.as_bytes());
                outcomes.insert((read_here, sdk.is_ok()));
                assert_eq!(ours, sdk, "{depth} {open}");
            }
        }
        // The range crosses the limit: read here below it, refused by both above it.
        assert!(outcomes.contains(&(true, true)) && outcomes.contains(&(false, false)));
    }

    /// A DynamoDB that gives canned answers, in turn, and counts the requests.
    #[derive(Debug, Default)]
    struct Canned(
        Mutex<std::collections::VecDeque<(u16, &'static str)>>,
        Mutex<usize>,
    );

    impl aws_smithy_runtime_api::client::http::HttpConnector for Canned {
        fn call(
            &self,
            _request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            *self.1.lock().unwrap() += 1;
            let (status, body) = self.0.lock().unwrap().pop_front().unwrap();
            let answer = response(status, body.as_bytes());
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(answer))
        }
    }

    /// A client of the canned DynamoDB, configured as `store::connect` configures one.
    fn client(answers: &[(u16, &'static str)]) -> (aws_sdk_dynamodb::Client, Arc<Canned>) {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_runtime_api::client::http::{SharedHttpConnector, http_client_fn};
        let canned = Arc::new(Canned::default());
        canned.0.lock().unwrap().extend(answers.iter().copied());
        let connector = SharedHttpConnector::new(CannedRef(Arc::clone(&canned)));
        let retries = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
            .with_max_attempts(super::super::MAX_ATTEMPTS)
            .with_initial_backoff(std::time::Duration::from_millis(1));
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .retry_config(retries)
            .build();
        (aws_sdk_dynamodb::Client::from_conf(config), canned)
    }

    #[derive(Debug)]
    struct CannedRef(Arc<Canned>);

    impl aws_smithy_runtime_api::client::http::HttpConnector for CannedRef {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            self.0.call(request)
        }
    }

    const PAGE: &str = r#"{"Items":[{"sk":{"S":"ERROR#a"},"entity_key":{"S":"k"},"entity_type":{"S":"row"},"error_type":{"S":"t"},"message":{"S":"m"},"timestamp":{"S":"2026-11-28T12:00:00.123Z"},"details":{"M":{"n":{"N":"1.50"}}}}],"Count":1,"ScannedCount":1}"#;
    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;

    /// Through a real client: the interceptor puts this module's deserializer in place,
    /// and the SDK's retries still run before it (a throttled attempt, then the page).
    #[tokio::test]
    async fn a_query_sent_is_read_here_after_the_sdks_retries() {
        let (flaky, canned) = client(&[(400, THROTTLED), (500, "{}"), (200, PAGE)]);
        let (page, read_here) = read(flaky.query().table_name("t")).await.unwrap();
        assert!(
            read_here,
            "read by the SDK: the interceptor is not in place"
        );
        assert_eq!(*canned.1.lock().unwrap(), 3, "two retries, as before");
        assert_eq!(Ok(page), sdk_read(200, PAGE.as_bytes()));
    }

    /// Past the attempts, the caller gets the SDK's error, as a `StoreError` as before.
    #[tokio::test]
    async fn throttling_past_the_retries_is_the_sdks_error() {
        let (throttled, canned) = client(&[(400, THROTTLED); 3]);
        let error = send(throttled.query().table_name("t")).await.unwrap_err();
        assert!(matches!(error, StoreError::Throttled), "{error:?}");
        assert_eq!(*canned.1.lock().unwrap(), 3);
        let (malformed, _) = client(&[(200, "{\"Items\":[{\"sk\":")]);
        let error = send(malformed.query().table_name("t")).await.unwrap_err();
        assert!(matches!(error, StoreError::Unexpected(_)), "{error:?}");
    }

    #[test]
    fn a_page_reads_as_its_items_with_their_sort_keys() {
        let body = r#"{"Items":[
            {"sk":{"S":"ERROR#b"},"entity_key":{"S":"row-2"},"entity_type":{"S":"row"},"error_type":{"S":"parse"},"message":{"S":"bad \"date\""},"timestamp":{"S":"2026-11-28T12:00:02.000Z"},"details":{"M":{"row":{"N":"2"},"at":{"N":"1E+2"},"seen":{"L":[{"N":"1.50"},{"NULL":true},{"M":{"b":{"BOOL":true},"a":{"S":"x"}}}]}}},"step":{"S":"load"}},
            {"sk":{"S":"ERROR#a"},"entity_key":{"S":"row-1"},"entity_type":{"S":"row"},"error_type":{"S":"parse"},"message":{"S":"m"},"timestamp":{"S":"2026-11-28T12:00:01.000Z"}}
        ],"Count":2,"ScannedCount":2,"LastEvaluatedKey":{"pk":{"S":"ORG#o#JOB#j"},"sk":{"S":"ERROR#a"}}}"#;
        let page = parse(body.as_bytes()).unwrap();
        assert_eq!(page.last_evaluated_sort_key.as_deref(), Some("ERROR#a"));
        let sort_keys: Vec<_> = page.entries.iter().map(|e| e.sort_key.as_deref()).collect();
        assert_eq!(sort_keys, [Some("ERROR#b"), Some("ERROR#a")]);
        let json = |entry: &HistoryEntry| entry.issue.as_ref().unwrap().json.get().to_owned();
        assert_eq!(
            json(&page.entries[0]),
            r#"{"entity_key":"row-2","entity_type":"row","error_type":"parse","message":"bad \"date\"","timestamp":"2026-11-28T12:00:02.000Z","details":{"at":100,"row":2,"seen":[1.5,null,{"a":"x","b":true}]},"step":"load"}"#
        );
        assert_eq!(
            json(&page.entries[1]),
            r#"{"entity_key":"row-1","entity_type":"row","error_type":"parse","message":"m","timestamp":"2026-11-28T12:00:01.000Z","details":null,"step":null}"#
        );
    }
}
