//! Parse time of the twelve "common queries" of the LogQL inventory (target: < 5 µs each).
//!
//! `cargo bench -p logjar-benches --bench logql_parse`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use logjar_logql::syntax::parse;

/// The benchmark and demo set, in the inventory's order.
const COMMON_QUERIES: [(&str, &str); 12] = [
    ("01_selector", r#"{app="apache"}"#),
    ("02_line_filter", r#"{env="prod"} |= "error""#),
    (
        "03_regex_filter",
        r#"{env="prod"} |~ "(?i)timeout|refused""#,
    ),
    ("04_json_status", r#"{app="api"} | json | status >= 500"#),
    (
        "05_line_format",
        r#"{app="api"} | json | line_format "{{.msg}}""#,
    ),
    (
        "06_sum_count_over_time",
        r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#,
    ),
    ("07_sum_rate", r#"sum by (app) (rate({env="prod"}[1m]))"#),
    (
        "08_sum_rate_filter",
        r#"sum(rate({env="prod"} |= "error" [5m]))"#,
    ),
    (
        "09_topk_bytes",
        r#"topk(5, sum by (host) (bytes_over_time({env="prod"}[5m])))"#,
    ),
    (
        "10_logfmt_duration",
        r#"{app="gateway"} | logfmt | duration > 100ms"#,
    ),
    (
        "11_quantile_unwrap",
        r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)"#,
    ),
    (
        "12_binary_ratio",
        r#"(sum(rate({app="forwarder"} |= "Rename" [1m])) - sum(rate({app="processor"} |= "成功" [1m]))) / sum(rate({app="forwarder"} |= "Rename" [1m]))"#,
    ),
];

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("logql_parse");
    for (name, query) in COMMON_QUERIES {
        // Fail loudly rather than time an error path.
        if let Err(e) = parse(query) {
            panic!("{}", e.render(query));
        }
        group.bench_function(name, |b| b.iter(|| parse(black_box(query))));
    }
    group.finish();
}

fn bench_print(c: &mut Criterion) {
    let query = COMMON_QUERIES[11].1;
    let ast = parse(query).unwrap_or_else(|e| panic!("{}", e.render(query)));
    c.bench_function("logql_print/12_binary_ratio", |b| {
        b.iter(|| black_box(&ast).to_string())
    });
}

criterion_group!(benches, bench_parse, bench_print);
criterion_main!(benches);
