//! The identity provider's signing keys (a JWKS), kept across invocations.
//!
//! Fetched at the first token that needs them. A token naming a key the set does not
//! have refreshes it, at most once a minute (or once per maximum age, if shorter) (a stream of made-up `kid`s cannot turn this
//! function into a flood of requests to the provider). A set older than its maximum age
//! is refreshed at the next token, so a removed key stops working; if that refresh fails,
//! the known keys keep working. A token naming an unknown key while the provider cannot
//! be reached is unavailable (`503`), never a pass and never a `401`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::sync::Mutex;

use super::fetch::{FetchError, Fetcher};

/// The least time between two fetches prompted by unknown keys.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// After a failed fetch, the least time before the next try.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A verification key and the one algorithm it is for.
#[derive(Clone)]
pub struct Key {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// What the cache knows: the keys of the last good fetch, and when fetches happened.
#[derive(Default)]
pub struct State {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
}

/// What to do for a token that names `kid`.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The cached key (known, and the set is fresh or cannot be refreshed yet).
    UseCached,
    /// Fetch the set first.
    Fetch,
    /// No such key, and the set was fetched recently: the token is refused.
    Unknown,
    /// No such key, and the last fetch failed: nobody can tell yet.
    Unavailable,
}

impl State {
    pub fn plan(&self, kid: &str, now: Instant, max_age: Duration) -> Plan {
        let since = |at: Option<Instant>| at.map(|at| now.saturating_duration_since(at));
        let may_retry = since(self.failed_at).is_none_or(|d| d >= RETRY_AFTER_FAILURE);
        if self.keys.contains_key(kid) {
            let stale = since(self.fetched_at).is_none_or(|d| d >= max_age);
            return if stale && may_retry {
                Plan::Fetch
            } else {
                Plan::UseCached
            };
        }
        // A set past its maximum age may be refreshed whatever the interval says.
        let interval = REFRESH_INTERVAL.min(max_age);
        let may_refresh = since(self.fetched_at).is_none_or(|d| d >= interval);
        if may_refresh && may_retry {
            Plan::Fetch
        } else if self.failed_at.is_some() {
            Plan::Unavailable
        } else {
            Plan::Unknown
        }
    }

    pub fn record(&mut self, fetched: Result<HashMap<String, Key>, ()>, now: Instant) {
        match fetched {
            Ok(keys) => {
                self.keys = keys;
                self.fetched_at = Some(now);
                self.failed_at = None;
            }
            Err(()) => self.failed_at = Some(now),
        }
    }
}

/// Why no key verifies a token.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The set has no such key: `401`.
    Unknown,
    /// The provider could not be reached to tell: `503`.
    Unavailable,
}

pub struct KeySet {
    url: String,
    max_age: Duration,
    state: Mutex<State>,
}

impl KeySet {
    pub fn new(url: String, max_age: Duration) -> Self {
        KeySet {
            url,
            max_age,
            state: Mutex::new(State::default()),
        }
    }

    /// The key named `kid`. The lock is held across a fetch, so concurrent requests wait
    /// for one fetch instead of each sending their own.
    pub async fn key(&self, kid: &str, fetcher: &Fetcher) -> Result<Key, KeyError> {
        let mut state = self.state.lock().await;
        let plan = state.plan(kid, Instant::now(), self.max_age);
        if plan == Plan::Fetch {
            let fetched = fetcher.get_json(&self.url).await.and_then(parse_key_set);
            if let Err(FetchError(reason)) = &fetched {
                tracing::warn!(%reason, "JWKS fetch failed");
            }
            state.record(fetched.map_err(|_| ()), Instant::now());
        }
        match (plan, state.keys.get(kid)) {
            (Plan::Unknown, _) => Err(KeyError::Unknown),
            (Plan::Unavailable, _) => Err(KeyError::Unavailable),
            (_, Some(key)) => Ok(key.clone()),
            // Fetched, and still no such key: unknown if the fetch worked.
            (_, None) if state.failed_at.is_none() => Err(KeyError::Unknown),
            (_, None) => Err(KeyError::Unavailable),
        }
    }
}

/// The usable keys of a JWKS document: signing keys with a `kid`, RSA (RS256) or EC
/// P-256 (ES256). Others (symmetric, encryption, other curves) are left out, so no
/// `kid` can lead a token to a key of the wrong kind.
pub fn parse_key_set(document: Value) -> Result<HashMap<String, Key>, FetchError> {
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err(FetchError("not a JWKS (no \"keys\" list)".into()));
    };
    let keys = entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, usable_key(&jwk)?)))
        .collect();
    Ok(keys)
}

fn usable_key(jwk: &Jwk) -> Option<Key> {
    if matches!(&jwk.common.public_key_use, Some(usage) if *usage != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(_) => return None,
    };
    if declared.is_some_and(|declared| declared != algorithm) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { algorithm, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MAX_AGE: Duration = Duration::from_secs(600);

    fn key() -> Key {
        Key {
            algorithm: Algorithm::RS256,
            key: DecodingKey::from_rsa_components("sXch", "AQAB").unwrap(),
        }
    }

    fn fetched(at: Instant) -> State {
        let mut state = State::default();
        state.record(Ok(HashMap::from([("k1".to_owned(), key())])), at);
        state
    }

    #[test]
    fn the_first_token_fetches_and_a_fresh_set_is_reused() {
        let t0 = Instant::now();
        assert_eq!(State::default().plan("k1", t0, MAX_AGE), Plan::Fetch);
        let state = fetched(t0);
        assert_eq!(
            state.plan("k1", t0 + Duration::from_secs(599), MAX_AGE),
            Plan::UseCached
        );
    }

    #[test]
    fn unknown_keys_refresh_at_most_once_a_minute() {
        let t0 = Instant::now();
        let state = fetched(t0);
        assert_eq!(
            state.plan("k2", t0 + Duration::from_secs(59), MAX_AGE),
            Plan::Unknown
        );
        assert_eq!(
            state.plan("k2", t0 + REFRESH_INTERVAL, MAX_AGE),
            Plan::Fetch
        );
    }

    #[test]
    fn a_stale_set_is_refreshed_so_removed_keys_stop_working() {
        let t0 = Instant::now();
        let state = fetched(t0);
        assert_eq!(state.plan("k1", t0 + MAX_AGE, MAX_AGE), Plan::Fetch);
    }

    #[test]
    fn after_a_failure_known_keys_work_and_unknown_ones_are_unavailable() {
        let t0 = Instant::now();
        let mut state = fetched(t0);
        let t1 = t0 + MAX_AGE;
        state.record(Err(()), t1);
        let soon = t1 + Duration::from_secs(1);
        assert_eq!(state.plan("k1", soon, MAX_AGE), Plan::UseCached);
        assert_eq!(state.plan("k2", soon, MAX_AGE), Plan::Unavailable);
        assert_eq!(
            state.plan("k2", t1 + RETRY_AFTER_FAILURE, MAX_AGE),
            Plan::Fetch
        );
        let mut never_fetched = State::default();
        never_fetched.record(Err(()), t0);
        assert_eq!(never_fetched.plan("k1", t0, MAX_AGE), Plan::Unavailable);
    }

    #[test]
    fn only_signing_keys_of_the_two_algorithms_are_kept() {
        let rsa = json!({"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"});
        let document = json!({"keys": [
            rsa,
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "mislabelled", "alg": "ES256", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "future", "kid": "odd"},
        ]});
        let keys = parse_key_set(document).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["rsa"]);
        assert_eq!(keys["rsa"].algorithm, Algorithm::RS256);
        assert!(parse_key_set(json!({"nope": []})).is_err());
    }
}
