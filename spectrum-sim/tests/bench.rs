//! Load mode, small: the report has throughput, percentiles and memory.

mod common;

use std::time::Duration;

use common::{echo, run_within, sim, texts};

/// The number after `prefix` on the line starting with it.
fn figure(stdout: &str, prefix: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"));
    line[prefix.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn reports_throughput_latency_and_memory() {
    let out = run_within(
        sim().arg("bench").arg(echo()).args([
            "--users",
            "3",
            "--messages",
            "200",
            "--concurrency",
            "16",
        ]),
        Duration::from_secs(120),
    );
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("messages: 200 echoed in "), "{stdout}");
    assert!(figure(&stdout, "throughput: ") > 0.0, "{stdout}");
    assert!(stdout.contains(" messages/s"), "{stdout}");
    let mut previous = 0.0;
    for p in [
        "latency p50: ",
        "latency p90: ",
        "latency p99: ",
        "latency max: ",
    ] {
        let ms = figure(&stdout, p);
        assert!(
            ms > 0.0 && ms >= previous,
            "{p}{ms} after {previous}:\n{stdout}"
        );
        previous = ms;
    }
    assert!(figure(&stdout, "memory peak (VmHWM): ") > 0.0, "{stdout}");
    assert!(stdout.contains("# backend exited with code 0"), "{stdout}");
}

#[test]
fn a_backend_that_cannot_start_fails_the_bench() {
    let out = run_within(
        sim().args([
            "bench",
            "/nonexistent/backend",
            "--users",
            "1",
            "--messages",
            "1",
        ]),
        Duration::from_secs(60),
    );
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot run /nonexistent/backend"),
        "{stderr}"
    );
}
