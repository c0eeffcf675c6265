//! [`Config`]: every setting, read once from the environment at start-up. A missing or
//! wrong setting is a [`ConfigError`] that names it, so the function fails at init
//! rather than on a request.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey};

use crate::validation::ObjectLimits;

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
}

#[derive(Clone)]
pub struct AuthConfig {
    pub claims: ClaimNames,
    /// Set when the function verifies bearer tokens itself (local runs, function URLs).
    pub jwt: Option<JwtConfig>,
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
    /// `JOBS_JWT_ALGORITHM`: `HS256`, `RS256` or `ES256`; the only one accepted.
    pub algorithm: Algorithm,
    /// From `JOBS_JWT_SECRET` (HS256) or `JOBS_JWT_PUBLIC_KEY` (PEM, RS256/ES256).
    pub key: DecodingKey,
    /// `JOBS_JWT_ISSUER`, checked when set.
    pub issuer: Option<String>,
    /// `JOBS_JWT_AUDIENCE`, checked when set.
    pub audience: Option<String>,
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
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let table_name = get("JOBS_TABLE_NAME").ok_or(ConfigError::Missing("JOBS_TABLE_NAME"))?;
        let job_types = match get("JOBS_JOB_TYPES") {
            Some(list) => parse_job_types(&list)?,
            None => DEFAULT_JOB_TYPES.iter().map(|t| t.to_string()).collect(),
        };
        let number = |name: &'static str, default: usize| -> Result<usize, ConfigError> {
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
        };
        let claims = ClaimNames {
            user_id: get("JOBS_USER_ID_CLAIM").unwrap_or_else(|| "sub".into()),
            organizations: get("JOBS_ORGANIZATIONS_CLAIM")
                .unwrap_or_else(|| "organizations".into()),
            permissions: get("JOBS_PERMISSIONS_CLAIM").unwrap_or_else(|| "permissions".into()),
        };
        Ok(Config {
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
            },
        })
    }
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

fn jwt_config(get: &impl Fn(&str) -> Option<String>) -> Result<Option<JwtConfig>, ConfigError> {
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
        algorithm,
        key,
        issuer: get("JOBS_JWT_ISSUER"),
        audience: get("JOBS_JWT_AUDIENCE"),
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
        assert_eq!(jwt.algorithm, Algorithm::HS256);
        assert_eq!(jwt.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(jwt.audience, None);
    }
}
