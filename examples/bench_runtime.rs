//! The bench runner: plays AWS Lambda's Runtime API on loopback and drives a `bootstrap`
//! binary through it, as Lambda does, timing what a caller of the function waits for.
//!
//! bench_runtime --program PATH --label NAME --out FILE.json [--event FILE]...
//!               [--cold RUNS] [--warm N] [--warmup N] [--cpu C] [--runner-cpu C]
//!               [--env KEY=VALUE]... [--one-job true]
//!
//! Cold: RUNS fresh processes, each timed from spawn to its first
//! `GET /2018-06-01/runtime/invocation/next` (init alone) and to its response to the first
//! event. Warm: one process, `--warmup` then `--warm` invocations of each event file in
//! turn; with `--one-job true` every event that names a job uses the same one, sent by its
//! creator, so that a read or a report meets the history earlier events wrote (against a
//! real DynamoDB; the null one gives every job a history). Event files that do not exist
//! yet are skipped with a note. Every response must be
//! a 2xx: a benchmark of error answers measures the wrong thing, so a failed cold start
//! stops the run and a failed warm event is reported as failed (the others still run).
//!
//! The function gets Lambda's environment, not the runner's (see `lambda_env`): a setting
//! the bench forgets is then one Lambda would not give it either.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

#[path = "../bench/proc_stats.rs"]
mod proc_stats;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for the function at any step; a function that hangs fails the run.
const TIMEOUT: Duration = Duration::from_secs(15);
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:jobs-api-bench";

struct Options {
    program: String,
    label: String,
    out: String,
    events: Vec<String>,
    cold: usize,
    warm: usize,
    warmup: usize,
    cpu: Option<usize>,
    runner_cpu: Option<usize>,
    /// Extra function environment, for experiments (e.g. `SSL_CERT_FILE`).
    env: Vec<(String, String)>,
    one_job: bool,
}

/// The job every job-scoped event uses with `--one-job`, and who created it.
struct SharedJob {
    id: String,
    authorizer: Value,
    organization: Option<Value>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let options = parse_args()?;
    if let Some(cpu) = options.runner_cpu {
        pin_to_cpu(cpu)?;
    }
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for file in &options.events {
        match std::fs::read(file) {
            Ok(body) => events.push((event_name(file), file.clone(), Bytes::from(body))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("bench_runtime: note: {file} does not exist yet, skipped");
                skipped.push(file.clone());
            }
            Err(error) => return Err(format!("{file}: {error}").into()),
        }
    }
    let Some(first) = events.first().cloned() else {
        return Err("no event file exists".into());
    };

    let mut cold = Vec::new();
    for _ in 0..options.cold {
        let mut function = Function::start(&options).await?;
        let init = function.init().await?;
        let init_cpu_ns = function.cpu_ns();
        let answer = function.invoke(&first.2).await?;
        cold.push(json!({
            "init_us": micros(init),
            "first_response_us": micros(answer.done - function.spawned),
            "init_cpu_us": init_cpu_ns as f64 / 1e3,
            "first_response_cpu_us": function.cpu_ns() as f64 / 1e3,
            "peak_rss_kb": function.peak_rss_kb(),
            "status": answer.status,
        }));
        drop(function);
    }

    let mut warm = Vec::new();
    let mut warm_peak_rss_kb = None;
    if options.warm > 0 {
        let mut function = Function::start(&options).await?;
        function.init().await?;
        let mut shared = None;
        for (name, file, template) in &events {
            // Reads and updates need a job that exists and that their caller may see: one
            // created, unmeasured, by the create event sent as that caller.
            let one_job = options.one_job.then_some(&mut shared);
            let event = match with_callers_job(&mut function, &first.2, template, one_job).await {
                Ok(event) => event,
                Err(error) => {
                    eprintln!("bench_runtime: {name}: {error}");
                    warm.push(json!({ "name": name, "file": file, "error": error.to_string() }));
                    continue;
                }
            };
            let run = warm_run(&mut function, &event, &options).await;
            warm.push(match run {
                Ok(mut result) => {
                    result["name"] = json!(name);
                    result["file"] = json!(file);
                    result
                }
                // Recorded, not fatal: the other events still get measured.
                Err(error) => {
                    eprintln!("bench_runtime: {name}: {error}");
                    json!({ "name": name, "file": file, "error": error.to_string() })
                }
            });
        }
        warm_peak_rss_kb = function.peak_rss_kb();
        drop(function);
    }

    let report = json!({
        "label": options.label,
        "program": options.program,
        "program_bytes": std::fs::metadata(&options.program)?.len(),
        "endpoint": std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok(),
        "cpu": options.cpu,
        "extra_env": options.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "cold_event": first.1,
        "cold": cold,
        "warm": warm,
        "warm_peak_rss_kb": warm_peak_rss_kb,
        "skipped": skipped,
    });
    std::fs::write(&options.out, serde_json::to_vec(&report)?)?;
    Ok(())
}

/// `--warmup` then `--warm` invocations of one event in a running function.
async fn warm_run(
    function: &mut Function,
    event: &Bytes,
    options: &Options,
) -> Result<Value, Error> {
    let mut latencies_us = Vec::with_capacity(options.warm);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut cpu_before, mut started) = (0, Instant::now());
    for i in 0..options.warmup + options.warm {
        if i == options.warmup {
            (cpu_before, started) = (function.cpu_ns(), Instant::now());
        }
        let answer = function.invoke(event).await?;
        if i >= options.warmup {
            latencies_us.push(micros(answer.done - answer.handed));
            *statuses.entry(answer.status).or_default() += 1;
        }
    }
    Ok(json!({
        "n": options.warm,
        "latencies_us": latencies_us,
        "wall_s": started.elapsed().as_secs_f64(),
        "cpu_ns": function.cpu_ns() - cpu_before,
        "statuses": statuses,
    }))
}

// ---- one function process and its own Runtime API ---------------------------------------

/// What the Runtime API tells the driver.
enum Message {
    /// A `GET .../invocation/next` arrived.
    Next(Instant),
    /// A `POST .../invocation/{id}/response`, fully read.
    Response {
        id: String,
        at: Instant,
        body: Bytes,
    },
    /// `.../invocation/{id}/error` or `/runtime/init/error`.
    Error { path: String, body: Bytes },
}

/// One process's Runtime API. Each process gets a fresh one (its own port): a `next` a
/// killed process left pending can then never swallow the next process's event.
struct Api {
    events: Mutex<mpsc::Receiver<(String, Bytes)>>,
    /// The invocation in flight, and when its event was handed over.
    handed: StdMutex<Option<(String, Instant)>>,
    to_driver: mpsc::UnboundedSender<Message>,
}

struct Answer {
    handed: Instant,
    done: Instant,
    status: u16,
    job_id: Option<String>,
}

struct Function {
    child: Child,
    spawned: Instant,
    api: Arc<Api>,
    events: mpsc::Sender<(String, Bytes)>,
    messages: mpsc::UnboundedReceiver<Message>,
    server: tokio::task::JoinHandle<()>,
    output: Arc<StdMutex<VecDeque<String>>>,
    invocations: u64,
}

impl Function {
    async fn start(options: &Options) -> Result<Function, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (events, events_rx) = mpsc::channel(1);
        let (to_driver, messages) = mpsc::unbounded_channel();
        let api = Arc::new(Api {
            events: Mutex::new(events_rx),
            handed: StdMutex::new(None),
            to_driver,
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&api)));

        let mut command = Command::new(&options.program);
        command
            .env_clear()
            .envs(lambda_env(port))
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cpu) = options.cpu {
            // In the child before exec, so that not one instruction runs elsewhere.
            unsafe { command.pre_exec(move || pin_to_cpu(cpu).map_err(std::io::Error::other)) };
        }
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", options.program))?;
        // Drained on threads, as Lambda's log pipe would be; the tail explains a failure.
        let output = Arc::new(StdMutex::new(VecDeque::new()));
        drain(child.stdout.take().unwrap(), Arc::clone(&output));
        drain(child.stderr.take().unwrap(), Arc::clone(&output));
        Ok(Function {
            child,
            spawned,
            api,
            events,
            messages,
            server,
            output,
            invocations: 0,
        })
    }

    /// Spawn to the first `next`: the function's init phase.
    async fn init(&mut self) -> Result<Duration, Error> {
        match self.receive().await? {
            Message::Next(at) => Ok(at - self.spawned),
            Message::Error { path, body } => {
                let body = String::from_utf8_lossy(&body).into_owned();
                Err(self.failure(&format!("reported {path}: {body}")))
            }
            Message::Response { .. } => Err(self.failure("answered before asking for an event")),
        }
    }

    async fn invoke(&mut self, event: &Bytes) -> Result<Answer, Error> {
        self.invocations += 1;
        let id = format!("bench-{:08}", self.invocations);
        self.events.send((id.clone(), event.clone())).await?;
        loop {
            match self.receive().await? {
                Message::Next(_) => continue,
                Message::Response {
                    id: answered,
                    at,
                    body,
                } if answered == id => {
                    let handed = match self.api.handed.lock().unwrap().take() {
                        Some((handed_id, handed)) if handed_id == id => handed,
                        _ => return Err(self.failure("answered an event it was not given")),
                    };
                    let (status, job_id) = read_answer(&body);
                    if !(200..300).contains(&status) {
                        let body = String::from_utf8_lossy(&body).into_owned();
                        return Err(self.failure(&format!("answered {status}: {body}")));
                    }
                    return Ok(Answer {
                        handed,
                        done: at,
                        status,
                        job_id,
                    });
                }
                Message::Response { id: answered, .. } => {
                    return Err(self.failure(&format!("answered {answered}, expected {id}")));
                }
                Message::Error { path, body } => {
                    let body = String::from_utf8_lossy(&body).into_owned();
                    return Err(self.failure(&format!("reported {path}: {body}")));
                }
            }
        }
    }

    /// The next message, or an error if the process died or went silent.
    async fn receive(&mut self) -> Result<Message, Error> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let slice = Duration::from_millis(200);
            if let Ok(message) = tokio::time::timeout(slice, self.messages.recv()).await {
                return message.ok_or_else(|| self.failure("runtime API closed"));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(&format!("exited ({status})")));
            }
        }
        Err(self.failure(&format!("no answer within {TIMEOUT:?}")))
    }

    fn failure(&self, what: &str) -> Error {
        let tail: Vec<String> = self.output.lock().unwrap().iter().cloned().collect();
        format!("function {what}\n--- its last output:\n{}", tail.join("\n")).into()
    }

    fn cpu_ns(&self) -> u64 {
        proc_stats::cpu_ns(self.child.id())
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        proc_stats::peak_rss_kb(self.child.id())
    }
}

/// Stops the process and its Runtime API, on every path out (errors included): SIGTERM,
/// as Lambda sends at shutdown, so that a profiler wrapping the function (valgrind, see
/// bench/profile.sh) writes its output; SIGKILL if it is still there a moment later.
impl Drop for Function {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which `wait` has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.abort();
    }
}

async fn serve(listener: tokio::net::TcpListener, api: Arc<Api>) {
    // Connections live in this set, so aborting the server drops them all.
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(&api);
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |request| runtime_api(Arc::clone(&api), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn runtime_api(
    api: Arc<Api>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        let _ = api.to_driver.send(Message::Next(Instant::now()));
        let Some((id, event)) = api.events.lock().await.recv().await else {
            return Ok(reply(410, Bytes::new()));
        };
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + TIMEOUT;
        *api.handed.lock().unwrap() = Some((id.clone(), Instant::now()));
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
            .header(
                "lambda-runtime-trace-id",
                "Root=1-6747e0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0",
            )
            .body(Full::new(event))
            .unwrap();
        return Ok(response);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let at = Instant::now();
    let invocation = path.strip_prefix("/2018-06-01/runtime/invocation/");
    let message = match (method, invocation.and_then(|rest| rest.rsplit_once('/'))) {
        (Method::POST, Some((id, "response"))) => Message::Response {
            id: id.to_owned(),
            at,
            body,
        },
        (Method::POST, Some((_, "error"))) => Message::Error { path, body },
        (Method::POST, None) if path == "/2018-06-01/runtime/init/error" => {
            Message::Error { path, body }
        }
        _ => {
            return Ok(reply(
                404,
                Bytes::from_static(b"{\"errorType\":\"NotFound\"}"),
            ));
        }
    };
    let _ = api.to_driver.send(message);
    Ok(reply(202, Bytes::from_static(b"{\"status\":\"OK\"}")))
}

fn reply(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap()
}

// ---- helpers ----------------------------------------------------------------------------

/// The environment Lambda gives a `provided.al2023` function (values from its
/// documentation), plus the function's own settings, credentials and endpoint, taken from
/// the runner's environment.
fn lambda_env(port: u16) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}").as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "jobs-api-bench"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/jobs-api-bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/28/[$LATEST]0123456789abcdef"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("AWS_SESSION_TOKEN", "bench-session-token"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        (
            "LD_LIBRARY_PATH",
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let passed = |name: &str| {
        name.starts_with("JOBS_")
            || name.starts_with("AWS_ENDPOINT_URL")
            || matches!(
                name,
                "RUST_LOG"
                    | "AWS_REGION"
                    | "AWS_DEFAULT_REGION"
                    | "AWS_ACCESS_KEY_ID"
                    | "AWS_SECRET_ACCESS_KEY"
            )
    };
    env.extend(std::env::vars().filter(|(name, _)| passed(name)));
    env
}

/// `event` as is if its path names no job; otherwise with that job replaced by one that
/// `create` (the create event) makes when sent as `event`'s caller: the same authorizer
/// claims and organization header. With `shared`, the job made for the first such event
/// serves every later one, sent as its creator.
async fn with_callers_job(
    function: &mut Function,
    create: &Bytes,
    event: &Bytes,
    shared: Option<&mut Option<SharedJob>>,
) -> Result<Bytes, Error> {
    let mut parsed: Value = serde_json::from_slice(event)?;
    let path = parsed["rawPath"]
        .as_str()
        .or(parsed["path"].as_str())
        .unwrap_or("");
    let Some(old_id) = path
        .split_once("/api/jobs/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|id| !id.is_empty())
    else {
        return Ok(event.clone());
    };
    let old_id = old_id.to_owned();
    if let Some(Some(job)) = &shared {
        parsed["requestContext"]["authorizer"] = job.authorizer.clone();
        if let (Some(org), Some(headers)) = (&job.organization, parsed["headers"].as_object_mut()) {
            headers.insert("x-organization-id".into(), org.clone());
        }
        return Ok(Bytes::from(parsed.to_string().replace(&old_id, &job.id)));
    }
    let mut as_caller: Value = serde_json::from_slice(create)?;
    as_caller["requestContext"]["authorizer"] = parsed["requestContext"]["authorizer"].clone();
    if let Some(org) = parsed["headers"].get("x-organization-id") {
        as_caller["headers"]["x-organization-id"] = org.clone();
    }
    let answer = function.invoke(&Bytes::from(as_caller.to_string())).await?;
    let new_id = answer
        .job_id
        .ok_or("the create event's answer names no job_id")?;
    let text = String::from_utf8_lossy(event).replace(&old_id, &new_id);
    if let Some(shared) = shared {
        *shared = Some(SharedJob {
            id: new_id,
            authorizer: parsed["requestContext"]["authorizer"].clone(),
            organization: parsed["headers"].get("x-organization-id").cloned(),
        });
    }
    Ok(Bytes::from(text))
}

/// The HTTP status of an API Gateway response, and the `job_id` its body names, if any.
/// A stream function's answer (`batchItemFailures`) counts as 200 when it names no failed
/// record, 500 otherwise.
fn read_answer(body: &[u8]) -> (u16, Option<String>) {
    let Ok(response) = serde_json::from_slice::<Value>(body) else {
        return (0, None);
    };
    if let Some(failures) = response["batchItemFailures"].as_array() {
        return (if failures.is_empty() { 200 } else { 500 }, None);
    }
    let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
    let job_id = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b["job_id"].as_str().map(str::to_owned));
    (status, job_id)
}

fn event_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.split('.').next().unwrap_or(base).to_owned()
}

fn drain(stream: impl Read + Send + 'static, tail: Arc<StdMutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut tail = tail.lock().unwrap();
            if tail.len() == 20 {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}

fn pin_to_cpu(cpu: usize) -> Result<(), Error> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_setaffinity only reads it.
    let result = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if result != 0 {
        return Err(format!(
            "cannot pin to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        )
        .into());
    }
    Ok(())
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn parse_args() -> Result<Options, Error> {
    let mut options = Options {
        program: String::new(),
        label: String::new(),
        out: String::new(),
        events: Vec::new(),
        cold: 0,
        warm: 0,
        warmup: 20,
        cpu: None,
        runner_cpu: None,
        env: Vec::new(),
        one_job: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--program" => options.program = value,
            "--label" => options.label = value,
            "--out" => options.out = value,
            "--event" => options.events.push(value),
            "--cold" => options.cold = value.parse()?,
            "--warm" => options.warm = value.parse()?,
            "--warmup" => options.warmup = value.parse()?,
            "--cpu" => options.cpu = Some(value.parse()?),
            "--runner-cpu" => options.runner_cpu = Some(value.parse()?),
            "--one-job" => options.one_job = value.parse()?,
            "--env" => {
                let (key, value) = value.split_once('=').ok_or("--env takes KEY=VALUE")?;
                options.env.push((key.to_owned(), value.to_owned()));
            }
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    if options.program.is_empty() || options.out.is_empty() || options.events.is_empty() {
        return Err("--program, --out and at least one --event are required".into());
    }
    Ok(options)
}
