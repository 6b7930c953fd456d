//! The `logjar` command.

fn main() {
    eprintln!("logjar: the command line is being built; see README.md");
    std::process::exit(1);
}
