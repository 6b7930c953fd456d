//! Stream selectors `{a="x", b=~"y"}`, single label matchers, and label lists `(a, b)`.

use super::{PResult, Parser};
use crate::matcher::{LabelMatcher, MatchOp};
use crate::syntax::check::check_regex;
use crate::syntax::span::Span;
use crate::syntax::token::Tok;

/// Loki's own wording, so users searching for it find the explanation.
pub(crate) const EMPTY_COMPATIBLE: &str = "queries require at least one regexp or equality \
     matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not \
     meet this requirement, but app=~\".+\" will";

impl Parser<'_> {
    /// `{` matcher (`,` matcher)* `}`, refusing selectors that would match every stream.
    pub(super) fn parse_selector(&mut self) -> PResult<Vec<LabelMatcher>> {
        let open = self.expect(Tok::LBrace, "a stream selector such as {app=\"x\"}")?;
        let mut matchers = Vec::new();
        if !self.at(&Tok::RBrace) {
            loop {
                matchers.push(self.parse_matcher()?);
                if self.at(&Tok::Comma) {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RBrace, "\",\" or \"}\"")?;
        if matchers.iter().all(LabelMatcher::matches_empty) {
            return Err(self.error(self.span_from(open.span), EMPTY_COMPATIBLE));
        }
        Ok(matchers)
    }

    /// `name op "value"` with `op` one of `= != =~ !~`.
    pub(super) fn parse_matcher(&mut self) -> PResult<LabelMatcher> {
        let (name, _) = self.expect_ident("a label name")?;
        let op = match self.peek().kind {
            Tok::Eq => MatchOp::Eq,
            Tok::Neq => MatchOp::Neq,
            Tok::Re => MatchOp::Re,
            Tok::Nre => MatchOp::Nre,
            _ => return Err(self.err_expected("one of =, !=, =~, !~")),
        };
        self.bump();
        let (value, span) = self.expect_string("a string in double quotes or backticks")?;
        self.make_matcher(name, op, value, span)
    }

    /// Builds a matcher, reporting a bad regex at `span` (the value's position).
    pub(super) fn make_matcher(
        &self,
        name: String,
        op: MatchOp,
        value: String,
        span: Span,
    ) -> PResult<LabelMatcher> {
        if matches!(op, MatchOp::Re | MatchOp::Nre) {
            check_regex(&value).map_err(|m| self.error(span, m))?;
        }
        LabelMatcher::new(name, op, value).map_err(|e| {
            let msg = e.message.replace('\n', " ");
            self.error(span, format!("invalid regex {:?}: {msg}", e.pattern))
        })
    }

    /// `(` [name (`,` name)*] `)`: the labels of `by`, `without`, `on`, `ignoring`,
    /// `group_left`, `group_right`.
    pub(super) fn parse_label_list(&mut self) -> PResult<Vec<String>> {
        self.expect(Tok::LParen, "\"(\" starting a list of labels")?;
        let mut labels = Vec::new();
        if !self.at(&Tok::RParen) {
            loop {
                labels.push(self.expect_ident("a label name")?.0);
                if self.at(&Tok::Comma) {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "\",\" or \")\"")?;
        Ok(labels)
    }
}
