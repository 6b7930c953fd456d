//! Searching a decoded block's lines in one pass for what every line a query keeps must
//! hold, so that only the picked lines go through the pipeline (log and metric queries).

use logjar_logql::eval::pipeline::LineFilters;

use crate::db::EntryBatch;

/// What every line a pipeline keeps must hold, searched for over a whole block's lines
/// in one pass ([`EntryBatch::lines_containing`], [`EntryBatch::lines_matching`]): the
/// longest required literal of the leading line filters, else their first
/// block-searchable regex (`|~ "(?i)timeout|refused"`). Only lines the search picks are
/// run through the pipeline, whose own line filters then decide.
pub(crate) enum LineSearch<'a> {
    Literal(Box<memchr::memmem::Finder<'a>>),
    Regex(&'a regex::bytes::Regex),
}

impl<'a> LineSearch<'a> {
    pub fn new(prefix: &'a LineFilters) -> Option<Self> {
        if let Some(lit) = prefix.required_literal() {
            return Some(LineSearch::Literal(Box::new(memchr::memmem::Finder::new(
                lit,
            ))));
        }
        prefix.required_regex().map(LineSearch::Regex)
    }

    /// The run indexes (ascending) of `b`'s entries that may pass, into `out`.
    pub fn pick(&self, b: &EntryBatch<'_>, out: &mut Vec<u32>) {
        match self {
            LineSearch::Literal(f) => b.lines_containing(f, out),
            LineSearch::Regex(re) => b.lines_matching(re, out),
        }
    }
}

/// Whether searching a block's lines ([`LineSearch`]) pays: it does when few lines hold
/// what is searched for (most are skipped without running the pipeline); when most do,
/// the search only adds a pass, as every candidate line is tested again by the
/// pipeline's line filters. Decided per stream from the previous block.
#[derive(Debug, Default)]
pub(crate) struct SearchScan {
    dense: bool,
}

impl SearchScan {
    /// Whether to search the next block.
    pub fn worth_it(&self) -> bool {
        !self.dense
    }

    /// Records a block of `len` entries: `searched` with `hits` candidate lines, or not
    /// searched with `kept` entries the pipeline kept (at most those the search would pick).
    pub fn observe(&mut self, searched: bool, hits: usize, kept: usize, len: usize) {
        let found = if searched { hits } else { kept };
        self.dense = found * 4 > len;
    }
}
