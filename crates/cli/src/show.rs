//! Text for people: a job, a status line, a table of jobs, an issue, durations.

use std::fmt::Write as _;
use std::time::Duration;

use jobs_client::{JobIssue, JobResponse, JobStatusResponse, Object};
use serde_json::Value;

pub fn job(job: &JobResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "job_id:        {}", job.job_id);
    let _ = writeln!(out, "type:          {}", job.job_type);
    let _ = writeln!(out, "status:        {}", job.status);
    let _ = writeln!(
        out,
        "progress:      {:.2}%  processed {} · failed {} · warned {} / total {}",
        job.progress_percentage,
        job.processed_items,
        job.failed_items,
        job.warned_items,
        job.total_items
    );
    let _ = writeln!(out, "success rate:  {:.2}%", job.success_rate);
    if let Some(stage) = job.stage() {
        let _ = writeln!(out, "stage:         {stage}");
    }
    if let Some(message) = job.last_message() {
        let _ = writeln!(out, "last message:  {message}");
    }
    let _ = writeln!(
        out,
        "triggered by:  {}",
        or_dash(job.triggered_by.as_deref())
    );
    let _ = writeln!(out, "created:       {}", job.created_at);
    let _ = writeln!(out, "started:       {}", or_dash(job.started_at));
    let _ = writeln!(out, "ended:         {}", or_dash(job.completed_at));
    if let Some(seconds) = job.duration_seconds {
        let _ = writeln!(out, "duration:      {}", duration(seconds));
    }
    if let Some(message) = &job.error_message {
        let _ = writeln!(out, "error message: {message}");
    }
    let rest: Object = job
        .metadata
        .iter()
        .filter(|(k, _)| *k != "stage" && *k != "last_message")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "metadata:      {}", Value::Object(rest));
    }
    for (title, list) in [("errors", &*job.errors), ("warnings", &*job.warnings)] {
        if !list.is_empty() {
            let _ = writeln!(out, "{title} (latest {}):", list.len());
            for item in list {
                let _ = writeln!(out, "  {}", issue(item));
            }
        }
    }
    out
}

fn or_dash(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".into(), |value| value.to_string())
}

pub fn status(s: &JobStatusResponse) -> String {
    format!(
        "{} {} {:.2}% processed={} failed={} warned={} total={} updated_at={}",
        s.job_id,
        s.status,
        s.progress_percentage,
        s.processed_items,
        s.failed_items,
        s.warned_items,
        s.total_items,
        s.updated_at
    )
}

pub fn issue(item: &JobIssue) -> String {
    let mut line = format!(
        "{} {}/{} {}: {}",
        item.timestamp, item.entity_type, item.entity_key, item.error_type, item.message
    );
    if let Some(step) = &item.step {
        let _ = write!(line, " (step {step})");
    }
    if let Some(details) = &item.details {
        let _ = write!(line, " {}", Value::Object(details.clone()));
    }
    line
}

/// A table with a header, columns as wide as their widest cell.
pub fn table(jobs: &[JobResponse]) -> String {
    let header = [
        "JOB_ID",
        "TYPE",
        "STATUS",
        "PROGRESS",
        "PROCESSED",
        "FAILED",
        "WARNED",
        "TOTAL",
        "CREATED",
    ];
    let rows: Vec<[String; 9]> = jobs
        .iter()
        .map(|j| {
            [
                j.job_id.to_string(),
                j.job_type.to_string(),
                j.status.to_string(),
                format!("{:.2}%", j.progress_percentage),
                j.processed_items.to_string(),
                j.failed_items.to_string(),
                j.warned_items.to_string(),
                j.total_items.to_string(),
                j.created_at.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `1h02m`, `3m05s`, `4.2s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    let whole = seconds.round() as u64;
    if whole >= 3600 {
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    } else if whole >= 60 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1}s")
    }
}

pub fn eta(wait: Option<Duration>) -> String {
    wait.map(|d| duration(d.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(4.24), "4.2s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3725.0), "1h02m");
        assert_eq!(duration(-1.0), "-");
        assert_eq!(eta(None), "-");
    }
}
