//! `template.yaml` grants exactly the DynamoDB actions the code calls: a call added
//! without its permission, or a permission left behind, fails here (least privilege that
//! cannot drift). Reads the files as text: no AWS, no YAML parser needed.

use std::collections::BTreeSet;
use std::path::Path;

/// SDK client calls and the IAM action each needs. `transact_write_items` is authorised
/// per item action (the `put`/`update` inside it), so it needs none of its own.
const CALLS: [(&str, Option<&str>); 7] = [
    (".put_item()", Some("dynamodb:PutItem")),
    (".get_item()", Some("dynamodb:GetItem")),
    (".update_item()", Some("dynamodb:UpdateItem")),
    (".delete_item()", Some("dynamodb:DeleteItem")),
    (".query()", Some("dynamodb:Query")),
    (".batch_get_item()", Some("dynamodb:BatchGetItem")),
    (".transact_write_items()", None),
];

/// What an event source mapping needs to read a DynamoDB stream.
const STREAM_READ: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

fn sources(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_template_grants_exactly_the_dynamodb_actions_the_code_calls() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = Vec::new();
    sources(&root.join("src"), &mut code);
    let code = code.join("\n");
    let used: BTreeSet<&str> = CALLS
        .iter()
        .filter(|(call, _)| code.contains(call))
        .filter_map(|(_, action)| *action)
        .collect();
    assert!(
        code.contains(".transact_write_items()"),
        "transactions need PutItem and UpdateItem"
    );

    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let all: BTreeSet<&str> = template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter(|item| item.starts_with("dynamodb:"))
        .collect();
    // Lambda's stream mapping reads the stream with jobs-events' role: no code of ours
    // calls these, and nothing else may be granted for it.
    let (stream, granted): (BTreeSet<&str>, BTreeSet<&str>) = all
        .into_iter()
        .partition(|action| STREAM_READ.contains(action));
    assert_eq!(
        stream,
        BTreeSet::from(STREAM_READ),
        "the stream's read actions"
    );
    assert_eq!(
        granted, used,
        "template.yaml's DynamoDB actions vs the calls in src/"
    );
}

/// The lines of one resource of the template (from `  Name:` to the next resource).
fn resource_block<'a>(template: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("  {name}:");
    template
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| {
            !(line.starts_with("  ") && line.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic))
        })
        .collect()
}

#[test]
fn the_sweep_function_is_granted_exactly_what_the_sweep_calls() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let code = [read("src/sweep/mod.rs"), read("src/store/deadline.rs")].join("\n");
    let mut used: BTreeSet<&str> = CALLS
        .iter()
        .filter(|(call, _)| code.contains(call))
        .filter_map(|(_, action)| *action)
        .collect();
    if code.contains(".transact_write_items()") || code.contains(".transact(") {
        used.extend(["dynamodb:PutItem", "dynamodb:UpdateItem"]);
    }
    if code.contains(".full_items(") {
        used.insert("dynamodb:BatchGetItem");
    }
    assert!(!code.contains(".scan()"), "the sweep never scans");

    let template = read("template.yaml");
    let block = resource_block(&template, "JobsSweepFunction");
    assert!(!block.is_empty(), "template.yaml has no JobsSweepFunction");
    let granted: BTreeSet<&str> = block
        .iter()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter(|item| item.starts_with("dynamodb:"))
        .collect();
    assert_eq!(granted, used, "the sweep's DynamoDB actions vs its calls");
    assert!(
        block.iter().any(|line| line.contains("index/by_deadline")),
        "its queries are allowed on the by_deadline index only"
    );
    assert!(
        !block.iter().any(|line| line.contains("index/*")),
        "no other index"
    );
    assert!(block.iter().any(|line| line.contains("rate(1 minute)")));
}

#[test]
fn the_api_function_queries_the_list_indexes_by_name_never_by_deadline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let keys = std::fs::read_to_string(root.join("src/store/keys.rs")).unwrap();
    // Every index the store names (`pub const X_INDEX: &str = "by_…"`).
    let indexes: BTreeSet<&str> = keys
        .lines()
        .filter(|line| line.contains("_INDEX: &str"))
        .filter_map(|line| line.split('"').nth(1))
        .collect();
    assert!(indexes.contains("by_deadline"), "{indexes:?}");
    let block = resource_block(&template, "JobsFunction");
    assert!(!block.is_empty(), "template.yaml has no JobsFunction");
    let granted: BTreeSet<&str> = block
        .iter()
        .filter_map(|line| line.split_once("/index/").map(|(_, name)| name.trim()))
        .collect();
    let mut expected = indexes.clone();
    expected.remove("by_deadline");
    assert_eq!(
        granted, expected,
        "the API may query exactly the list indexes, by name (no index/*, not by_deadline)"
    );
}

#[test]
fn alarms_notify_through_a_topic_whose_key_cloudwatch_may_use() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let topic = resource_block(&template, "AlarmTopic");
    let key_line = topic
        .iter()
        .find_map(|line| line.trim().strip_prefix("KmsMasterKeyId:"))
        .map(str::trim);
    // No encryption would do too; an AWS-managed key (alias/aws/sns) would not: its
    // policy cannot be changed to let CloudWatch use it, and notifications are dropped.
    let Some(key_line) = key_line else { return };
    let key = key_line
        .strip_prefix("!Ref ")
        .or_else(|| {
            key_line
                .strip_prefix("!GetAtt ")
                .and_then(|k| k.strip_suffix(".Arn"))
        })
        .unwrap_or_else(|| panic!("AlarmTopic's key must be one of the stack's: {key_line}"));
    let key_block = resource_block(&template, key);
    assert!(
        key_block.iter().any(|l| l.trim() == "Type: AWS::KMS::Key"),
        "{key} is a customer-managed KMS key"
    );
    let text = key_block.join("\n");
    let cloudwatch = text
        .split("- Sid:")
        .find(|statement| statement.contains("Service: cloudwatch.amazonaws.com"))
        .unwrap_or_else(|| panic!("{key}'s policy has a statement for CloudWatch"));
    assert!(cloudwatch.contains("Effect: Allow"));
    for action in ["kms:Decrypt", "kms:GenerateDataKey*"] {
        assert!(
            cloudwatch.contains(&format!("- {action}")),
            "CloudWatch may {action} with {key}"
        );
    }
    for alarm_topic in template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("AlarmActions: "))
    {
        assert_eq!(
            alarm_topic, "[!Ref AlarmTopic]",
            "every alarm notifies AlarmTopic"
        );
    }
}
