//! CLI errors and their exit codes.

use std::fmt;

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage or a bad query: exit code 1.
    Usage(String),
    /// A data or I/O problem: exit code 2.
    Data(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 1,
            CliError::Data(_) => 2,
        }
    }

    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Data(m) => f.write_str(m),
        }
    }
}

impl From<logjar::Error> for CliError {
    fn from(e: logjar::Error) -> Self {
        match e {
            logjar::Error::InvalidArgument(_) => CliError::Usage(e.to_string()),
            _ => CliError::Data(e.to_string()),
        }
    }
}
