//! `jobsctl` end to end: the built binary against the function under `cargo lambda watch`
//! and the local DynamoDB that `scripts/test.sh` starts (JOBS_TEST_WATCH_URL,
//! JOBS_JWT_SECRET). Every subcommand, `exec` with succeeding and failing commands, the
//! bars on a real pseudo-terminal (`script`) read back as a screen, the plain lines, and
//! readable errors with their documented exit codes.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jobs_client::{Client, JobResponse, JobStatus, JobStatusResponse, Page, ProgressReport};
use serde_json::{Value, json};

// The fault proxy of the server's tests, in front of the function here.
#[allow(dead_code)] // the DynamoDB faults are not used here
#[path = "../../../tests/it/common/proxy.rs"]
mod proxy;

const JOBS: &str = env!("CARGO_BIN_EXE_jobsctl");

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts the service")
    })
}

/// A caller of an organization of its own: its token and a client for checking.
struct Tenant {
    token: String,
}

impl Tenant {
    fn new() -> Tenant {
        let org = format!("cli-{}", uuid::Uuid::now_v7().simple());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims =
            json!({"sub": "cli-user", "organizations": [org], "iat": now, "exp": now + 900});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(env("JOBS_JWT_SECRET").as_bytes()),
        )
        .expect("a token");
        Tenant { token }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(JOBS);
        command
            .args(args)
            .env("JOBS_API_URL", env("JOBS_TEST_WATCH_URL"))
            .env("JOBS_TOKEN", &self.token)
            .env_remove("JOBS_ORGANIZATION")
            .env_remove("JOBS_JOB_ID");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running jobsctl")
    }

    /// Runs and expects success; stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "jobsctl {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("jobsctl {args:?}: {e}: {out}"))
    }

    fn create(&self, job_type: &str, total: u64) -> String {
        self.ok(&["create", "--type", job_type, "--total", &total.to_string()])
            .trim()
            .to_owned()
    }

    fn job(&self, id: &str) -> JobResponse {
        self.json(&["get", id, "--json"])
    }

    fn client(&self) -> Client {
        Client::builder(env("JOBS_TEST_WATCH_URL"))
            .token(&self.token)
            .build()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

#[test]
fn create_get_status_report_cancel() {
    let t = Tenant::new();
    let id = t.create("import", 100);
    assert_eq!(id.len(), 36, "{id}");

    let shown = t.ok(&["get", &id]);
    assert!(shown.contains(&format!("job_id:        {id}")), "{shown}");
    assert!(shown.contains("status:        pending"), "{shown}");

    let out = t.ok(&[
        "report",
        &id,
        "--start",
        "--stage",
        "fetch",
        "--processed",
        "+3",
    ]);
    assert!(out.contains("in_progress"), "{out}");
    t.ok(&[
        "report",
        &id,
        "--processed",
        "+4",
        "--message",
        "7 rows loaded",
    ]);
    let status: JobStatusResponse = t.json(&["status", &id, "--json"]);
    assert_eq!(
        (status.status, status.processed_items),
        (JobStatus::InProgress, 7)
    );
    t.ok(&[
        "report",
        &id,
        "--processed",
        "20",
        "--failed",
        "+2",
        "--total",
        "50",
    ]);
    t.ok(&[
        "report",
        &id,
        "--error",
        "row-17:bad date",
        "--error-type",
        "parse",
        "--step",
        "load",
    ]);
    t.ok(&["report", &id, "--warning", "row-18:empty email"]);
    let job = t.job(&id);
    assert_eq!(
        (
            job.processed_items,
            job.failed_items,
            job.warned_items,
            job.total_items
        ),
        (20, 3, 1, 50)
    );
    assert_eq!(
        (job.stage(), job.last_message()),
        (Some("fetch"), Some("7 rows loaded"))
    );
    assert_eq!(job.errors[0].entity_key, "row-17");
    assert_eq!(job.errors[0].error_type, "parse");
    assert_eq!(job.errors[0].step.as_deref(), Some("load"));
    assert_eq!(job.warnings[0].entity_type, "item");

    let line = t.ok(&["status", &id]);
    assert!(
        line.starts_with(&format!("{id} in_progress 46.00% processed=20 failed=3")),
        "{line}"
    );
    t.ok(&["report", &id, "--complete"]);
    assert_eq!(t.job(&id).status, JobStatus::PartialSuccess);

    let other = t.create("crawl", 5);
    t.ok(&["report", &other, "--fail", "source unreachable"]);
    let failed = t.job(&other);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some("source unreachable"));

    let third = t.create("crawl", 5);
    let out = t.ok(&["cancel", &third]);
    assert!(out.contains("cancelled"), "{out}");
    let again = t.run(&["cancel", &third]);
    assert_eq!(code(&again), 6, "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).starts_with("jobsctl: conflict: "));
}

#[test]
fn create_takes_metadata_and_a_key_and_prints_json() {
    let t = Tenant::new();
    let args = [
        "create",
        "--type",
        "export",
        "--total",
        "2",
        "--metadata",
        r#"{"n": 1E+2, "s": "x"}"#,
        "--key",
        "nightly-1",
        "--json",
    ];
    let first: JobResponse = t.json(&args);
    assert_eq!(first.metadata["n"].to_string(), "100", "numbers kept exact");
    let second: JobResponse = t.json(&args);
    assert_eq!(
        second.job_id, first.job_id,
        "the same key gives the same job"
    );
    let bad = t.run(&["create", "--type", "export", "--metadata", "[1]"]);
    assert_eq!(code(&bad), 1);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--metadata: expected a JSON object"));
}

#[test]
fn ls_filters_pages_and_prints_a_table_or_json() {
    let t = Tenant::new();
    let crawl = t.create("crawl", 1);
    let import = t.create("import", 1);
    let third = t.create("import", 1);
    t.ok(&["report", &third, "--start"]);

    let table = t.ok(&["ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("JOB_ID"), "{table}");
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[1].starts_with(&third), "newest first: {table}");

    let page: Page<JobResponse> = t.json(&["ls", "--type", "crawl", "--json"]);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].job_id, crawl);
    let page: Page<JobResponse> = t.json(&["ls", "--status", "in_progress", "--json"]);
    assert_eq!(
        page.items.iter().map(|j| &j.job_id).collect::<Vec<_>>(),
        [&third]
    );
    let page: Page<JobResponse> = t.json(&[
        "ls",
        "--triggered-by",
        "cli-user",
        "--type",
        "import",
        "--json",
    ]);
    assert_eq!(page.items.len(), 2);
    let page: Page<JobResponse> = t.json(&[
        "ls",
        "--created-after",
        "2000-01-01T00:00:00Z",
        "--created-before",
        "2100-01-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(page.items.len(), 3);

    // One job a page: without --all the first page and a cursor, with --all every one.
    let first: Page<JobResponse> = t.json(&["ls", "--limit", "1", "--json"]);
    assert_eq!(first.items.len(), 1);
    let cursor = first.next_cursor.expect("more pages");
    let next: Page<JobResponse> = t.json(&["ls", "--limit", "1", "--cursor", &cursor, "--json"]);
    assert_eq!(next.items[0].job_id, import);
    let all: Page<JobResponse> = t.json(&["ls", "--limit", "1", "--all", "--json"]);
    let ids: Vec<_> = all.items.iter().map(|j| &*j.job_id).collect();
    assert_eq!(ids, [third.as_str(), import.as_str(), crawl.as_str()]);
    assert_eq!(all.next_cursor, None);

    let bad = t.run(&["ls", "--status", "done"]);
    assert_eq!(code(&bad), 2, "a usage error: {}", text(&bad));
}

#[test]
fn errors_and_warnings_print_every_page() {
    let t = Tenant::new();
    let id = t.create("import", 10);
    for row in 0..5 {
        t.ok(&[
            "report",
            &id,
            "--error",
            &format!("row-{row}:bad row {row}"),
        ]);
    }
    t.ok(&["report", &id, "--warning", "row-9:odd"]);
    let out = t.ok(&["errors", &id, "--page-size", "2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "three pages of 2, 2, 1: {out}");
    for (row, line) in lines.iter().enumerate() {
        assert!(
            line.ends_with(&format!("item/row-{row} error: bad row {row}")),
            "{line}"
        );
    }
    let all: Vec<Value> = t.json(&["errors", &id, "--page-size", "2", "--json"]);
    assert_eq!(all.len(), 5);
    let warnings = t.ok(&["warnings", &id]);
    assert!(
        warnings.trim_end().ends_with("item/row-9 warning: odd"),
        "{warnings}"
    );
}

#[test]
fn errors_are_readable_with_their_exit_codes() {
    let t = Tenant::new();
    let invalid = t.run(&[
        "create",
        "--type",
        "nope",
        "--total",
        "1",
        "--metadata",
        r#"{"": 1}"#,
    ]);
    assert_eq!(code(&invalid), 3, "{}", text(&invalid));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.starts_with("jobsctl: invalid request\n"), "{stderr}");
    assert!(
        stderr.contains("\n  job_type: "),
        "one line per field: {stderr}"
    );
    assert!(
        stderr.contains("\n  metadata: ") || stderr.contains("\n  metadata."),
        "{stderr}"
    );

    let missing = t.run(&["get", "0190d1c0-0000-7000-8000-000000000000"]);
    assert_eq!(code(&missing), 4, "{}", text(&missing));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "jobsctl: not found: Job not found\n"
    );

    let mut anonymous = t.command(&["ls"]);
    anonymous.env("JOBS_TOKEN", "not-a-token");
    let anonymous = anonymous.output().unwrap();
    assert_eq!(code(&anonymous), 5, "{}", text(&anonymous));
    assert!(String::from_utf8_lossy(&anonymous.stderr).starts_with("jobsctl: unauthorized: "));

    let mut nowhere = t.command(&["ls"]);
    nowhere.env_remove("JOBS_API_URL");
    let nowhere = nowhere.output().unwrap();
    assert_eq!(code(&nowhere), 1);
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("JOBS_API_URL"));

    let usage = t.run(&["report", "x", "--complete", "--fail", "y"]);
    assert_eq!(code(&usage), 2);
}

/// Reports in steps while a watch runs, then ends the job as `ending` asks.
fn drive(t: &Tenant, id: &str, ending: &[&str]) {
    std::thread::sleep(Duration::from_millis(800));
    t.ok(&[
        "report",
        id,
        "--start",
        "--stage",
        "fetch",
        "--processed",
        "+30",
        "--message",
        "first batch",
    ]);
    std::thread::sleep(Duration::from_millis(1200));
    t.ok(&[
        "report",
        id,
        "--processed",
        "+60",
        "--failed",
        "+10",
        "--stage",
        "load",
        "--message",
        "last batch",
    ]);
    std::thread::sleep(Duration::from_millis(800));
    let mut args = vec!["report", id];
    args.extend_from_slice(ending);
    t.ok(&args);
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("waiting").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn watch_prints_a_line_per_change_and_exits_by_the_ending() {
    let t = Tenant::new();
    let id = t.create("crawl", 100);
    let watch = t
        .command(&["watch", &id, "--max-interval", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drive(&t, &id, &["--complete"]);
    let out = wait_with_timeout(watch, Duration::from_secs(60));
    assert_eq!(code(&out), 11, "partial_success: {}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 3, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{id} pending 0.00%")),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l
            .contains("in_progress 30.00%  processed 30 · failed 0 · warned 0 / 100")
            && l.ends_with("[fetch]  first batch")),
        "{stdout}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with(&format!(
            "{id} partial_success 100.00%  processed 90 · failed 10"
        )),
        "{last}"
    );
    assert!(last.ends_with("[load]  last batch"), "{last}");

    // Each ending has its code; several jobs exit with the worst.
    let cases: [(&[&str], i32); 4] = [
        (&["--complete"], 0),
        (&["--warning", "r:w"], 10),
        (&["--fail", "boom"], 12),
        (&[], 13),
    ];
    let mut ids = Vec::new();
    for (report, expected) in cases {
        let id = t.create("crawl", 1);
        if report.is_empty() {
            t.ok(&["cancel", &id]);
        } else {
            t.ok(&[&["report", id.as_str()][..], report].concat());
            if report[0] == "--warning" {
                t.ok(&["report", &id, "--complete"]);
            }
        }
        let out = t.run(&["watch", &id]);
        assert_eq!(code(&out), expected, "{report:?}: {}", text(&out));
        ids.push(id);
    }
    let mut all = vec!["watch"];
    all.extend(ids.iter().map(String::as_str));
    let out = t.run(&all);
    assert_eq!(code(&out), 12, "failed is the worst: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);

    let missing = t.run(&["watch", "0190d1c0-0000-7000-8000-000000000000"]);
    assert_eq!(code(&missing), 4, "{}", text(&missing));
}

/// The screen a terminal of `cols` × `rows` shows after `bytes`.
fn screen(bytes: &[u8], rows: u16, cols: u16) -> String {
    let mut parser = vt100::Parser::new(rows, cols, 0);
    parser.process(bytes);
    let lines: Vec<String> = parser
        .screen()
        .rows(0, cols)
        .map(|row| row.trim_end().to_owned())
        .collect();
    lines.join("\n").trim_end().to_owned()
}

#[test]
fn watch_draws_a_bar_on_a_terminal() {
    let t = Tenant::new();
    let id = t.create("import", 100);
    let other = t.create("crawl", 10);
    // `script` gives the watch a real pseudo-terminal; stty sets its size.
    let inner = format!("stty cols 150 rows 12; exec {JOBS} watch {id} {other} --max-interval 1");
    let mut child = Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .env("JOBS_API_URL", env("JOBS_TEST_WATCH_URL"))
        .env("JOBS_TOKEN", &t.token)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let drawn = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let drawn = drawn.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                drawn.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    t.ok(&[
        "report",
        &id,
        "--start",
        "--stage",
        "fetch",
        "--processed",
        "+30",
        "--message",
        "first batch",
    ]);
    std::thread::sleep(Duration::from_millis(1600));
    let midway = screen(&drawn.lock().unwrap(), 12, 150);
    println!("{midway}\n");
    let bar_line = midway
        .lines()
        .find(|l| l.contains(&id[28..]))
        .unwrap_or_else(|| panic!("a bar for {id}:\n{midway}"));
    assert!(
        bar_line.contains("in_progress 30.00%  processed 30 · failed 0 · warned 0 / 100"),
        "{bar_line}"
    );
    assert!(bar_line.ends_with("[fetch]  first batch"), "{bar_line}");
    let filled = bar_line.matches('█').count();
    assert!((8..=10).contains(&filled), "a bar 30% full: {bar_line}");
    std::thread::sleep(Duration::from_millis(600));
    t.ok(&[
        "report",
        &id,
        "--processed",
        "+60",
        "--failed",
        "+10",
        "--stage",
        "load",
        "--message",
        "last batch",
    ]);
    std::thread::sleep(Duration::from_millis(800));
    t.ok(&["report", &id, "--complete"]);
    t.ok(&["cancel", &other]);
    let out = wait_with_timeout(child, Duration::from_secs(60));
    reader.join().unwrap();
    assert_eq!(
        code(&out),
        13,
        "cancelled is the worst here: {}",
        text(&out)
    );
    let raw = drawn.lock().unwrap().clone();
    assert!(
        raw.windows(2).any(|w| w == b"\x1b["),
        "drawn with escape sequences"
    );
    let shown = screen(&raw, 12, 150);
    println!("{shown}");
    let bar_line = shown
        .lines()
        .find(|l| l.contains(&id[28..]))
        .unwrap_or_else(|| panic!("a bar for {id}:\n{shown}"));
    assert!(
        bar_line.starts_with(&format!("…{}", &id[28..])),
        "{bar_line}"
    );
    assert!(bar_line.contains("██████████"), "a full bar: {bar_line}");
    assert!(
        bar_line.contains("partial_success 100.00%  processed 90 · failed 10 · warned 0 / 100"),
        "{bar_line}"
    );
    assert!(
        bar_line.contains("/s  ETA -  [load]  last batch"),
        "{bar_line}"
    );
    let other_line = shown
        .lines()
        .find(|l| l.contains(&other[28..]))
        .unwrap_or_else(|| panic!("a bar for {other}:\n{shown}"));
    assert!(other_line.contains("cancelled 0.00%"), "{other_line}");
    assert!(!other_line.contains('█'), "an empty bar: {other_line}");
    // Each bar redrawn in place: every job has one line on the screen, not one per change.
    assert_eq!(shown.matches(&id[28..]).count(), 1, "{shown}");
}

/// The job `jobsctl exec` ran as (it says so on stderr).
fn exec_job(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("jobsctl: running as job "))
        .unwrap_or_else(|| panic!("no job line: {}", text(out)))
        .to_owned()
}

#[test]
fn exec_runs_a_succeeding_command_as_the_worker() {
    let t = Tenant::new();
    let script = "echo hello; \
        echo '::progress processed=4 total=10 stage=load message=four rows: ok'; \
        sleep 1.3; echo '::progress processed=+6'; echo '::progress colour=red'; echo bye";
    let out = t.run(&[
        "exec", "--type", "import", "--total", "5", "--", "sh", "-c", script,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout, "hello\n::progress colour=red\nbye\n",
        "progress lines are consumed"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("not a progress line (unknown key \"colour\")")
    );
    let job = t.job(&exec_job(&out));
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!((job.processed_items, job.total_items), (10, 10));
    assert_eq!(
        (job.stage(), job.last_message()),
        (Some("load"), Some("four rows: ok"))
    );
    assert!(job.started_at.is_some());
}

#[test]
fn exec_fails_the_job_with_a_failing_command_and_exits_with_its_status() {
    let t = Tenant::new();
    let out = t.run(&[
        "exec",
        "--type",
        "crawl",
        "--total",
        "9",
        "--",
        "sh",
        "-c",
        "echo '::progress processed=2'; echo oops >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    let job = t.job(&exec_job(&out));
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.error_message.as_deref(),
        Some("command exited with status 3")
    );
    assert_eq!(job.processed_items, 2);

    let out = t.run(&["exec", "--type", "crawl", "--", "/nonexistent/command"]);
    assert_eq!(code(&out), 127, "{}", text(&out));
    let job = t.job(&exec_job(&out));
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.error_message
            .unwrap()
            .starts_with("cannot run /nonexistent/command")
    );
}

#[test]
fn exec_attaches_heartbeats_and_stops_when_cancelled() {
    let t = Tenant::new();
    let id = t.create("export", 0);
    // The command reads its own job twice: only heartbeats move updated_at in between.
    let script =
        format!("{JOBS} status $JOBS_JOB_ID --json; sleep 1.5; {JOBS} status $JOBS_JOB_ID --json");
    let out = t.run(&[
        "exec",
        "--job",
        &id,
        "--heartbeat",
        "0.3",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: Vec<JobStatusResponse> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .map(|v| v.expect("status JSON"))
        .collect();
    assert_eq!(seen.len(), 2, "{stdout}");
    assert_eq!(seen[0].job_id, id, "JOBS_JOB_ID is the job");
    assert_eq!(seen[0].status, JobStatus::InProgress);
    assert!(
        seen[1].updated_at > seen[0].updated_at,
        "heartbeats: {seen:?}"
    );
    assert_eq!(t.job(&id).status, JobStatus::Completed);

    // A job that is not there: refused before the command runs.
    let out = t.run(&[
        "exec",
        "--job",
        "0190d1c0-0000-7000-8000-000000000000",
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // Cancelled while it runs: the command is stopped, the job stays cancelled.
    let id = t.create("export", 0);
    let child = t
        .command(&[
            "exec",
            "--job",
            &id,
            "--heartbeat",
            "0.2",
            "--",
            "sleep",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    t.ok(&["cancel", &id]);
    let out = wait_with_timeout(child, Duration::from_secs(20));
    assert_eq!(code(&out), 128 + 15, "SIGTERM: {}", text(&out));
    assert_eq!(t.job(&id).status, JobStatus::Cancelled);
}

/// A report that landed but whose answer was lost, and whose every retry then failed: the
/// client gave up, yet the increments must not be applied a second time when `exec`
/// sends them again.
#[test]
fn exec_counts_a_report_once_when_it_landed_and_the_client_gave_up() {
    let t = Tenant::new();
    let id = t.create("import", 12);
    let proxy = proxy::Proxy::start(&env("JOBS_TEST_WATCH_URL"));
    let gates = std::env::temp_dir().join(format!("jobs-exec-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir(&gates).unwrap();
    let script = "until [ -e go1 ]; do sleep 0.05; done; echo '::progress processed=+5'; \
        until [ -e go2 ]; do sleep 0.05; done; echo '::progress processed=+7'";
    let child = t
        .command(&[
            "exec",
            "--job",
            &id,
            "--heartbeat",
            "3600",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("JOBS_API_URL", proxy.url())
        .current_dir(&gates)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "waited too long for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("the job to start", &|| t.job(&id).started_at.is_some());

    // The +5 report: its first attempt is applied and its answer lost, then the five
    // retries the client allows find no connection.
    let faults = || proxy.seen().iter().filter(|s| s.fault.is_some()).count();
    proxy.arm(proxy::Fault::LoseAnswer, None, 1);
    proxy.arm(proxy::Fault::Stop, None, 5);
    std::fs::write(gates.join("go1"), "").unwrap();
    until("the client to give up", &|| faults() == 6);
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(t.job(&id).processed_items, 5, "sent again, applied once");

    std::fs::write(gates.join("go2"), "").unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&gates);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let job = t.job(&id);
    assert_eq!(job.processed_items, 12, "{}", text(&out));
    assert_eq!(job.status, JobStatus::Completed);
}

#[test]
fn completions_and_help() {
    let t = Tenant::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = t.ok(&["completions", shell]);
        assert!(
            script.contains("watch") && script.contains("exec"),
            "{shell}"
        );
        // Completions are registered for the binary's name, not the shell's `jobs` builtin.
        let registered = match shell {
            "bash" => script.contains("complete -F _jobsctl") && script.contains(" jobsctl"),
            "zsh" => script.starts_with("#compdef jobsctl"),
            _ => script.contains("complete -c jobsctl"),
        };
        assert!(registered, "{shell}:\n{script}");
        assert!(!script.contains("complete -c jobs ") && !script.contains("#compdef jobs\n"));
    }
    for command in [
        "create",
        "get",
        "status",
        "ls",
        "watch",
        "report",
        "cancel",
        "errors",
        "warnings",
        "exec",
        "completions",
    ] {
        let help = t.ok(&[command, "--help"]);
        assert!(
            help.contains("Example"),
            "{command} --help has examples:\n{help}"
        );
    }
    let help = t.ok(&["--help"]);
    assert!(help.contains("13 cancelled"), "{help}");
    assert!(help.contains("Usage: jobsctl "), "{help}");
    assert!(help.contains("$(jobsctl create "), "{help}");
}

/// The library docs/cli.md shows for a Rust worker, against the running service.
#[tokio::test(flavor = "current_thread")]
async fn the_library_streams_pages_and_watches() {
    use futures_util::{StreamExt, TryStreamExt};
    let t = Tenant::new();
    let client = t.client();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = client
            .create(&jobs_client::CreateJobRequest::new("crawl", 2))
            .await
            .unwrap();
        ids.push(job.job_id);
    }
    let filter = jobs_client::ListFilter {
        limit: Some(1),
        ..Default::default()
    };
    let listed: Vec<JobResponse> = client.list(filter).try_collect().await.unwrap();
    assert_eq!(listed.len(), 3);
    let id = ids[0].clone();
    let worker = {
        let client = client.clone();
        let id = id.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let step = ProgressReport {
                processed_items_increment: Some(1),
                ..Default::default()
            };
            client.report(&id, &step).await.unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
            client.report(&id, &step).await.unwrap();
            let done = ProgressReport {
                mark_completed: Some(true),
                ..Default::default()
            };
            client.report(&id, &done).await.unwrap();
        }
    };
    let options = jobs_client::WatchOptions {
        max_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let (seen, ()) = tokio::join!(
        client
            .watch(&id, options)
            .map(|s| s.unwrap())
            .collect::<Vec<_>>(),
        worker
    );
    let statuses: Vec<_> = seen.iter().map(|s| (s.status, s.processed_items)).collect();
    assert_eq!(statuses.first(), Some(&(JobStatus::Pending, 0)));
    assert_eq!(statuses.last(), Some(&(JobStatus::Completed, 2)));
    assert!(
        statuses.contains(&(JobStatus::InProgress, 1)),
        "{statuses:?}"
    );
}
