//! Damaged files: bit flips and truncations at every offset of a WAL file, a segment,
//! a manifest and an index file give typed errors (or, for the WAL's last record, a
//! torn-tail repair) — never a panic, never wrong data.

use std::path::{Path, PathBuf};

use logjar::chunk::{ChunkBuilder, DecodedBlock};
use logjar::index_file::{index_path, RoaringBitmap, TenantIndex};
use logjar::manifest::{IndexFileRecord, Manifest, SegmentRecord};
use logjar::segment::{segment_path, Segment, SegmentWriter};
use logjar::wal::{self, WalWriter};
use logjar::{Entry, Error, Labels};

/// A scratch directory, on tmpfs when there is one: these tests fsync thousands of
/// times and only care about file contents.
fn tmp() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn is_typed_corruption(e: &Error) -> bool {
    matches!(e, Error::Corrupt { .. } | Error::UnsupportedVersion { .. })
}

// ---------------------------------------------------------------- WAL

fn wal_payloads() -> Vec<Vec<u8>> {
    let l = Labels::new([("app", "api"), ("host", "n1")]).unwrap();
    (0..5)
        .map(|i| {
            let e1 = Entry::new(1_000 + i, format!("GET /item/{i} 200"));
            let e2 = Entry::new(2_000 + i, "POST /x 500").with_metadata([("trace_id", "abc")]);
            let mut p = Vec::new();
            wal::encode_push(&mut p, "fake", &[(&l, &[&e1, &e2])]);
            p
        })
        .collect()
}

fn write_wal(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u64>) {
    let mut w = WalWriter::create(dir, 1).unwrap();
    let mut starts = Vec::new();
    for p in wal_payloads() {
        starts.push(w.bytes_written());
        w.append(&p).unwrap();
    }
    w.sync().unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes, starts)
}

fn replay(path: &Path) -> logjar::Result<(Vec<Vec<u8>>, wal::ReplayOutcome)> {
    let mut got = Vec::new();
    let o = wal::replay_file(path, &mut |p| {
        // Every record handed out must also decode.
        wal::decode_record(p).map_err(|e| e.into_corrupt(path, 0))?;
        got.push(p.to_vec());
        Ok(())
    })?;
    Ok((got, o))
}

#[test]
fn wal_bit_flips_are_caught_or_cut_as_the_torn_tail() {
    let d = tmp();
    let (path, good, starts) = write_wal(d.path());
    let payloads = wal_payloads();
    let last = *starts.last().unwrap() as usize;
    for bit in 0..good.len() * 8 {
        let byte = bit / 8;
        let mut b = good.clone();
        b[byte] ^= 1 << (bit % 8);
        std::fs::write(&path, &b).unwrap();
        match replay(&path) {
            Ok((got, o)) => {
                // Only damage to the last record may be repaired, and only by cutting it.
                assert!(byte >= last, "bit {bit} (byte {byte}) silently accepted");
                assert_eq!(got, payloads[..payloads.len() - 1], "bit {bit}");
                let t = o.torn_tail.expect("a torn tail is reported");
                assert_eq!(t.offset, last as u64);
                assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64);
            }
            Err(e) => {
                assert!(is_typed_corruption(&e), "bit {bit}: {e:?}");
                assert!(
                    byte < last,
                    "bit {bit}: last record damage should be a torn tail: {e}"
                );
                // The file is left as it was for inspection.
                assert_eq!(std::fs::read(&path).unwrap(), b);
            }
        }
    }
}

#[test]
fn wal_truncations_keep_every_complete_record() {
    let d = tmp();
    let (path, good, starts) = write_wal(d.path());
    let payloads = wal_payloads();
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        let (got, o) = replay(&path).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let complete = starts[1..]
            .iter()
            .chain(std::iter::once(&(good.len() as u64)))
            .filter(|&&end| end <= cut as u64)
            .count();
        assert_eq!(got, payloads[..complete], "cut {cut}");
        if cut > 0 && !starts.contains(&(cut as u64)) {
            assert!(o.torn_tail.is_some(), "cut {cut}");
        }
    }
}

#[test]
fn wal_garbage_never_panics() {
    let d = tmp();
    let (path, good, _) = write_wal(d.path());
    let mut rng = Rng(7);
    for _ in 0..300 {
        let mut b = good.clone();
        for _ in 0..(rng.next() % 8 + 1) {
            let at = (rng.next() as usize) % b.len();
            b[at] = rng.next() as u8;
        }
        std::fs::write(&path, &b).unwrap();
        if let Err(e) = replay(&path) {
            assert!(is_typed_corruption(&e), "{e:?}");
        }
    }
}

// ---------------------------------------------------------------- segments

fn labels(app: &str) -> Labels {
    Labels::new([("app", app)]).unwrap()
}

/// Rows `(ts, line)` of each chunk.
type ChunkRows = Vec<Vec<(i64, Vec<u8>)>>;

fn write_segment(dir: &Path) -> (PathBuf, Vec<u8>, ChunkRows) {
    write_segment_with(dir, false)
}

/// The RFC 3339 text of `ts` (9 fraction digits), as an application logs its time.
fn own_text(ts: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ts)
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string()
}

/// The segment of [`write_segment`]; with `texts`, every other `db` line also holds
/// the text of its own timestamp, which block version 3 leaves out of the stored lines.
fn write_segment_with(dir: &Path, texts: bool) -> (PathBuf, Vec<u8>, ChunkRows) {
    let path = segment_path(dir, 1);
    let mut w = SegmentWriter::create(&path, "fake").unwrap();
    let mut expect = Vec::new();
    for (s, app) in ["api", "db"].iter().enumerate() {
        let mut b = ChunkBuilder::new(200, 1);
        let mut rows = Vec::new();
        for i in 0..40i64 {
            let mut line = format!("{app} request {i} took {}ms", i * 7 % 13);
            if texts && *app == "db" && i % 2 == 0 {
                line = format!("{} at {}", line, own_text(i * 10 - 100));
            }
            let line = line.into_bytes();
            let md = if i % 5 == 0 {
                vec![("k".to_string(), format!("v{i}"))]
            } else {
                vec![]
            };
            b.push(i * 10 - 100, &line, &md);
            rows.push((i * 10 - 100, line));
        }
        w.add_chunk(s as u32, &labels(app), &b.finish()).unwrap();
        expect.push(rows);
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes, expect)
}

/// Opens and decodes everything; `Ok(rows per chunk)` only when every check passed.
fn read_segment(path: &Path) -> logjar::Result<ChunkRows> {
    let seg = Segment::open(path)?;
    let mut out = DecodedBlock::new();
    let (mut ts, mut lens) = (Vec::new(), Vec::new());
    let mut chunks = Vec::new();
    for c in seg.chunks() {
        let mut rows = Vec::new();
        for b in &c.blocks {
            seg.decode_block_sizes(b, &mut ts, &mut lens)?;
            seg.decode_block(b, &mut out)?;
            for i in 0..out.len() {
                rows.push((out.ts(i), out.line(i).to_vec()));
                let _ = out.metadata(i).count();
            }
        }
        chunks.push(rows);
    }
    Ok(chunks)
}

#[test]
fn segment_bit_flips_are_always_caught() {
    let d = tmp();
    let (path, good, expect) = write_segment_with(d.path(), true);
    assert_eq!(read_segment(&path).unwrap(), expect);
    let p = d.path().join("damaged.seg");
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&p, &b).unwrap();
        match read_segment(&p) {
            Ok(rows) => panic!("bit {bit} not detected (same data: {})", rows == expect),
            Err(e) => assert!(is_typed_corruption(&e), "bit {bit}: {e:?}"),
        }
    }
}

#[test]
fn segment_truncations_do_not_open() {
    let d = tmp();
    let (_, good, _) = write_segment_with(d.path(), true);
    let p = d.path().join("cut.seg");
    for cut in 0..good.len() {
        std::fs::write(&p, &good[..cut]).unwrap();
        match Segment::open(&p) {
            Ok(_) => panic!("cut at {cut} opened"),
            Err(e) => assert!(is_typed_corruption(&e), "cut {cut}: {e:?}"),
        }
    }
}

#[test]
fn segment_garbage_never_panics() {
    let d = tmp();
    let (_, good, _) = write_segment_with(d.path(), true);
    let p = d.path().join("g.seg");
    let mut rng = Rng(11);
    for _ in 0..300 {
        let mut b = good.clone();
        for _ in 0..(rng.next() % 8 + 1) {
            let at = (rng.next() as usize) % b.len();
            b[at] = rng.next() as u8;
        }
        std::fs::write(&p, &b).unwrap();
        if let Err(e) = read_segment(&p) {
            assert!(is_typed_corruption(&e), "{e:?}");
        }
    }
}

// ---------------------------------------------------------------- manifest and index

fn manifest() -> Manifest {
    Manifest {
        generation: 3,
        next_file_id: 9,
        wal_checkpoint: 4,
        segments: vec![SegmentRecord {
            file_id: 1,
            tenant: "fake".into(),
            min_ts: -5,
            max_ts: 500,
            entries: 80,
            raw_bytes: 2000,
            file_bytes: 1500,
            order: 1,
        }],
        index_files: vec![IndexFileRecord {
            file_id: 2,
            tenant: "fake".into(),
        }],
        deletes: vec![],
        next_delete_id: 1,
    }
}

#[test]
fn manifest_flips_and_truncations_are_errors() {
    let d = tmp();
    manifest().write(d.path()).unwrap();
    let path = d.path().join("MANIFEST");
    let good = std::fs::read(&path).unwrap();
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&path, &b).unwrap();
        match Manifest::read(d.path()) {
            Err(e) => assert!(is_typed_corruption(&e), "bit {bit}: {e:?}"),
            Ok(m) => panic!("bit {bit} accepted: {m:?}"),
        }
    }
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        assert!(Manifest::read(d.path()).is_err(), "cut {cut}");
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(Manifest::read(d.path()).unwrap(), Some(manifest()));
}

fn index() -> TenantIndex {
    let a = labels("api");
    let b = Labels::new([("app", "db"), ("env", "prod")]).unwrap();
    TenantIndex {
        tenant: "fake".into(),
        streams: vec![(0, a.fingerprint(), a), (1, b.fingerprint(), b)],
        postings: vec![
            (
                "app".into(),
                vec![
                    ("api".into(), RoaringBitmap::from_iter([0u32])),
                    ("db".into(), RoaringBitmap::from_iter([1u32])),
                ],
            ),
            (
                "env".into(),
                vec![("prod".into(), RoaringBitmap::from_iter([1u32]))],
            ),
        ],
    }
}

#[test]
fn index_flips_and_truncations_are_errors() {
    let d = tmp();
    let path = index_path(d.path(), 2);
    index().write(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&path, &b).unwrap();
        match TenantIndex::read(&path) {
            Err(e) => assert!(is_typed_corruption(&e), "bit {bit}: {e:?}"),
            Ok(_) => panic!("bit {bit} accepted"),
        }
    }
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        let e = TenantIndex::read(&path).unwrap_err();
        assert!(is_typed_corruption(&e), "cut {cut}: {e:?}");
    }
}

/// xorshift64: deterministic garbage without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// ---------------------------------------------------------------- version 1 fixtures

/// Files written by format version 1, committed under `tests/fixtures/v1/` so that a
/// change that breaks reading them fails here. Regenerate (only on purpose, with a
/// version-change note in docs/FORMAT.md) with `LOGJAR_WRITE_FIXTURES=1`.
#[test]
fn version_1_fixtures_still_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    if std::env::var_os("LOGJAR_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(dir.join("wal")).unwrap();
        let t = tmp();
        let (_, wal_bytes, _) = write_wal(t.path());
        std::fs::write(wal::wal_path(&dir.join("wal"), 1), wal_bytes).unwrap();
        let (_, seg_bytes, _) = write_segment(t.path());
        std::fs::write(dir.join("segment.seg"), seg_bytes).unwrap();
        manifest().write(&dir).unwrap();
        index().write(&dir.join("index.idx")).unwrap();
    }
    // Copies: replay may repair files, and the committed ones must stay as they are.
    let t = tmp();
    let wal_copy = wal::wal_path(t.path(), 1);
    std::fs::copy(wal::wal_path(&dir.join("wal"), 1), &wal_copy).unwrap();
    let (got, o) = replay(&wal_copy).unwrap();
    assert_eq!(got, wal_payloads());
    assert!(o.torn_tail.is_none());
    assert_eq!(o.seq, 1);
    // The same file torn by a crash inside its last record.
    let full = std::fs::read(&wal_copy).unwrap();
    std::fs::write(&wal_copy, &full[..full.len() - 5]).unwrap();
    let (got, o) = replay(&wal_copy).unwrap();
    assert_eq!(got, wal_payloads()[..4]);
    assert!(o.torn_tail.is_some());

    let seg = dir.join("segment.seg");
    let rows = read_segment(&seg).unwrap();
    let t2 = tmp();
    let (_, _, expect) = write_segment(t2.path());
    assert_eq!(rows, expect);
    assert_eq!(Segment::open(&seg).unwrap().tenant(), "fake");

    assert_eq!(Manifest::read(&dir).unwrap(), Some(manifest()));
    assert_eq!(TenantIndex::read(&dir.join("index.idx")).unwrap(), index());
}

/// The committed segment `tests/fixtures/<name>/segment.seg`, checked to read back to
/// what [`write_segment_with`] writes. `LOGJAR_WRITE_FIXTURES=1` rewrites it with the
/// current layout: only on purpose, for a new version's fixture.
fn segment_fixture(name: &str, texts: bool) -> Segment {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let seg = dir.join("segment.seg");
    if std::env::var_os("LOGJAR_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        let t = tmp();
        let (_, seg_bytes, _) = write_segment_with(t.path(), texts);
        std::fs::write(&seg, seg_bytes).unwrap();
    }
    let rows = read_segment(&seg).unwrap();
    let t = tmp();
    let (_, _, expect) = write_segment_with(t.path(), texts);
    assert_eq!(rows, expect);
    Segment::open(&seg).unwrap()
}

/// A segment whose blocks use block layout version 2 (columns section and head CRC),
/// committed under `tests/fixtures/v2/`: the v1 fixture above keeps version 1 blocks
/// readable, this one version 2.
#[test]
fn block_version_2_fixture_still_reads() {
    let s = segment_fixture("v2", false);
    let first = s.chunks()[0].blocks[0];
    assert_eq!(s.raw_block(&first).unwrap()[0], 2, "block layout version");
}

/// A segment whose blocks use block layout version 3 (bit-packed columns; the `db`
/// chunk's lines hold their own timestamps, left out of the stored lines), committed
/// under `tests/fixtures/v3/`.
#[test]
fn block_version_3_fixture_still_reads() {
    let s = segment_fixture("v3", true);
    let db = &s.chunks()[1];
    let flags: Vec<(u8, u8)> = db
        .blocks
        .iter()
        .map(|b| {
            let raw = s.raw_block(b).unwrap();
            (raw[0], raw[1] & 2)
        })
        .collect();
    assert!(
        flags.iter().all(|f| f.0 == 3),
        "block layout version: {flags:?}"
    );
    assert!(
        flags.iter().any(|f| f.1 != 0),
        "timestamp texts left out: {flags:?}"
    );
}
