//! Line filter stages as compiled by the pipeline, including `or` chains that mix text
//! and `ip()` values, checked against the expected keep/drop decisions.

mod pipeline_util;
use pipeline_util::*;

fn keeps(query: &str, lines: &[&str]) -> Vec<bool> {
    run(query, &[("app", "a")], lines)
        .iter()
        .map(Option::is_some)
        .collect()
}

#[test]
fn or_chains_and_negations() {
    let lines = ["error here", "warn here", "info", "ERROR caps"];
    assert_eq!(
        keeps(r#"{app="a"} |= "error" or "warn""#, &lines),
        vec![true, true, false, false]
    );
    // a negated chain keeps lines containing none of the values
    assert_eq!(
        keeps(r#"{app="a"} != "error" or "warn""#, &lines),
        vec![false, false, true, true]
    );
    assert_eq!(
        keeps(r#"{app="a"} |~ "(?i)error""#, &lines),
        vec![true, false, false, true]
    );
    assert_eq!(
        keeps(r#"{app="a"} |> "<_> here""#, &lines),
        vec![true, true, false, false]
    );
}

#[test]
fn mixed_text_and_ip_values() {
    let lines = [
        "from 10.1.2.3",
        "status ok",
        "from 192.168.1.1",
        "status failed",
    ];
    let q = r#"{app="a"} |= ip("10.0.0.0/8") or "failed""#;
    assert_eq!(keeps(q, &lines), vec![true, false, false, true]);
    let nq = r#"{app="a"} != ip("10.0.0.0/8") or "failed""#;
    assert_eq!(keeps(nq, &lines), vec![false, true, true, false]);
    assert_eq!(
        keeps(r#"{app="a"} |= ip("10.0.0.0/8")"#, &lines),
        vec![true, false, false, false]
    );
}

#[test]
fn line_filters_after_line_format_see_the_new_line() {
    let q = r#"{app="a"} | logfmt | line_format "{{.msg}}" |= "disk""#;
    assert_eq!(
        lines_of(
            q,
            &[("app", "a")],
            &[r#"msg="disk full" other=disk"#, "msg=ok other=disk"]
        ),
        vec![Some("disk full".to_string()), None]
    );
}
