//! WAL record payloads: the first byte is the record type, which also versions the
//! layout of the rest (a new layout gets a new type byte).

use bytes::Bytes;

use crate::codec::{put_bytes, put_ivarint, put_uvarint, DecodeError, Reader};
use crate::entry::{Entry, StreamEntries};
use crate::head::HeadBuf;
use crate::labels::{validate_label_name, validate_tenant, Fingerprint, Labels};

/// Record type byte of a push (layout version 1).
pub const RECORD_PUSH: u8 = 1;
/// Record type byte of a carry: head entries re-logged by a flush (push layout).
pub const RECORD_CARRY: u8 = 2;
/// Every record type this build decodes.
pub(crate) const KNOWN_TYPES: &[u8] = &[RECORD_PUSH, RECORD_CARRY];

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalRecord {
    /// Entries accepted for a tenant, grouped by stream.
    Push {
        /// The tenant.
        tenant: String,
        /// The streams and their entries, in the order they were encoded.
        streams: Vec<StreamEntries>,
    },
    /// Entries a flush kept in the head instead of writing them to a segment, logged
    /// again at the start of the new WAL file so that the old files can be deleted.
    /// Replay applies a carry only when its file is the manifest's WAL checkpoint;
    /// otherwise the older files that first logged these entries are replayed too.
    Carry {
        /// The tenant.
        tenant: String,
        /// The streams and their entries, each stream's in `(ts, line)` order.
        streams: Vec<StreamEntries>,
    },
}

/// Appends the payload of a push record to `out` (which is not cleared).
///
/// Layout: `type=1 | tenant | stream count | per stream: labels, entry count, per
/// entry: ts delta (zigzag varint, from the previous entry of the stream, the first
/// from 0) | line | metadata pairs`. Strings and lines are uvarint-length-prefixed.
/// Nothing is allocated per entry.
pub fn encode_push(out: &mut Vec<u8>, tenant: &str, streams: &[(&Labels, &[&Entry])]) {
    out.push(RECORD_PUSH);
    put_bytes(out, tenant.as_bytes());
    put_uvarint(out, streams.len() as u64);
    for (labels, entries) in streams {
        put_uvarint(out, labels.len() as u64);
        for (n, v) in labels.iter() {
            put_bytes(out, n.as_bytes());
            put_bytes(out, v.as_bytes());
        }
        put_uvarint(out, entries.len() as u64);
        let mut prev = 0i64;
        for e in entries.iter() {
            put_ivarint(out, e.ts.wrapping_sub(prev));
            prev = e.ts;
            put_bytes(out, &e.line);
            put_uvarint(out, e.metadata.len() as u64);
            for (k, v) in &e.metadata {
                put_bytes(out, k.as_bytes());
                put_bytes(out, v.as_bytes());
            }
        }
    }
}

/// Appends the payload of a carry record to `out` (which is not cleared): the push
/// layout with type byte [`RECORD_CARRY`], each stream's entries taken from its head
/// buffer in `(ts, line)` order.
pub fn encode_carry(out: &mut Vec<u8>, tenant: &str, streams: &[(&Labels, &HeadBuf)]) {
    out.push(RECORD_CARRY);
    put_bytes(out, tenant.as_bytes());
    put_uvarint(out, streams.len() as u64);
    for (labels, buf) in streams {
        encode_labels(out, labels);
        put_uvarint(out, buf.len() as u64);
        let mut prev = 0i64;
        for (ts, line, metadata) in buf.iter() {
            put_ivarint(out, ts.wrapping_sub(prev));
            prev = ts;
            put_bytes(out, line);
            put_uvarint(out, metadata.len() as u64);
            for (k, v) in metadata {
                put_bytes(out, k.as_bytes());
                put_bytes(out, v.as_bytes());
            }
        }
    }
}

/// Decodes a record payload. Every count and length is checked against the bytes
/// present before anything is allocated; the tenant and labels are validated again
/// (sorted, unique, valid names, non-empty values). Lines share one copy of the
/// payload (`Bytes` slices), so decoding allocates per string, not per line.
pub fn decode_record(payload: &[u8]) -> Result<WalRecord, DecodeError> {
    let mut r = Reader::new(payload);
    match r.u8("record type")? {
        RECORD_PUSH => {
            let (tenant, streams) = decode_push(payload, r)?;
            Ok(WalRecord::Push { tenant, streams })
        }
        RECORD_CARRY => {
            let (tenant, streams) = decode_push(payload, r)?;
            Ok(WalRecord::Carry { tenant, streams })
        }
        t => Err(DecodeError::new(0, format!("unknown WAL record type {t}"))),
    }
}

fn decode_push(
    payload: &[u8],
    mut r: Reader<'_>,
) -> Result<(String, Vec<StreamEntries>), DecodeError> {
    let shared = Bytes::copy_from_slice(payload);
    let at = r.pos();
    let tenant = r.str("tenant")?;
    validate_tenant(tenant).map_err(|e| r.err_at(at, e.to_string()))?;
    // A stream takes at least 2 bytes (label count, entry count).
    let n_streams = r.count(2, "stream count")?;
    let mut streams = Vec::with_capacity(n_streams);
    for _ in 0..n_streams {
        let labels = decode_labels(&mut r)?;
        // An entry takes at least 3 bytes (ts, line length, metadata count).
        let n_entries = r.count(3, "entry count")?;
        let mut entries = Vec::with_capacity(n_entries);
        let mut prev = 0i64;
        for _ in 0..n_entries {
            let ts = prev.wrapping_add(r.ivarint("timestamp")?);
            prev = ts;
            let line = r.len_bytes("line")?;
            let start = r.pos() - line.len();
            let line = shared.slice(start..start + line.len());
            let n_meta = r.count(2, "metadata count")?;
            let mut metadata = Vec::with_capacity(n_meta);
            for _ in 0..n_meta {
                let k = r.str("metadata key")?;
                let v = r.str("metadata value")?;
                metadata.push((k.to_string(), v.to_string()));
            }
            entries.push(Entry { ts, line, metadata });
        }
        streams.push(StreamEntries { labels, entries });
    }
    r.expect_end("push record")?;
    Ok((tenant.to_string(), streams))
}

/// Reads `count | (name, value)*` and checks it is a valid label set.
pub(crate) fn decode_labels(r: &mut Reader<'_>) -> Result<Labels, DecodeError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    visit_labels(r, |n, v| pairs.push((n.to_string(), v.to_string())))?;
    Ok(Labels::from_sorted_unchecked(pairs))
}

/// Checks `count | (name, value)*` as [`decode_labels`] does, without building the
/// set; returns its [`Labels::fingerprint`].
pub(crate) fn check_labels(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    let mut f = Fingerprint::new();
    visit_labels(r, |n, v| f.push(n, v))?;
    Ok(f.finish())
}

/// Reads `count | (name, value)*`, checking that there is at least one pair, names are
/// valid, sorted and unique and values are not empty; calls `pair` for each.
fn visit_labels<'a>(
    r: &mut Reader<'a>,
    mut pair: impl FnMut(&'a str, &'a str),
) -> Result<(), DecodeError> {
    let n = r.count(2, "label count")?;
    if n == 0 {
        return Err(r.err("a label set needs at least one label"));
    }
    let mut last: Option<&str> = None;
    for _ in 0..n {
        let name_at = r.pos();
        let name = r.str("label name")?;
        let value = r.str("label value")?;
        validate_label_name(name).map_err(|e| r.err_at(name_at, e.to_string()))?;
        if value.is_empty() {
            return Err(r.err_at(name_at, "empty label value"));
        }
        if last.is_some_and(|l| l >= name) {
            return Err(r.err_at(name_at, "label names are not sorted and unique"));
        }
        last = Some(name);
        pair(name, value);
    }
    Ok(())
}

/// Appends `count | (name, value)*`.
pub(crate) fn encode_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for (n, v) in labels.iter() {
        put_bytes(out, n.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied()).unwrap()
    }

    fn round_trip(tenant: &str, streams: &[StreamEntries]) -> WalRecord {
        let refs: Vec<(Labels, Vec<&Entry>)> = streams
            .iter()
            .map(|s| (s.labels.clone(), s.entries.iter().collect()))
            .collect();
        let args: Vec<(&Labels, &[&Entry])> = refs.iter().map(|(l, e)| (l, e.as_slice())).collect();
        let mut out = Vec::new();
        encode_push(&mut out, tenant, &args);
        decode_record(&out).unwrap()
    }

    #[test]
    fn push_round_trips_with_metadata_and_odd_timestamps() {
        let streams = vec![
            StreamEntries {
                labels: labels(&[("app", "api"), ("host", "n1")]),
                entries: vec![
                    Entry::new(i64::MAX, "last"),
                    Entry::new(i64::MIN, "first").with_metadata([("trace_id", "ab"), ("k", "")]),
                    Entry::new(-5, vec![0u8, 255, 10]),
                    Entry::new(-5, ""),
                ],
            },
            StreamEntries {
                labels: labels(&[("app", "db")]),
                entries: vec![],
            },
        ];
        let rec = round_trip("tenant-1", &streams);
        assert_eq!(
            rec,
            WalRecord::Push {
                tenant: "tenant-1".into(),
                streams
            }
        );
    }

    #[test]
    fn carry_round_trips_in_buffer_order() {
        let mut buf = HeadBuf::default();
        assert!(buf.insert(20, b"later", &[]));
        assert!(buf.insert(-3, b"first", &[("k".into(), "v".into())]));
        assert!(buf.insert(20, b"a-later", &[]));
        let l = labels(&[("app", "x")]);
        let mut out = Vec::new();
        encode_carry(&mut out, "t1", &[(&l, &buf)]);
        let want = StreamEntries {
            labels: l.clone(),
            entries: vec![
                Entry::new(-3, "first").with_metadata([("k", "v")]),
                Entry::new(20, "a-later"),
                Entry::new(20, "later"),
            ],
        };
        assert_eq!(
            decode_record(&out).unwrap(),
            WalRecord::Carry {
                tenant: "t1".into(),
                streams: vec![want]
            }
        );
        for cut in 0..out.len() {
            assert!(decode_record(&out[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn bad_payloads_are_errors() {
        let mut out = Vec::new();
        let l = labels(&[("app", "x")]);
        let e = Entry::new(1, "hello");
        encode_push(&mut out, "fake", &[(&l, &[&e])]);
        for cut in 0..out.len() {
            assert!(decode_record(&out[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = out.clone();
        extra.push(0);
        assert!(decode_record(&extra).is_err());
        let mut bad_type = out.clone();
        bad_type[0] = 99;
        assert!(decode_record(&bad_type).is_err());
        // An invalid label name is refused.
        let pos = out.windows(3).position(|w| w == b"app").unwrap();
        let mut bad_name = out.clone();
        bad_name[pos] = b'9';
        assert!(decode_record(&bad_name).is_err());
        // An invalid tenant is refused.
        let mut bad_tenant = out.clone();
        bad_tenant[2] = b'/';
        assert!(decode_record(&bad_tenant).is_err());
    }

    #[test]
    fn unsorted_labels_are_refused() {
        let mut out = vec![RECORD_PUSH];
        put_bytes(&mut out, b"fake");
        put_uvarint(&mut out, 1);
        put_uvarint(&mut out, 2);
        for s in ["b", "1", "a", "2"] {
            put_bytes(&mut out, s.as_bytes());
        }
        put_uvarint(&mut out, 0);
        let e = decode_record(&out).unwrap_err();
        assert!(e.what.contains("sorted"), "{e}");
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        (
            any::<i64>(),
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(("[a-z_]{1,6}", ".{0,6}"), 0..3),
        )
            .prop_map(|(ts, line, md)| Entry::new(ts, line).with_metadata(md))
    }

    fn arb_stream() -> impl Strategy<Value = StreamEntries> {
        (
            proptest::collection::btree_map("[a-z_][a-z0-9_]{0,5}", ".{1,8}", 1..4),
            proptest::collection::vec(arb_entry(), 0..8),
        )
            .prop_filter_map("reserved names", |(l, entries)| {
                Some(StreamEntries {
                    labels: Labels::new(l).ok()?,
                    entries,
                })
            })
    }

    proptest! {
        #[test]
        fn push_round_trip(tenant in "[a-zA-Z0-9_.-]{1,20}", streams in proptest::collection::vec(arb_stream(), 0..4)) {
            prop_assume!(tenant != "." && tenant != "..");
            let rec = round_trip(&tenant, &streams);
            prop_assert_eq!(rec, WalRecord::Push { tenant, streams });
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_record(&bytes);
        }
    }
}
