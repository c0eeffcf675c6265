//! One file per endpoint: its input parsing, its rules and its store calls.

pub mod create_job;
