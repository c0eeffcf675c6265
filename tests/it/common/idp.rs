//! A local identity provider for the tests: a JWKS endpoint and an RFC 7662
//! introspection endpoint on a loopback port, whose keys, sessions and availability a
//! test changes while the function runs, and which counts the requests it gets.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "jobs-api";
pub const CLIENT_ID: &str = "jobs-function";
pub const CLIENT_SECRET: &str = "introspection-secret";

/// A signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn rsa(kid: &str) -> TestKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("an RSA key");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
        let pem = pem("PRIVATE KEY", pkcs8.as_ref());
        let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        TestKey {
            kid: kid.to_owned(),
            algorithm: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA signing key"),
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
            }),
        }
    }

    pub fn ec(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("an EC key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("the EC key");
        // An uncompressed point: 0x04, then x and y.
        let point = pair.public_key().as_ref();
        TestKey {
            kid: kid.to_owned(),
            algorithm: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "kid": kid, "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        }
    }

    /// A token this key signs, naming it by `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.algorithm, Some(&self.kid), claims)
    }

    /// A token this key signs under another algorithm or `kid` (or none).
    pub fn sign_as(&self, algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing a test token")
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Claims the function accepts from this provider for `org`.
pub fn provider_claims(org: &str) -> Value {
    let mut claims = super::claims(org);
    claims["iss"] = json!(ISSUER);
    claims["aud"] = json!(AUDIENCE);
    claims
}

#[derive(Default)]
struct State {
    keys: Vec<Value>,
    /// Opaque session token → the claims introspection answers for it.
    sessions: HashMap<String, Value>,
    down: bool,
    jwks_requests: usize,
    introspections: usize,
}

pub struct IdentityProvider {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl IdentityProvider {
    pub fn start() -> IdentityProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the identity provider");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        IdentityProvider { url, state }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url)
    }

    pub fn introspection_url(&self) -> String {
        format!("{}/oauth2/introspect", self.url)
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        self.state.lock().unwrap().keys = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    pub fn add_session(&self, token: &str, claims: Value) {
        let mut state = self.state.lock().unwrap();
        state.sessions.insert(token.to_owned(), claims);
    }

    pub fn end_session(&self, token: &str) {
        self.state.lock().unwrap().sessions.remove(token);
    }

    /// While down, every connection is closed unanswered.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.lock().unwrap().jwks_requests
    }

    pub fn introspections(&self) -> usize {
        self.state.lock().unwrap().introspections
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(clone) => clone,
        Err(_) => return,
    });
    // One request per connection (answered with `Connection: close`).
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default();
    let answer = {
        let mut state = state.lock().unwrap();
        if state.down {
            return;
        }
        match path {
            "/.well-known/jwks.json" => {
                state.jwks_requests += 1;
                (200, json!({ "keys": state.keys }))
            }
            "/oauth2/introspect" => {
                state.introspections += 1;
                introspect(&state, &headers, &body)
            }
            _ => (404, json!({"error": "not found"})),
        }
    };
    let text = answer.1.to_string();
    let response = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        answer.0,
        text.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
}

/// RFC 7662: the client authenticates with HTTP Basic; an unknown token is inactive.
fn introspect(state: &State, headers: &HashMap<String, String>, body: &[u8]) -> (u16, Value) {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization") != Some(&expected) {
        return (401, json!({"error": "invalid_client"}));
    }
    let token = form_urlencoded::parse(body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    match state.sessions.get(&token) {
        Some(claims) => {
            let mut answer = claims.clone();
            answer["active"] = json!(true);
            (200, answer)
        }
        None => (200, json!({"active": false})),
    }
}
