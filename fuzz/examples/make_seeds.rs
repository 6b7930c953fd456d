//! Writes a seed corpus of valid files for the fuzz targets, so fuzzing starts from
//! inputs that get past the magic and CRC checks:
//!
//! ```sh
//! cd fuzz && cargo run --example make_seeds   # fills corpus/{wal_replay,block_decode,segment_open}
//! ```

use std::path::Path;

use logjar::chunk::ChunkBuilder;
use logjar::segment::{segment_path, SegmentWriter};
use logjar::wal::{self, WalWriter};
use logjar::{Entry, Labels};

fn main() {
    let corpus = Path::new("corpus");
    for t in ["wal_replay", "block_decode", "segment_open"] {
        std::fs::create_dir_all(corpus.join(t)).expect("create corpus dir");
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let labels = Labels::new([("app", "api"), ("env", "prod")]).expect("labels");

    // WAL: a few push records, one with metadata.
    let mut w = WalWriter::create(tmp.path(), 1).expect("wal");
    for i in 0..3i64 {
        let a = Entry::new(i * 1000, format!("GET /x/{i} 200"));
        let b = Entry::new(i * 1000 + 5, "oops").with_metadata([("trace_id", "ab12")]);
        let mut p = Vec::new();
        wal::encode_push(&mut p, "fake", &[(&labels, &[&a, &b])]);
        w.append(&p).expect("append");
    }
    w.sync().expect("sync");
    let wal_bytes = std::fs::read(w.path()).expect("read wal");
    std::fs::write(corpus.join("wal_replay/three_records"), &wal_bytes).expect("seed");
    std::fs::write(
        corpus.join("wal_replay/torn"),
        &wal_bytes[..wal_bytes.len() - 3],
    )
    .expect("seed");

    // Blocks: small raw sections, compressed sections, metadata. The block_decode
    // target reads its first byte as a mode (bit 0: re-seal the CRC).
    for (name, n, md) in [("tiny", 3, false), ("zstd", 300, false), ("meta", 50, true)] {
        let mut b = ChunkBuilder::new(1 << 20, 1);
        for i in 0..n {
            let m = if md && i % 2 == 0 {
                vec![("k".to_string(), format!("v{i}"))]
            } else {
                vec![]
            };
            b.push(i * 17, format!("line {i} status=200").as_bytes(), &m);
        }
        let c = b.finish();
        let mut seed = vec![0u8];
        seed.extend_from_slice(&c.bytes);
        std::fs::write(corpus.join(format!("block_decode/{name}")), seed).expect("seed");
    }

    // Segment: two streams, several blocks.
    let path = segment_path(tmp.path(), 1);
    let mut sw = SegmentWriter::create(&path, "fake").expect("segment");
    for (id, app) in [(0u32, "api"), (1, "db")] {
        let l = Labels::new([("app", app)]).expect("labels");
        let mut b = ChunkBuilder::new(128, 1);
        for i in 0..20 {
            b.push(i, format!("{app} {i}").as_bytes(), &[]);
        }
        sw.add_chunk(id, &l, &b.finish()).expect("add chunk");
    }
    sw.finish().expect("finish");
    // The segment_open target reads its first byte as a mode (bit 0: re-seal CRCs).
    let mut seed = vec![1u8];
    seed.extend_from_slice(&std::fs::read(&path).expect("read segment"));
    std::fs::write(corpus.join("segment_open/two_streams"), seed).expect("seed");
    println!("seeds written to {}", corpus.display());
}
