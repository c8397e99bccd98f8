//! Memory figures for STATS, in KiB as Spectrum 2 expects on Linux.

use spectrum_proto::Stats;

/// Resident and shared memory of this process in KiB, from
/// `/proc/self/status` (`VmRSS`, and `RssFile + RssShmem`, which is what
/// `statm` calls shared). Zero where that file does not exist.
pub(crate) fn memory_kib() -> (i32, i32) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| status_kib(&status, name).unwrap_or(0);
    let clamp = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
    (
        clamp(field("VmRSS")),
        clamp(field("RssFile") + field("RssShmem")),
    )
}

/// A `Name:   1234 kB` line of a `/proc/<pid>/status` text, in KiB.
pub(crate) fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The STATS message: current memory, memory at start, and our PID, which
/// the main instance signals when we stop answering.
pub(crate) fn stats(init_res: i32) -> Stats {
    let (res, shared) = memory_kib();
    Stats {
        res,
        init_res,
        shared,
        id: std::process::id().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_real_figures_on_linux() {
        let (res, _shared) = super::memory_kib();
        if cfg!(target_os = "linux") {
            assert!(res > 0, "resident memory should be measurable");
        }
        assert_eq!(super::stats(7).id, std::process::id().to_string());
    }
}
