//! What /proc says about a process: CPU time and peak RSS. Included with `#[path]`.

/// CPU time of all of `pid`'s live threads, in ns (the first field of each task's
/// `schedstat`: exact, unlike the 10 ms ticks of `/proc/PID/stat`). Threads that have
/// already exited are not counted; the functions measured here keep theirs.
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `VmHWM`: the peak resident set size so far, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
