//! The token a request presents, and how it came: the `Authorization` header, or one of
//! the session cookies a browser attaches by itself.

use lambda_http::Request;
use lambda_http::http::header;

pub const SESSION_JWT_COOKIE: &str = "stytch_session_jwt";
pub const SESSION_COOKIE: &str = "stytch_session";

/// How the caller proved who they are: what decides whether a browser could have sent the
/// request on a page's behalf without it knowing (see [`crate::http::origin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: only code that holds the token can send it.
    AuthorizationHeader,
    /// A session cookie, which the browser attaches to any site's request.
    Cookie,
    /// The gateway's authorizer checked something other than these two.
    Gateway,
}

/// A token and where it came from.
#[derive(Debug, PartialEq, Eq)]
pub struct Presented {
    pub token: String,
    pub carrier: Carrier,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    Header,
    SessionJwtCookie,
    SessionCookie,
}

impl Presented {
    pub fn credential(&self) -> Credential {
        match self.carrier {
            Carrier::Header => Credential::AuthorizationHeader,
            Carrier::SessionJwtCookie | Carrier::SessionCookie => Credential::Cookie,
        }
    }

    /// Three dot-separated base64url parts: a JWT to verify here; anything else is an
    /// opaque token only the identity provider can check.
    pub fn is_jwt(&self) -> bool {
        let parts: Vec<&str> = self.token.split('.').collect();
        parts.len() == 3
            && parts[..2].iter().all(|part| !part.is_empty())
            && parts.iter().all(|part| {
                part.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    }
}

/// `Authorization: Bearer …` first (when the header is there, cookies are not looked
/// at), then the `stytch_session_jwt` cookie, then `stytch_session`.
pub fn presented(request: &Request) -> Option<Presented> {
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?.trim();
        let (scheme, token) = text.split_once(' ')?;
        let token = token.trim();
        return (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Presented {
            token: token.to_owned(),
            carrier: Carrier::Header,
        });
    }
    let cookies: Vec<(&str, &str)> = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .collect();
    [
        (SESSION_JWT_COOKIE, Carrier::SessionJwtCookie),
        (SESSION_COOKIE, Carrier::SessionCookie),
    ]
    .into_iter()
    .find_map(|(wanted, carrier)| {
        cookies
            .iter()
            .find(|(name, value)| *name == wanted && !value.is_empty())
            .map(|(_, value)| Presented {
                token: value.to_string(),
                carrier,
            })
    })
}

/// The credential behind claims the gateway's authorizer checked: the header if there is
/// one, else any cookie (a custom authorizer may read one), else something else.
pub fn gateway_credential(request: &Request) -> Credential {
    let headers = request.headers();
    if headers.contains_key(header::AUTHORIZATION) {
        Credential::AuthorizationHeader
    } else if headers.contains_key(header::COOKIE) {
        Credential::Cookie
    } else {
        Credential::Gateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("/api/jobs/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    fn carrier(headers: &[(&str, &str)]) -> Option<(String, Carrier)> {
        presented(&request(headers)).map(|p| (p.token, p.carrier))
    }

    #[test]
    fn the_header_wins_then_the_jwt_cookie_then_the_session_cookie() {
        let both = "theme=dark; stytch_session=opaque; stytch_session_jwt=a.b.c";
        assert_eq!(
            carrier(&[("authorization", "Bearer t"), ("cookie", both)]),
            Some(("t".into(), Carrier::Header))
        );
        assert_eq!(
            carrier(&[("cookie", both)]),
            Some(("a.b.c".into(), Carrier::SessionJwtCookie))
        );
        assert_eq!(
            carrier(&[("cookie", "stytch_session=opaque")]),
            Some(("opaque".into(), Carrier::SessionCookie))
        );
        assert_eq!(carrier(&[("authorization", "Basic dTpw")]), None);
        assert_eq!(carrier(&[("cookie", "stytch_session=")]), None);
    }

    #[test]
    fn jwt_shape_is_told_from_opaque_tokens() {
        let shape = |token: &str| {
            Presented {
                token: token.into(),
                carrier: Carrier::Header,
            }
            .is_jwt()
        };
        assert!(shape("eyJh.eyJz.sig-_"));
        assert!(shape("eyJh.eyJz."));
        assert!(!shape("session-token-abc"));
        assert!(!shape("a.b"));
        assert!(!shape(".b.c"));
        assert!(!shape("a.b.c=d"));
    }

    #[test]
    fn gateway_credentials_are_told_by_what_the_request_carries() {
        assert_eq!(
            gateway_credential(&request(&[
                ("authorization", "Bearer t"),
                ("cookie", "a=b")
            ])),
            Credential::AuthorizationHeader
        );
        assert_eq!(
            gateway_credential(&request(&[("cookie", "a=b")])),
            Credential::Cookie
        );
        assert_eq!(gateway_credential(&request(&[])), Credential::Gateway);
    }
}
