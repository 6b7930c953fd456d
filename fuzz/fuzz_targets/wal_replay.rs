//! Arbitrary bytes as a WAL file: replay must return records, a torn-tail repair or a
//! typed error, never panic; every record it hands out goes through `decode_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logjar::wal;

fuzz_target!(|data: &[u8]| {
    let path = wal::wal_path(scratch(), 1);
    std::fs::write(&path, data).expect("write input");
    let mut records = 0u64;
    let res = wal::replay_file(&path, &mut |payload| {
        records += 1;
        let _ = wal::decode_record(payload);
        Ok(())
    });
    match res {
        Ok(outcome) => {
            assert_eq!(outcome.records, records);
            let len = std::fs::metadata(&path).expect("stat").len();
            match outcome.torn_tail {
                Some(t) => assert_eq!(t.offset, len),
                None => assert_eq!(len, data.len() as u64),
            }
            // A repaired file replays cleanly to the same records.
            let again = wal::replay_file(&path, &mut |_| Ok(())).expect("replay after repair");
            assert_eq!(again.records, records);
            assert!(again.torn_tail.is_none());
        }
        Err(logjar::Error::Corrupt { .. } | logjar::Error::UnsupportedVersion { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
});

/// One scratch directory for the whole run, on tmpfs when there is one: replay
/// fsyncs, and a fresh directory per input would dominate the run time.
fn scratch() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("temp dir")
    })
    .path()
}
