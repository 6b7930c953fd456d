//! The exclusive lock on a database directory.
//!
//! `DIR/LOCK` is opened and locked with an exclusive OS file lock (`flock` on Unix,
//! `LockFileEx` on Windows) for as long as the [`DirLock`] lives. The lock belongs to
//! the open file description, so a second `Db::open` in the same process conflicts
//! just like one in another process, and the OS drops the lock when a process dies —
//! a crash never leaves a stale lock behind.
//!
//! One wrinkle: while this process starts a child (`fork` then `exec`), the child holds
//! copies of every descriptor — the lock's too — until its `exec` closes them
//! (close-on-exec). A database closed and reopened at that moment would find its own
//! lock still held. So a busy lock is retried for up to [`BUSY_WAIT`] before
//! [`Error::Locked`] is returned; a real second holder is reported after that wait.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// File name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// How long a busy lock is retried before [`DirLock::acquire`] gives up (see the
/// module docs: a child process being started may hold a copy for a moment).
pub const BUSY_WAIT: Duration = Duration::from_millis(200);

/// A held lock on a data directory; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir/LOCK`, creating it if needed. Returns [`Error::Locked`] when another
    /// holder (in this or another process) still has it after [`BUSY_WAIT`].
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
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            // `File::try_lock` (stable since Rust 1.89, the workspace's `rust-version`).
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { _file: file, path }),
                Err(TryLockError::WouldBlock) if started.elapsed() < BUSY_WAIT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => return Err(Error::Locked { path }),
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
