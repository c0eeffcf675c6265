//! The command line's grammar (clap): every subcommand, its options and examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use jobs_client::JobStatus;

#[derive(Parser, Debug)]
#[command(
    name = "jobsctl",
    version,
    about = "Create, watch and report on Jobs API jobs",
    long_about = "Create, watch and report on Jobs API jobs.\n\n\
        Every write carries an Idempotency-Key reused by its retries; 429, 503 and \
        connection failures are retried with back-off.",
    after_help = concat!("Examples:\n",
        "  export JOBS_API_URL=http://127.0.0.1:9000 JOBS_TOKEN=...   # scripts/run.sh prints this\n",
        "  JOB=$(jobsctl create --type import --total 100)\n",
        "  jobsctl exec --job $JOB -- ./import.sh leads.csv\n",
        "  jobsctl watch $JOB\n\n"),
    after_long_help = concat!("Examples:\n",
        "  export JOBS_API_URL=http://127.0.0.1:9000 JOBS_TOKEN=...   # scripts/run.sh prints this\n",
        "  JOB=$(jobsctl create --type import --total 100)\n",
        "  jobsctl exec --job $JOB -- ./import.sh leads.csv\n",
        "  jobsctl watch $JOB\n\n",
        "Exit codes:\n",
        "  0 success (watch: completed), 1 other error, 2 usage, 3 invalid (422), 4 not found,\n",
        "  5 unauthorized/forbidden, 6 conflict (409), 7 unavailable,\n",
        "  10 completed_with_warnings, 11 partial_success, 12 failed, 13 cancelled (watch)"),
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct Connection {
    /// The API's base URL (where /api/jobs lives)
    #[arg(long, global = true, env = "JOBS_API_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Bearer token
    #[arg(
        long,
        global = true,
        env = "JOBS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Organization (X-Organization-ID), when the token names several
    #[arg(long, global = true, env = "JOBS_ORGANIZATION", value_name = "ORG")]
    pub org: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a job; prints its id (the whole job with --json)
    #[command(after_help = "Examples:\n  \
        JOB=$(jobsctl create --type import --total 500)\n  \
        jobsctl create --type crawl --total 20 --metadata '{\"seed\": \"https://example.com\"}' --json\n  \
        jobsctl create --type export --total 0 --key nightly-2026-11-28   # once per key")]
    Create(CreateArgs),
    /// Show a job in full
    #[command(
        after_help = "Examples:\n  jobsctl get $JOB\n  jobsctl get $JOB --json | jq .metadata"
    )]
    Get(JobArg),
    /// Show a job's light status (one read)
    #[command(after_help = "Examples:\n  jobsctl status $JOB\n  jobsctl status $JOB --json")]
    Status(JobArg),
    /// List jobs, newest first
    #[command(after_help = "Examples:\n  \
        jobsctl ls\n  \
        jobsctl ls --status in_progress --type crawl\n  \
        jobsctl ls --all --created-after 2026-11-01T00:00:00Z --json")]
    Ls(LsArgs),
    /// Follow jobs until they end: a live bar each on a terminal, a line per change otherwise
    #[command(after_help = concat!("Examples:\n  jobsctl watch $JOB\n  jobsctl watch $JOB1 $JOB2 && echo all completed\n  jobsctl watch $JOB --plain | tee watch.log\n\n",
        "Exit codes: 0 every job completed; else the worst ending:\n",
        "  12 failed, 13 cancelled, 11 partial_success, 10 completed_with_warnings\n",
        "  (3-7 as for every command: see `jobsctl --help`)"))]
    Watch(WatchArgs),
    /// Report a job's progress (counts, stage, message, an item error or warning, start/end)
    #[command(after_help = "Examples:\n  \
        jobsctl report $JOB --start --stage fetch\n  \
        jobsctl report $JOB --processed +10 --message '10 rows loaded'\n  \
        jobsctl report $JOB --processed 400 --total 500\n  \
        jobsctl report $JOB --error row-17:'bad date' --error-type parse\n  \
        jobsctl report $JOB --warning row-18:'empty email'\n  \
        jobsctl report $JOB --complete\n  \
        jobsctl report $JOB --fail 'source unreachable'")]
    Report(ReportArgs),
    /// Cancel a job that has not ended
    #[command(after_help = "Example:\n  jobsctl cancel $JOB")]
    Cancel(JobArg),
    /// Print a job's whole error history, oldest first
    #[command(
        after_help = "Examples:\n  jobsctl errors $JOB\n  jobsctl errors $JOB --json | jq length"
    )]
    Errors(IssuesArgs),
    /// Print a job's whole warning history, oldest first
    #[command(after_help = "Example:\n  jobsctl warnings $JOB")]
    Warnings(IssuesArgs),
    /// Run a command as a job's worker: start, heartbeat, read its progress lines, end by its status
    #[command(
        long_about = "Run CMD as a job's worker.\n\n\
            Creates a job (--type, --total; with --key a rerun attaches to the same job) or \
            attaches to one (--job or JOBS_JOB_ID), marks it started, and runs CMD with \
            JOBS_JOB_ID set. While CMD runs, an empty report (a heartbeat) is sent every \
            --heartbeat seconds. CMD's output passes through, except lines of the form\n\n  \
            ::progress processed=10 failed=1 total=100 stage=fetch message=free text to the end\n\n\
            (every key optional; a count with + is added, e.g. processed=+5), which become \
            progress reports. When CMD exits 0 the job is marked completed; otherwise failed, \
            with CMD's status in error_message. `jobsctl exec` exits with CMD's status (128+N \
            when killed by signal N, 127 when it cannot be started).",
        after_help = "Examples:\n  \
            jobsctl exec --type import --total 100 -- ./import.sh leads.csv\n  \
            jobsctl exec --job $JOB --heartbeat 10 -- python3 crawl.py\n  \
            jobsctl exec --type export --key nightly-2026-11-28 -- ./export.sh"
    )]
    Exec(ExecArgs),
    /// Print a shell completion script
    #[command(after_help = "Examples:\n  \
        jobsctl completions bash > ~/.local/share/bash-completion/completions/jobsctl\n  \
        jobsctl completions zsh > ~/.zfunc/_jobsctl\n  \
        jobsctl completions fish > ~/.config/fish/completions/jobsctl.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
pub struct JobArg {
    /// The job's id
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// Print the API's JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct IssuesArgs {
    /// The job's id
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// Entries per request, 1-100 (every page is printed whatever the size)
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub page_size: u32,
    /// Print a JSON array of every entry instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Job type (e.g. enrichment, crawl, import, export, document_ingestion)
    #[arg(long = "type", value_name = "TYPE")]
    pub job_type: String,
    /// Number of items to process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub total: u64,
    /// Metadata, a JSON object
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// Who triggered it (default: the token's user)
    #[arg(long, value_name = "USER")]
    pub triggered_by: Option<String>,
    /// Idempotency-Key: the same key and request within 24 h give back the same job
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Print the whole job as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub status: Option<JobStatus>,
    #[arg(long = "type", value_name = "TYPE")]
    pub job_type: Option<String>,
    #[arg(long, value_name = "USER")]
    pub triggered_by: Option<String>,
    /// Created after this time (RFC 3339, exclusive)
    #[arg(long, value_name = "TIME")]
    pub created_after: Option<String>,
    /// Created before this time (RFC 3339, exclusive)
    #[arg(long, value_name = "TIME")]
    pub created_before: Option<String>,
    /// Page size, 1-100
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start from this page (a previous page's next cursor)
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Every page, not only the first
    #[arg(long)]
    pub all: bool,
    /// Print {"items": [...], "next_cursor": ...} instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The jobs to follow
    #[arg(value_name = "JOB_ID", required = true)]
    pub job_ids: Vec<String>,
    /// One line per change even on a terminal
    #[arg(long)]
    pub plain: bool,
    /// Longest wait between two polls of a job that does not change, in seconds
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub max_interval: f64,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// Processed items: N sets the count, +N adds to it
    #[arg(long, value_name = "N|+N", value_parser = parse_count, allow_hyphen_values = false)]
    pub processed: Option<Count>,
    /// Failed items: N sets the count, +N adds to it
    #[arg(long, value_name = "N|+N", value_parser = parse_count)]
    pub failed: Option<Count>,
    /// Set total_items
    #[arg(long, value_name = "N")]
    pub total: Option<u64>,
    /// Set metadata.stage
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Set metadata.last_message
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Record an item error (adds 1 to failed_items)
    #[arg(long, value_name = "ENTITY_KEY:MESSAGE", value_parser = parse_issue)]
    pub error: Option<(String, String)>,
    /// Record an item warning (adds 1 to warned_items)
    #[arg(long, value_name = "ENTITY_KEY:MESSAGE", value_parser = parse_issue)]
    pub warning: Option<(String, String)>,
    /// error_type of --error / --warning
    #[arg(long, value_name = "TYPE")]
    pub error_type: Option<String>,
    /// entity_type of --error / --warning (`job` means the job as a whole: not counted)
    #[arg(long, default_value = "item", value_name = "TYPE")]
    pub entity_type: String,
    /// step of --error / --warning
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,
    /// Mark the job started
    #[arg(long)]
    pub start: bool,
    /// Mark the job completed (its status follows from the counts)
    #[arg(long, conflicts_with = "fail")]
    pub complete: bool,
    /// Mark the job failed with this message
    #[arg(long, value_name = "MESSAGE")]
    pub fail: Option<String>,
    /// Print the job's status as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Attach to this job instead of creating one
    #[arg(long, env = "JOBS_JOB_ID", value_name = "JOB_ID", conflicts_with_all = ["job_type", "key"])]
    pub job: Option<String>,
    /// Create a job of this type
    #[arg(long = "type", value_name = "TYPE", required_unless_present = "job")]
    pub job_type: Option<String>,
    /// total_items of the job created
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub total: u64,
    /// metadata of the job created (a JSON object)
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// Idempotency-Key of the create: a rerun with the same key attaches to the same job
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Seconds between two heartbeats while the command runs
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub heartbeat: f64,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<PathBuf>,
}

/// A count given as `N` (set) or `+N` (add).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Set(u64),
    Add(u64),
}

pub fn parse_count(text: &str) -> Result<Count, String> {
    let (add, digits) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // Digits only: u64's parser would also take a sign ("++1", "+-").
    let n: u64 = Some(digits)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("{text:?} is not N or +N (a whole number ≥ 0)"))?;
    Ok(if add { Count::Add(n) } else { Count::Set(n) })
}

fn parse_status(text: &str) -> Result<JobStatus, String> {
    text.parse()
}

fn parse_issue(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((key, message)) if !key.is_empty() && !message.is_empty() => {
            Ok((key.to_owned(), message.to_owned()))
        }
        _ => Err(format!(
            "{text:?} is not ENTITY_KEY:MESSAGE (e.g. row-17:bad date)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn counts_and_issues_parse() {
        assert_eq!(parse_count("12"), Ok(Count::Set(12)));
        assert_eq!(parse_count("+3"), Ok(Count::Add(3)));
        for bad in ["-1", "+", "1.5", "", "++1"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_issue("row-1:bad: date"),
            Ok(("row-1".into(), "bad: date".into()))
        );
        assert!(parse_issue("nocolon").is_err());
        assert!(parse_issue(":msg").is_err());
    }

    #[test]
    fn exec_takes_everything_after_the_double_dash() {
        let cli = Cli::try_parse_from([
            "jobsctl", "exec", "--type", "import", "--", "sh", "-c", "exit 3",
        ])
        .unwrap();
        match cli.command {
            Command::Exec(args) => {
                assert_eq!(args.command.len(), 3);
                assert_eq!(args.job_type.as_deref(), Some("import"));
            }
            other => panic!("{other:?}"),
        }
    }
}
