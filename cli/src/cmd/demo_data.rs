//! The demo's sample data: bundled Loghub slices plus generated service logs.
//!
//! Everything is deterministic (a fixed-seed generator), so the demo prints the same
//! figures on every machine. The hour covered starts at 2026-01-01T00:00:00Z.

use logjar::{entry::StreamEntries, Entry, Labels};

/// Start of the demo hour: 2026-01-01T00:00:00Z in Unix nanoseconds.
pub const START_NS: i64 = 1_767_225_600_000_000_000;
/// Length of the demo data in nanoseconds (one hour).
pub const SPAN_NS: i64 = 3_600_000_000_000;

/// The bundled Loghub slices: (system name, file contents).
const LOGHUB: [(&str, &str); 16] = [
    ("android", include_str!("../../demo/loghub/Android_250.log")),
    ("apache", include_str!("../../demo/loghub/Apache_250.log")),
    ("bgl", include_str!("../../demo/loghub/BGL_250.log")),
    ("hdfs", include_str!("../../demo/loghub/HDFS_250.log")),
    ("hpc", include_str!("../../demo/loghub/HPC_250.log")),
    ("hadoop", include_str!("../../demo/loghub/Hadoop_250.log")),
    (
        "healthapp",
        include_str!("../../demo/loghub/HealthApp_250.log"),
    ),
    ("linux", include_str!("../../demo/loghub/Linux_250.log")),
    ("mac", include_str!("../../demo/loghub/Mac_250.log")),
    ("openssh", include_str!("../../demo/loghub/OpenSSH_250.log")),
    (
        "openstack",
        include_str!("../../demo/loghub/OpenStack_250.log"),
    ),
    (
        "proxifier",
        include_str!("../../demo/loghub/Proxifier_250.log"),
    ),
    ("spark", include_str!("../../demo/loghub/Spark_250.log")),
    (
        "thunderbird",
        include_str!("../../demo/loghub/Thunderbird_250.log"),
    ),
    ("windows", include_str!("../../demo/loghub/Windows_250.log")),
    (
        "zookeeper",
        include_str!("../../demo/loghub/Zookeeper_250.log"),
    ),
];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// A float in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).expect("demo labels are valid")
}

/// Spreads `n` entries evenly over the demo hour with a little jitter.
fn ts_at(i: usize, n: usize, rng: &mut Rng) -> i64 {
    let step = SPAN_NS / n.max(1) as i64;
    START_NS + i as i64 * step + rng.below(step.max(1) as u64) as i64
}

/// Every demo stream with its entries.
pub fn all() -> Vec<StreamEntries> {
    let mut rng = Rng(0x5EED_1065);
    let mut out = Vec::new();
    out.extend(loghub(&mut rng));
    out.extend(api_json(&mut rng, 3000));
    out.extend(gateway_logfmt(&mut rng, 3000));
    out.extend(forwarder_processor(&mut rng, 1200));
    out
}

fn loghub(rng: &mut Rng) -> Vec<StreamEntries> {
    LOGHUB
        .iter()
        .map(|(app, text)| {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let entries = lines
                .iter()
                .enumerate()
                .map(|(i, l)| Entry::new(ts_at(i, lines.len(), rng), l.to_string()))
                .collect();
            StreamEntries {
                labels: labels(&[("app", app), ("env", "prod"), ("source", "loghub")]),
                entries,
            }
        })
        .collect()
}

fn api_json(rng: &mut Rng, n: usize) -> Vec<StreamEntries> {
    let hosts = ["node-1", "node-2", "node-3"];
    let paths = [
        "/api/v1/orders",
        "/api/v1/users",
        "/api/v1/products",
        "/health",
    ];
    let mut streams: Vec<StreamEntries> = hosts
        .iter()
        .map(|h| StreamEntries {
            labels: labels(&[("app", "api"), ("env", "prod"), ("host", h)]),
            entries: Vec::new(),
        })
        .collect();
    for i in 0..n {
        let roll = rng.below(100);
        let (level, status, msg) = match roll {
            0..=4 => ("error", 500, "upstream timeout"),
            5..=7 => ("error", 503, "connection refused"),
            8..=17 => ("warn", 429, "rate limited"),
            _ => ("info", 200, "request completed"),
        };
        let latency = 5.0 + rng.unit() * if status >= 500 { 900.0 } else { 120.0 };
        let line = format!(
            r#"{{"level":"{level}","msg":"{msg}","method":"{}","path":"{}","status":{status},"latency_ms":{latency:.1},"user":"u{}"}}"#,
            rng.pick(&["GET", "GET", "POST", "PUT"]),
            rng.pick(&paths),
            rng.below(500)
        );
        let ts = ts_at(i, n, rng);
        let s = rng.below(hosts.len() as u64) as usize;
        streams[s].entries.push(Entry::new(ts, line));
    }
    streams
}

fn gateway_logfmt(rng: &mut Rng, n: usize) -> Vec<StreamEntries> {
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        let slow = rng.below(100) < 7;
        let dur_ms = if slow {
            100.0 + rng.unit() * 900.0
        } else {
            2.0 + rng.unit() * 60.0
        };
        let status = if rng.below(100) < 3 { 502 } else { 200 };
        let line = format!(
            "level={} msg=\"request served\" method={} path={} status={status} duration={dur_ms:.1}ms bytes={}",
            if status == 200 { "info" } else { "error" },
            rng.pick(&["GET", "POST"]),
            rng.pick(&["/api/v1/orders", "/api/v1/users", "/static/app.js"]),
            200 + rng.below(50_000)
        );
        entries.push(Entry::new(ts_at(i, n, rng), line));
    }
    vec![StreamEntries {
        labels: labels(&[("app", "gateway"), ("env", "prod")]),
        entries,
    }]
}

/// The two-service scenario: `forwarder` hands files over (`Rename trigger hard link
/// <file>`), `processor` confirms 80% of them (`处理文件 <file> 成功`). The loss-rate query
/// reads 0.2 from it.
fn forwarder_processor(rng: &mut Rng, n: usize) -> Vec<StreamEntries> {
    let mut fwd = Vec::with_capacity(n);
    let mut proc_ = Vec::with_capacity(n);
    for i in 0..n {
        let ts = ts_at(i, n, rng);
        let file = format!("/data/in/batch-{i:05}.csv");
        fwd.push(Entry::new(ts, format!("Rename trigger hard link {file}")));
        // Exactly 4 of every 5 files are processed, 50 ms later.
        if i % 5 != 4 {
            proc_.push(Entry::new(ts + 50_000_000, format!("处理文件 {file} 成功")));
        }
    }
    vec![
        StreamEntries {
            labels: labels(&[("app", "forwarder"), ("env", "prod")]),
            entries: fwd,
        },
        StreamEntries {
            labels: labels(&[("app", "processor"), ("env", "prod")]),
            entries: proc_,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_deterministic_and_complete() {
        let a = all();
        let b = all();
        assert_eq!(a, b);
        let apps: std::collections::BTreeSet<&str> =
            a.iter().filter_map(|s| s.labels.get("app")).collect();
        assert!(apps.contains("apache") && apps.contains("api") && apps.contains("processor"));
        for s in &a {
            for e in &s.entries {
                assert!(e.ts >= START_NS && e.ts < START_NS + SPAN_NS + 100_000_000);
            }
        }
        let fwd = a
            .iter()
            .find(|s| s.labels.get("app") == Some("forwarder"))
            .unwrap();
        let prc = a
            .iter()
            .find(|s| s.labels.get("app") == Some("processor"))
            .unwrap();
        assert_eq!(prc.entries.len() * 5, fwd.entries.len() * 4);
    }
}
