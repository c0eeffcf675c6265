//! The subcommands that are one call (or one paged read) each.

use futures_util::{StreamExt, TryStreamExt};
use jobs_client::{
    Client, CreateJobRequest, Error, IssueInput, IssueKind, JobResponse, ListFilter, Object, Page,
    ProgressReport,
};

use crate::args::{Count, CreateArgs, IssuesArgs, JobArg, LsArgs, ReportArgs};
use crate::show;

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Protocol(format!("cannot print JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A `--metadata` argument: a JSON object, or a clear error naming the option.
pub fn parse_object(option: &str, text: Option<&str>) -> Result<Option<Object>, Error> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(Error::Config(format!("{option}: expected a JSON object"))),
        Err(e) => Err(Error::Config(format!("{option}: not JSON: {e}"))),
    }
}

pub async fn create(client: &Client, args: CreateArgs) -> Result<(), Error> {
    let request = CreateJobRequest {
        metadata: parse_object("--metadata", args.metadata.as_deref())?,
        triggered_by: args.triggered_by,
        ..CreateJobRequest::new(args.job_type, args.total)
    };
    let job = match &args.key {
        Some(key) => client.create_with_key(&request, key).await?,
        None => client.create(&request).await?,
    };
    if args.json {
        print_json(&job)
    } else {
        println!("{}", job.job_id);
        Ok(())
    }
}

pub async fn get(client: &Client, args: JobArg) -> Result<(), Error> {
    let job = client.get(&args.job_id).await?;
    if args.json {
        print_json(&job)
    } else {
        print!("{}", show::job(&job));
        Ok(())
    }
}

pub async fn status(client: &Client, args: JobArg) -> Result<(), Error> {
    let status = client.status(&args.job_id).await?;
    if args.json {
        print_json(&status)
    } else {
        println!("{}", show::status(&status));
        Ok(())
    }
}

pub async fn ls(client: &Client, args: LsArgs) -> Result<(), Error> {
    let filter = ListFilter {
        status: args.status,
        job_type: args.job_type,
        triggered_by: args.triggered_by,
        created_after: args.created_after,
        created_before: args.created_before,
        limit: args.limit,
    };
    let page: Page<JobResponse> = if args.all {
        Page {
            items: client.list(filter).try_collect().await?,
            next_cursor: None,
        }
    } else {
        client.list_page(&filter, args.cursor.as_deref()).await?
    };
    if args.json {
        return print_json(&page);
    }
    print!("{}", show::table(&page.items));
    if let Some(cursor) = &page.next_cursor {
        eprintln!("(more: --all, or --cursor {cursor})");
    }
    Ok(())
}

/// The report a `jobsctl report` asks for (pure: unit-tested below).
pub fn build_report(args: &ReportArgs) -> ProgressReport {
    let (processed, processed_add) = split(args.processed);
    let (failed, failed_add) = split(args.failed);
    let issue = |(key, message): &(String, String), default_type: &str| IssueInput {
        entity_key: key.clone(),
        entity_type: Some(args.entity_type.clone()),
        error_type: args
            .error_type
            .clone()
            .unwrap_or_else(|| default_type.into()),
        message: message.clone(),
        details: None,
        step: args.step.clone(),
    };
    ProgressReport {
        mark_started: args.start.then_some(true),
        processed_items: processed,
        processed_items_increment: processed_add,
        failed_items: failed,
        failed_items_increment: failed_add,
        total_items: args.total,
        stage: args.stage.clone(),
        message: args.message.clone(),
        error: args.error.as_ref().map(|e| issue(e, "error")),
        warning: args.warning.as_ref().map(|w| issue(w, "warning")),
        mark_completed: args.complete.then_some(true),
        mark_failed: args.fail.clone(),
        metadata_patch: None,
    }
}

fn split(count: Option<Count>) -> (Option<u64>, Option<u64>) {
    match count {
        Some(Count::Set(n)) => (Some(n), None),
        Some(Count::Add(n)) => (None, Some(n)),
        None => (None, None),
    }
}

pub async fn report(client: &Client, args: ReportArgs) -> Result<(), Error> {
    let report = build_report(&args);
    let status = client.report(&args.job_id, &report).await?;
    if args.json {
        print_json(&status)
    } else {
        println!("{}", show::status(&status));
        Ok(())
    }
}

pub async fn cancel(client: &Client, args: JobArg) -> Result<(), Error> {
    let status = client.cancel(&args.job_id).await?;
    if args.json {
        print_json(&status)
    } else {
        println!("{}", show::status(&status));
        Ok(())
    }
}

pub async fn issues(client: &Client, args: IssuesArgs, kind: IssueKind) -> Result<(), Error> {
    let mut stream = Box::pin(client.issues(&args.job_id, kind, args.page_size));
    if args.json {
        let items: Vec<_> = stream.try_collect().await?;
        return print_json(&items);
    }
    // Printed as they come: a long history shows at once.
    while let Some(item) = stream.next().await {
        println!("{}", show::issue(&item?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn report_of(args: &[&str]) -> ProgressReport {
        let mut argv = vec!["jobsctl", "report", "J"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Report(args) => build_report(&args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn report_options_become_the_report() {
        let report = report_of(&["--processed", "+5", "--failed", "2", "--stage", "load"]);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({"processed_items_increment": 5, "failed_items": 2, "stage": "load"})
        );
        let report = report_of(&["--error", "row-1:bad date", "--error-type", "parse"]);
        let error = report.error.unwrap();
        assert_eq!(
            (error.entity_key.as_str(), error.message.as_str()),
            ("row-1", "bad date")
        );
        assert_eq!(error.entity_type.as_deref(), Some("item"));
        assert_eq!(error.error_type, "parse");
        assert_eq!(
            report_of(&["--warning", "r:w"]).warning.unwrap().error_type,
            "warning"
        );
        assert!(report_of(&[]).is_empty());
        assert_eq!(report_of(&["--complete"]).mark_completed, Some(true));
        assert_eq!(
            report_of(&["--fail", "x"]).mark_failed.as_deref(),
            Some("x")
        );
        assert!(
            Cli::try_parse_from(["jobsctl", "report", "J", "--complete", "--fail", "x"]).is_err()
        );
    }

    #[test]
    fn metadata_must_be_a_json_object() {
        assert!(parse_object("--metadata", Some("[1]")).is_err());
        assert!(parse_object("--metadata", Some("{")).is_err());
        assert_eq!(
            parse_object("--metadata", Some(r#"{"a": 1}"#))
                .unwrap()
                .unwrap()
                .len(),
            1
        );
    }
}
