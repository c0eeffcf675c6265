//! Opaque session tokens (the `stytch_session` cookie), checked with the identity
//! provider's RFC 7662 introspection endpoint. Answers are reused for a short while per
//! token (never past the token's expiry), keyed by the token's SHA-256 so that the
//! cache holds no token. Calls to the provider are bounded per instance (a token
//! bucket), so that random tokens cannot spend the provider's rate limit through us.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::fetch::{FetchError, Fetcher};
use crate::config::IntrospectionConfig;
use crate::job::decimal::Decimal;

/// Enough for every live session of a busy container: two generations of half of it.
const MAX_ENTRIES: usize = 10_000;

type Digest = [u8; 32];
pub type Claims = Map<String, Value>;

/// What the provider said of a token.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Active(Claims),
    Inactive,
}

/// Why a token has no answer.
#[derive(Debug)]
pub enum Unanswered {
    /// This instance has asked the provider as often as it may for now.
    Busy,
    /// The provider gave no usable answer.
    Failed(FetchError),
}

impl From<FetchError> for Unanswered {
    fn from(error: FetchError) -> Self {
        Unanswered::Failed(error)
    }
}

pub struct Introspector {
    config: IntrospectionConfig,
    state: Mutex<State>,
}

struct State {
    cache: Cache,
    calls: Bucket,
}

impl Introspector {
    pub fn new(config: IntrospectionConfig) -> Self {
        let calls = Bucket::new(config.max_per_second, Instant::now());
        Introspector {
            config,
            state: Mutex::new(State {
                cache: Cache::new(MAX_ENTRIES),
                calls,
            }),
        }
    }

    /// The cached answer, else the provider's, within the bound on calls to it. Refusals
    /// are cached too: a token asked about again costs nothing until the answer expires.
    pub async fn introspect(&self, token: &str, fetcher: &Fetcher) -> Result<Answer, Unanswered> {
        let digest = digest(token);
        let now = Instant::now();
        {
            let mut state = self.state.lock().await;
            if let Some(answer) = state.cache.get(&digest, now) {
                return Ok(answer);
            }
            if !state.calls.take(now) {
                return Err(Unanswered::Busy);
            }
        }
        let document = fetcher
            .post_form(
                &self.config.url,
                self.config.client.as_ref(),
                &[("token", token)],
            )
            .await?;
        let (answer, lifetime) = read_answer(document, unix_now(), self.config.cache_for)?;
        self.state
            .lock()
            .await
            .cache
            .insert(digest, now + lifetime, answer.clone());
        Ok(answer)
    }
}

/// A token bucket: `rate` calls a second, in bursts of up to `rate`.
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate);
        Bucket {
            rate,
            tokens: rate,
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.at = self.at.max(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Answers by token digest, each until its own deadline, in two generations: new ones go
/// into `recent`; when it holds half the capacity it becomes `older` (the previous
/// `older` is dropped), and an answer found in `older` moves back to `recent`. So the
/// answers inserted or used most recently are kept whatever comes in, in O(1), and a
/// flood of tokens seen once pushes out only what nobody used meanwhile.
struct Cache {
    generation: usize,
    recent: HashMap<Digest, (Instant, Answer)>,
    older: HashMap<Digest, (Instant, Answer)>,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Cache {
            generation: (capacity / 2).max(1),
            recent: HashMap::new(),
            older: HashMap::new(),
        }
    }

    fn get(&mut self, digest: &Digest, now: Instant) -> Option<Answer> {
        if let Some((until, answer)) = self.recent.get(digest) {
            return (now < *until).then(|| answer.clone());
        }
        let (until, answer) = self.older.remove(digest)?;
        if now >= until {
            return None;
        }
        self.insert(*digest, until, answer.clone());
        Some(answer)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.recent.len() + self.older.len()
    }

    fn insert(&mut self, digest: Digest, until: Instant, answer: Answer) {
        if self.recent.len() >= self.generation && !self.recent.contains_key(&digest) {
            self.older = std::mem::take(&mut self.recent);
        }
        self.older.remove(&digest);
        self.recent.insert(digest, (until, answer));
    }
}

fn digest(token: &str) -> Digest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The answer in an introspection response, and how long it may be reused. An active
/// token past its `exp` (or not yet at its `nbf`) is inactive whatever the provider says.
pub fn read_answer(
    document: Value,
    now: u64,
    cache_for: Duration,
) -> Result<(Answer, Duration), FetchError> {
    let Value::Object(mut claims) = document else {
        return Err(FetchError("introspection answer is not an object".into()));
    };
    let Some(Value::Bool(active)) = claims.remove("active") else {
        return Err(FetchError(
            "introspection answer has no boolean \"active\"".into(),
        ));
    };
    // Dates compared exactly (RFC 7519 allows fractions); a date that is no number
    // makes the answer unusable rather than the token timeless.
    let time = |name: &str| match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Decimal::parse(number.as_str())
            .map(|date| Some((date, number.as_f64().unwrap_or(0.0))))
            .ok_or_else(|| FetchError(format!("introspection answer has an odd \"{name}\""))),
        Some(_) => Err(FetchError(format!(
            "introspection answer has an odd \"{name}\""
        ))),
    };
    let (expires, not_before) = (time("exp")?, time("nbf")?);
    let now_exact = Decimal::from(now);
    let in_time = expires.as_ref().is_none_or(|(exp, _)| now_exact < *exp)
        && not_before.as_ref().is_none_or(|(nbf, _)| *nbf <= now_exact);
    if !active || !in_time {
        return Ok((Answer::Inactive, cache_for));
    }
    let lifetime = match expires {
        Some((_, exp)) => cache_for.min(Duration::from_secs_f64((exp - now as f64).max(0.0))),
        None => cache_for,
    };
    Ok((Answer::Active(claims), lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CACHE: Duration = Duration::from_secs(30);

    #[test]
    fn an_active_token_gives_its_claims_for_at_most_its_lifetime() {
        let answer = read_answer(
            json!({"active": true, "sub": "u1", "organizations": ["o"], "exp": 1_010}),
            1_000,
            CACHE,
        )
        .unwrap();
        let Answer::Active(claims) = answer.0 else {
            panic!("active")
        };
        assert_eq!(claims["sub"], "u1");
        assert!(!claims.contains_key("active"));
        assert_eq!(answer.1, Duration::from_secs(10));
        let long = read_answer(json!({"active": true, "exp": 9_999}), 1_000, CACHE).unwrap();
        assert_eq!(long.1, CACHE);
    }

    #[test]
    fn inactive_expired_or_early_tokens_are_inactive() {
        let fraction = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        for document in [
            json!({"active": false}),
            json!({"active": true, "exp": 1_000}),
            json!({"active": true, "nbf": 1_001}),
            json!({"active": true, "exp": fraction("999.5")}),
            json!({"active": true, "nbf": fraction("1000.001")}),
        ] {
            let (answer, _) = read_answer(document.clone(), 1_000, CACHE).unwrap();
            assert_eq!(answer, Answer::Inactive, "{document}");
        }
    }

    #[test]
    fn the_cache_keeps_recent_entries_past_its_capacity() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let key = |n: usize| -> Digest {
            let mut digest = [0; 32];
            digest[..8].copy_from_slice(&(n as u64).to_be_bytes());
            digest
        };
        let mut cache = Cache::new(100);
        // A live session, used now and then, among a flood of tokens seen once.
        cache.insert(key(0), later, Answer::Active(Claims::new()));
        for n in 1..=1_000 {
            cache.insert(key(n), later, Answer::Inactive);
            if n % 20 == 0 {
                assert!(cache.get(&key(0), now).is_some(), "the session, after {n}");
            }
        }
        for n in 960..=1_000 {
            assert_eq!(cache.get(&key(n), now), Some(Answer::Inactive), "entry {n}");
        }
        assert_eq!(cache.get(&key(1), now), None, "the oldest went first");
        assert!(cache.len() <= 100, "{} entries", cache.len());
        assert_eq!(cache.get(&key(1_000), later), None, "past its deadline");
    }

    #[test]
    fn calls_are_bounded_per_second_in_bursts_of_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(5, start);
        let burst = (0..20).filter(|_| bucket.take(start)).count();
        assert_eq!(burst, 5);
        let at = |millis| start + Duration::from_millis(millis);
        assert!(!bucket.take(at(100)), "half a call refilled");
        assert!(bucket.take(at(200)));
        assert!(!bucket.take(at(200)));
        let after_a_while = (0..20).filter(|_| bucket.take(at(60_000))).count();
        assert_eq!(after_a_while, 5, "never more than one second's worth");
        assert!(!bucket.take(start), "a clock read earlier refills nothing");
    }

    #[test]
    fn answers_without_a_boolean_active_are_errors() {
        for document in [
            json!({"active": "true"}),
            json!({}),
            json!([1]),
            json!({"active": true, "exp": "soon"}),
        ] {
            assert!(read_answer(document, 1_000, CACHE).is_err());
        }
    }
}
