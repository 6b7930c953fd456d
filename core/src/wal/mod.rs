//! The write-ahead log: every accepted push is appended here before it is
//! acknowledged, and replayed into the head after a crash.
//!
//! A WAL directory (`DIR/wal/`) holds files named `<seq:020>.wal`. Each file is a
//! 20-byte header (magic `LJWAL`, version, sequence number, CRC) followed by records
//! framed as `len u32 LE | crc32 u32 LE | payload`. Payloads are produced by
//! [`encode_push`] and read back with [`decode_record`]. See `docs/FORMAT.md`.
//!
//! ```
//! use logjar::wal::{self, WalWriter};
//! use logjar::{Entry, Labels};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let labels = Labels::new([("app", "api")]).unwrap();
//! let entry = Entry::new(1_000, "GET /x 200");
//!
//! let mut w = WalWriter::create(dir.path(), 7).unwrap();
//! let mut payload = Vec::new();
//! wal::encode_push(&mut payload, "fake", &[(&labels, &[&entry])]);
//! w.append(&payload).unwrap();
//! w.sync().unwrap();
//! drop(w);
//!
//! let files = wal::wal_files(dir.path()).unwrap();
//! assert_eq!(files[0].0, 7);
//! let mut seen = Vec::new();
//! let outcome = wal::replay_file(&files[0].1, &mut |p| {
//!     match wal::decode_record(p).unwrap() {
//!         wal::WalRecord::Push { tenant, streams } => seen.push((tenant, streams)),
//!         other => panic!("unexpected record {other:?}"),
//!     }
//!     Ok(())
//! })
//! .unwrap();
//! assert_eq!(outcome.records, 1);
//! assert!(outcome.torn_tail.is_none());
//! assert_eq!(seen[0].0, "fake");
//! assert_eq!(seen[0].1[0].entries[0], entry);
//! ```

mod file;
pub(crate) mod record;

pub use crate::codec::DecodeError;
pub use file::{
    replay_file, replay_file_with, wal_files, wal_path, ReplayOutcome, TornTail, WalWriter,
    DIR_NAME, HEADER_LEN, MAX_RECORD_LEN, RECORD_HEADER_LEN, VERSION,
};
pub use record::{decode_record, encode_carry, encode_push, WalRecord, RECORD_CARRY, RECORD_PUSH};
