//! Tokens checked in the function against a local identity provider: the JWKS (fetched
//! at first use, cached, rotated, refreshed, and unreachable), and RFC 7662 introspection
//! of opaque session cookies.

use std::time::Duration;

use jobs_api::App;
use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::common::idp::{self, IdentityProvider, TestKey, provider_claims};
use crate::common::*;

/// An app that verifies tokens against `provider`'s key set, kept `max_age` seconds.
async fn jwks_app(provider: &IdentityProvider, max_age: &str) -> App {
    app_with(&[
        ("JOBS_JWT_ALGORITHM", ""),
        ("JOBS_JWT_SECRET", ""),
        ("JOBS_JWKS_URL", &provider.jwks_url()),
        ("JOBS_JWT_ISSUER", idp::ISSUER),
        ("JOBS_JWT_AUDIENCE", idp::AUDIENCE),
        ("JOBS_JWKS_MAX_AGE_SECONDS", max_age),
    ])
    .await
}

async fn list_with(app: &App, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send(
        app,
        request("GET", "/api/jobs/", &[("authorization", &auth)], ""),
    )
    .await
}

async fn status_with(app: &App, token: &str) -> u16 {
    list_with(app, token).await.status.as_u16()
}

#[tokio::test]
async fn keys_are_fetched_at_first_use_then_served_from_the_cache() {
    let provider = IdentityProvider::start();
    let k1 = TestKey::rsa("k1");
    provider.publish(&[&k1]);
    let app = jwks_app(&provider, "600").await;
    let org = unique_org("jwks");
    assert_eq!(
        provider.jwks_requests(),
        0,
        "nothing is fetched at start-up"
    );
    let anonymous = send(&app, request("GET", "/api/jobs/", &[], "")).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        provider.jwks_requests(),
        0,
        "nor for a request without a token"
    );

    let token = k1.sign(&provider_claims(&org));
    assert_eq!(status_with(&app, &token).await, 200);
    assert_eq!(provider.jwks_requests(), 1);
    assert_eq!(status_with(&app, &token).await, 200);
    // The session JWT cookie is verified the same way.
    let cookie = format!("stytch_session_jwt={token}");
    let by_cookie = send(
        &app,
        request("GET", "/api/jobs/", &[("cookie", &cookie)], ""),
    )
    .await;
    assert_eq!(by_cookie.status, 200, "{}", by_cookie.body);
    assert_eq!(
        provider.jwks_requests(),
        1,
        "one fetch serves every later token"
    );

    // A made-up kid right after a fetch: refused without asking the provider again.
    assert_eq!(
        status_with(
            &app,
            &k1.sign_as(Algorithm::RS256, Some("k9"), &provider_claims(&org))
        )
        .await,
        401
    );
    assert_eq!(
        provider.jwks_requests(),
        1,
        "unknown kids refresh at most once a minute"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_a_removed_one_stops_working() {
    let provider = IdentityProvider::start();
    let (k1, k2) = (TestKey::rsa("k1"), TestKey::ec("k2"));
    provider.publish(&[&k1]);
    let app = jwks_app(&provider, "1").await;
    let claims = provider_claims(&unique_org("rotation"));
    assert_eq!(status_with(&app, &k1.sign(&claims)).await, 200);

    // The provider rotates to an ES256 key and drops the old one.
    provider.publish(&[&k2]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(status_with(&app, &k2.sign(&claims)).await, 200);
    assert_eq!(provider.jwks_requests(), 2);
    assert_eq!(
        status_with(&app, &k1.sign(&claims)).await,
        401,
        "k1 was removed"
    );
}

#[tokio::test]
async fn tokens_of_the_wrong_algorithm_issuer_audience_or_time_are_refused() {
    let provider = IdentityProvider::start();
    let (k1, k2) = (TestKey::rsa("k1"), TestKey::ec("k2"));
    provider.publish(&[&k1, &k2]);
    let app = jwks_app(&provider, "600").await;
    let good = provider_claims(&unique_org("alg"));
    assert_eq!(status_with(&app, &k1.sign(&good)).await, 200);
    assert_eq!(status_with(&app, &k2.sign(&good)).await, 200);

    // An ES256 signature presented as the RSA key's, and HS256 keyed with the RSA key's
    // public modulus (the classic confusion): both name k1, whose algorithm is RS256.
    let modulus = k1.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &good,
        &jsonwebtoken::EncodingKey::from_secret(&modulus),
    )
    .unwrap();
    let mut other_issuer = good.clone();
    other_issuer["iss"] = json!("https://other-idp.test");
    let mut other_audience = good.clone();
    other_audience["aud"] = json!("another-api");
    let mut expired = good.clone();
    expired["exp"] = json!(expired["iat"].as_u64().unwrap() - 3_600);
    let refused: [(&str, String); 6] = [
        (
            "ES256 under an RS256 kid",
            k2.sign_as(Algorithm::ES256, Some("k1"), &good),
        ),
        ("HS256 under an RS256 kid", hs256),
        ("no kid", k1.sign_as(Algorithm::RS256, None, &good)),
        ("other issuer", k1.sign(&other_issuer)),
        ("other audience", k1.sign(&other_audience)),
        ("expired", k1.sign(&expired)),
    ];
    for (why, token) in refused {
        let reply = list_with(&app, &token).await;
        assert_eq!(reply.status, 401, "{why}: {}", reply.body);
    }
}

/// Any app of the provider gets tokens its key set verifies: only `iss` and `aud` make a
/// token one of ours, so a token without them creates nothing, nor one without `exp`.
#[tokio::test]
async fn a_provider_token_without_iss_aud_or_exp_creates_nothing() {
    let provider = IdentityProvider::start();
    let k1 = TestKey::rsa("k1");
    provider.publish(&[&k1]);
    let app = jwks_app(&provider, "600").await;
    let org = unique_org("claims");
    let without = |claim: &str| {
        let mut claims = provider_claims(&org);
        claims.as_object_mut().unwrap().remove(claim);
        k1.sign(&claims)
    };
    let mut early = provider_claims(&org);
    early["nbf"] = json!(early["iat"].as_u64().unwrap() + 3_600);
    let mut null_audience = provider_claims(&org);
    null_audience["aud"] = json!(null);
    let body = json!({"job_type": "crawl", "total_items": 1});
    let refused = [
        ("no aud (minted for another client)", without("aud")),
        ("no iss", without("iss")),
        ("no exp", without("exp")),
        ("aud null", k1.sign(&null_audience)),
        ("nbf an hour ahead", k1.sign(&early)),
    ];
    for (why, token) in refused {
        let reply = send(&app, create_request(&token, &body)).await;
        assert_eq!(reply.status, 401, "{why}: {}", reply.body);
    }
    assert_eq!(items_of(&client().await, &org).await, 0, "nothing written");
    let accepted = send(
        &app,
        create_request(&k1.sign(&provider_claims(&org)), &body),
    )
    .await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
}

#[tokio::test]
async fn an_unreachable_provider_is_503_for_unknown_keys_and_known_keys_keep_working() {
    let provider = IdentityProvider::start();
    let (k1, k2) = (TestKey::rsa("k1"), TestKey::ec("k2"));
    provider.publish(&[&k1, &k2]);
    let claims = provider_claims(&unique_org("down"));

    // Never fetched, provider down: nobody can tell, so 503 with Retry-After.
    provider.set_down(true);
    let cold = jwks_app(&provider, "1").await;
    let reply = list_with(&cold, &k1.sign(&claims)).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "5");

    // Fetched while up; then down and the set stale: k1 still works from the cache, a
    // key the cache does not hold is 503 (not 401: it may be a new key).
    provider.set_down(false);
    let warm = jwks_app(&provider, "1").await;
    assert_eq!(status_with(&warm, &k1.sign(&claims)).await, 200);
    provider.set_down(true);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(status_with(&warm, &k1.sign(&claims)).await, 200);
    let unknown = k2.sign_as(Algorithm::ES256, Some("k3"), &claims);
    assert_eq!(status_with(&warm, &unknown).await, 503);
    provider.set_down(false);
}

/// An app that introspects opaque tokens at `provider`, reusing answers `cache` seconds.
async fn introspecting_app(provider: &IdentityProvider, cache: &str) -> App {
    limited_introspecting_app(provider, cache, "").await
}

/// The same, asking the provider at most `per_second` times a second (`""`: the default).
async fn limited_introspecting_app(
    provider: &IdentityProvider,
    cache: &str,
    per_second: &str,
) -> App {
    app_with(&[
        ("JOBS_INTROSPECTION_URL", &provider.introspection_url()),
        ("JOBS_INTROSPECTION_CLIENT_ID", idp::CLIENT_ID),
        ("JOBS_INTROSPECTION_CLIENT_SECRET", idp::CLIENT_SECRET),
        ("JOBS_INTROSPECTION_CACHE_SECONDS", cache),
        ("JOBS_INTROSPECTION_MAX_PER_SECOND", per_second),
        ("JOBS_ALLOWED_ORIGINS", "https://app.example.com"),
    ])
    .await
}

fn session_cookie(token: &str) -> String {
    format!("theme=dark; stytch_session={token}")
}

async fn list_by_session(app: &App, token: &str) -> Reply {
    let cookie = session_cookie(token);
    send(
        app,
        request("GET", "/api/jobs/", &[("cookie", &cookie)], ""),
    )
    .await
}

#[tokio::test]
async fn opaque_sessions_are_introspected_and_cached_briefly() {
    let provider = IdentityProvider::start();
    let org = unique_org("session");
    provider.add_session("session-live-1", claims(&org));
    let app = introspecting_app(&provider, "1").await;

    let reply = list_by_session(&app, "session-live-1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(list_by_session(&app, "session-live-1").await.status, 200);
    assert_eq!(provider.introspections(), 1, "the answer is reused");
    // The same opaque token as a bearer token.
    let bearer = list_with(&app, "session-live-1").await;
    assert_eq!(bearer.status, 200, "{}", bearer.body);

    let unknown = list_by_session(&app, "session-never-issued").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body["detail"], "Session is not active");

    // A session ended at the provider stops working once the cached answer expires.
    provider.end_session("session-live-1");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(list_by_session(&app, "session-live-1").await.status, 401);

    // A write by session cookie is still subject to the origin rule.
    provider.add_session("session-live-2", claims(&org));
    let cookie = session_cookie("session-live-2");
    let body = r#"{"job_type": "crawl", "total_items": 1}"#;
    let forged = send(
        &app,
        request(
            "POST",
            "/api/jobs/",
            &[("cookie", &cookie), ("content-type", "text/plain")],
            body,
        ),
    )
    .await;
    assert_eq!(forged.status, 403);
    let allowed = send(
        &app,
        request(
            "POST",
            "/api/jobs/",
            &[
                ("cookie", &cookie),
                ("origin", "https://app.example.com"),
                ("content-type", "application/json"),
            ],
            body,
        ),
    )
    .await;
    assert_eq!(allowed.status, 201, "{}", allowed.body);
    assert_eq!(items_of(&client().await, &org).await, 1);
}

#[tokio::test]
async fn an_unreachable_introspection_endpoint_is_503() {
    let provider = IdentityProvider::start();
    provider.add_session("session-x", claims(&unique_org("session-down")));
    provider.set_down(true);
    let app = introspecting_app(&provider, "30").await;
    let reply = list_by_session(&app, "session-x").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "5");
}

#[tokio::test]
async fn without_introspection_an_opaque_session_cookie_is_401_saying_why() {
    let app = app().await;
    let reply = list_by_session(&app, "session-opaque").await;
    assert_eq!(reply.status, 401);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains("stytch_session_jwt"), "{detail}");
}

/// Random opaque tokens each cost the provider a call: a burst of them is held to the
/// configured rate (the rest `503`, retry in a second), and a session whose answer is
/// cached keeps working all along.
#[tokio::test]
async fn a_flood_of_unknown_tokens_is_bounded_and_cached_sessions_keep_working() {
    const PER_SECOND: usize = 5;
    let provider = IdentityProvider::start();
    let org = unique_org("flood");
    provider.add_session("session-real", claims(&org));
    let app = limited_introspecting_app(&provider, "30", &PER_SECOND.to_string()).await;
    assert_eq!(list_by_session(&app, "session-real").await.status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await; // the bucket refills

    let started = std::time::Instant::now();
    let before = provider.introspections();
    let flood: Vec<String> = (0..100)
        .map(|_| format!("random-{}", uuid::Uuid::now_v7().simple()))
        .collect();
    let replies =
        futures_util::future::join_all(flood.iter().map(|token| list_by_session(&app, token)))
            .await;
    let real = list_by_session(&app, "session-real").await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(real.status, 200, "the cached session, during the flood");

    let calls = provider.introspections() - before;
    let bound = PER_SECOND + (PER_SECOND as f64 * elapsed).ceil() as usize;
    assert!(
        calls <= bound,
        "{calls} calls to the provider in {elapsed:.2} s"
    );
    let mut busy = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            401 => assert_eq!(reply.body["detail"], "Session is not active"),
            503 => {
                assert_eq!(reply.headers["retry-after"], "1", "{}", reply.body);
                busy += 1;
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert_eq!(
        busy + calls,
        100,
        "each token was asked about or turned away"
    );

    // A refused token is remembered: asking again costs the provider nothing.
    let asked = replies
        .iter()
        .position(|reply| reply.status == 401)
        .unwrap();
    let before = provider.introspections();
    assert_eq!(list_by_session(&app, &flood[asked]).await.status, 401);
    assert_eq!(
        provider.introspections(),
        before,
        "a known refusal is cached"
    );
}
