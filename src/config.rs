//! Every setting of every binary, read once from the environment at start-up: [`Config`]
//! (the API), [`EventsConfig`], [`SweepConfig`], [`AwsConfig`] (the clients) and the log level. A missing or
//! wrong setting is a [`ConfigError`] that names it, so the function fails at init
//! rather than on a request.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

pub const DEFAULT_JOB_TYPES: [&str; 5] = [
    "enrichment",
    "crawl",
    "import",
    "export",
    "document_ingestion",
];

#[derive(Clone)]
pub struct Config {
    /// `JOBS_TABLE_NAME` (required).
    pub table_name: String,
    /// `JOBS_JOB_TYPES`, comma-separated.
    pub job_types: Vec<String>,
    /// `JOBS_MAX_BODY_BYTES` (default 65536).
    pub max_body_bytes: usize,
    /// `JOBS_MAX_METADATA_BYTES` (default 16384) and `JOBS_MAX_METADATA_DEPTH` (default 10).
    pub metadata_limits: ObjectLimits,
    pub auth: AuthConfig,
    /// `JOBS_ALLOWED_ORIGINS`, comma-separated: the web origins that may call the API
    /// from a browser (CORS) and send it writes authenticated by a cookie.
    pub allowed_origins: AllowedOrigins,
    pub timeouts: TimeoutSettings,
}

/// The bounds and defaults of a job's `heartbeat_timeout_seconds`, `timeout_seconds` and
/// `stall_timeout_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutSettings {
    /// The smallest timeout accepted: 60 s (the sweep runs every minute).
    /// `JOBS_MIN_TIMEOUT_SECONDS` lowers it for local runs and tests only (real short
    /// timeouts of a few seconds); the deployed template never sets it.
    pub min_seconds: u64,
    /// The largest: 30 days.
    pub max_seconds: u64,
    /// `JOBS_DEFAULT_HEARTBEAT_TIMEOUT_SECONDS`: what a create without the field gets
    /// (unset: none). `null` in the request always means none.
    pub default_heartbeat_seconds: Option<u64>,
    /// `JOBS_DEFAULT_TIMEOUT_SECONDS`, likewise.
    pub default_timeout_seconds: Option<u64>,
    /// `JOBS_DEFAULT_STALL_TIMEOUT_SECONDS`, likewise.
    pub default_stall_seconds: Option<u64>,
}

pub const MIN_TIMEOUT_SECONDS: u64 = 60;
pub const MAX_TIMEOUT_SECONDS: u64 = 30 * 24 * 3600;

/// Bounds on a free-form JSON object such as `metadata`.
#[derive(Debug, Clone, Copy)]
pub struct ObjectLimits {
    /// Serialized size in bytes.
    pub max_bytes: usize,
    /// Nesting depth; the object itself is depth 1.
    pub max_depth: usize,
}

/// Origins as browsers write them (`scheme://host[:port]`, lowercase), compared exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// A comma-separated list of origins. `*` and `null` are refused: credentials are
    /// only ever shared with origins named one by one.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let origin = canonical_origin(entry.trim_end_matches('/')).ok_or_else(|| {
                format!(
                    "{entry:?} is not an origin like https://app.example.com (no path, no wildcard)"
                )
            })?;
            origins.push(origin);
        }
        Ok(AllowedOrigins(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, origin: &str) -> bool {
        canonical_origin(origin).is_some_and(|origin| self.0.contains(&origin))
    }
}

/// `scheme://host[:port]` in lowercase, or `None` for anything else (`null`, a path, `*`).
fn canonical_origin(text: &str) -> Option<String> {
    let (scheme, authority) = text.split_once("://")?;
    let valid_scheme = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    let valid_authority = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    (valid_scheme && valid_authority).then(|| text.to_ascii_lowercase())
}

#[derive(Clone)]
pub struct AuthConfig {
    pub claims: ClaimNames,
    /// Set when the function verifies JWTs itself (bearer header or session cookie).
    pub jwt: Option<JwtConfig>,
    /// Set when opaque session tokens are checked with the identity provider.
    pub introspection: Option<IntrospectionConfig>,
}

/// Which claims carry the caller's identity.
#[derive(Clone, Debug)]
pub struct ClaimNames {
    /// `JOBS_USER_ID_CLAIM` (default `sub`).
    pub user_id: String,
    /// `JOBS_ORGANIZATIONS_CLAIM` (default `organizations`): a string or a list of them.
    pub organizations: String,
    /// `JOBS_PERMISSIONS_CLAIM` (default `permissions`): a list, or a space-separated string.
    pub permissions: String,
}

#[derive(Clone)]
pub struct JwtConfig {
    pub keys: JwtKeys,
    /// `JOBS_JWT_ISSUER`: when set, every token must carry it as `iss` (required with
    /// a JWKS).
    pub issuer: Option<String>,
    /// `JOBS_JWT_AUDIENCE`: when set, every token must name it in `aud` (required with
    /// a JWKS).
    pub audience: Option<String>,
}

/// Where the keys that sign tokens come from.
#[derive(Clone)]
pub enum JwtKeys {
    /// `JOBS_JWT_ALGORITHM` (`HS256`, `RS256` or `ES256`, the only one accepted) with
    /// `JOBS_JWT_SECRET` (HS256) or `JOBS_JWT_PUBLIC_KEY` (PEM): local runs and tests.
    Static {
        algorithm: Algorithm,
        key: DecodingKey,
    },
    /// `JOBS_JWKS_URL`: the identity provider's key set (RS256 and ES256 keys), fetched at
    /// the first token that needs it and kept `JOBS_JWKS_MAX_AGE_SECONDS` (default 600).
    Jwks { url: String, max_age: Duration },
}

/// RFC 7662 token introspection, for opaque session tokens.
#[derive(Clone)]
pub struct IntrospectionConfig {
    /// `JOBS_INTROSPECTION_URL`.
    pub url: String,
    /// `JOBS_INTROSPECTION_CLIENT_ID` and `JOBS_INTROSPECTION_CLIENT_SECRET`: HTTP Basic
    /// credentials for the endpoint, when it wants them.
    pub client: Option<(String, String)>,
    /// `JOBS_INTROSPECTION_CACHE_SECONDS` (default 30): how long an answer is reused
    /// (never past the token's own expiry).
    pub cache_for: Duration,
    /// `JOBS_INTROSPECTION_MAX_PER_SECOND` (default 10): calls to the endpoint per second
    /// and function instance, in bursts of as many; past it a token with no cached answer
    /// is `503`, so random tokens cannot spend the provider's rate limit.
    pub max_per_second: u32,
}

/// The default `source` of the events.
pub const DEFAULT_EVENT_SOURCE: &str = "jobs-api";

/// The `jobs-events` function's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// `JOBS_EVENT_BUS_NAME` (required): the bus's name or ARN.
    pub bus: String,
    /// `JOBS_EVENT_SOURCE` (default `jobs-api`): the events' `source`.
    pub source: String,
}

impl EventsConfig {
    pub fn from_env() -> Result<EventsConfig, ConfigError> {
        Self::from_lookup(environment)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<EventsConfig, ConfigError> {
        let get = |name: &str| trimmed(&lookup, name);
        let bus = get("JOBS_EVENT_BUS_NAME").ok_or(ConfigError::Missing("JOBS_EVENT_BUS_NAME"))?;
        let source = get("JOBS_EVENT_SOURCE").unwrap_or_else(|| DEFAULT_EVENT_SOURCE.into());
        // EventBridge reserves `aws.` sources for AWS services and refuses them.
        if source.starts_with("aws.") || source.len() > 256 {
            return Err(ConfigError::Invalid {
                name: "JOBS_EVENT_SOURCE",
                reason: "must not start with \"aws.\" and must be at most 256 characters".into(),
            });
        }
        Ok(EventsConfig { bus, source })
    }
}

/// The `jobs-sweep` function's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepConfig {
    /// `JOBS_TABLE_NAME` (required).
    pub table_name: String,
    /// Under the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` set): serve its invocations
    /// instead of sweeping from the command line.
    pub on_lambda: bool,
}

impl SweepConfig {
    pub fn from_env() -> Result<SweepConfig, ConfigError> {
        Self::from_lookup(environment)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<SweepConfig, ConfigError> {
        let get = |name: &str| trimmed(&lookup, name);
        Ok(SweepConfig {
            table_name: get("JOBS_TABLE_NAME").ok_or(ConfigError::Missing("JOBS_TABLE_NAME"))?,
            on_lambda: get("AWS_LAMBDA_RUNTIME_API").is_some(),
        })
    }
}

/// The standard AWS settings the clients are built from. `Debug` is not derived: it
/// holds credentials.
#[derive(Clone, Default)]
pub struct AwsConfig {
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`, set by Lambda alone (not by `cargo lambda
    /// watch`): then the clients are built from the variables below only, without
    /// `aws-config`'s whole chain (profiles, SSO, …), which keeps the cold start short.
    pub on_lambda: bool,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub credentials: Option<AwsCredentials>,
    /// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`): a local DynamoDB.
    pub dynamodb_endpoint: Option<String>,
    /// `AWS_ENDPOINT_URL_EVENTBRIDGE` (or `AWS_ENDPOINT_URL`): a local EventBridge.
    pub eventbridge_endpoint: Option<String>,
}

#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsConfig {
    pub fn from_env() -> AwsConfig {
        Self::from_lookup(environment)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> AwsConfig {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token: get("AWS_SESSION_TOKEN"),
            }),
            _ => None,
        };
        let endpoint = get("AWS_ENDPOINT_URL");
        AwsConfig {
            on_lambda: get("AWS_LAMBDA_INITIALIZATION_TYPE").is_some(),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            credentials,
            dynamodb_endpoint: get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| endpoint.clone()),
            eventbridge_endpoint: get("AWS_ENDPOINT_URL_EVENTBRIDGE").or(endpoint),
        }
    }

    /// The region, which every client needs.
    pub fn required_region(&self) -> Result<&str, String> {
        self.region
            .as_deref()
            .ok_or_else(|| "environment variable AWS_REGION must be set".into())
    }
}

/// The settings that name the log level, first first: Lambda's, then `RUST_LOG`.
pub const LOG_LEVEL_SETTINGS: [&str; 2] = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"];

/// The log level settings that are set, in [`LOG_LEVEL_SETTINGS`]' order (read before
/// the rest of the settings, so that their errors are logged).
pub fn log_levels() -> impl Iterator<Item = String> {
    LOG_LEVEL_SETTINGS.into_iter().filter_map(environment)
}

/// A setting's value without surrounding blanks; a blank setting is no setting.
fn trimmed(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The one place any of the service's binaries reads its environment.
fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Invalid { name: &'static str, reason: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing(name) => write!(f, "environment variable {name} must be set"),
            ConfigError::Invalid { name, reason } => {
                write!(f, "environment variable {name} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(environment)
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| trimmed(&lookup, name);
        let table_name = get("JOBS_TABLE_NAME").ok_or(ConfigError::Missing("JOBS_TABLE_NAME"))?;
        let job_types = match get("JOBS_JOB_TYPES") {
            Some(list) => parse_job_types(&list)?,
            None => DEFAULT_JOB_TYPES.iter().map(|t| t.to_string()).collect(),
        };
        let number = |name, default| positive_number(&get, name, default);
        let claims = ClaimNames {
            user_id: get("JOBS_USER_ID_CLAIM").unwrap_or_else(|| "sub".into()),
            organizations: get("JOBS_ORGANIZATIONS_CLAIM")
                .unwrap_or_else(|| "organizations".into()),
            permissions: get("JOBS_PERMISSIONS_CLAIM").unwrap_or_else(|| "permissions".into()),
        };
        let timeouts = timeout_settings(&get)?;
        Ok(Config {
            timeouts,
            table_name,
            job_types,
            max_body_bytes: number("JOBS_MAX_BODY_BYTES", 64 * 1024)?,
            metadata_limits: ObjectLimits {
                max_bytes: number("JOBS_MAX_METADATA_BYTES", 16 * 1024)?,
                max_depth: number("JOBS_MAX_METADATA_DEPTH", 10)?,
            },
            auth: AuthConfig {
                claims,
                jwt: jwt_config(&get)?,
                introspection: introspection_config(&get)?,
            },
            allowed_origins: match get("JOBS_ALLOWED_ORIGINS") {
                None => AllowedOrigins::default(),
                Some(list) => {
                    AllowedOrigins::parse(&list).map_err(|reason| ConfigError::Invalid {
                        name: "JOBS_ALLOWED_ORIGINS",
                        reason,
                    })?
                }
            },
        })
    }
}

fn timeout_settings(get: &impl Fn(&str) -> Option<String>) -> Result<TimeoutSettings, ConfigError> {
    let min_seconds = positive_number(
        get,
        "JOBS_MIN_TIMEOUT_SECONDS",
        MIN_TIMEOUT_SECONDS as usize,
    )? as u64;
    let max_seconds = MAX_TIMEOUT_SECONDS;
    if min_seconds > max_seconds {
        return Err(ConfigError::Invalid {
            name: "JOBS_MIN_TIMEOUT_SECONDS",
            reason: format!("must be at most {max_seconds}"),
        });
    }
    let default = |name: &'static str| -> Result<Option<u64>, ConfigError> {
        let Some(text) = get(name) else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(n) if (min_seconds..=max_seconds).contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!(
                    "expected whole seconds from {min_seconds} to {max_seconds}, got {text:?}"
                ),
            }),
        }
    };
    Ok(TimeoutSettings {
        min_seconds,
        max_seconds,
        default_heartbeat_seconds: default("JOBS_DEFAULT_HEARTBEAT_TIMEOUT_SECONDS")?,
        default_timeout_seconds: default("JOBS_DEFAULT_TIMEOUT_SECONDS")?,
        default_stall_seconds: default("JOBS_DEFAULT_STALL_TIMEOUT_SECONDS")?,
    })
}

fn parse_job_types(list: &str) -> Result<Vec<String>, ConfigError> {
    let types: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if types.is_empty() {
        return Err(ConfigError::Invalid {
            name: "JOBS_JOB_TYPES",
            reason: "names no job type".into(),
        });
    }
    Ok(types)
}

/// A whole number above zero, or `default` when the setting is absent.
fn positive_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError::Invalid {
                name,
                reason: format!("expected a positive whole number, got {text:?}"),
            }),
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    positive_number(get, name, default as usize).map(|n| Duration::from_secs(n as u64))
}

/// An identity provider's endpoint: `https`, or plain `http` to this machine only (a local
/// stand-in), so that keys and session answers cannot be altered on the way.
fn endpoint_url(name: &'static str, url: String) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(&url).map_err(|_| invalid("not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(invalid(
            "must be an https URL (plain http only to localhost)",
        )),
    }
}

fn jwt_config(get: &impl Fn(&str) -> Option<String>) -> Result<Option<JwtConfig>, ConfigError> {
    let issuer = get("JOBS_JWT_ISSUER");
    let audience = get("JOBS_JWT_AUDIENCE");
    if let Some(url) = get("JOBS_JWKS_URL") {
        if get("JOBS_JWT_ALGORITHM").is_some() {
            return Err(ConfigError::Invalid {
                name: "JOBS_JWT_ALGORITHM",
                reason: "set it or JOBS_JWKS_URL, not both (a JWKS names its own algorithms)"
                    .into(),
            });
        }
        // Any key of a provider's set verifies tokens minted for any of its clients:
        // only the issuer and audience make a token one of ours.
        let issuer = issuer.ok_or(ConfigError::Missing("JOBS_JWT_ISSUER"))?;
        let audience = audience.ok_or(ConfigError::Missing("JOBS_JWT_AUDIENCE"))?;
        return Ok(Some(JwtConfig {
            keys: JwtKeys::Jwks {
                url: endpoint_url("JOBS_JWKS_URL", url)?,
                max_age: seconds(get, "JOBS_JWKS_MAX_AGE_SECONDS", 600)?,
            },
            issuer: Some(issuer),
            audience: Some(audience),
        }));
    }
    let Some(algorithm) = get("JOBS_JWT_ALGORITHM") else {
        if get("JOBS_JWT_SECRET").is_some() || get("JOBS_JWT_PUBLIC_KEY").is_some() {
            return Err(ConfigError::Missing("JOBS_JWT_ALGORITHM"));
        }
        return Ok(None);
    };
    let invalid_key =
        |name: &'static str, error: jsonwebtoken::errors::Error| ConfigError::Invalid {
            name,
            reason: format!("not a usable {algorithm} public key in PEM form ({error})"),
        };
    let (algorithm, key) = match algorithm.as_str() {
        "HS256" => {
            let secret = get("JOBS_JWT_SECRET").ok_or(ConfigError::Missing("JOBS_JWT_SECRET"))?;
            if secret.len() < 32 {
                return Err(ConfigError::Invalid {
                    name: "JOBS_JWT_SECRET",
                    reason: "must be at least 32 bytes".into(),
                });
            }
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            )
        }
        "RS256" | "ES256" => {
            let pem =
                get("JOBS_JWT_PUBLIC_KEY").ok_or(ConfigError::Missing("JOBS_JWT_PUBLIC_KEY"))?;
            if algorithm == "RS256" {
                let key = DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| invalid_key("JOBS_JWT_PUBLIC_KEY", e))?;
                (Algorithm::RS256, key)
            } else {
                let key = DecodingKey::from_ec_pem(pem.as_bytes())
                    .map_err(|e| invalid_key("JOBS_JWT_PUBLIC_KEY", e))?;
                (Algorithm::ES256, key)
            }
        }
        other => {
            return Err(ConfigError::Invalid {
                name: "JOBS_JWT_ALGORITHM",
                reason: format!("expected HS256, RS256 or ES256, got {other:?}"),
            });
        }
    };
    Ok(Some(JwtConfig {
        keys: JwtKeys::Static { algorithm, key },
        issuer,
        audience,
    }))
}

fn introspection_config(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<IntrospectionConfig>, ConfigError> {
    let Some(url) = get("JOBS_INTROSPECTION_URL") else {
        return Ok(None);
    };
    let client = match (
        get("JOBS_INTROSPECTION_CLIENT_ID"),
        get("JOBS_INTROSPECTION_CLIENT_SECRET"),
    ) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        (Some(_), None) => return Err(ConfigError::Missing("JOBS_INTROSPECTION_CLIENT_SECRET")),
        (None, Some(_)) => return Err(ConfigError::Missing("JOBS_INTROSPECTION_CLIENT_ID")),
    };
    Ok(Some(IntrospectionConfig {
        url: endpoint_url("JOBS_INTROSPECTION_URL", url)?,
        client,
        cache_for: seconds(get, "JOBS_INTROSPECTION_CACHE_SECONDS", 30)?,
        max_per_second: positive_number(get, "JOBS_INTROSPECTION_MAX_PER_SECOND", 10)?
            .try_into()
            .map_err(|_| ConfigError::Invalid {
                name: "JOBS_INTROSPECTION_MAX_PER_SECOND",
                reason: "too large".into(),
            })?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = load(&[("JOBS_TABLE_NAME", "jobs")]).unwrap();
        assert_eq!(config.table_name, "jobs");
        assert_eq!(config.job_types, DEFAULT_JOB_TYPES);
        assert_eq!(config.max_body_bytes, 65536);
        assert_eq!(config.metadata_limits.max_bytes, 16384);
        assert_eq!(config.metadata_limits.max_depth, 10);
        assert_eq!(config.auth.claims.organizations, "organizations");
        assert!(config.auth.jwt.is_none());
        assert_eq!(
            config.timeouts,
            TimeoutSettings {
                min_seconds: 60,
                max_seconds: 2_592_000,
                default_heartbeat_seconds: None,
                default_timeout_seconds: None,
                default_stall_seconds: None,
            }
        );
    }

    #[test]
    fn timeout_defaults_and_the_local_minimum_are_read_and_checked() {
        let config = load(&[
            ("JOBS_TABLE_NAME", "jobs"),
            ("JOBS_MIN_TIMEOUT_SECONDS", "1"),
            ("JOBS_DEFAULT_HEARTBEAT_TIMEOUT_SECONDS", "5"),
            ("JOBS_DEFAULT_TIMEOUT_SECONDS", "3600"),
            ("JOBS_DEFAULT_STALL_TIMEOUT_SECONDS", "900"),
        ])
        .unwrap();
        assert_eq!(config.timeouts.min_seconds, 1);
        assert_eq!(config.timeouts.default_heartbeat_seconds, Some(5));
        assert_eq!(config.timeouts.default_timeout_seconds, Some(3600));
        assert_eq!(config.timeouts.default_stall_seconds, Some(900));
        for (name, value) in [
            ("JOBS_DEFAULT_STALL_TIMEOUT_SECONDS", "59"),
            ("JOBS_DEFAULT_HEARTBEAT_TIMEOUT_SECONDS", "5"),
            ("JOBS_DEFAULT_TIMEOUT_SECONDS", "99999999"),
            ("JOBS_MIN_TIMEOUT_SECONDS", "0"),
        ] {
            let error = load(&[("JOBS_TABLE_NAME", "jobs"), (name, value)])
                .err()
                .unwrap_or_else(|| panic!("{name}={value} should fail"));
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn a_missing_table_name_is_named() {
        let error = load(&[]).err().unwrap();
        assert_eq!(error, ConfigError::Missing("JOBS_TABLE_NAME"));
        assert!(error.to_string().contains("JOBS_TABLE_NAME"));
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("JOBS_MAX_BODY_BYTES", "lots")], "JOBS_MAX_BODY_BYTES"),
            (
                &[("JOBS_MAX_METADATA_DEPTH", "0")],
                "JOBS_MAX_METADATA_DEPTH",
            ),
            (&[("JOBS_JOB_TYPES", " , ")], "JOBS_JOB_TYPES"),
            (&[("JOBS_JWT_ALGORITHM", "none")], "JOBS_JWT_ALGORITHM"),
            (&[("JOBS_JWT_ALGORITHM", "HS256")], "JOBS_JWT_SECRET"),
            (
                &[
                    ("JOBS_JWT_ALGORITHM", "HS256"),
                    ("JOBS_JWT_SECRET", "short"),
                ],
                "JOBS_JWT_SECRET",
            ),
            (&[("JOBS_JWT_SECRET", SECRET)], "JOBS_JWT_ALGORITHM"),
            (
                &[
                    ("JOBS_JWT_ALGORITHM", "RS256"),
                    ("JOBS_JWT_PUBLIC_KEY", "not pem"),
                ],
                "JOBS_JWT_PUBLIC_KEY",
            ),
            (&[("JOBS_JWT_ALGORITHM", "ES256")], "JOBS_JWT_PUBLIC_KEY"),
            (
                &[
                    ("JOBS_INTROSPECTION_URL", "https://idp.example/introspect"),
                    ("JOBS_INTROSPECTION_MAX_PER_SECOND", "0"),
                ],
                "JOBS_INTROSPECTION_MAX_PER_SECOND",
            ),
            (
                &[("JOBS_JWKS_URL", "https://idp.example/jwks.json")],
                "JOBS_JWT_ISSUER",
            ),
            (
                &[
                    ("JOBS_JWKS_URL", "https://idp.example/jwks.json"),
                    ("JOBS_JWT_ISSUER", "https://idp.example"),
                ],
                "JOBS_JWT_AUDIENCE",
            ),
        ];
        for (pairs, name) in cases {
            let mut pairs = pairs.to_vec();
            pairs.push(("JOBS_TABLE_NAME", "jobs"));
            let error = load(&pairs)
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} should fail"));
            assert!(
                error.to_string().contains(name),
                "{error} should name {name}"
            );
        }
    }

    #[test]
    fn job_types_and_jwt_settings_are_read() {
        let config = load(&[
            ("JOBS_TABLE_NAME", "jobs"),
            ("JOBS_JOB_TYPES", "crawl, audit"),
            ("JOBS_JWT_ALGORITHM", "HS256"),
            ("JOBS_JWT_SECRET", SECRET),
            ("JOBS_JWT_ISSUER", "https://issuer.example"),
        ])
        .unwrap();
        assert_eq!(config.job_types, ["crawl", "audit"]);
        let jwt = config.auth.jwt.unwrap();
        assert!(matches!(
            jwt.keys,
            JwtKeys::Static {
                algorithm: Algorithm::HS256,
                ..
            }
        ));
        assert_eq!(jwt.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(jwt.audience, None);
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<EventsConfig, ConfigError> {
        EventsConfig::from_lookup(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_bus_is_required_and_the_source_defaults() {
        assert_eq!(
            settings(&[]),
            Err(ConfigError::Missing("JOBS_EVENT_BUS_NAME"))
        );
        let read = settings(&[("JOBS_EVENT_BUS_NAME", " jobs ")]).unwrap();
        assert_eq!(
            (read.bus.as_str(), read.source.as_str()),
            ("jobs", "jobs-api")
        );
        let read = settings(&[
            ("JOBS_EVENT_BUS_NAME", "jobs"),
            ("JOBS_EVENT_SOURCE", "acme.jobs"),
        ]);
        assert_eq!(read.unwrap().source, "acme.jobs");
    }

    #[test]
    fn a_source_eventbridge_refuses_is_refused_at_start() {
        for source in ["aws.jobs", &"x".repeat(257)] {
            let error = settings(&[
                ("JOBS_EVENT_BUS_NAME", "jobs"),
                ("JOBS_EVENT_SOURCE", source),
            ]);
            assert!(
                matches!(
                    error,
                    Err(ConfigError::Invalid {
                        name: "JOBS_EVENT_SOURCE",
                        ..
                    })
                ),
                "{source}"
            );
        }
    }
}
