//! What the SIGKILL crash tests share: a replayable PRNG and the read-back check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use logjar::{Db, Direction, Options};

/// A small deterministic PRNG (xorshift), so failures can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// The next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every batch found in tenant `fake` of the database at `dir`, as id → entry lines
/// (lines are `batch <id> …`), asserting that no entry is there twice.
pub fn read_all(dir: &Path, opts: Options) -> BTreeMap<u64, BTreeSet<String>> {
    let db = Db::open(dir, opts).unwrap();
    let snap = db.snapshot("fake").unwrap();
    let ids: Vec<u32> = snap
        .select(&[], i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut found: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for r in snap.entries(&ids, i64::MIN, i64::MAX, Direction::Forward) {
        let (_, e) = r.unwrap();
        let line = String::from_utf8(e.line.to_vec()).unwrap();
        let id: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            found.entry(id).or_default().insert(line.clone()),
            "{line} twice"
        );
    }
    db.close().unwrap();
    found
}
