//! Metric queries checked against a slow, obviously correct reference evaluator that
//! rescans every entry at every step, on random data and random queries.

mod query_support;

use std::collections::BTreeMap;

use logjar::query::QueryRequest;
use proptest::prelude::*;
use query_support::*;

const MS: i64 = 1_000_000;

/// Stream selectors with a predicate over `(app, env)`.
/// Whether a stream with these `app` and `env` values matches a selector.
type Matches = fn(&str, &str) -> bool;

const SELECTORS: [(&str, Matches); 4] = [
    (r#"{app="a"}"#, |a, _| a == "a"),
    (r#"{env="prod"}"#, |_, e| e == "prod"),
    (r#"{app=~"a|b"}"#, |a, _| a == "a" || a == "b"),
    (r#"{app!="c", env=~".+"}"#, |a, _| a != "c"),
];
const OPS: [&str; 4] = ["count_over_time", "rate", "bytes_over_time", "bytes_rate"];
const RANGES: [i64; 4] = [10, 30, 60, 95];
const STEPS: [i64; 3] = [5, 15, 60];
/// Vector aggregations around the range aggregation: (prefix, suffix, grouping).
/// `(without, label)` of a `sum`, `None` for no aggregation.
type Group = Option<(bool, &'static str)>;

const AGGS: [(&str, &str, Group); 5] = [
    ("", "", None),
    ("sum(", ")", Some((false, ""))),
    ("sum by (app) (", ")", Some((false, "app"))),
    ("sum without (app) (", ")", Some((true, "app"))),
    ("sum by (env) (", ")", Some((false, "env"))),
];

#[derive(Debug, Clone)]
struct Case {
    /// (app, env) → entries (ts ns, line).
    streams: BTreeMap<(String, String), Vec<(i64, String)>>,
    selector: usize,
    op: usize,
    filter: bool,
    range_s: i64,
    step_s: i64,
    agg: usize,
    start_s: i64,
    len_s: i64,
    flush: bool,
}

/// A generated stream: app, env and entries `(time units, line length)`.
type GenStream = (&'static str, &'static str, Vec<(i64, usize)>);
/// Entries `(ts ns, line)` by `(app, env)`.
type Streams = BTreeMap<(String, String), Vec<(i64, String)>>;

/// Streams keyed by `(app, env)` from generated `(app, env, [(time units, length)])`:
/// entry `n` (counted over all streams) gets the line `n` followed by `length` x's, so
/// every line is distinct, at `time units × unit` ns.
fn numbered_streams(raw: Vec<GenStream>, unit: i64) -> Streams {
    let mut streams = Streams::new();
    let mut n = 0;
    for (app, env, entries) in raw {
        let e = streams
            .entry((app.to_string(), env.to_string()))
            .or_default();
        for (t, len) in entries {
            n += 1;
            e.push((t * unit, format!("{n}{}", "x".repeat(len))));
        }
    }
    streams
}

fn case() -> impl Strategy<Value = Case> {
    // Tenths of seconds: entries often sit exactly on window edges (whole seconds).
    let entry = (0i64..3000, 1usize..20);
    let stream = (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::sample::select(vec!["prod", "dev"]),
        prop::collection::vec(entry, 0..40),
    );
    (
        prop::collection::vec(stream, 1..6),
        (0..SELECTORS.len(), 0..OPS.len(), any::<bool>()),
        (0..RANGES.len(), 0..STEPS.len(), 0..AGGS.len()),
        (0i64..300, 0i64..200, any::<bool>()),
    )
        .prop_map(
            |(raw, (selector, op, filter), (r, st, agg), (start_s, len_s, flush))| {
                let streams = numbered_streams(raw, 100 * MS);
                Case {
                    streams,
                    selector,
                    op,
                    filter,
                    range_s: RANGES[r],
                    step_s: STEPS[st],
                    agg,
                    start_s,
                    len_s,
                    flush,
                }
            },
        )
}

impl Case {
    fn query(&self) -> String {
        let (pre, post, _) = AGGS[self.agg];
        let filter = if self.filter { r#" |= "1""# } else { "" };
        format!(
            "{pre}{}({}{filter} [{}s]){post}",
            OPS[self.op], SELECTORS[self.selector].0, self.range_s
        )
    }

    /// Per step, per stream: rescan everything.
    fn reference(&self) -> BTreeMap<String, Vec<(i64, f64)>> {
        let op = OPS[self.op];
        let (_, _, grouping) = AGGS[self.agg];
        let range = self.range_s * S;
        let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        let mut t = self.start_s * S;
        while t <= (self.start_s + self.len_s) * S {
            let mut at_step: BTreeMap<String, f64> = BTreeMap::new();
            for ((app, env), entries) in &self.streams {
                if !(SELECTORS[self.selector].1)(app, env) {
                    continue;
                }
                let mut seen = std::collections::HashSet::new();
                let (mut count, mut bytes) = (0u64, 0u64);
                for (ts, line) in entries {
                    let in_window = *ts > t - range && *ts <= t;
                    let passes = !self.filter || line.contains('1');
                    if in_window && passes && seen.insert((*ts, line.clone())) {
                        count += 1;
                        bytes += line.len() as u64;
                    }
                }
                if count == 0 {
                    continue;
                }
                let value = match op {
                    "count_over_time" => count as f64,
                    "rate" => count as f64 / self.range_s as f64,
                    "bytes_over_time" => bytes as f64,
                    _ => bytes as f64 / self.range_s as f64,
                };
                let labels = match grouping {
                    None => format!(r#"{{app="{app}", env="{env}"}}"#),
                    Some((false, "")) => "{}".to_string(),
                    Some((false, "app")) | Some((true, "env")) => format!(r#"{{app="{app}"}}"#),
                    Some(_) => format!(r#"{{env="{env}"}}"#),
                };
                *at_step.entry(labels).or_insert(0.0) += value;
            }
            for (labels, v) in at_step {
                out.entry(labels).or_default().push((t / 1_000_000_000, v));
            }
            t += self.step_s * S;
        }
        out
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_rescanning_reference(c in case()) {
        let labels: Vec<[(&str, &str); 2]> = c
            .streams
            .keys()
            .map(|(a, e)| [("app", a.as_str()), ("env", e.as_str())])
            .collect();
        let specs: Vec<StreamSpec<'_>> = labels
            .iter()
            .zip(c.streams.values())
            .map(|(l, e)| (&l[..], e.clone()))
            .collect();
        let (_d, db) = db_with(&specs, c.flush);
        let q = c.query();
        let req = QueryRequest::range(q.clone(), c.start_s * S, (c.start_s + c.len_s) * S)
            .with_step(c.step_s * S);
        let got: BTreeMap<String, Vec<(i64, f64)>> = matrix(&query(&db, &req)).into_iter().collect();
        let want = c.reference();
        prop_assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}", q
        );
        for (k, w) in &want {
            let g = &got[k];
            prop_assert_eq!(g.len(), w.len(), "{} {}", q, k);
            for (gp, wp) in g.iter().zip(w) {
                prop_assert_eq!(gp.0, wp.0, "{} {}", q, k);
                prop_assert!(close(gp.1, wp.1), "{} {} at {}: {} vs {}", q, k, gp.0, gp.1, wp.1);
            }
        }
    }
}

/// A log query: selector, optional filter, direction, limit and range.
#[derive(Debug, Clone)]
struct LogCase {
    streams: BTreeMap<(String, String), Vec<(i64, String)>>,
    selector: usize,
    filter: bool,
    /// The filter as the regex `1{1,2}` (searched over whole blocks) instead of `"1"`.
    regex: bool,
    forward: bool,
    limit: u32,
    start_s: i64,
    len_s: i64,
    flush: bool,
}

fn log_case() -> impl Strategy<Value = LogCase> {
    // Squeeze timestamps onto 30 whole seconds so that streams often share one and the
    // limit often cuts between entries with equal timestamps.
    (case(), any::<bool>(), 0u32..30, any::<bool>()).prop_map(|(c, forward, limit, regex)| {
        LogCase {
            streams: c
                .streams
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.into_iter()
                            .map(|(ts, l)| (ts / (10 * S) * S, l))
                            .collect(),
                    )
                })
                .collect(),
            selector: c.selector,
            filter: c.filter,
            regex,
            forward,
            limit,
            start_s: c.start_s % 20,
            len_s: c.len_s % 40 + 1,
            flush: c.flush,
        }
    })
}

/// Many streams (so the engine splits them over both cores and the parts cut each other
/// short), dense timestamps shared across streams, and limits beyond one checkpoint.
fn many_streams_log_case() -> impl Strategy<Value = LogCase> {
    let apps = ["a", "b", "d", "e", "f", "g", "h", "i"];
    let stream = (
        prop::sample::select(apps.to_vec()),
        prop::sample::select(vec!["prod", "dev"]),
        prop::collection::vec((0i64..60, 1usize..8), 0..120),
    );
    (
        prop::collection::vec(stream, 4..16),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (0u32..400, 0i64..20, 1i64..60),
    )
        .prop_map(
            |(raw, (filter, regex, forward, flush), (limit, start_s, len_s))| {
                let streams = numbered_streams(raw, S);
                LogCase {
                    streams,
                    selector: 3,
                    filter,
                    regex,
                    forward,
                    limit,
                    start_s,
                    len_s,
                    flush,
                }
            },
        )
}

impl LogCase {
    /// Every entry sorted the way Loki merges them, cut at `limit`, grouped by labels.
    fn reference(&self) -> BTreeMap<String, Vec<(i64, String)>> {
        let (start, end) = (self.start_s * S, (self.start_s + self.len_s) * S);
        let mut all: Vec<(i64, String, String)> = Vec::new();
        for ((app, env), entries) in &self.streams {
            if !(SELECTORS[self.selector].1)(app, env) {
                continue;
            }
            let labels = format!(r#"{{app="{app}", env="{env}"}}"#);
            for (ts, line) in entries {
                if *ts >= start && *ts < end && (!self.filter || line.contains('1')) {
                    all.push((*ts, labels.clone(), line.clone()));
                }
            }
        }
        all.sort();
        all.dedup();
        if !self.forward {
            // Newest first; ties still by label string, then lines newest-first order.
            all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
        }
        let mut out: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        for (ts, labels, line) in all.into_iter().take(self.limit as usize) {
            out.entry(labels).or_default().push((ts, line));
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn log_queries_match_the_sorting_reference(c in log_case()) {
        check_log_case(&c)?;
    }

    #[test]
    fn log_queries_over_many_streams_match_the_sorting_reference(c in many_streams_log_case()) {
        check_log_case(&c)?;
    }
}

fn check_log_case(c: &LogCase) -> Result<(), TestCaseError> {
    {
        let labels: Vec<[(&str, &str); 2]> = c
            .streams
            .keys()
            .map(|(a, e)| [("app", a.as_str()), ("env", e.as_str())])
            .collect();
        let specs: Vec<StreamSpec<'_>> = labels
            .iter()
            .zip(c.streams.values())
            .map(|(l, e)| (&l[..], e.clone()))
            .collect();
        let (_d, db) = db_with(&specs, c.flush);
        let filter = match (c.filter, c.regex) {
            (false, _) => "",
            (true, false) => r#" |= "1""#,
            (true, true) => r#" |~ "1{1,2}""#,
        };
        let q = format!("{}{filter}", SELECTORS[c.selector].0);
        let dir = if c.forward {
            logjar::Direction::Forward
        } else {
            logjar::Direction::Backward
        };
        let req = QueryRequest::range(q.clone(), c.start_s * S, (c.start_s + c.len_s) * S)
            .with_limit(c.limit)
            .with_direction(dir);
        let resp = query(&db, &req);
        let logjar::query::QueryResult::Streams(got) = &resp.result else {
            panic!("{q}: not streams")
        };
        let got: BTreeMap<String, Vec<(i64, String)>> = got
            .iter()
            .map(|s| (s.labels.to_string(), s.entries.clone()))
            .collect();
        prop_assert_eq!(
            got,
            c.reference(),
            "{} limit {} forward {}",
            q,
            c.limit,
            c.forward
        );
    }
    Ok(())
}
