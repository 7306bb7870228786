//! The metrics every Prometheus client library exports: `doorman_build_info`
//! and, on Linux, the `process_*` family, read from `/proc/self` at scrape
//! time only (nothing runs between scrapes).

use std::fmt::Write as _;

/// Appends `doorman_build_info` and (on Linux) the `process_*` metrics.
pub fn render(out: &mut String) {
    out.push_str("# HELP doorman_build_info Always 1; the version is a label.\n");
    out.push_str("# TYPE doorman_build_info gauge\n");
    let _ = writeln!(
        out,
        "doorman_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    #[cfg(target_os = "linux")]
    linux::render(out);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fmt::Write as _;

    /// Clock ticks per second and page size: fixed at 100 and 4096 on the
    /// Linux platforms doorman builds for (no libc call needed).
    const TICKS: f64 = 100.0;
    const PAGE: u64 = 4096;

    fn gauge(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }

    /// The fields of /proc/self/stat after the command name (field 3 on).
    fn stat() -> Option<Vec<u64>> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = &text[text.rfind(')')? + 2..];
        Some(
            rest.split_whitespace()
                .skip(1)
                .map(|f| f.parse().unwrap_or(0))
                .collect(),
        )
    }

    fn boot_time() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
    }

    fn max_fds() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse().ok()
    }

    pub fn render(out: &mut String) {
        // Indices are field number − 4: utime 14, stime 15, starttime 22,
        // vsize 23, rss 24 (proc(5)).
        if let Some(f) = stat().filter(|f| f.len() > 20) {
            let cpu = (f[10] + f[11]) as f64 / TICKS;
            gauge(
                out,
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent in seconds.",
                cpu,
            );
            gauge(
                out,
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                f[19] as f64,
            );
            gauge(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                (f[20] * PAGE) as f64,
            );
            if let Some(boot) = boot_time() {
                let start = boot as f64 + f[18] as f64 / TICKS;
                gauge(
                    out,
                    "process_start_time_seconds",
                    "gauge",
                    "Start time of the process since unix epoch in seconds.",
                    start,
                );
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            gauge(
                out,
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                fds.count() as f64,
            );
        }
        if let Some(max) = max_fds() {
            gauge(
                out,
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            );
        }
    }
}
