//! Prometheus text exposition of a scanner's counters. Labels are fixed (scanner set,
//! engine, verdict), so cardinality stays bounded whatever the traffic.

use std::fmt::Write as _;

use crate::metrics::{LATENCY_BUCKETS_MS, MetricsSnapshot};

/// Writes the `# HELP`/`# TYPE` lines of every series once.
pub fn write_headers(out: &mut String) {
    let families = [
        ("rampart_av_scans_total", "counter", "Scans by verdict."),
        (
            "rampart_av_engine_requests_total",
            "counter",
            "Scans sent to an engine.",
        ),
        (
            "rampart_av_engine_errors_total",
            "counter",
            "Engine exchanges that failed.",
        ),
        (
            "rampart_av_cache_hits_total",
            "counter",
            "Scans answered from the verdict cache.",
        ),
        (
            "rampart_av_signature_changes_total",
            "counter",
            "New engine signatures seen (cached verdicts dropped).",
        ),
        ("rampart_av_scan_seconds", "histogram", "Scan latency."),
    ];
    for (name, kind, help) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
}

/// Writes the samples of one scanner, labelled `scanner="<set>"`.
pub fn write_samples(out: &mut String, scanner: &str, m: &MetricsSnapshot) {
    let verdicts = [
        ("clean", m.clean),
        ("infected", m.infected),
        ("oversize", m.oversize),
        ("refused", m.refused),
        ("error", m.errors),
    ];
    for (verdict, n) in verdicts {
        let _ = writeln!(
            out,
            "rampart_av_scans_total{{scanner=\"{scanner}\",verdict=\"{verdict}\"}} {n}"
        );
    }
    for (engine, e) in [("clamd", m.clamd), ("icap", m.icap)] {
        let labels = format!("scanner=\"{scanner}\",engine=\"{engine}\"");
        let _ = writeln!(
            out,
            "rampart_av_engine_requests_total{{{labels}}} {}",
            e.requests
        );
        let _ = writeln!(
            out,
            "rampart_av_engine_errors_total{{{labels}}} {}",
            e.errors
        );
        let _ = writeln!(
            out,
            "rampart_av_cache_hits_total{{{labels}}} {}",
            e.cache_hits
        );
        let _ = writeln!(
            out,
            "rampart_av_signature_changes_total{{{labels}}} {}",
            e.signature_changes
        );
    }
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
        cumulative += m.latency_buckets.get(i).copied().unwrap_or(0);
        let le = *bound as f64 / 1000.0;
        let _ = writeln!(
            out,
            "rampart_av_scan_seconds_bucket{{scanner=\"{scanner}\",le=\"{le}\"}} {cumulative}"
        );
    }
    let count: u64 = m.latency_buckets.iter().sum();
    let _ = writeln!(
        out,
        "rampart_av_scan_seconds_bucket{{scanner=\"{scanner}\",le=\"+Inf\"}} {count}"
    );
    let sum = m.latency_micros_sum as f64 / 1e6;
    let _ = writeln!(
        out,
        "rampart_av_scan_seconds_sum{{scanner=\"{scanner}\"}} {sum}"
    );
    let _ = writeln!(
        out,
        "rampart_av_scan_seconds_count{{scanner=\"{scanner}\"}} {count}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let mut m = MetricsSnapshot {
            clean: 3,
            latency_micros_sum: 7_500,
            latency_buckets: vec![0; LATENCY_BUCKETS_MS.len() + 1],
            ..MetricsSnapshot::default()
        };
        m.latency_buckets[0] = 1;
        m.latency_buckets[2] = 2;
        let mut out = String::new();
        write_headers(&mut out);
        write_samples(&mut out, "all", &m);
        assert!(out.contains("rampart_av_scans_total{scanner=\"all\",verdict=\"clean\"} 3"));
        assert!(out.contains("rampart_av_scan_seconds_bucket{scanner=\"all\",le=\"0.001\"} 1"));
        assert!(out.contains("rampart_av_scan_seconds_bucket{scanner=\"all\",le=\"0.005\"} 3"));
        assert!(out.contains("rampart_av_scan_seconds_bucket{scanner=\"all\",le=\"+Inf\"} 3"));
        assert!(out.contains("rampart_av_scan_seconds_sum{scanner=\"all\"} 0.0075"));
    }
}
