//! LogQL parser: arbitrary input never panics, and every query that parses prints to
//! canonical LogQL that parses back to the same tree and prints identically.
//!
//! Run: `cargo fuzz run parse -- -dict=dict/logql.dict` (from `fuzz/`); seed the corpus
//! with `logql/tests/corpus/valid.txt`, one query per file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logjar_logql::syntax::parse;

fuzz_target!(|data: &[u8]| {
    // Queries are text; invalid UTF-8 is turned into replacement characters so the
    // bytes still exercise the lexer.
    let query = String::from_utf8_lossy(data);
    match parse(&query) {
        Ok(ast) => {
            let printed = ast.to_string();
            let again = match parse(&printed) {
                Ok(again) => again,
                Err(e) => panic!(
                    "canonical form does not parse\nquery:   {query:?}\nprinted: {printed:?}\n{}",
                    e.render(&printed)
                ),
            };
            assert_eq!(again, ast, "round trip changed the tree\nquery:   {query:?}\nprinted: {printed:?}");
            assert_eq!(again.to_string(), printed, "printing is not idempotent");
        }
        Err(e) => {
            // Positions and the rendered excerpt must be computable for any input.
            let _ = (e.line(), e.column(), e.position());
            let _ = e.render(&query);
        }
    }
});
