//! Opening a database: lock, manifest, index files, segment footers, WAL replay.
//!
//! Nothing here scans segment data: a segment is opened by reading its header and
//! footer (stream table and chunk metas), so open time grows with the number of chunks,
//! not entries. Only the WAL (what was not flushed yet) is read in full.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use super::flush::{add_segment, newest_per_stream, remove_file, sync_handle};
use super::{
    BgState, FlushState, Inner, ManifestState, RecoveryReport, SegRef, SyncState, TenantSegs,
    TenantView, View, Writer, WriterTenant,
};
use crate::delete::{CompiledDelete, DeleteStatus};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::index::LabelIndex;
use crate::index_file::TenantIndex;
use crate::labels::Labels;
use crate::lock::DirLock;
use crate::manifest::Manifest;
use crate::options::Options;
use crate::retention::RetentionPolicy;
use crate::segment::Segment;
use crate::wal::{self, WalRecord, WalWriter};

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))
}

fn list_dir(p: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).map_err(|e| Error::io(p, e))? {
        out.push(e.map_err(|e| Error::io(p, e))?.path());
    }
    Ok(out)
}

fn is_tmp(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "tmp")
}

/// Opens and recovers the database in `dir`. With [`Options::read_only`] nothing is
/// written or removed: leftovers and covered WAL files stay, a torn tail is skipped in
/// memory, and no WAL file is opened for writing.
pub(super) fn open(dir: &Path, opts: Options) -> Result<Inner> {
    let writes = !opts.read_only;
    mkdir(dir)?;
    let lock = DirLock::acquire(dir)?;
    let wal_dir = dir.join(wal::DIR_NAME);
    let seg_dir = dir.join(crate::segment::DIR_NAME);
    let idx_dir = dir.join(crate::index_file::DIR_NAME);
    for d in [&wal_dir, &seg_dir, &idx_dir] {
        mkdir(d)?;
    }
    let mut report = RecoveryReport::default();
    let manifest = Manifest::read(dir)?.unwrap_or_else(Manifest::new);

    // Leftovers: temporary files anywhere, segment and index files the manifest does
    // not list (written by a flush that did not reach its manifest switch).
    if writes {
        remove_leftovers(dir, &manifest, &mut report)?;
    }

    // Segments (footers only), grouped per tenant in file id order.
    let mut records = manifest.segments.clone();
    records.sort_by_key(|r| (r.order, r.file_id));
    let mut segs: HashMap<String, TenantSegs> = HashMap::new();
    for r in &records {
        let path = super::seg_path(dir, r.file_id);
        let seg = Segment::open(&path)?;
        if seg.tenant() != r.tenant {
            return Err(Error::corrupt(
                &path,
                0,
                format!(
                    "segment belongs to tenant {:?}, the manifest says {:?}",
                    seg.tenant(),
                    r.tenant
                ),
            ));
        }
        let sr = SegRef {
            seg: Arc::new(seg),
            file_id: r.file_id,
            order: r.order,
        };
        add_segment(segs.entry(r.tenant.clone()).or_default(), sr);
    }

    // Label indexes: from index files, or rebuilt from the segments' stream tables.
    let mut index_files: HashMap<String, (u32, u64)> = HashMap::new();
    let mut indexes: HashMap<String, LabelIndex> = HashMap::new();
    for r in &manifest.index_files {
        let path = super::idx_path(dir, r.file_id);
        match TenantIndex::read(&path).and_then(|ti| load_index(&path, &r.tenant, ti)) {
            Ok(ix) => {
                index_files.insert(r.tenant.clone(), (ix.len(), r.file_id));
                indexes.insert(r.tenant.clone(), ix);
            }
            Err(e) => log::warn!(
                "index file of tenant {:?} unusable ({e}); rebuilding it from segments",
                r.tenant
            ),
        }
    }
    let mut tenant_names: Vec<&String> = segs.keys().collect();
    tenant_names.sort();
    for tenant in tenant_names {
        let ts = &segs[tenant];
        let ok = indexes.get(tenant).is_some_and(|ix| covers(ix, ts));
        if !ok {
            log::warn!("rebuilding the label index of tenant {tenant:?} from its segments");
            indexes.insert(tenant.clone(), rebuild_index(ts)?);
            index_files.remove(tenant);
            report.rebuilt_indexes.push(tenant.clone());
        }
    }

    // Pending delete requests, compiled for the read filters.
    let mut pending: HashMap<String, Vec<Arc<CompiledDelete>>> = HashMap::new();
    for d in &manifest.deletes {
        if d.request.status == DeleteStatus::Pending {
            let c = CompiledDelete::new(&d.request).map_err(|e| {
                Error::corrupt(
                    dir.join(crate::manifest::FILE_NAME),
                    0,
                    format!("delete request {} does not parse: {e}", d.request.id),
                )
            })?;
            pending
                .entry(d.request.tenant.clone())
                .or_default()
                .push(Arc::new(c));
        }
    }
    for t in pending.keys() {
        indexes.entry(t.clone()).or_default();
    }

    let mut writer_tenants: HashMap<String, WriterTenant> = HashMap::new();
    let mut tenants: HashMap<String, TenantView> = HashMap::new();
    for (tenant, ix) in indexes {
        let ts = segs.remove(&tenant).unwrap_or_default();
        let deletes = Arc::new(pending.remove(&tenant).unwrap_or_default());
        let mut wt = WriterTenant::default();
        for (id, ts_max) in newest_per_stream(&ts) {
            wt.observe(id, ts_max);
        }
        writer_tenants.insert(tenant.clone(), wt);
        tenants.insert(
            tenant,
            TenantView {
                index: Arc::new(RwLock::new(ix)),
                segs: Arc::new(ts),
                deletes,
            },
        );
    }

    // The WAL: files below the checkpoint are covered by segments.
    let mut replay: Vec<(u64, PathBuf)> = Vec::new();
    let mut max_seq = manifest.wal_checkpoint;
    let checkpoint = manifest.wal_checkpoint;
    for (seq, path) in wal::wal_files(&wal_dir)? {
        if seq < manifest.wal_checkpoint {
            if writes {
                remove_file(&path);
                report.removed_files.push(path);
            }
        } else {
            max_seq = max_seq.max(seq + 1);
            replay.push((seq, path));
        }
    }
    // An open that wrote nothing left its file as a bare header: append to it again
    // rather than create a new file and delete that one (reads cost no file churn).
    let reused = match replay.last() {
        Some((seq, _)) if writes => WalWriter::reopen_empty(&wal_dir, *seq)?,
        _ => None,
    };
    let wal_writer = match reused {
        Some(w) => {
            replay.pop();
            Some(w)
        }
        None if writes => Some(WalWriter::create(&wal_dir, max_seq.max(1))?),
        None => None,
    };
    let sync_file = match &wal_writer {
        Some(w) => Some(Arc::new(sync_handle(w.path())?)),
        None => None,
    };
    let policy = Arc::new(RetentionPolicy::new(&opts)?);
    let inner = Inner {
        dir: dir.to_path_buf(),
        opts,
        manifest: Mutex::new(ManifestState {
            manifest,
            applying: Default::default(),
        }),
        compaction: Mutex::new(()),
        compact_stop: Default::default(),
        policy,
        _lock: lock,
        writer: Mutex::new(Writer {
            wal: wal_writer,
            sync_file,
            batch_seq: 0,
            tenants: writer_tenants,
            closed: None,
        }),
        view: RwLock::new(View {
            tenants,
            ..View::default()
        }),
        sync: Mutex::new(SyncState::default()),
        sync_cv: Condvar::new(),
        flush: Mutex::new(FlushState { index_files }),
        bg: Mutex::new(BgState::default()),
        bg_cv: Condvar::new(),
        counters: Default::default(),
        recovery: RecoveryReport::default(),
    };
    for (seq, path) in &replay {
        // A carry in the checkpoint file re-logs what the deleted older files held; in
        // a later file, the flush that wrote it never committed and the older files
        // that hold the same entries are replayed instead.
        let apply_carry = *seq == checkpoint;
        let outcome = {
            let mut w = inner.writer.lock();
            // File offset of the next record, so that a bad payload is reported where it is.
            let mut pos = wal::HEADER_LEN as u64;
            wal::replay_file_with(path, writes, &mut |payload| {
                let base = pos + wal::RECORD_HEADER_LEN as u64;
                pos = base + payload.len() as u64;
                let rec = wal::decode_record(payload).map_err(|e| e.into_corrupt(path, base))?;
                match rec {
                    WalRecord::Carry { .. } if !apply_carry => {}
                    WalRecord::Push { tenant, streams } | WalRecord::Carry { tenant, streams } => {
                        let refs: Vec<Vec<&Entry>> =
                            streams.iter().map(|s| s.entries.iter().collect()).collect();
                        let groups: Vec<(&Labels, &[&Entry])> = streams
                            .iter()
                            .zip(&refs)
                            .map(|(s, r)| (&s.labels, &r[..]))
                            .collect();
                        inner.apply(&mut w, &tenant, &groups);
                    }
                }
                Ok(())
            })?
        };
        report.wal_files += 1;
        report.wal_records += outcome.records;
        if outcome.records == 0 && writes {
            // Nothing in it (an open without writes, or only a torn record): keeping
            // it would only make every later open replay one more empty file.
            remove_file(path);
        }
        if let Some(t) = outcome.torn_tail {
            log::warn!(
                "{}: cut a torn last record at byte {} ({} bytes): a push interrupted by a crash, never acknowledged",
                t.path.display(),
                t.offset,
                t.discarded_bytes
            );
            report.torn_tails.push(t);
        }
    }
    Ok(Inner {
        recovery: report,
        ..inner
    })
}

/// Removes temporary files anywhere, and the segment and index files `manifest` does
/// not list (written by a flush that did not reach its manifest switch).
fn remove_leftovers(dir: &Path, manifest: &Manifest, report: &mut RecoveryReport) -> Result<()> {
    let wal_dir = dir.join(wal::DIR_NAME);
    let seg_dir = dir.join(crate::segment::DIR_NAME);
    let idx_dir = dir.join(crate::index_file::DIR_NAME);
    let mut keep: HashSet<PathBuf> = HashSet::new();
    for r in &manifest.segments {
        keep.insert(super::seg_path(dir, r.file_id));
    }
    for r in &manifest.index_files {
        keep.insert(super::idx_path(dir, r.file_id));
    }
    for p in list_dir(dir)?.into_iter().filter(|p| is_tmp(p)) {
        remove_file(&p);
        report.removed_files.push(p);
    }
    for d in [&seg_dir, &idx_dir] {
        for p in list_dir(d)? {
            if p.is_file() && !keep.contains(&p) {
                remove_file(&p);
                report.removed_files.push(p);
            }
        }
    }
    for p in list_dir(&wal_dir)?.into_iter().filter(|p| is_tmp(p)) {
        remove_file(&p);
        report.removed_files.push(p);
    }
    Ok(())
}

/// Builds a label index from an index file, checking it is dense and consistent.
fn load_index(path: &Path, tenant: &str, ti: TenantIndex) -> Result<LabelIndex> {
    if ti.tenant != tenant {
        return Err(Error::corrupt(path, 0, "index file of another tenant"));
    }
    let mut ix = LabelIndex::new();
    for (id, fp, labels) in &ti.streams {
        if *id != ix.len() || *fp != labels.fingerprint() || ix.get_or_insert(labels) != *id {
            return Err(Error::corrupt(path, 0, format!("bad stream entry {id}")));
        }
    }
    Ok(ix)
}

/// True when the index knows every stream the segments use, with the same labels.
fn covers(ix: &LabelIndex, segs: &TenantSegs) -> bool {
    segs.segments.iter().all(|s| {
        s.seg
            .streams()
            .iter()
            .all(|st| ix.labels(st.stream_id).is_some_and(|l| st.has_labels(l)))
    })
}

/// Rebuilds a tenant's label index from its segments' stream tables. Ids missing from
/// every segment (streams that only had unflushed data) get an empty placeholder so
/// ids stay dense; a placeholder has no labels and no data, so no read returns it.
fn rebuild_index(segs: &TenantSegs) -> Result<LabelIndex> {
    let mut by_id: std::collections::BTreeMap<u32, Labels> = Default::default();
    for s in &segs.segments {
        for st in s.seg.streams() {
            by_id
                .entry(st.stream_id)
                .or_insert_with(|| st.labels().clone());
        }
    }
    let mut ix = LabelIndex::new();
    for (id, labels) in by_id {
        while ix.len() < id {
            ix.push_placeholder();
        }
        if ix.get_or_insert(&labels) != id {
            return Err(Error::InvalidArgument(format!(
                "segments disagree on the id of stream {labels}; cannot rebuild the index"
            )));
        }
    }
    Ok(ix)
}
