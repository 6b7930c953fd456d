//! The set of live handles, so that a handle used after its close/free function is an
//! error (`LOGJAR_ERR_CLOSED`) instead of undefined behaviour.
//!
//! Every handle logjar gives out is recorded here by address when it is created and
//! removed when it is closed or freed; every entry point looks its handle up before
//! dereferencing it. A stale pointer is therefore caught unless the allocator has since
//! reused its address for a new handle of the same kind (then it names that handle).
//! (A `BTreeSet`, not a `HashSet`: hashbrown keeps a pointer into the middle of its
//! allocation, which valgrind reports as "possibly lost" at exit.)
//! A close racing with other calls on the same handle is still undefined behaviour:
//! the lookup and the use are not atomic with respect to the close.

use std::collections::BTreeSet;
use std::sync::{PoisonError, RwLock};

use crate::error::{invalid, Failure, LOGJAR_ERR_CLOSED};

/// The live handles of one kind.
#[derive(Debug)]
pub(crate) struct Registry {
    kind: &'static str,
    live: RwLock<Option<BTreeSet<usize>>>,
}

impl Registry {
    /// An empty registry; `kind` names the handle in error messages (`"db"`, …).
    pub(crate) const fn new(kind: &'static str) -> Self {
        Registry {
            kind,
            live: RwLock::new(None),
        }
    }

    /// Records a new handle.
    pub(crate) fn insert<T>(&self, p: *const T) {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        live.get_or_insert_with(BTreeSet::new).insert(p as usize);
    }

    /// Forgets a handle; false when it was not live (never created, or closed already).
    pub(crate) fn remove<T>(&self, p: *const T) -> bool {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        live.as_mut().is_some_and(|s| s.remove(&(p as usize)))
    }

    /// Checks a handle argument: NULL is an invalid argument, a pointer that is not a
    /// live handle of this kind means it was closed (or never was a handle).
    pub(crate) fn check<T>(&self, p: *const T) -> Result<(), Failure> {
        if p.is_null() {
            return Err(invalid(format!("{} is NULL", self.kind)));
        }
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        if live.as_ref().is_some_and(|s| s.contains(&(p as usize))) {
            Ok(())
        } else {
            Err((
                LOGJAR_ERR_CLOSED,
                format!(
                    "{} handle is closed or freed (or was never a logjar handle)",
                    self.kind
                ),
            ))
        }
    }
}
