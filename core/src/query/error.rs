//! Query errors.

use logjar_logql::ParseError;

/// Why a query failed. `Display` is written for people; the CLI prints it on stderr.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text does not parse, or breaks one of LogQL's parse-time rules.
    #[error("{message}")]
    BadQuery {
        /// One line: `parse error at line 1, col 17: …`.
        message: String,
        /// The message, the query line and a caret line under the fault.
        rendered: String,
        /// Byte offset of the fault in the query.
        position: usize,
    },
    /// The request's fields are inconsistent (end before start, bad step, bad JSON…).
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// A query limit was reached (series, entries, bytes read).
    #[error("{0}")]
    Limit(String),
    /// The query ran past its deadline.
    #[error("query timed out")]
    Timeout,
    /// The query's [`CancelToken`](super::CancelToken) was set.
    #[error("query cancelled")]
    Cancelled,
    /// Evaluation failed as it does in Loki (many-to-many matching, samples left with
    /// `__error__`, …).
    #[error("{0}")]
    Execution(String),
    /// A LogQL feature this build does not evaluate yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// Reading storage failed.
    #[error(transparent)]
    Storage(#[from] crate::Error),
}

impl QueryError {
    pub(crate) fn parse(query: &str, e: &ParseError) -> QueryError {
        QueryError::BadQuery {
            message: e.to_string(),
            rendered: e.render(query),
            position: e.position(),
        }
    }

    /// True for errors caused by the request itself (bad query, bad fields, an
    /// unsupported feature): the CLI's exit code 1, HTTP 400 in Loki.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            QueryError::BadQuery { .. }
                | QueryError::BadRequest(_)
                | QueryError::Limit(_)
                | QueryError::Execution(_)
                | QueryError::Unsupported(_)
        )
    }

    /// The text to show a person: for a bad query, the rendered caret form.
    pub fn render(&self) -> String {
        match self {
            QueryError::BadQuery { rendered, .. } => rendered.clone(),
            e => e.to_string(),
        }
    }
}
