//! Idempotency records: claimed before a request writes, completed in the same
//! transaction as the job write, released when the request fails.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::item::{Item, n, s};
use super::keys;
use super::{Store, StoreError};
use crate::job::time::Timestamp;

/// Keys expire after 24 hours (DynamoDB TTL removes them; reads ignore expired ones).
pub const KEY_LIFETIME_SECONDS: u64 = 24 * 60 * 60;
/// A claim older than this belongs to a request that died (the function's timeout is
/// 10 s): another request with the same key may take it over.
pub const STALE_CLAIM_SECONDS: u64 = 30;

/// An idempotency record as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub fingerprint: String,
    pub completed: bool,
    pub claimed_at: u64,
    pub expires_at: u64,
    /// The original response, once the request completed.
    pub response: Option<StoredResponse>,
    pub job_id: Option<String>,
    /// The token of the request that claimed the key.
    pub claim: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// The original's `Preference-Applied`: a replay answers in the form it asked for.
    pub preference_applied: Option<String>,
}

const IN_FLIGHT: &str = "in_flight";
const COMPLETED: &str = "completed";

/// A key this request holds.
#[derive(Clone, Debug)]
pub struct Claim {
    pub organization_id: String,
    pub key: String,
    token: String,
}

/// The record's completion, committed with the job write it belongs to.
pub struct Completion<'a> {
    pub claim: &'a Claim,
    pub job_id: &'a str,
    /// Known before the write for a create; stored right after it otherwise.
    pub response: Option<&'a StoredResponse>,
}

fn key_of(claim: &Claim) -> HashMap<String, AttributeValue> {
    let (pk, sk) = keys::idempotency(&claim.organization_id, &claim.key);
    HashMap::from([("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(&sk))])
}

fn response_values(
    response: &StoredResponse,
    values: &mut HashMap<String, AttributeValue>,
    set: &mut Vec<&str>,
) {
    set.push("status_code = :status_code, response_body = :response");
    values.insert(":status_code".into(), n(u64::from(response.status)));
    values.insert(":response".into(), s(&response.body));
    if let Some(location) = &response.location {
        set.push("#location = :location");
        values.insert(":location".into(), s(location));
    }
    if let Some(applied) = &response.preference_applied {
        set.push("preference_applied = :preference_applied");
        values.insert(":preference_applied".into(), s(applied));
    }
}

impl Completion<'_> {
    pub fn into_write(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let mut set = vec!["#state = :completed, job_id = :job_id"];
        let mut values = HashMap::from([
            (":completed".to_owned(), s(COMPLETED)),
            (":in_flight".to_owned(), s(IN_FLIGHT)),
            (":job_id".to_owned(), s(self.job_id)),
            (":token".to_owned(), s(&self.claim.token)),
        ]);
        let mut names = HashMap::from([
            ("#state".to_owned(), "state".to_owned()),
            ("#claim".to_owned(), "claim".to_owned()),
        ]);
        if let Some(response) = self.response {
            response_values(response, &mut values, &mut set);
            if response.location.is_some() {
                names.insert("#location".into(), "location".into());
            }
        }
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key_of(self.claim)))
            .update_expression(format!("SET {}", set.join(", ")))
            // Still ours and still in flight: a transaction retried after it committed
            // can then never complete the key (nor write the job) twice.
            .condition_expression("#claim = :token AND #state = :in_flight")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

fn record_of(item: &Item) -> Option<Record> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().ok(),
        _ => None,
    };
    let response = match (number("status_code"), text("response_body")) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).ok()?,
            body,
            location: text("location"),
            preference_applied: text("preference_applied"),
        }),
        _ => None,
    };
    Some(Record {
        fingerprint: text("fingerprint")?,
        completed: text("state")? == COMPLETED,
        claimed_at: number("claimed_at")?,
        expires_at: number("expires_at")?,
        response,
        job_id: text("job_id"),
        claim: text("claim"),
    })
}

impl Store {
    /// Claims `key` for the request `fingerprint`, unless a live record holds it: then
    /// that record (`None` if it vanished meanwhile).
    pub async fn claim_key(
        &self,
        organization_id: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Result<Claim, Option<Record>>, StoreError> {
        let seconds = now.millis() / 1000;
        let claim = Claim {
            organization_id: organization_id.to_owned(),
            key: key.to_owned(),
            token: uuid::Uuid::now_v7().to_string(),
        };
        let mut item = key_of(&claim);
        item.insert("state".into(), s(IN_FLIGHT));
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("claim".into(), s(&claim.token));
        item.insert("claimed_at".into(), n(seconds));
        item.insert("expires_at".into(), n(seconds + KEY_LIFETIME_SECONDS));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired (TTL deletes lazily), or claimed by a request that died.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at <= :now \
                 OR (#state = :in_flight AND claimed_at <= :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(seconds))
            .expression_attribute_values(":in_flight", s(IN_FLIGHT))
            .expression_attribute_values(":stale", n(seconds.saturating_sub(STALE_CLAIM_SECONDS)))
            .send()
            .await;
        match result.map_err(StoreError::from) {
            Ok(_) => Ok(Ok(claim)),
            Err(StoreError::ConditionFailed) => {
                // Our own claim, put by an attempt whose answer was lost: it is ours.
                match self.key_record(organization_id, key).await? {
                    Some(record) if record.claim.as_deref() == Some(claim.token.as_str()) => {
                        Ok(Ok(claim))
                    }
                    record => Ok(Err(record)),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn key_record(
        &self,
        organization_id: &str,
        key: &str,
    ) -> Result<Option<Record>, StoreError> {
        let (pk, sk) = keys::idempotency(organization_id, key);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.as_ref().and_then(record_of))
    }

    /// Gives a claim up after the request failed without writing, so a retry may run.
    pub async fn release_key(&self, claim: &Claim) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(claim)))
            .condition_expression("#claim = :token AND #state = :in_flight")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", s(&claim.token))
            .expression_attribute_values(":in_flight", s(IN_FLIGHT))
            .send()
            .await;
        match result.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Stores the response of a completed request on its record, for replays.
    pub async fn save_response(
        &self,
        claim: &Claim,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let mut set = Vec::new();
        let mut values = HashMap::from([(":token".to_owned(), s(&claim.token))]);
        response_values(response, &mut values, &mut set);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(claim)))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression("#claim = :token")
            .expression_attribute_names("#claim", "claim")
            .set_expression_attribute_values(Some(values));
        if response.location.is_some() {
            request = request.expression_attribute_names("#location", "location");
        }
        request.send().await?;
        Ok(())
    }
}
