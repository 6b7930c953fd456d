//! Label index lookups: resolving matchers to stream ids over postings bitmaps.
//!
//! 10 000 streams by default (`LOGJAR_BENCH_STREAMS` for more).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use logjar::index::LabelIndex;
use logjar::{LabelMatcher, Labels, MatchOp};

fn build(n: usize) -> LabelIndex {
    let mut ix = LabelIndex::new();
    for i in 0..n {
        let labels = Labels::new([
            ("app", format!("app-{}", i % 40)),
            ("host", format!("node-{}", i % 250)),
            ("env", ["prod", "staging", "dev"][i % 3].to_string()),
            ("pod", format!("pod-{i}")),
        ])
        .expect("labels");
        ix.get_or_insert(&labels);
    }
    ix
}

fn index(c: &mut Criterion) {
    let n = std::env::var("LOGJAR_BENCH_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let ix = build(n);
    let m = |name: &str, op, v: &str| LabelMatcher::new(name, op, v).expect("matcher");
    let cases: Vec<(&str, Vec<LabelMatcher>)> = vec![
        ("eq", vec![m("app", MatchOp::Eq, "app-7")]),
        (
            "eq_and_neq",
            vec![
                m("app", MatchOp::Eq, "app-7"),
                m("env", MatchOp::Neq, "prod"),
            ],
        ),
        (
            "regex_alternation",
            vec![m("app", MatchOp::Re, "app-1|app-2|app-3")],
        ),
        (
            "regex_prefix_many_values",
            vec![m("pod", MatchOp::Re, "pod-1.*")],
        ),
        (
            "not_regex",
            vec![
                m("host", MatchOp::Nre, "node-1.*"),
                m("env", MatchOp::Eq, "dev"),
            ],
        ),
        (
            "empty_matches_missing",
            vec![m("app", MatchOp::Eq, "app-3"), m("team", MatchOp::Eq, "")],
        ),
    ];
    let mut g = c.benchmark_group(format!("index_select_{n}_streams"));
    for (name, ms) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(ix.select(ms, ix.len())).len())
        });
    }
    g.finish();
    c.bench_function("index_lookup_labels", |b| {
        let l = Labels::new([
            ("app", "app-7"),
            ("host", "node-7"),
            ("env", "dev"),
            ("pod", "pod-7"),
        ])
        .expect("labels");
        b.iter(|| black_box(ix.lookup(&l)))
    });
}

criterion_group!(benches, index);
criterion_main!(benches);
