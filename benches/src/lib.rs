//! Shared helpers for logjar's criterion benchmarks (the benches live in `benches/benches/`).

/// At most this many lines are used per input, to keep runs short.
pub const MAX_LINES: usize = 20_000;

/// JSON lines shaped like gen_logs.py's `api` service, used when no data file is given.
pub const JSON_SAMPLES: &[&str] = &[
    r#"{"level":"info","ts":"2026-01-01T00:00:00.027907620Z","caller":"server/handler.go:142","msg":"request completed","trace_id":"9d8ccd2dd53c4eb786a9c8687e2e3c9a","user_id":"u704","status":200,"latency_ms":19.8,"method":"POST","path":"/api/v1/payments/56224"}"#,
    r#"{"level":"error","ts":"2026-01-01T00:00:01.1Z","caller":"db/pool.go:77","msg":"query failed: connection refused","trace_id":"0a8ccd2dd53c4eb786a9c8687e2e3c9b","user_id":"u12","status":503,"latency_ms":1502.3,"method":"GET","path":"/api/v1/orders/1","error":{"kind":"timeout","retries":3}}"#,
    r#"{"level":"warn","ts":"2026-01-01T00:00:02.5Z","caller":"auth/login.go:77","msg":"slow login","trace_id":"1b8ccd2dd53c4eb786a9c8687e2e3c9c","user_id":"u9","status":401,"latency_ms":250.0,"method":"POST","path":"/api/v1/login"}"#,
];

/// logfmt lines shaped like gen_logs.py's `gateway` service, used when no data file is given.
pub const LOGFMT_SAMPLES: &[&str] = &[
    r#"level=info ts=2026-01-01T00:00:00.027Z caller=proxy/handler.go:88 msg="request served" method=GET path=/api/v1/products/98915 status=200 duration=11.5ms upstream=10.0.9.146:8080 bytes=11725 client_ip=185.205.129.135"#,
    r#"level=error ts=2026-01-01T00:00:00.045Z caller=proxy/handler.go:91 msg="upstream timeout" method=POST path=/api/v1/cart status=504 duration=30s upstream=10.0.3.2:8080 bytes=0 client_ip=10.1.2.3"#,
    r#"level=warn ts=2026-01-01T00:00:01.000Z caller=proxy/retry.go:12 msg="retrying \"cart\" call" method=POST path=/api/v1/cart status=502 duration=120ms upstream=10.0.3.9:8080 bytes=512 client_ip=172.16.0.4"#,
];

/// The `line` fields of the NDJSON file named by the environment variable `var` (at most
/// [`MAX_LINES`]), or 3,000 lines cycled from `samples` when it is unset or unreadable.
pub fn load(var: &str, samples: &[&str]) -> Vec<Vec<u8>> {
    if let Ok(path) = std::env::var(var) {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let lines: Vec<Vec<u8>> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| {
                    v.get("line")
                        .and_then(|x| x.as_str())
                        .map(|s| s.as_bytes().to_vec())
                })
                .take(MAX_LINES)
                .collect();
            if !lines.is_empty() {
                eprintln!("bench data: {} lines from {path}", lines.len());
                return lines;
            }
        }
    }
    samples
        .iter()
        .cycle()
        .take(3000)
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// Total bytes of `lines`, for criterion throughput.
pub fn total_bytes(lines: &[Vec<u8>]) -> u64 {
    lines.iter().map(|l| l.len() as u64).sum()
}
