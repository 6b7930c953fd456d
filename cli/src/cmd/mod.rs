//! One module per group of subcommands.

pub mod demo;
pub mod demo_data;
pub mod ingest;
pub mod inspect;
pub mod maintain;
pub mod query;
pub mod tail;
