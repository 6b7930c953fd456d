//! Loki's simplification of label-filter regexes that are alternations of plain literals
//! (`=~"GET|POST|PUT"`, `=~"web-1|web-10"`).
//!
//! # Semantics notes (Loki v3 `filter.go` `RegexSimplifier`, Go `regexp/syntax` `factor`, read)
//!
//! Go's regex parser factors the common literal prefix out of consecutive branches
//! (`web-1|web-10` becomes `web-1(?:|0)`; `POST|PUT` becomes `P(?:OST|UT)`), merges runs of
//! two or more single-character branches into a character class, and collapses repeated
//! empty branches. Loki then turns the tree into literal filters: a lone literal branch is
//! an **exact** match, while a factored branch becomes one **substring** test per original
//! literal (prefix + suffix); a character class cannot be simplified, and then the whole
//! regex stays an anchored match. So `=~"web-1|web-10"` matches `"web-11"` in Loki (it
//! contains `web-1`), while `=~"info|error"` is exactly `info` or `error`.
//!
//! We reproduce this for alternations whose branches are plain literals (no flags,
//! classes or repetitions), optionally inside one group; anything else is left to the
//! anchored regex.

use regex_syntax::ast::{Ast, GroupKind};

/// One literal filter of the simplified regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leaf {
    Equal(String),
    Contains(String),
    True,
}

/// The tree Go's parser builds for an alternation of literals.
#[derive(Debug, Clone)]
enum Node {
    Lit(String),
    Empty,
    /// A character class (from merged single-character branches): not simplifiable.
    Class,
    /// A factored prefix followed by the alternation of the suffixes.
    Concat(String, Box<Node>),
    Alt(Vec<Node>),
}

/// If `re` is an alternation of plain literals, the filters Loki uses for it (any of
/// them matching means the regex matches); `None` to use the anchored regex.
pub(crate) fn simplify_literal_alternation(re: &str) -> Option<Vec<Leaf>> {
    let ast = regex_syntax::ast::parse::Parser::new().parse(re).ok()?;
    let ast = strip_group(&ast)?;
    let Ast::Alternation(alt) = ast else {
        return None;
    };
    let legs = alt
        .asts
        .iter()
        .map(literal_of)
        .collect::<Option<Vec<String>>>()?;
    let tree = factor(&legs);
    let mut out = Vec::new();
    simplify(&tree, &mut out).then_some(out)
}

fn strip_group(ast: &Ast) -> Option<&Ast> {
    match ast {
        Ast::Group(g) => match &g.kind {
            GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => strip_group(&g.ast),
            GroupKind::NonCapturing(flags) if flags.items.is_empty() => strip_group(&g.ast),
            GroupKind::NonCapturing(_) => None,
        },
        _ => Some(ast),
    }
}

fn literal_of(ast: &Ast) -> Option<String> {
    match ast {
        Ast::Empty(_) => Some(String::new()),
        Ast::Literal(l) => Some(l.c.to_string()),
        Ast::Concat(c) => c
            .asts
            .iter()
            .map(|a| match a {
                Ast::Literal(l) => Some(l.c),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn leaf(s: &str) -> Node {
    if s.is_empty() {
        Node::Empty
    } else {
        Node::Lit(s.to_string())
    }
}

fn common_prefix_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Go's `collapse(subs, OpAlternate)` for literal branches: factor common prefixes of
/// consecutive branches, merge runs of single characters into a class, collapse runs
/// of empty branches.
fn factor(legs: &[String]) -> Node {
    if legs.len() == 1 {
        return leaf(&legs[0]);
    }
    // Round 1: common literal prefixes of consecutive branches.
    let mut round1: Vec<Node> = Vec::new();
    let mut start = 0;
    let mut prefix_len = 0usize; // in chars, of legs[start]
    for i in 0..=legs.len() {
        if i < legs.len() && i > start {
            let same = common_prefix_chars(&legs[start], &legs[i]).min(prefix_len);
            if same > 0 {
                prefix_len = same;
                continue;
            }
        }
        if i > start {
            if i == start + 1 {
                round1.push(leaf(&legs[start]));
            } else {
                let prefix: String = legs[start].chars().take(prefix_len).collect();
                let suffixes: Vec<String> = legs[start..i]
                    .iter()
                    .map(|l| l.chars().skip(prefix_len).collect())
                    .collect();
                round1.push(Node::Concat(prefix, Box::new(factor(&suffixes))));
            }
        }
        start = i;
        prefix_len = legs.get(i).map_or(0, |l| l.chars().count());
    }
    // Round 3: runs of two or more single characters (or classes) become a class.
    let is_char = |n: &Node| match n {
        Node::Lit(s) => s.chars().count() == 1,
        Node::Class => true,
        _ => false,
    };
    let mut round3: Vec<Node> = Vec::new();
    let mut i = 0;
    while i < round1.len() {
        let mut j = i;
        while j < round1.len() && is_char(&round1[j]) {
            j += 1;
        }
        if j - i >= 2 {
            round3.push(Node::Class);
            i = j;
        } else {
            round3.push(round1[i].clone());
            i += 1;
        }
    }
    // Round 4: runs of empty branches collapse into one.
    let mut out: Vec<Node> = Vec::new();
    for n in round3 {
        if matches!(n, Node::Empty) && matches!(out.last(), Some(Node::Empty)) {
            continue;
        }
        out.push(n);
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Node::Empty)
    } else {
        Node::Alt(out)
    }
}

/// Loki's `Simplify(reg, isLabel=true)`; false when the tree cannot be simplified.
fn simplify(n: &Node, out: &mut Vec<Leaf>) -> bool {
    match n {
        Node::Lit(s) => {
            out.push(Leaf::Equal(s.clone()));
            true
        }
        Node::Empty => {
            out.push(Leaf::True);
            true
        }
        Node::Class => false,
        Node::Alt(items) => items.iter().all(|i| simplify(i, out)),
        Node::Concat(prefix, rest) => simplify_concat(prefix, rest, out),
    }
}

/// Loki's `simplifyConcat` for `prefix` followed by `rest` (empty matches dropped).
fn simplify_concat(prefix: &str, rest: &Node, out: &mut Vec<Leaf>) -> bool {
    match rest {
        // `prefix` alone: a substring test.
        Node::Empty => {
            out.push(Leaf::Contains(prefix.to_string()));
            true
        }
        Node::Alt(items) => items.iter().all(|alt| match alt {
            Node::Empty => {
                out.push(Leaf::Contains(prefix.to_string()));
                true
            }
            Node::Lit(s) => {
                out.push(Leaf::Contains(format!("{prefix}{s}")));
                true
            }
            Node::Concat(p2, r2) => simplify_concat(&format!("{prefix}{p2}"), r2, out),
            Node::Class | Node::Alt(_) => false,
        }),
        // A second literal (only one is allowed), or a class.
        Node::Lit(_) | Node::Class | Node::Concat(..) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(s: &str) -> Leaf {
        Leaf::Equal(s.into())
    }
    fn contains(s: &str) -> Leaf {
        Leaf::Contains(s.into())
    }

    #[test]
    fn no_common_prefix_is_exact() {
        assert_eq!(
            simplify_literal_alternation("info|error|warn"),
            Some(vec![eq("info"), eq("error"), eq("warn")])
        );
        assert_eq!(
            simplify_literal_alternation("(info|debug)"),
            Some(vec![eq("info"), eq("debug")])
        );
    }

    #[test]
    fn factored_branches_become_substring_tests() {
        assert_eq!(
            simplify_literal_alternation("GET|POST|PUT"),
            Some(vec![eq("GET"), contains("POST"), contains("PUT")])
        );
        assert_eq!(
            simplify_literal_alternation("web-1|web-10"),
            Some(vec![contains("web-1"), contains("web-10")])
        );
        assert_eq!(
            simplify_literal_alternation("bar|buzz"),
            Some(vec![contains("bar"), contains("buzz")])
        );
        assert_eq!(
            simplify_literal_alternation("abcx|abdy"),
            Some(vec![contains("abcx"), contains("abdy")])
        );
        assert_eq!(
            simplify_literal_alternation("foo|foo"),
            Some(vec![contains("foo")])
        );
    }

    #[test]
    fn classes_are_not_simplified() {
        // `ba|bc` is `b[ac]`; `a|b|foo` is `[ab]|foo`.
        assert_eq!(simplify_literal_alternation("ba|bc"), None);
        assert_eq!(simplify_literal_alternation("a|b|foo"), None);
        assert_eq!(simplify_literal_alternation("500|502|503"), None);
    }

    #[test]
    fn other_regexes_are_left_alone() {
        assert_eq!(simplify_literal_alternation("foo"), None);
        assert_eq!(simplify_literal_alternation("a.*|b"), None);
        assert_eq!(simplify_literal_alternation("(?i)a|b"), None);
        assert_eq!(simplify_literal_alternation("(?i:ab|cd)"), None);
        assert_eq!(simplify_literal_alternation("("), None);
    }
}
