//! A fault-injecting HTTP proxy in front of the local DynamoDB (`faults`) or
//! EventBridge (`job_events`: moto serves both on one port).
//!
//! Plain threads and `std::net` (no async, no extra crate): one thread accepts, one per
//! client connection. Each request the SDK sends is read whole (head + `Content-Length`
//! body), matched against the armed faults (by operation, from `X-Amz-Target`), then:
//!
//! | fault | what the SDK sees | reaches DynamoDB |
//! |---|---|---|
//! | none (pass-through) | DynamoDB's answer | yes |
//! | [`Fault::Stop`] | the connection closed, no answer | no |
//! | [`Fault::Slow`] | the answer only after the delay (past the 2 s attempt timeout) | yes, at once |
//! | [`Fault::Throttle`] | `400` with the given throttling `__type` | no |
//! | [`Fault::LoseAnswer`] | the connection closed after DynamoDB committed | yes |
//! | [`Fault::CancelThrottled`] | `TransactionCanceledException`, reason `ThrottlingError` | no |
//! | [`Fault::FailEntries`] | `PutEvents`: `200`, the chosen entries failed (`InternalFailure`) | the others only |
//!
//! Every request is forwarded on a fresh upstream connection (`Connection: close`) and
//! its answer re-framed with a `Content-Length`, so the SDK's keep-alive connections
//! work as against DynamoDB.
//!
//! **ClientRequestToken.** DynamoDB makes `TransactWriteItems` idempotent per
//! `ClientRequestToken` (for 10 minutes: the same token and request answer success
//! without writing again; the same token with another request is
//! `IdempotentParameterMismatchException`). moto ignores the token. The proxy
//! therefore plays that part of DynamoDB (on by default; [`Proxy::honour_tokens`]):
//! the first successful answer per token is kept and replayed, never forwarded again.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Every socket read and write of the proxy gives up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering (and without forwarding). A new
    /// connection is accepted and closed at once.
    Stop,
    /// Forward, then hold the answer this long before sending it.
    Slow(Duration),
    /// Answer `400` with this `__type` (the short name, e.g. `ThrottlingException`),
    /// without forwarding.
    Throttle(&'static str),
    /// Forward (DynamoDB commits), then close the connection without answering.
    LoseAnswer,
    /// For `TransactWriteItems`: answer, without forwarding, as DynamoDB cancels a
    /// throttled transaction: `TransactionCanceledException` whose first reason is
    /// `ThrottlingError` (the others `None`).
    CancelThrottled,
    /// For `PutEvents`: forward only the entries not chosen, and answer as EventBridge
    /// does when some entries fail: `200`, `FailedEntryCount`, and an `ErrorCode` in
    /// place of an `EventId` for each chosen entry. Nothing chosen is published.
    FailEntries(Entries),
}

/// Which entries of a `PutEvents` call [`Fault::FailEntries`] fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entries {
    /// The second, fourth... entry of the call.
    EverySecond,
    /// Every entry whose `Detail` contains this text (a job id: a poison record).
    Containing(&'static str),
}

pub const PROVISIONED_THROUGHPUT_EXCEEDED: &str = "ProvisionedThroughputExceededException";
pub const THROTTLING: &str = "ThrottlingException";

/// Apply `fault` to the next `times` requests of operation `op` (`None`: any).
#[derive(Clone, Debug)]
struct Rule {
    fault: Fault,
    op: Option<&'static str>,
    times: usize,
}

/// One request the proxy received: the DynamoDB operation and what the proxy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub op: String,
    /// `None`: passed through.
    pub fault: Option<Fault>,
    /// Answered from the ClientRequestToken record instead of reaching moto.
    pub token_replay: bool,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    honour_tokens: bool,
    /// ClientRequestToken → (request body, the successful answer).
    tokens: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    closed: AtomicBool,
}

pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`),
    /// passing everything through until a fault is armed.
    pub fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("upstream must be http://IP:PORT, not {upstream}"));
        assert!(upstream.ip().is_loopback(), "loopback only");
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State {
                honour_tokens: true,
                ..State::default()
            }),
            closed: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.closed.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if accepting.stop_on_accept() {
                    let _ = stream.shutdown(Shutdown::Both);
                    continue;
                }
                let shared = accepting.clone();
                thread::spawn(move || shared.serve(stream));
            }
        });
        Proxy { address, shared }
    }

    /// `http://127.0.0.1:PORT`, for a client's `endpoint_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Applies `fault` to the next `times` requests of `op` (e.g. `"UpdateItem"`;
    /// `None`: every operation). Faults armed earlier are matched first.
    pub fn arm(&self, fault: Fault, op: Option<&'static str>, times: usize) {
        self.shared.lock().rules.push(Rule { fault, op, times });
    }

    /// Disarms every fault: pass-through from now on.
    pub fn pass(&self) {
        self.shared.lock().rules.clear();
    }

    /// Whether the proxy plays DynamoDB's ClientRequestToken idempotency (default: yes).
    pub fn honour_tokens(&self, on: bool) {
        self.shared.lock().honour_tokens = on;
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// How many requests of `op` were received (each SDK attempt counts).
    pub fn attempts(&self, op: &str) -> usize {
        self.seen().iter().filter(|s| s.op == op).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection while a `Stop` for every operation is next in line: closed at
    /// once (it counts as one request stopped).
    fn stop_on_accept(&self) -> bool {
        let mut state = self.lock();
        let Some(rule) = state
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.op.is_none())
        else {
            return false;
        };
        if rule.fault != Fault::Stop {
            return false;
        }
        rule.times -= 1;
        state.seen.push(Seen {
            op: "(connection)".into(),
            fault: Some(Fault::Stop),
            token_replay: false,
        });
        true
    }

    /// The fault for the next request of `op`, used up by this call.
    fn take_fault(&self, op: &str) -> Option<Fault> {
        let mut state = self.lock();
        let rule = state
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.op.is_none_or(|o| o == op))?;
        rule.times -= 1;
        Some(rule.fault)
    }

    fn serve(&self, client: TcpStream) {
        let _ = client.set_read_timeout(Some(IO_TIMEOUT));
        let _ = client.set_write_timeout(Some(IO_TIMEOUT));
        let Ok(reader) = client.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(reader);
        let mut client = client;
        // Bounded: a keep-alive connection carries at most this many requests.
        for _ in 0..10_000 {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let Some(request) = read_request(&mut reader) else {
                return;
            };
            let op = request.op();
            let fault = self.take_fault(&op);
            let mut seen = Seen {
                op,
                fault,
                token_replay: false,
            };
            let answer = match fault {
                Some(Fault::Stop) => None,
                Some(Fault::Throttle(kind)) => Some(throttled(kind)),
                Some(Fault::CancelThrottled) => Some(cancelled_throttled()),
                Some(Fault::FailEntries(which)) => Some(self.put_some_events(&request, which)),
                Some(Fault::Slow(_) | Fault::LoseAnswer) | None => {
                    let answer = self.dynamodb(&request, &mut seen);
                    (fault != Some(Fault::LoseAnswer)).then_some(answer)
                }
            };
            self.lock().seen.push(seen);
            if let Some(Fault::Slow(delay)) = fault {
                thread::sleep(delay);
            }
            let Some(answer) = answer else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            if client.write_all(&answer).is_err() {
                return;
            }
        }
    }

    /// What DynamoDB answers `request`: moto's answer, or the recorded answer of an
    /// earlier successful transaction with the same ClientRequestToken.
    fn dynamodb(&self, request: &Request, seen: &mut Seen) -> Vec<u8> {
        let token = (seen.op == "TransactWriteItems" && self.lock().honour_tokens)
            .then(|| request.client_request_token())
            .flatten();
        if let Some(token) = &token {
            let recorded = self.lock().tokens.get(token).cloned();
            if let Some((body, answer)) = recorded {
                seen.token_replay = true;
                if body == request.body {
                    return answer;
                }
                return error_answer(
                    "IdempotentParameterMismatchException",
                    "same ClientRequestToken, different request",
                );
            }
        }
        let answer = forward(self.upstream, request);
        if let Some(token) = token
            && answer.starts_with(b"HTTP/1.1 200")
        {
            self.lock()
                .tokens
                .insert(token, (request.body.clone(), answer.clone()));
        }
        answer
    }
}

impl Shared {
    /// [`Fault::FailEntries`]: the chosen entries fail, the others reach EventBridge.
    fn put_some_events(&self, request: &Request, which: Entries) -> Vec<u8> {
        let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return forward(self.upstream, request);
        };
        let entries = body["Entries"].as_array().cloned().unwrap_or_default();
        let failed: Vec<bool> = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| match which {
                Entries::EverySecond => i % 2 == 1,
                Entries::Containing(text) => {
                    entry["Detail"].as_str().is_some_and(|d| d.contains(text))
                }
            })
            .collect();
        let kept: Vec<serde_json::Value> = entries
            .iter()
            .zip(&failed)
            .filter(|(_, failed)| !**failed)
            .map(|(entry, _)| entry.clone())
            .collect();
        let mut published = Vec::new();
        if !kept.is_empty() {
            body["Entries"] = serde_json::Value::Array(kept);
            let forwarded = request.with_body(body.to_string().into_bytes());
            let answer = forward(self.upstream, &forwarded);
            let Some(json) = answer_body(&answer) else {
                return answer;
            };
            published = json["Entries"].as_array().cloned().unwrap_or_default();
        }
        let mut published = published.into_iter();
        let results: Vec<serde_json::Value> = failed
            .iter()
            .map(|&failed| {
                if failed {
                    serde_json::json!({"ErrorCode": "InternalFailure", "ErrorMessage": "fault proxy"})
                } else {
                    published.next().unwrap_or_else(
                        || serde_json::json!({"ErrorCode": "InternalFailure", "ErrorMessage": "lost"}),
                    )
                }
            })
            .collect();
        let failed_count = results
            .iter()
            .filter(|r| r.get("ErrorCode").is_some())
            .count();
        let body =
            serde_json::json!({"FailedEntryCount": failed_count, "Entries": results}).to_string();
        let headers = [
            "Content-Type: application/x-amz-json-1.1".to_owned(),
            "x-amzn-RequestId: fault-proxy".to_owned(),
        ];
        answer("200", "OK", &headers, body.as_bytes())
    }
}

/// The JSON body of a `200` answer.
fn answer_body(answer: &[u8]) -> Option<serde_json::Value> {
    if !answer.starts_with(b"HTTP/1.1 200") {
        return None;
    }
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    serde_json::from_slice(&answer[split + 4..]).ok()
}

struct Request {
    /// Header lines, without the request line and the final blank line.
    headers: Vec<(String, String)>,
    request_line: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `PutItem` for `X-Amz-Target: DynamoDB_20120810.PutItem`.
    fn op(&self) -> String {
        let target = self.header("x-amz-target").unwrap_or("unknown");
        target.rsplit('.').next().unwrap_or(target).to_owned()
    }

    /// The same request with another body (and its length).
    fn with_body(&self, body: Vec<u8>) -> Request {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
            .cloned()
            .collect();
        headers.push(("Content-Length".into(), body.len().to_string()));
        Request {
            headers,
            request_line: self.request_line.clone(),
            body,
        }
    }

    fn client_request_token(&self) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        body["ClientRequestToken"].as_str().map(str::to_owned)
    }
}

/// One request from a keep-alive connection; `None` at its end (or on garbage).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    for _ in 0..200 {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        headers,
        request_line: request_line.trim_end().to_owned(),
        body: Vec::new(),
    };
    assert!(
        request.header("transfer-encoding").is_none(),
        "the proxy reads Content-Length bodies only"
    );
    let length: usize = request
        .header("content-length")
        .map_or(Some(0), |v| v.parse().ok())?;
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

/// Sends `request` to DynamoDB on a fresh connection and returns its answer, re-framed
/// with a `Content-Length` and without `Connection`. A failure is a `500` (never seen
/// from moto; the tests would show it).
fn forward(upstream: SocketAddr, request: &Request) -> Vec<u8> {
    let exchange = || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&upstream, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut head = format!("{}\r\n", request.request_line);
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&request.body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    };
    match exchange().ok().and_then(|raw| reframe(&raw)) {
        Some(answer) => answer,
        None => error_answer("InternalServerError", "fault proxy: upstream failed"),
    }
}

fn reframe(raw: &[u8]) -> Option<Vec<u8>> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split_whitespace().nth(1)?;
    let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("");
    let mut chunked = false;
    let mut kept = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if !name.eq_ignore_ascii_case("connection")
            && !name.eq_ignore_ascii_case("content-length")
            && !name.eq_ignore_ascii_case("keep-alive")
        {
            kept.push(format!("{name}: {}", value.trim()));
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(answer(status, reason, &kept, &body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    for _ in 0..100_000 {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        let start = end + 2;
        body.extend_from_slice(data.get(start..start + size)?);
        data = data.get(start + size + 2..)?;
    }
    None
}

fn answer(status: &str, reason: &str, headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A DynamoDB error answer, as the service sends one (`400`, JSON 1.0, `__type`).
fn error_answer(kind: &str, message: &str) -> Vec<u8> {
    let status = if kind == "InternalServerError" {
        ("500", "Internal Server Error")
    } else {
        ("400", "Bad Request")
    };
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": message,
    })
    .to_string();
    let headers = [
        "Content-Type: application/x-amz-json-1.0".to_owned(),
        "x-amzn-RequestId: fault-proxy".to_owned(),
    ];
    answer(status.0, status.1, &headers, body.as_bytes())
}

fn cancelled_throttled() -> Vec<u8> {
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError, None]",
        "CancellationReasons": [
            {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or index. (fault proxy)"},
            {"Code": "None"},
        ],
    })
    .to_string();
    let headers = [
        "Content-Type: application/x-amz-json-1.0".to_owned(),
        "x-amzn-RequestId: fault-proxy".to_owned(),
    ];
    answer("400", "Bad Request", &headers, body.as_bytes())
}

fn throttled(kind: &str) -> Vec<u8> {
    error_answer(
        kind,
        "Rate of requests exceeds the allowed throughput (fault proxy)",
    )
}
