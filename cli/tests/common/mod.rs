//! What the CLI test files share: running the built `logjar` binary on a data dir.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `logjar --data DATA ARGS…`, feeding `stdin` when given (else an empty stdin),
/// and returns its exit status and captured output.
pub fn run(data: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logjar"));
    cmd.arg("--data").arg(data).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn logjar");
    if let Some(input) = stdin {
        // A command that fails before reading its input closes the pipe: not an error here.
        let _ = child.stdin.take().unwrap().write_all(input);
    }
    child.wait_with_output().unwrap()
}
