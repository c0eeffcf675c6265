//! Who is calling, for which organization, allowed to do what: the [`Caller`], and the
//! [`Credential`] that proved it.
//!
//! Claims come from the API Gateway authorizer when the event carries them (the gateway
//! has verified the token already). Otherwise the function checks the token a request
//! presents ([`token`]): a JWT — `Authorization: Bearer`, or the `stytch_session_jwt` /
//! `stytch_session` cookie — against a configured key or the provider's key set
//! ([`jwks`]); an opaque session token with the provider's introspection endpoint
//! ([`introspection`]). `X-Organization-ID` picks one of the organizations the claims
//! allow.

mod fetch;
pub mod introspection;
pub mod jwks;
pub mod token;

use jsonwebtoken::Algorithm;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use crate::config::{AuthConfig, ClaimNames, JwtConfig, JwtKeys};
use crate::job::decimal::Decimal;
use fetch::Fetcher;
use introspection::{Answer, Introspector, Unanswered};
use jwks::{KeyError, KeySet};
pub use token::Credential;
use token::{Carrier, Presented};

pub const ORGANIZATION_HEADER: &str = "x-organization-id";
/// Organization ids become part of DynamoDB keys: keep them to a plain alphabet.
const MAX_ORGANIZATION_ID_LEN: usize = 128;
const INVALID_TOKEN: AuthError = AuthError::Unauthenticated("Invalid or expired token");
/// Clock skew allowed between the token's issuer and this function.
const JWT_LEEWAY_SECONDS: u64 = 30;

type Claims = Map<String, Value>;

/// Why a caller is not let in (`http::error` says how each is answered).
#[derive(Debug)]
pub enum AuthError {
    /// No credentials, or credentials that do not verify (`401`).
    Unauthenticated(&'static str),
    /// Authenticated, but not for this organization or action (`403`).
    Forbidden(String),
    /// The caller belongs to several organizations and did not name one in
    /// `X-Organization-Id` (`422` on that header).
    OrganizationNotChosen,
    /// The identity provider cannot be reached to check a token (`503`).
    IdentityUnavailable,
    /// A session token with no cached answer while this instance has asked the provider
    /// as often as it may for now (`503`).
    IdentityBusy,
    /// Anything unexpected (`500`).
    Internal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Read,
    Create,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "job:read",
            Permission::Create => "job:create",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub organization_id: String,
    pub user_id: Option<String>,
    /// `None` when the token carries no permissions claim: then every action is allowed.
    pub permissions: Option<Vec<String>>,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        match &self.permissions {
            Some(granted) if !granted.iter().any(|p| p == permission.as_str()) => Err(
                AuthError::Forbidden(format!("Missing permission {}", permission.as_str())),
            ),
            _ => Ok(()),
        }
    }
}

/// The configuration and what it keeps across invocations: the provider's keys and
/// recent introspection answers.
pub struct Authenticator {
    config: AuthConfig,
    key_set: Option<KeySet>,
    introspector: Option<Introspector>,
    fetcher: Fetcher,
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Self {
        let key_set = match config.jwt.as_ref().map(|jwt| &jwt.keys) {
            Some(JwtKeys::Jwks { url, max_age }) => Some(KeySet::new(url.clone(), *max_age)),
            _ => None,
        };
        let introspector = config.introspection.clone().map(Introspector::new);
        Authenticator {
            config,
            key_set,
            introspector,
            fetcher: Fetcher::default(),
        }
    }

    /// Resolves the caller of `request`, or `401` / `403` / `422` (`503` when the
    /// identity provider cannot be reached to tell, or may not be asked again yet).
    pub async fn authenticate(&self, request: &Request) -> Result<(Caller, Credential), AuthError> {
        let (claims, credential) = match authorizer_claims(request) {
            Some(claims) => (claims, token::gateway_credential(request)),
            None => {
                let presented = token::presented(request)
                    .ok_or(AuthError::Unauthenticated("Not authenticated"))?;
                (self.verify(&presented).await?, presented.credential())
            }
        };
        let caller =
            caller_from_claims(&claims, &self.config.claims, organization_header(request)?)?;
        Ok((caller, credential))
    }

    async fn verify(&self, presented: &Presented) -> Result<Claims, AuthError> {
        if presented.is_jwt() {
            let jwt = self
                .config
                .jwt
                .as_ref()
                .ok_or(AuthError::Unauthenticated("Not authenticated"))?;
            return self.verify_jwt(&presented.token, jwt).await;
        }
        let Some(introspector) = &self.introspector else {
            return Err(match presented.carrier {
                Carrier::SessionCookie => AuthError::Unauthenticated(
                    "This deployment cannot check opaque session tokens (stytch_session): send the session JWT (stytch_session_jwt cookie) or a bearer token",
                ),
                _ => INVALID_TOKEN,
            });
        };
        match introspector
            .introspect(&presented.token, &self.fetcher)
            .await
        {
            Ok(Answer::Active(claims)) => Ok(claims),
            Ok(Answer::Inactive) => Err(AuthError::Unauthenticated("Session is not active")),
            Err(Unanswered::Busy) => Err(AuthError::IdentityBusy),
            Err(Unanswered::Failed(error)) => {
                tracing::warn!(reason = %error.0, "token introspection failed");
                Err(AuthError::IdentityUnavailable)
            }
        }
    }

    async fn verify_jwt(&self, token: &str, jwt: &JwtConfig) -> Result<Claims, AuthError> {
        let (algorithm, key) = match (&jwt.keys, &self.key_set) {
            (JwtKeys::Static { algorithm, key }, _) => (*algorithm, key.clone()),
            (JwtKeys::Jwks { .. }, Some(key_set)) => {
                let header = jsonwebtoken::decode_header(token).map_err(|error| refused(&error))?;
                let kid = header.kid.ok_or_else(|| {
                    tracing::info!(reason = "no kid", "token refused");
                    INVALID_TOKEN
                })?;
                match key_set.key(&kid, &self.fetcher).await {
                    Ok(found) => (found.algorithm, found.key),
                    Err(KeyError::Unknown) => {
                        tracing::info!(reason = "unknown kid", "token refused");
                        return Err(INVALID_TOKEN);
                    }
                    Err(KeyError::Unavailable) => return Err(AuthError::IdentityUnavailable),
                }
            }
            (JwtKeys::Jwks { .. }, None) => return Err(AuthError::Internal),
        };
        verify(token, algorithm, &key, jwt).map_err(|error| refused(&error))
    }
}

/// A refused token: the kind of failure is logged, never the token itself.
fn refused(error: &jsonwebtoken::errors::Error) -> AuthError {
    tracing::info!(reason = ?error.kind(), "token refused");
    INVALID_TOKEN
}

/// Claims the API Gateway authorizer put in the request context: an HTTP API JWT
/// authorizer's claims, or the context of a Lambda (or Cognito) authorizer.
fn authorizer_claims(request: &Request) -> Option<Claims> {
    let authorizer = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref()?,
        RequestContext::ApiGatewayV1(context) => &context.authorizer,
        _ => return None,
    };
    if let Some(jwt) = &authorizer.jwt
        && !jwt.claims.is_empty()
    {
        return Some(
            jwt.claims
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect(),
        );
    }
    if let Some(Value::Object(claims)) = authorizer.fields.get("claims") {
        return Some(claims.clone());
    }
    if authorizer.fields.is_empty() {
        return None;
    }
    Some(
        authorizer
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The claims of `token` if `key` signed it with `algorithm` (the only one accepted) and
/// its time, issuer and audience are right.
pub fn verify(
    token: &str,
    algorithm: Algorithm,
    key: &jsonwebtoken::DecodingKey,
    jwt: &JwtConfig,
) -> jsonwebtoken::errors::Result<Claims> {
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    // `exp` and `nbf` are checked by `check_dates`: jsonwebtoken reads them through
    // `deserialize_any`, which cannot read a fractional date (RFC 7519 allows one) once
    // serde_json keeps numbers' text (`arbitrary_precision`, for `decimal`).
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    // jsonwebtoken checks `iss` and `aud` only when the token has them: a configured one
    // must also be present, or a token minted for another client of the same provider
    // (no `aud`) would pass.
    match &jwt.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            validation.required_spec_claims.insert("aud".into());
        }
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &jwt.issuer {
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".into());
    }
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)?.claims;
    check_dates(&claims, jsonwebtoken::get_current_timestamp())?;
    Ok(claims)
}

/// `exp` (required) has not passed and `nbf` (if given) has come, `now` in seconds since
/// the epoch, give or take the leeway; dates are compared exactly, fraction included.
fn check_dates(claims: &Claims, now: u64) -> jsonwebtoken::errors::Result<()> {
    use jsonwebtoken::errors::ErrorKind;
    let date = |name: &str| match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Decimal::parse(number.as_str())
            .map(Some)
            .ok_or_else(|| ErrorKind::InvalidClaimFormat(name.to_owned())),
        Some(_) => Err(ErrorKind::InvalidClaimFormat(name.to_owned())),
    };
    let expires = date("exp")?.ok_or_else(|| ErrorKind::MissingRequiredClaim("exp".into()))?;
    if expires < Decimal::from(now.saturating_sub(JWT_LEEWAY_SECONDS)) {
        return Err(ErrorKind::ExpiredSignature.into());
    }
    if let Some(not_before) = date("nbf")?
        && not_before > Decimal::from(now.saturating_add(JWT_LEEWAY_SECONDS))
    {
        return Err(ErrorKind::ImmatureSignature.into());
    }
    Ok(())
}

fn organization_header(request: &Request) -> Result<Option<String>, AuthError> {
    match request.headers().get(ORGANIZATION_HEADER) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|_| AuthError::Forbidden("Organization not allowed".into())),
    }
}

/// The caller the claims describe, in the organization `requested` (or their only one).
pub fn caller_from_claims(
    claims: &Claims,
    names: &ClaimNames,
    requested: Option<String>,
) -> Result<Caller, AuthError> {
    let organizations = claims
        .get(&names.organizations)
        .map(string_list)
        .unwrap_or_default();
    let organization_id = match requested {
        Some(requested) if organizations.contains(&requested) => requested,
        Some(_) => return Err(AuthError::Forbidden("Organization not allowed".into())),
        None => match organizations.as_slice() {
            [only] => only.clone(),
            [] => {
                return Err(AuthError::Forbidden(
                    "The caller belongs to no organization".into(),
                ));
            }
            _ => {
                return Err(AuthError::OrganizationNotChosen);
            }
        },
    };
    if !is_plain_organization_id(&organization_id) {
        return Err(AuthError::Forbidden("Organization not allowed".into()));
    }
    Ok(Caller {
        organization_id,
        user_id: claims.get(&names.user_id).and_then(scalar_string),
        permissions: claims.get(&names.permissions).map(string_list),
    })
}

fn is_plain_organization_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ORGANIZATION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A claim holding several strings, in any form a gateway passes it on: a JSON list, a
/// JSON list serialized into a string (Lambda authorizer context), API Gateway's
/// flattened `[a b c]`, or a space- or comma-separated string (`scope`).
fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(scalar_string).collect(),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
                return items.iter().filter_map(scalar_string).collect();
            }
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            inner
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(|part| part.trim_matches('"'))
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        }
        other => scalar_string(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn names() -> ClaimNames {
        ClaimNames {
            user_id: "sub".into(),
            organizations: "organizations".into(),
            permissions: "permissions".into(),
        }
    }

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    fn jwt_config() -> JwtConfig {
        JwtConfig {
            keys: JwtKeys::Static {
                algorithm: Algorithm::HS256,
                key: key(),
            },
            issuer: Some("issuer-a".into()),
            audience: Some("jobs".into()),
        }
    }

    fn key() -> DecodingKey {
        DecodingKey::from_secret(SECRET)
    }

    fn check(token: &str) -> jsonwebtoken::errors::Result<Claims> {
        verify(token, Algorithm::HS256, &key(), &jwt_config())
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn sign(claims: Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn good_claims() -> Value {
        json!({"sub": "u1", "organizations": ["org-a"], "iss": "issuer-a", "aud": "jobs", "exp": now() + 600})
    }

    #[test]
    fn the_only_organization_is_used_without_a_header() {
        let caller = caller_from_claims(
            &claims(json!({"sub": "u1", "organizations": "org-a"})),
            &names(),
            None,
        )
        .unwrap();
        assert_eq!(caller.organization_id, "org-a");
        assert_eq!(caller.user_id.as_deref(), Some("u1"));
        assert_eq!(caller.permissions, None);
    }

    #[test]
    fn the_header_must_name_an_allowed_organization() {
        let claims = claims(json!({"organizations": ["org-a", "org-b"]}));
        let caller = caller_from_claims(&claims, &names(), Some("org-b".into())).unwrap();
        assert_eq!(caller.organization_id, "org-b");
        let refused = caller_from_claims(&claims, &names(), Some("org-c".into()));
        assert!(matches!(refused, Err(AuthError::Forbidden(_))));
        let ambiguous = caller_from_claims(&claims, &names(), None);
        assert!(matches!(ambiguous, Err(AuthError::OrganizationNotChosen)));
    }

    #[test]
    fn no_organization_or_an_odd_one_is_forbidden() {
        let none = caller_from_claims(&claims(json!({"sub": "u1"})), &names(), None);
        assert!(matches!(none, Err(AuthError::Forbidden(_))));
        let odd = caller_from_claims(
            &claims(json!({"organizations": ["a#JOB#b"]})),
            &names(),
            None,
        );
        assert!(matches!(odd, Err(AuthError::Forbidden(_))));
    }

    #[test]
    fn lists_are_read_in_every_gateway_form() {
        for value in [
            json!(["a", "b"]),
            json!("[a b]"),
            json!(r#"["a","b"]"#),
            json!("a b"),
            json!("a,b"),
        ] {
            assert_eq!(string_list(&value), ["a", "b"], "{value}");
        }
        assert_eq!(string_list(&json!("a")), ["a"]);
    }

    #[test]
    fn permissions_are_enforced_only_when_the_token_carries_them() {
        let open =
            caller_from_claims(&claims(json!({"organizations": "o"})), &names(), None).unwrap();
        assert!(open.require(Permission::Create).is_ok());
        let reader = caller_from_claims(
            &claims(json!({"organizations": "o", "permissions": "job:read"})),
            &names(),
            None,
        )
        .unwrap();
        assert!(reader.require(Permission::Read).is_ok());
        assert!(matches!(
            reader.require(Permission::Create),
            Err(AuthError::Forbidden(_))
        ));
    }

    #[test]
    fn a_valid_token_verifies() {
        let verified = check(&sign(good_claims(), SECRET)).unwrap();
        assert_eq!(verified["sub"], "u1");
    }

    #[test]
    fn bad_tokens_are_refused() {
        let mut expired = good_claims();
        expired["exp"] = json!(now() - 3600);
        let mut early = good_claims();
        early["nbf"] = json!(now() + 3600);
        let mut issuer = good_claims();
        issuer["iss"] = json!("issuer-b");
        let mut audience = good_claims();
        audience["aud"] = json!("other");
        let mut no_exp = good_claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        let mut no_iss = good_claims();
        no_iss.as_object_mut().unwrap().remove("iss");
        let mut no_aud = good_claims();
        no_aud.as_object_mut().unwrap().remove("aud");
        for (why, token) in [
            ("expired", sign(expired, SECRET)),
            ("not yet valid", sign(early, SECRET)),
            ("wrong issuer", sign(issuer, SECRET)),
            ("wrong audience", sign(audience, SECRET)),
            ("no expiry", sign(no_exp, SECRET)),
            ("no issuer", sign(no_iss, SECRET)),
            ("no audience", sign(no_aud, SECRET)),
            (
                "other key",
                sign(good_claims(), b"another-secret-another-secret-xx"),
            ),
            ("garbage", "not.a.token".to_owned()),
        ] {
            assert!(check(&token).is_err(), "{why} should be refused");
        }
    }

    #[test]
    fn issuer_and_audience_are_checked_only_when_configured() {
        let open = JwtConfig {
            issuer: None,
            audience: None,
            ..jwt_config()
        };
        let mut bare = good_claims();
        let object = bare.as_object_mut().unwrap();
        object.remove("iss");
        object.remove("aud");
        let token = sign(bare, SECRET);
        assert!(verify(&token, Algorithm::HS256, &key(), &open).is_ok());
        assert!(check(&token).is_err());
    }

    #[test]
    fn dates_may_have_a_fraction_and_have_30_seconds_of_leeway() {
        use jsonwebtoken::errors::ErrorKind;
        let dates = |exp: &str, nbf: Option<&str>| {
            let mut claims = good_claims();
            claims["exp"] = serde_json::from_str(exp).unwrap();
            if let Some(nbf) = nbf {
                claims["nbf"] = serde_json::from_str(nbf).unwrap();
            }
            check(&sign(claims, SECRET)).map_err(|e| e.into_kind())
        };
        let at = |offset: i64, fraction: &str| format!("{}{fraction}", now() as i64 + offset);
        assert!(dates(&at(600, ".5"), Some(&at(-60, ".25"))).is_ok());
        assert!(
            dates(&at(-20, ""), Some(&at(20, ""))).is_ok(),
            "within the leeway"
        );
        assert!(dates("1.7e12", None).is_ok(), "any JSON number");
        assert_eq!(
            dates(&at(-3600, ".5"), None),
            Err(ErrorKind::ExpiredSignature)
        );
        assert_eq!(dates(&at(-60, ""), None), Err(ErrorKind::ExpiredSignature));
        assert_eq!(
            dates(&at(600, ""), Some(&at(60, ".5"))),
            Err(ErrorKind::ImmatureSignature)
        );
        assert_eq!(
            dates(r#""4000000000""#, None),
            Err(ErrorKind::InvalidClaimFormat("exp".into()))
        );
        assert_eq!(
            dates(&at(600, ""), Some(r#""0""#)),
            Err(ErrorKind::InvalidClaimFormat("nbf".into()))
        );
        assert_eq!(
            dates("null", None),
            Err(ErrorKind::MissingRequiredClaim("exp".into()))
        );
    }

    #[test]
    fn alg_none_is_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(good_claims().to_string());
        assert!(check(&format!("{header}.{payload}.")).is_err());
    }
}
