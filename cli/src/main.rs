//! The `logjar` command: see `logjar --help` and CONTRACT.md section 4.
//!
//! Exit codes: 0 success, 1 bad usage or a bad query, 2 a data or I/O problem. On an
//! error nothing is printed on standard output and a message goes to standard error.

mod args;
mod cmd;
mod error;
mod open;
mod time;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 1.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("logjar: {e}");
        std::process::exit(e.exit_code());
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Ingest(a) => cmd::ingest::run(&cli, a),
        Command::Labels(a) => cmd::inspect::labels(&cli, a),
        Command::Series(a) => cmd::inspect::series(&cli, a),
        Command::Flush => cmd::inspect::flush(&cli),
        Command::Stats => cmd::inspect::stats(&cli),
        Command::Compact => cmd::maintain::compact(&cli),
        Command::Delete(a) => cmd::maintain::delete(&cli, a),
        Command::Query(a) => cmd::query::run(&cli, a),
        Command::Tail(a) => cmd::tail::run(&cli, a),
        Command::Demo => cmd::demo::run(&cli),
    }
}
