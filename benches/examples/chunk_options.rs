//! Chunk encoding options measured on a flushed database (issue 2's disk target).
//!
//! Reads every segment of a database written by `logjar ingest` + `flush`, groups the
//! entries the way the flushes cut them (per segment and stream: the entries one flush
//! wrote for one stream), and re-encodes those pieces with other settings:
//!
//! - block target × zstd level through [`ChunkBuilder`] (the real block format): stored
//!   bytes per section as a share of the raw line bytes, encode MB/s per CPU-second,
//!   and the CPU time of decoding every stream's newest block (what a backward
//!   `limit 1000` log query over all streams decodes first);
//! - zstd parameters at level 1 on the lines sections alone (same block boundaries);
//! - a per-stream dictionary trained on the stream's first piece.
//!
//! ```sh
//! logjar --data /tmp/cd-x ingest /tmp/d1m.ndjson && logjar --data /tmp/cd-x flush
//! cargo run --release -p logjar-benches --example chunk_options -- /tmp/cd-x
//! ```
//! CPU times come from `/proc/thread-self/schedstat` (ns), so the MB/s figures hold on
//! a busy machine; each configuration is encoded `LOGJAR_ROUNDS` times (default 3)
//! and the fastest round is kept.

use std::collections::BTreeMap;
use std::path::Path;

use logjar::chunk::{block_layout, decode_block, ChunkBuilder, DecodedBlock, EncodedChunk};
use logjar::segment::Segment;
use zstd::stream::raw::CParameter;
use zstd::zstd_safe::Strategy;

/// Entries of one stream written by one flush: `(ts, line)`, in order.
type Piece = Vec<(i64, Vec<u8>)>;

/// CPU time of the calling thread in ns.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Stored bytes of each part of an encoded block: `[timestamps and lengths, lines,
/// timestamp texts, metadata, fixed header and CRCs]`.
fn sections(b: &[u8]) -> [u64; 5] {
    let l = block_layout(b).expect("block layout");
    [l.columns, l.lines, l.ts_texts, l.metadata, l.fixed]
}

/// The flushed pieces of every stream, in stream then time order, and the bytes of the
/// database's files (segments, index, manifest).
fn load(dir: &Path) -> (Vec<Vec<Piece>>, u64, u64) {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .expect("segments directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    let mut streams: BTreeMap<u32, Vec<Piece>> = BTreeMap::new();
    let mut seg_bytes = 0;
    let mut block_bytes = 0;
    let mut out = DecodedBlock::new();
    for f in &files {
        let seg = Segment::open(f).expect("open segment");
        seg_bytes += seg.file_bytes();
        let mut pieces: BTreeMap<u32, Piece> = BTreeMap::new();
        for c in seg.chunks() {
            let id = seg.streams()[c.stream as usize].stream_id;
            let piece = pieces.entry(id).or_default();
            for b in &c.blocks {
                block_bytes += u64::from(b.len);
                seg.decode_block(b, &mut out).expect("decode");
                for i in 0..out.len() {
                    piece.push((out.ts(i), out.line(i).to_vec()));
                }
            }
        }
        for (id, p) in pieces {
            streams.entry(id).or_default().push(p);
        }
    }
    let mut other = 0;
    for sub in ["index", ""] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if e.path().is_file() && (sub == "index" || name == "MANIFEST") {
                    other += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
        }
    }
    let overhead = seg_bytes - block_bytes + other;
    (streams.into_values().collect(), overhead, seg_bytes + other)
}

struct Encoded {
    chunks: Vec<Vec<EncodedChunk>>,
    cpu_ns: u64,
}

fn encode(streams: &[Vec<Piece>], target: usize, level: i32, rounds: usize) -> Encoded {
    let mut best = u64::MAX;
    let mut chunks = Vec::new();
    for _ in 0..rounds {
        let t = cpu_ns();
        chunks = streams
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|p| {
                        let mut b = ChunkBuilder::new(target, level);
                        for (ts, line) in p {
                            b.push(*ts, line, &[]);
                        }
                        b.finish()
                    })
                    .collect()
            })
            .collect();
        best = best.min(cpu_ns() - t);
    }
    Encoded {
        chunks,
        cpu_ns: best,
    }
}

fn pct(x: u64, raw: u64) -> f64 {
    100.0 * x as f64 / raw as f64
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/cd-x".into());
    let rounds: usize = std::env::var("LOGJAR_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (streams, overhead, disk) = load(Path::new(&dir));
    let raw: u64 = streams
        .iter()
        .flatten()
        .flatten()
        .map(|e| e.1.len() as u64)
        .sum();
    let entries: usize = streams.iter().flatten().map(Vec::len).sum();
    let pieces: usize = streams.iter().map(Vec::len).sum();
    println!(
        "{dir}: {} streams, {pieces} flushed pieces, {entries} entries, {raw} raw line bytes; \
         on disk {disk} ({:.2}%), of which {overhead} outside blocks ({:.2}%)",
        streams.len(),
        pct(disk, raw),
        pct(overhead, raw),
    );

    let only =
        std::env::var("LOGJAR_SECTIONS").unwrap_or_else(|_| "blocks,zstd,dict,ts,embedded".into());
    let want = |x: &str| only.split(',').any(|s| s == x);
    if want("blocks") {
        println!("\n## block target x level (real block format, flush pieces)");
        println!(
        "| target | level | blocks | lines | columns (ts, lengths) | ts texts | total blocks | projected disk | encode MB/s CPU | newest blocks decode ms CPU | entries decoded |"
    );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let configs: Vec<(usize, i32)> = std::env::var("LOGJAR_CONFIGS")
            .ok()
            .map(|s| {
                s.split(',')
                    .map(|c| {
                        let (t, l) = c.split_once(':').expect("target_kib:level");
                        (t.parse::<usize>().unwrap() << 10, l.parse().unwrap())
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                vec![
                    (256 << 10, 1),
                    (512 << 10, 1),
                    (1 << 20, 1),
                    (256 << 10, 2),
                    (256 << 10, 3),
                    (512 << 10, 2),
                    (512 << 10, 3),
                ]
            });
        let mut out = DecodedBlock::new();
        for (target, level) in configs {
            let e = encode(&streams, target, level, rounds);
            let mut sec = [0u64; 5];
            let mut blocks = 0;
            for c in e.chunks.iter().flatten() {
                for m in &c.blocks {
                    blocks += 1;
                    let s = sections(c.block_bytes(m).unwrap());
                    for k in 0..5 {
                        sec[k] += s[k];
                    }
                }
            }
            let total: u64 = e
                .chunks
                .iter()
                .flatten()
                .map(|c| c.bytes.len() as u64)
                .sum();
            // Newest block of every stream, decoded 10 times; best of the rounds.
            let newest: Vec<&[u8]> = e
                .chunks
                .iter()
                .filter_map(|cs| {
                    let c = cs.last()?;
                    c.block_bytes(c.blocks.last()?)
                })
                .collect();
            let mut dec = u64::MAX;
            let mut n_dec = 0;
            for _ in 0..rounds {
                let t = cpu_ns();
                n_dec = 0;
                for _ in 0..10 {
                    for b in &newest {
                        decode_block(b, &mut out).unwrap();
                        n_dec += out.len();
                    }
                }
                dec = dec.min(cpu_ns() - t);
            }
            // Block metas cost ~30 bytes each in the segment's chunk table: scale the
            // measured overhead by the block count is not needed at this precision.
            println!(
            "| {} KiB | {level} | {blocks} | {:.2}% | {:.2}% | {:.2}% | {:.2}% | {:.2}% | {:.0} | {:.2} | {} |",
            target >> 10,
            pct(sec[1], raw),
            pct(sec[0], raw),
            pct(sec[2], raw),
            pct(total, raw),
            pct(total + overhead, raw),
            raw as f64 / 1e6 / (e.cpu_ns as f64 / 1e9),
            dec as f64 / 1e6 / 10.0,
            n_dec / 10,
        );
        }
    }
    if want("ts") {
        timestamps(&streams, raw);
    }
    if want("embedded") {
        embedded(&streams, raw);
        embedded_cost(&streams, raw);
    }
    // The lines of each flushed 256 KiB block, for the zstd parameter runs.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for pieces in &streams {
        for p in pieces {
            let mut cur = Vec::new();
            for (_, line) in p {
                cur.extend_from_slice(line);
                if cur.len() >= 256 << 10 {
                    blocks.push(std::mem::take(&mut cur));
                }
            }
            if !cur.is_empty() {
                blocks.push(cur);
            }
        }
    }
    if want("zstd") {
        println!(
            "\n## zstd parameters, lines sections only ({} blocks of <= 256 KiB)",
            blocks.len()
        );
        println!("| setting | lines stored | compress MB/s CPU | decompress MB/s CPU |");
        println!("|---|---:|---:|---:|");
        type Params = Vec<CParameter>;
        let variants: Vec<(&str, i32, Params)> = vec![
            ("level 1", 1, vec![]),
            ("level 1, minMatch 5", 1, vec![CParameter::MinMatch(5)]),
            ("level 1, minMatch 4", 1, vec![CParameter::MinMatch(4)]),
            ("level 1, minMatch 7", 1, vec![CParameter::MinMatch(7)]),
            ("level 1, hashLog 16", 1, vec![CParameter::HashLog(16)]),
            ("level 1, hashLog 17", 1, vec![CParameter::HashLog(17)]),
            (
                "level 1, hashLog 17, minMatch 5",
                1,
                vec![CParameter::HashLog(17), CParameter::MinMatch(5)],
            ),
            ("level 1, windowLog 17", 1, vec![CParameter::WindowLog(17)]),
            ("level 1, windowLog 20", 1, vec![CParameter::WindowLog(20)]),
            (
                "level 1, targetLength 16",
                1,
                vec![CParameter::TargetLength(16)],
            ),
            (
                "level 1, strategy dfast",
                1,
                vec![CParameter::Strategy(Strategy::ZSTD_dfast)],
            ),
            (
                "level 1, strategy dfast, hashLog 17, chainLog 16",
                1,
                vec![
                    CParameter::Strategy(Strategy::ZSTD_dfast),
                    CParameter::HashLog(17),
                    CParameter::ChainLog(16),
                ],
            ),
            (
                "level 1, strategy greedy, searchLog 1",
                1,
                vec![
                    CParameter::Strategy(Strategy::ZSTD_greedy),
                    CParameter::SearchLog(1),
                ],
            ),
            ("level 2", 2, vec![]),
            ("level 3", 3, vec![]),
            ("level 4", 4, vec![]),
            ("level 5", 5, vec![]),
            ("level 6", 6, vec![]),
        ];
        let raw_lines: u64 = blocks.iter().map(|b| b.len() as u64).sum();
        for (name, level, params) in variants {
            let mut c = zstd::bulk::Compressor::new(level).unwrap();
            for p in &params {
                c.set_parameter(*p).unwrap();
            }
            let mut d = zstd::bulk::Decompressor::new().unwrap();
            let mut best = u64::MAX;
            let mut best_d = u64::MAX;
            let mut stored = 0u64;
            let mut buf = Vec::new();
            let mut back = Vec::new();
            for _ in 0..rounds {
                stored = 0;
                let t = cpu_ns();
                let mut frames = Vec::with_capacity(blocks.len());
                for b in &blocks {
                    buf.clear();
                    buf.reserve(zstd::zstd_safe::compress_bound(b.len()));
                    let n = c.compress_to_buffer(b, &mut buf).unwrap();
                    stored += n.min(b.len()) as u64;
                    frames.push(buf[..n].to_vec());
                }
                best = best.min(cpu_ns() - t);
                let t = cpu_ns();
                for (f, b) in frames.iter().zip(&blocks) {
                    back.clear();
                    back.reserve(b.len());
                    d.decompress_to_buffer(f, &mut back).unwrap();
                }
                best_d = best_d.min(cpu_ns() - t);
            }
            println!(
                "| {name} | {:.2}% | {:.0} | {:.0} |",
                pct(stored, raw),
                raw_lines as f64 / 1e6 / (best as f64 / 1e9),
                raw_lines as f64 / 1e6 / (best_d as f64 / 1e9),
            );
        }
    }
    if !want("dict") {
        return;
    }
    // A dictionary per stream, trained on its first flushed piece (at most 1 MiB of
    // lines), used for the later pieces' blocks; the first piece is compressed without.
    println!("\n## per-stream dictionary (trained on the first flushed piece)");
    for dict_size in [16usize << 10, 64 << 10] {
        let (mut with, mut without, mut dict_bytes) = (0u64, 0u64, 0u64);
        let (mut train_ns, mut comp_ns) = (0u64, 0u64);
        let mut plain = zstd::bulk::Compressor::new(1).unwrap();
        for pieces in &streams {
            let Some((first, rest)) = pieces.split_first() else {
                continue;
            };
            let mut samples: Vec<&[u8]> = Vec::new();
            let mut size = 0;
            for (_, l) in first {
                if size >= 1 << 20 {
                    break;
                }
                samples.push(l);
                size += l.len();
            }
            let t = cpu_ns();
            let dict = zstd::dict::from_samples(&samples, dict_size).ok();
            train_ns += cpu_ns() - t;
            let mut lines: Vec<Vec<u8>> = Vec::new();
            for p in rest {
                let mut cur = Vec::new();
                for (_, l) in p {
                    cur.extend_from_slice(l);
                    if cur.len() >= 256 << 10 {
                        lines.push(std::mem::take(&mut cur));
                    }
                }
                if !cur.is_empty() {
                    lines.push(cur);
                }
            }
            let mut dc = dict
                .as_ref()
                .map(|d| zstd::bulk::Compressor::with_dictionary(1, d).unwrap());
            dict_bytes += dict.as_ref().map_or(0, |d| d.len() as u64);
            for b in &lines {
                let n0 = plain.compress(b).unwrap().len() as u64;
                without += n0;
                let t = cpu_ns();
                with += match &mut dc {
                    Some(c) => c.compress(b).unwrap().len() as u64,
                    None => n0,
                };
                comp_ns += cpu_ns() - t;
            }
        }
        println!(
            "dict {} KiB: later pieces' lines {:.2}% of raw -> {:.2}% (+ dictionaries {:.2}%), \
             training {:.2} CPU-s, compression with dict {:.0} ms CPU",
            dict_size >> 10,
            pct(without, raw),
            pct(with, raw),
            pct(dict_bytes, raw),
            train_ns as f64 / 1e9,
            comp_ns as f64 / 1e6,
        );
    }
}

/// The timestamps of the flushed 256 KiB blocks: what the byte-planed deltas + zstd
/// store, against two bounds: Rice coding of the deltas with the best parameter per
/// block, and the entropy of an exponential distribution of the block's mean delta
/// (arrivals at random nanoseconds), `log2(e * mean)` bits per delta.
fn timestamps(streams: &[Vec<Piece>], raw: u64) {
    let (mut rice_bits, mut exp_bits, mut n) = (0f64, 0f64, 0u64);
    for p in streams.iter().flatten() {
        let mut first = 0;
        let mut acc = 0;
        for i in 0..p.len() {
            acc += p[i].1.len();
            if acc >= 256 << 10 || i + 1 == p.len() {
                let deltas: Vec<u64> = p[first..=i]
                    .windows(2)
                    .map(|w| (w[1].0 - w[0].0) as u64)
                    .collect();
                if !deltas.is_empty() {
                    let best = (0..40)
                        .map(|k| {
                            deltas
                                .iter()
                                .map(|&d| (k + 1 + (d >> k)) as f64)
                                .sum::<f64>()
                        })
                        .fold(f64::MAX, f64::min);
                    rice_bits += best;
                    let mean = deltas.iter().sum::<u64>() as f64 / deltas.len() as f64;
                    exp_bits += deltas.len() as f64 * (std::f64::consts::E * mean.max(1.0)).log2();
                    n += deltas.len() as u64 + 1;
                }
                first = i + 1;
                acc = 0;
            }
        }
    }
    println!(
        "\n## timestamps\nRice-coded deltas (best k per block): {:.2} B/entry = {:.2}% of raw; \
         exponential-entropy bound: {:.2} B/entry = {:.2}%",
        rice_bits / 8.0 / n as f64,
        100.0 * rice_bits / 8.0 / raw as f64,
        exp_bits / 8.0 / n as f64,
        100.0 * exp_bits / 8.0 / raw as f64,
    );
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time in seconds (UTC).
fn civil(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// How much of the lines is the entry's own timestamp written out (RFC 3339 with ns or
/// ms): the lines' level-1 size in 256 KiB blocks with and without that text.
fn embedded(streams: &[Vec<Piece>], raw: u64) {
    let mut c = zstd::bulk::Compressor::new(1).unwrap();
    let (mut with, mut without, mut hits, mut n) = (0u64, 0u64, 0u64, 0u64);
    let mut pos_bytes = 0u64;
    for p in streams.iter().flatten() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Per entry: 0 = no timestamp text, else 2 * (offset + 1) + (1 if ms): two
        // byte planes, compressed like a block section.
        let mut pos: Vec<u16> = Vec::new();
        let flush = |a: &mut Vec<u8>,
                     b: &mut Vec<u8>,
                     pos: &mut Vec<u16>,
                     c: &mut zstd::bulk::Compressor<'_>| {
            let mut planes: Vec<u8> = pos.iter().map(|&x| x as u8).collect();
            planes.extend(pos.iter().map(|&x| (x >> 8) as u8));
            pos.clear();
            let z = c.compress(&planes).unwrap().len().min(planes.len()) as u64;
            (
                c.compress(a).unwrap().len() as u64,
                c.compress(b).unwrap().len() as u64,
                z,
            )
        };
        for (ts, line) in p {
            n += 1;
            a.extend_from_slice(line);
            let base = civil(ts.div_euclid(1_000_000_000));
            let ns = ts.rem_euclid(1_000_000_000);
            let s = String::from_utf8_lossy(line);
            let ns_form = format!("{base}.{ns:09}Z");
            let ms_form = format!("{base}.{:03}Z", ns / 1_000_000);
            let stripped = if let Some(at) = s.find(&ns_form) {
                hits += 1;
                pos.push(2 * (at as u16 + 1));
                s.replacen(&ns_form, "", 1)
            } else if let Some(at) = s.find(&ms_form) {
                hits += 1;
                pos.push(2 * (at as u16 + 1) + 1);
                s.replacen(&ms_form, "", 1)
            } else {
                pos.push(0);
                s.into_owned()
            };
            b.extend_from_slice(stripped.as_bytes());
            if a.len() >= 256 << 10 {
                let (x, y, z) = flush(&mut a, &mut b, &mut pos, &mut c);
                with += x;
                without += y;
                pos_bytes += z;
                a.clear();
                b.clear();
            }
        }
        if !a.is_empty() {
            let (x, y, z) = flush(&mut a, &mut b, &mut pos, &mut c);
            with += x;
            without += y;
            pos_bytes += z;
        }
    }
    println!(
        "\n## timestamps written in the lines\n{hits} of {n} lines hold their entry's \
         timestamp (RFC 3339, ns or ms); lines at level 1: {:.2}% of raw, {:.2}% with that \
         text left out, plus {:.2}% for a column of where it was (u16 planes, zstd 1)",
        100.0 * with as f64 / raw as f64,
        100.0 * without as f64 / raw as f64,
        100.0 * pos_bytes as f64 / raw as f64,
    );
}

/// Writes `ts` as RFC 3339 with `digits` (9 or 3) fractional digits into `out`.
fn put_rfc3339(out: &mut Vec<u8>, ts: i64, digits: u32) {
    use std::io::Write;
    let ns = ts.rem_euclid(1_000_000_000);
    let _ = out.write_all(civil(ts.div_euclid(1_000_000_000)).as_bytes());
    let frac = ns / 10i64.pow(9 - digits);
    let _ = write!(out, ".{frac:0w$}Z", w = digits as usize);
}

/// CPU cost of leaving the timestamp text out of the lines (find it, copy the rest) and
/// of putting it back (format it, copy around it), over all entries.
fn embedded_cost(streams: &[Vec<Piece>], raw: u64) {
    let mut form = Vec::new();
    let mut stripped: Vec<(i64, u16, Vec<u8>)> = Vec::new();
    let t = cpu_ns();
    for (ts, line) in streams.iter().flatten().flatten() {
        let mut code = 0u16;
        let mut rest = line.clone();
        for (digits, kind) in [(9, 0u16), (3, 1)] {
            form.clear();
            put_rfc3339(&mut form, *ts, digits);
            if let Some(at) = line.windows(form.len()).position(|w| w == form.as_slice()) {
                code = 2 * (at as u16 + 1) + kind;
                rest.clear();
                rest.extend_from_slice(&line[..at]);
                rest.extend_from_slice(&line[at + form.len()..]);
                break;
            }
        }
        stripped.push((*ts, code, rest));
    }
    let strip_ns = cpu_ns() - t;
    let t = cpu_ns();
    let mut out = Vec::with_capacity(raw as usize);
    for (ts, code, rest) in &stripped {
        if *code == 0 {
            out.extend_from_slice(rest);
        } else {
            let at = usize::from(code / 2 - 1);
            out.extend_from_slice(&rest[..at]);
            put_rfc3339(&mut out, *ts, if code % 2 == 0 { 9 } else { 3 });
            out.extend_from_slice(&rest[at..]);
        }
    }
    let restore_ns = cpu_ns() - t;
    assert_eq!(out.len() as u64, raw);
    println!(
        "leaving it out (naive search, per entry): {:.0} ms CPU for all entries; putting it \
         back: {:.0} ms CPU ({:.0} MB/s of raw line bytes)",
        strip_ns as f64 / 1e6,
        restore_ns as f64 / 1e6,
        raw as f64 / 1e6 / (restore_ns as f64 / 1e9)
    );
}
