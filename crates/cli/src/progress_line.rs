//! The `::progress` lines a command run by `jobsctl exec` prints, read into reports.
//!
//! `::progress processed=10 failed=+1 total=100 stage=fetch message=free text to the end`:
//! every key optional; a count with `+` is added, without it set; `message` takes the
//! rest of the line. An unknown key or a bad count makes the line not a progress line
//! (it is passed through, and a warning says why).

use jobs_client::ProgressReport;

pub const PREFIX: &str = "::progress";

/// `None`: not a progress line. `Some(Err)`: one that does not parse.
pub fn parse(line: &str) -> Option<Result<ProgressReport, String>> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(parse_fields(rest.trim_start()))
}

fn parse_fields(mut rest: &str) -> Result<ProgressReport, String> {
    let mut report = ProgressReport::default();
    while !rest.is_empty() {
        let (field, tail) = match rest.split_once(' ') {
            Some((field, tail)) => (field, tail.trim_start()),
            None => (rest, ""),
        };
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("{field:?} is not key=value"))?;
        match key {
            "message" => {
                // The rest of the line, spaces and all.
                let start = rest.find('=').map_or(rest.len(), |i| i + 1);
                report.message = Some(rest[start..].to_owned());
                break;
            }
            "stage" => report.stage = Some(value.to_owned()),
            "total" => report.total_items = Some(count(key, value)?),
            "processed" | "failed" => {
                let (set, add) = match value.strip_prefix('+') {
                    Some(n) => (None, Some(count(key, n)?)),
                    None => (Some(count(key, value)?), None),
                };
                if key == "processed" {
                    report.processed_items = set;
                    report.processed_items_increment = add;
                } else {
                    report.failed_items = set;
                    report.failed_items_increment = add;
                }
            }
            other => return Err(format!("unknown key {other:?}")),
        }
        rest = tail;
    }
    Ok(report)
}

fn count(key: &str, value: &str) -> Result<u64, String> {
    // Digits only: u64's parser would also take a sign (`processed=++1`).
    Some(value)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{key}={value:?} is not a whole number"))
}

/// Folds a later report into one not sent yet: sets win, increments add up.
pub fn merge(into: &mut ProgressReport, later: ProgressReport) {
    fn count(
        set: &mut Option<u64>,
        add: &mut Option<u64>,
        new_set: Option<u64>,
        new_add: Option<u64>,
    ) {
        if let Some(n) = new_set {
            *set = Some(n);
            *add = None;
        }
        if let Some(n) = new_add {
            *add = Some(add.unwrap_or(0).saturating_add(n));
        }
    }
    count(
        &mut into.processed_items,
        &mut into.processed_items_increment,
        later.processed_items,
        later.processed_items_increment,
    );
    count(
        &mut into.failed_items,
        &mut into.failed_items_increment,
        later.failed_items,
        later.failed_items_increment,
    );
    if later.total_items.is_some() {
        into.total_items = later.total_items;
    }
    if later.stage.is_some() {
        into.stage = later.stage;
    }
    if later.message.is_some() {
        into.message = later.message;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse_into_reports() {
        let report = parse("::progress processed=10 total=100 stage=fetch message=10 rows: ok\n")
            .unwrap()
            .unwrap();
        assert_eq!(report.processed_items, Some(10));
        assert_eq!(report.total_items, Some(100));
        assert_eq!(report.stage.as_deref(), Some("fetch"));
        assert_eq!(report.message.as_deref(), Some("10 rows: ok"));
        let report = parse("::progress failed=+2").unwrap().unwrap();
        assert_eq!(report.failed_items_increment, Some(2));
        assert!(parse("::progress").unwrap().unwrap().is_empty());
    }

    #[test]
    fn other_lines_are_not_progress_and_bad_ones_say_why() {
        assert!(parse("hello").is_none());
        assert!(parse("::progressive x=1").is_none());
        assert!(parse(" ::progress processed=1").is_none());
        let err = parse("::progress processed=ten").unwrap().unwrap_err();
        assert!(err.contains("processed"), "{err}");
        assert!(parse("::progress colour=red").unwrap().is_err());
        assert!(parse("::progress processed").unwrap().is_err());
        assert!(parse("::progress processed=++1").unwrap().is_err());
        assert!(parse("::progress total=+1").unwrap().is_err());
    }

    #[test]
    fn merged_reports_keep_the_last_set_and_add_increments() {
        let mut pending = parse("::progress processed=+2 stage=a").unwrap().unwrap();
        merge(
            &mut pending,
            parse("::progress processed=+3").unwrap().unwrap(),
        );
        assert_eq!(pending.processed_items_increment, Some(5));
        merge(
            &mut pending,
            parse("::progress processed=7 stage=b").unwrap().unwrap(),
        );
        assert_eq!(
            (pending.processed_items, pending.processed_items_increment),
            (Some(7), None)
        );
        merge(
            &mut pending,
            parse("::progress processed=+1").unwrap().unwrap(),
        );
        assert_eq!(
            (pending.processed_items, pending.processed_items_increment),
            (Some(7), Some(1))
        );
        assert_eq!(pending.stage.as_deref(), Some("b"));
    }
}
