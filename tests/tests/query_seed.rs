//! The seed scenario: a forwarder renames files and a processor reports success for
//! 80% of them; the loss-rate query must say 0.2 at every step.

mod query_support;

use logjar::query::{QueryRequest, QueryResult};
use query_support::*;

const LOSS: &str = r#"(sum(rate({app="forwarder"} |= "Rename" [1m])) - sum(rate({app="processor"} |= "成功" [1m]))) / sum(rate({app="forwarder"} |= "Rename" [1m]))"#;

/// 15 minutes, one file every 100 ms. Every fifth file is lost; the others are
/// processed 0–1.9 s later (a deterministic jitter). Both services also log noise.
fn scenario(flush: bool) -> (tempfile::TempDir, logjar::Db) {
    let mut forwarder = Vec::new();
    let mut processor = Vec::new();
    for i in 0..9000i64 {
        let ts = i * S / 10;
        let file = format!("/data/in/f{i:05}.csv");
        forwarder.push((ts, format!("Rename trigger hard link {file}")));
        if i % 7 == 0 {
            forwarder.push((ts + 1, format!("heartbeat seq={i}")));
        }
        if i % 5 != 0 {
            let delay = (i * 7919 % 20) * S / 10;
            processor.push((ts + delay, format!("处理文件 {file} 成功")));
        } else {
            processor.push((ts + S, format!("处理文件 {file} 失败")));
        }
    }
    db_with(
        &[
            (&[("app", "forwarder"), ("host", "n1")], forwarder),
            (&[("app", "processor"), ("host", "n2")], processor),
        ],
        flush,
    )
}

#[test]
fn loss_rate_is_one_fifth_at_every_step() {
    for flush in [false, true] {
        let (_d, db) = scenario(flush);
        let req = QueryRequest::range(LOSS, 60 * S, 900 * S).with_step(60 * S);
        let resp = query(&db, &req);
        let m = matrix(&resp);
        assert_eq!(m.len(), 1, "one label-less series");
        assert_eq!(m[0].0, "{}");
        assert_eq!(m[0].1.len(), 15, "a point at each of 60 s … 900 s");
        for (t, v) in &m[0].1 {
            assert!(
                (v - 0.2).abs() <= 0.02,
                "flush={flush} t={t}: loss rate {v}"
            );
        }
    }
}

#[test]
fn loss_rate_as_an_instant_query_and_loki_json() {
    let (_d, db) = scenario(true);
    let resp = query(&db, &QueryRequest::instant(LOSS, 600 * S));
    let QueryResult::Vector(v) = &resp.result else {
        panic!("{:?}", resp.result)
    };
    assert_eq!(v.len(), 1);
    assert!((v[0].value - 0.2).abs() <= 0.02, "{}", v[0].value);
    let body: serde_json::Value = serde_json::from_str(&resp.to_loki_json()).unwrap();
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"][0]["value"][0], 600);
    let value: f64 = body["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((value - 0.2).abs() <= 0.02);
}
