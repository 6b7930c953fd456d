//! Flush: freeze the live head, write it as segments, switch the manifest, truncate
//! the WAL.
//!
//! 1. Under the writer lock: fsync and roll the WAL to file `seq + 1`, move the live
//!    head to the frozen list (new writes go to a fresh head and the new file).
//! 2. Without locks: write one segment per tenant of each frozen head, and a new index
//!    file for each tenant that gained streams since its last one.
//! 3. Write the manifest (`wal_checkpoint = seq + 1`, the new files added): from here
//!    the flush is durable.
//! 4. Publish: add the segments to the read view and drop the frozen heads in one step,
//!    so readers never see a gap or a double.
//! 5. Delete WAL files below the checkpoint and files the manifest no longer lists.
//!
//! A failure before step 3 leaves the frozen heads in place (readers still see them,
//! the WAL still covers them) and the next flush retries; files written by the failed
//! attempt are deleted at the next open.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use super::{Inner, SegRef, TenantSegs};
use crate::error::{Error, Result};
use crate::head::{self, Head, TenantHead};
use crate::index::LabelIndex;
use crate::index_file::TenantIndex;
use crate::labels::Labels;
use crate::manifest::{IndexFileRecord, SegmentRecord};
use crate::segment::{Segment, SegmentWriter};
use crate::wal::{self, WalWriter};

/// Opens a second handle on a WAL file, used only to fsync it outside the writer lock.
pub(super) fn sync_handle(path: &Path) -> Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

impl Inner {
    /// See the module documentation.
    pub(super) fn flush(&self) -> Result<()> {
        let mut fs = self.flush.lock();
        self.freeze()?;
        let frozen: Vec<(Arc<Head>, u64)> = self.view.read().frozen.clone();
        let Some(&(_, checkpoint)) = frozen.last() else {
            return Ok(());
        };

        let mut new_recs: Vec<SegmentRecord> = Vec::new();
        let mut new_segs: Vec<(String, SegRef)> = Vec::new();
        let mut seg_bytes = 0;
        for (head, _) in &frozen {
            let mut tenants: Vec<&String> = head.tenants.keys().collect();
            tenants.sort();
            for tenant in tenants {
                let th = &head.tenants[tenant];
                if th.streams.is_empty() {
                    continue;
                }
                let file_id = self.alloc_file_id();
                let (rec, seg) = self.write_segment(file_id, tenant, th)?;
                seg_bytes += rec.file_bytes;
                new_segs.push((
                    tenant.clone(),
                    SegRef {
                        seg,
                        file_id,
                        order: rec.order,
                    },
                ));
                new_recs.push(rec);
            }
        }

        // Index files of tenants that gained streams.
        let mut new_index_files: Vec<(String, u32, u64)> = Vec::new();
        let tenant_indexes: Vec<(String, Arc<parking_lot::RwLock<LabelIndex>>)> = self
            .view
            .read()
            .tenants
            .iter()
            .map(|(t, tv)| (t.clone(), tv.index.clone()))
            .collect();
        for (tenant, index) in tenant_indexes {
            let persisted = fs.index_files.get(&tenant).map_or(0, |(n, _)| *n);
            let ti = {
                let ix = index.read();
                if ix.len() <= persisted {
                    continue;
                }
                to_index_file(&tenant, &ix)
            };
            let file_id = self.alloc_file_id();
            let path = super::idx_path(&self.dir, file_id);
            ti.write(&path)?;
            new_index_files.push((tenant, ti.streams.len() as u32, file_id));
        }

        // Switch the manifest and publish, as one step for other manifest writers.
        {
            let mut ms = self.manifest.lock();
            let mut manifest = ms.manifest.clone();
            manifest.segments.extend(new_recs);
            for (tenant, _, file_id) in &new_index_files {
                manifest.index_files.retain(|r| &r.tenant != tenant);
                manifest.index_files.push(IndexFileRecord {
                    file_id: *file_id,
                    tenant: tenant.clone(),
                });
            }
            manifest.wal_checkpoint = checkpoint;
            manifest.generation += 1;
            manifest.write(&self.dir)?;
            ms.manifest = manifest;
            let mut view = self.view.write();
            for (tenant, sr) in &new_segs {
                let tv = view.tenants.entry(tenant.clone()).or_default();
                add_segment(Arc::make_mut(&mut tv.segs), sr.clone());
            }
            view.frozen.drain(..frozen.len());
        }
        let mut old_index_files = Vec::new();
        for (tenant, n, file_id) in new_index_files {
            if let Some((_, old)) = fs.index_files.insert(tenant, (n, file_id)) {
                old_index_files.push(old);
            }
        }
        drop(fs);
        self.counters.add_flush(new_segs.len() as u64, seg_bytes);

        // Clean up what the manifest no longer needs.
        let wal_dir = self.dir.join(wal::DIR_NAME);
        for (seq, path) in wal::wal_files(&wal_dir)? {
            if seq < checkpoint {
                remove_file(&path);
            }
        }
        for id in old_index_files {
            remove_file(&super::idx_path(&self.dir, id));
        }
        Ok(())
    }

    /// Takes the next file id (made durable by the next manifest write; an id taken
    /// by a write that never reaches the manifest is simply skipped).
    pub(super) fn alloc_file_id(&self) -> u64 {
        let mut ms = self.manifest.lock();
        let id = ms.manifest.next_file_id;
        ms.manifest.next_file_id += 1;
        id
    }

    /// Rolls the WAL and moves the live head to the frozen list (no-op when empty).
    fn freeze(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some(reason) = &w.closed {
            return Err(Error::Closed(reason.clone()));
        }
        if self.view.read().live.is_empty() {
            return Ok(());
        }
        let rolled = w.wal.sync().and_then(|()| {
            let next = WalWriter::create(&self.dir.join(wal::DIR_NAME), w.wal.seq() + 1)?;
            let handle = sync_handle(next.path())?;
            Ok((next, handle))
        });
        let (next, handle) = match rolled {
            Ok(x) => x,
            Err(e) => {
                drop(w);
                self.poison(format!("WAL roll failed: {e}"));
                return Err(e);
            }
        };
        let checkpoint = next.seq();
        w.wal = next;
        w.sync_file = Arc::new(handle);
        {
            let mut s = self.sync.lock();
            s.synced = s.synced.max(w.batch_seq);
        }
        let mut view = self.view.write();
        let live = std::mem::take(&mut view.live);
        view.frozen.push((Arc::new(live), checkpoint));
        Ok(())
    }

    /// Writes one tenant's part of a frozen head as a segment and opens it.
    fn write_segment(
        &self,
        file_id: u64,
        tenant: &str,
        th: &TenantHead,
    ) -> Result<(SegmentRecord, Arc<Segment>)> {
        let labels: Vec<Labels> = {
            let view = self.view.read();
            let tv = view
                .tenants
                .get(tenant)
                .ok_or_else(|| Error::InvalidArgument(format!("no index for tenant {tenant}")))?;
            let ix = tv.index.read();
            th.streams
                .keys()
                .map(|&id| ix.labels(id).cloned().unwrap_or_default())
                .collect()
        };
        let path = super::seg_path(&self.dir, file_id);
        let mut sw = SegmentWriter::create(&path, tenant)?;
        for ((&id, sh), labels) in th.streams.iter().zip(&labels) {
            for c in &sh.chunks {
                sw.add_chunk(id, labels, c)?;
            }
            if !sh.buf.is_empty() {
                let c = head::encode(&sh.buf, self.cut_config());
                sw.add_chunk(id, labels, &c)?;
            }
        }
        let summary = sw.finish()?;
        let seg = Arc::new(Segment::open(&path)?);
        let rec = SegmentRecord {
            file_id,
            tenant: tenant.to_owned(),
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
            entries: summary.entries,
            raw_bytes: summary.raw_bytes,
            file_bytes: summary.file_bytes,
            order: file_id,
        };
        Ok((rec, seg))
    }
}

/// Adds a segment's chunks to a tenant's per-stream chunk lists; segments must come in
/// write order (`SegRef::order`).
pub(super) fn add_segment(segs: &mut TenantSegs, sr: SegRef) {
    let si = segs.segments.len() as u32;
    let streams = sr.seg.streams();
    for (ci, c) in sr.seg.chunks().iter().enumerate() {
        let id = streams[c.stream as usize].stream_id;
        segs.chunks.entry(id).or_default().push((si, ci as u32));
    }
    segs.segments.push(sr);
}

/// The index file content of a tenant.
pub(super) fn to_index_file(tenant: &str, ix: &LabelIndex) -> TenantIndex {
    TenantIndex {
        tenant: tenant.to_owned(),
        streams: ix
            .streams()
            .iter()
            .enumerate()
            .map(|(id, s)| (id as u32, s.fingerprint, s.labels.clone()))
            .collect(),
        postings: ix
            .postings()
            .iter()
            .map(|(n, vs)| {
                (
                    n.clone(),
                    vs.iter().map(|(v, b)| (v.clone(), b.clone())).collect(),
                )
            })
            .collect(),
    }
}

/// Deletes a file, logging (not failing) when that is impossible.
pub(super) fn remove_file(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("could not delete {}: {e}", path.display());
        }
    }
}

/// Per stream id, the newest timestamp in a tenant's segments.
pub(super) fn newest_per_stream(segs: &TenantSegs) -> HashMap<u32, i64> {
    let mut out: HashMap<u32, i64> = HashMap::new();
    for (&id, refs) in &segs.chunks {
        for &(si, ci) in refs {
            let c = &segs.segments[si as usize].seg.chunks()[ci as usize];
            let e = out.entry(id).or_insert(c.max_ts);
            *e = (*e).max(c.max_ts);
        }
    }
    out
}
