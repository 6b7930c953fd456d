//! Data-driven parser tests.
//!
//! - `corpus/valid.txt`: one query per line, optionally followed by a tab and the exact
//!   canonical form `Display` must print. Each query must parse; its printed form must
//!   parse to an equal tree and print identically again.
//! - `corpus/invalid.txt`: `query<TAB>fragment`. Each query must fail to parse with an
//!   error whose one-line message contains the fragment.
//!
//! Blank lines and lines starting with `//` are ignored. All failures are collected and
//! reported together.

use logjar_logql::syntax::parse;

const VALID: &str = include_str!("corpus/valid.txt");
const INVALID: &str = include_str!("corpus/invalid.txt");

fn cases(text: &str) -> impl Iterator<Item = (usize, &str, Option<&str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        if line.trim().is_empty() || line.starts_with("//") {
            return None;
        }
        let (query, expected) = match line.split_once('\t') {
            Some((q, e)) => (q, Some(e)),
            None => (line, None),
        };
        Some((i + 1, query, expected))
    })
}

/// Parses, prints, re-parses and re-prints `query`.
fn check_valid(query: &str, canonical: Option<&str>) -> Result<(), String> {
    let ast = parse(query).map_err(|e| format!("does not parse: {}", e.render(query)))?;
    let printed = ast.to_string();
    if let Some(want) = canonical {
        if printed != want {
            return Err(format!("prints as\n    {printed}\n  expected\n    {want}"));
        }
    }
    let again =
        parse(&printed).map_err(|e| format!("printed form {printed:?} does not parse: {e}"))?;
    if again != ast {
        return Err(format!(
            "printed form {printed:?} parses to a different tree:\n{ast:?}\nvs\n{again:?}"
        ));
    }
    let reprinted = again.to_string();
    if reprinted != printed {
        return Err(format!(
            "printing is not idempotent: {printed:?} then {reprinted:?}"
        ));
    }
    Ok(())
}

/// Expects `query` to fail with a message containing `fragment`.
fn check_invalid(query: &str, fragment: &str) -> Result<(), String> {
    match parse(query) {
        Ok(ast) => Err(format!(
            "parses (as {ast}) but should fail with {fragment:?}"
        )),
        Err(e) if e.to_string().contains(fragment) => {
            // The rendered form must show the query line and a caret.
            let rendered = e.render(query);
            if !rendered.contains('^') {
                return Err(format!("rendered error has no caret: {rendered}"));
            }
            Ok(())
        }
        Err(e) => Err(format!(
            "fails with {:?}, expected a message containing {fragment:?}",
            e.to_string()
        )),
    }
}

fn run(text: &str, file: &str, check: impl Fn(&str, Option<&str>) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for (line, query, expected) in cases(text) {
        n += 1;
        if let Err(msg) = check(query, expected) {
            failures.push(format!("{file}:{line}: {query}\n  {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    n
}

#[test]
fn valid_queries_parse_and_round_trip() {
    let n = run(VALID, "valid.txt", check_valid);
    assert!(n >= 300, "only {n} valid cases");
}

#[test]
fn invalid_queries_fail_with_the_expected_message() {
    let n = run(INVALID, "invalid.txt", |q, frag| match frag {
        Some(f) => check_invalid(q, f),
        None => Err("invalid case without an expected message fragment".into()),
    });
    assert!(n >= 100, "only {n} invalid cases");
}

#[test]
fn corpus_has_at_least_400_queries() {
    assert!(cases(VALID).count() + cases(INVALID).count() >= 400);
}

/// The checks themselves must be able to fail.
#[test]
fn harness_detects_failures() {
    assert!(check_valid("{", None).is_err());
    assert!(check_valid(r#"{a="b"}"#, Some(r#"{a="c"}"#)).is_err());
    assert!(check_valid(r#"{a="b"}"#, Some(r#"{a="b"}"#)).is_ok());
    assert!(check_invalid(r#"{a="b"}"#, "anything").is_err());
    assert!(check_invalid("{}", "no such fragment").is_err());
    assert!(check_invalid("{}", "at least one").is_ok());
}
