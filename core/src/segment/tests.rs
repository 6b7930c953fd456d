use super::*;
use crate::chunk::{ChunkBuilder, DecodedBlock, EncodedChunk};
use crate::error::Error;

fn labels(app: &str) -> Labels {
    Labels::new([("app", app), ("env", "prod")]).unwrap()
}

fn chunk(start: i64, n: i64, target: usize) -> EncodedChunk {
    let mut b = ChunkBuilder::new(target, 1);
    for i in 0..n {
        let md = if i % 3 == 0 {
            vec![("trace_id".to_string(), format!("{i:x}"))]
        } else {
            vec![]
        };
        b.push(start + i, format!("{start} line {i}").as_bytes(), &md);
    }
    b.finish()
}

fn write_sample(dir: &Path) -> (PathBuf, SegmentSummary) {
    let path = segment_path(dir, 0xabc);
    let mut w = SegmentWriter::create(&path, "tenant-a").unwrap();
    w.add_chunk(5, &labels("api"), &chunk(100, 300, 512))
        .unwrap();
    w.add_chunk(9, &labels("db"), &chunk(-50, 10, 1 << 20))
        .unwrap();
    w.add_chunk(5, &labels("api"), &chunk(1000, 20, 512))
        .unwrap();
    w.add_chunk(5, &labels("api"), &ChunkBuilder::default().finish())
        .unwrap();
    (path, w.finish().unwrap())
}

#[test]
fn round_trip() {
    let d = tempfile::tempdir().unwrap();
    let (path, sum) = write_sample(d.path());
    assert_eq!(path, d.path().join("0000000000000abc.seg"));
    assert_eq!(sum.entries, 330);
    assert_eq!((sum.min_ts, sum.max_ts), (-50, 1019));
    assert_eq!(sum.chunks, 4);
    assert_eq!(sum.file_bytes, std::fs::metadata(&path).unwrap().len());
    assert!(!crate::codec::tmp_path(&path).exists());

    let seg = Segment::open(&path).unwrap();
    assert_eq!(seg.tenant(), "tenant-a");
    assert_eq!(seg.file_bytes(), sum.file_bytes);
    assert_eq!(seg.streams().len(), 2);
    assert_eq!(seg.streams()[0].stream_id, 5);
    assert_eq!(seg.streams()[1].labels(), &labels("db"));
    // Told from the encoded footer, before and after the labels are built.
    assert!(seg.streams()[0].has_labels(&labels("api")));
    assert!(!seg.streams()[0].has_labels(&labels("db")));
    assert!(!seg.streams()[0].has_labels(&Labels::new([("app", "db"), ("x", "y")]).unwrap()));
    assert_eq!(
        seg.streams()[0].fingerprint,
        seg.streams()[0].labels().fingerprint()
    );
    let l0 = seg.streams()[0].labels().clone();
    assert!(seg.streams()[0].has_labels(&l0));
    assert_eq!(seg.chunks().len(), 4);
    assert!(seg.chunks()[3].blocks.is_empty());
    let mut out = DecodedBlock::new();
    let (mut ts, mut lens) = (Vec::new(), Vec::new());
    let mut total = 0;
    for (ci, c) in seg.chunks().iter().enumerate() {
        let start = [100, -50, 1000, 0][ci];
        let mut i = 0;
        for b in &c.blocks {
            seg.decode_block(b, &mut out).unwrap();
            seg.decode_block_sizes(b, &mut ts, &mut lens).unwrap();
            assert_eq!(out.timestamps(), &ts[..]);
            for k in 0..out.len() {
                assert_eq!(out.ts(k), start + i);
                assert_eq!(out.line(k), format!("{start} line {i}").as_bytes());
                assert_eq!(out.metadata(k).count(), usize::from(i % 3 == 0));
                i += 1;
            }
        }
        assert_eq!(i as u64, c.entries);
        total += i;
    }
    assert_eq!(total, 330);
    assert_eq!(segment_files(d.path()).unwrap(), vec![(0xabc, path)]);
}

#[test]
fn chunks_copy_between_segments_without_reencoding() {
    let d = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(d.path());
    let seg = Segment::open(&path).unwrap();
    let path2 = segment_path(d.path(), 0xabd);
    let mut w = SegmentWriter::create(&path2, "tenant-a").unwrap();
    for c in seg.chunks() {
        let s = &seg.streams()[c.stream as usize];
        let enc = seg.read_chunk(c).unwrap();
        assert_eq!(enc.blocks.len(), c.blocks.len());
        w.add_chunk(s.stream_id, s.labels(), &enc).unwrap();
    }
    w.finish().unwrap();
    let seg2 = Segment::open(&path2).unwrap();
    assert_eq!(seg2.streams(), seg.streams());
    assert_eq!(seg2.file_bytes(), seg.file_bytes());
    let (mut a, mut b) = (DecodedBlock::new(), DecodedBlock::new());
    for (c1, c2) in seg.chunks().iter().zip(seg2.chunks()) {
        assert_eq!(
            (c1.entries, c1.min_ts, c1.max_ts),
            (c2.entries, c2.min_ts, c2.max_ts)
        );
        for (b1, b2) in c1.blocks.iter().zip(&c2.blocks) {
            seg.decode_block(b1, &mut a).unwrap();
            seg2.decode_block(b2, &mut b).unwrap();
            assert_eq!(a.timestamps(), b.timestamps());
            assert_eq!(a.line(0), b.line(0));
        }
    }
}

#[test]
fn segment_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Segment>();
}

#[test]
fn empty_segment() {
    let d = tempfile::tempdir().unwrap();
    let path = segment_path(d.path(), 1);
    let sum = SegmentWriter::create(&path, "t").unwrap().finish().unwrap();
    assert_eq!(
        (sum.entries, sum.chunks, sum.min_ts, sum.max_ts),
        (0, 0, 0, 0)
    );
    let seg = Segment::open(&path).unwrap();
    assert!(seg.streams().is_empty() && seg.chunks().is_empty());
}

#[test]
fn writer_refuses_bad_input_and_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    let path = segment_path(d.path(), 2);
    assert!(matches!(
        SegmentWriter::create(&path, "a/b"),
        Err(Error::InvalidArgument(_))
    ));
    let mut w = SegmentWriter::create(&path, "t").unwrap();
    w.add_chunk(1, &labels("a"), &chunk(0, 3, 100)).unwrap();
    assert!(w.add_chunk(1, &labels("b"), &chunk(0, 3, 100)).is_err());
    let mut bad = chunk(0, 3, 100);
    bad.blocks[0].crc ^= 1;
    assert!(w.add_chunk(2, &labels("b"), &bad).is_err());
    assert!(crate::codec::tmp_path(&path).exists());
    drop(w);
    assert!(!crate::codec::tmp_path(&path).exists());
    assert!(!path.exists());
}

#[test]
fn blocks_outside_the_data_region_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(d.path());
    let seg = Segment::open(&path).unwrap();
    let mut b = seg.chunks()[0].blocks[0];
    let mut out = DecodedBlock::new();
    b.offset = seg.file_bytes() - 10;
    assert!(matches!(
        seg.decode_block(&b, &mut out),
        Err(Error::Corrupt { .. })
    ));
    b.offset = 0;
    assert!(seg.raw_block(&b).is_err());
    let mut b = seg.chunks()[0].blocks[0];
    b.offset = u64::MAX - 2;
    assert!(seg.raw_block(&b).is_err());
    // A block's meta pointing at another block is caught by the CRC copy.
    let mut b = seg.chunks()[0].blocks[0];
    b.offset = seg.chunks()[0].blocks[1].offset;
    assert!(seg.decode_block(&b, &mut out).is_err());
}

#[test]
fn unfinished_or_foreign_files_do_not_open() {
    let d = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(d.path());
    let full = std::fs::read(&path).unwrap();
    let p2 = d.path().join("x.seg");
    std::fs::write(&p2, &full[..full.len() - 1]).unwrap();
    assert!(matches!(Segment::open(&p2), Err(Error::Corrupt { .. })));
    std::fs::write(&p2, b"").unwrap();
    assert!(matches!(Segment::open(&p2), Err(Error::Corrupt { .. })));
    let mut v2 = full.clone();
    v2[5] = 9;
    std::fs::write(&p2, &v2).unwrap();
    assert!(matches!(
        Segment::open(&p2),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
    assert!(matches!(
        Segment::open(&d.path().join("nope.seg")),
        Err(Error::Io { .. })
    ));
}
