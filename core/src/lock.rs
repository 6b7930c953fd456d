//! The exclusive lock on a database directory.
//!
//! `DIR/LOCK` is opened and locked with an exclusive OS file lock (`flock` on Unix,
//! `LockFileEx` on Windows) for as long as the [`DirLock`] lives. The lock belongs to
//! the open file description, so a second `Db::open` in the same process conflicts
//! just like one in another process, and the OS drops the lock when a process dies —
//! a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock on a data directory; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir/LOCK`, creating it if needed. Returns [`Error::Locked`] when another
    /// holder (in this or another process) has it.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let held = logjar::lock::DirLock::acquire(dir.path()).unwrap();
    /// assert!(matches!(
    ///     logjar::lock::DirLock::acquire(dir.path()),
    ///     Err(logjar::Error::Locked { .. })
    /// ));
    /// drop(held);
    /// assert!(logjar::lock::DirLock::acquire(dir.path()).is_ok());
    /// ```
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // `File::try_lock` (stable since Rust 1.89, the workspace's `rust-version`).
        let locked = file.try_lock();
        match locked {
            Ok(()) => Ok(DirLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
