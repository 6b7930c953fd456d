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

use std::collections::{HashMap, HashSet};
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
    /// See the module documentation: writes everything in the head.
    pub(super) fn flush(&self) -> Result<()> {
        self.flush_with(false)
    }

    /// A flush; with `carry` (memory-driven flushes), unfinished head buffers may stay
    /// in the head instead of being cut into small blocks (see [`Inner::freeze`]).
    pub(super) fn flush_with(&self, carry: bool) -> Result<()> {
        let mut fs = self.flush.lock();
        self.freeze(carry)?;
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
    ///
    /// With `carry`, small head buffers (see [`Inner::pick_carry`]; an eighth of `max_head_bytes` at most)
    /// stay in the new live head instead of being written as small blocks that compress
    /// worse; they keep filling until cut at the block target. Their entries are logged
    /// again as carry records at the start of the new WAL file, fsynced before the
    /// manifest can move the WAL checkpoint to that file (and so let the older files,
    /// which logged them first, be deleted). Replay applies a carry record only when its
    /// file is the checkpoint (see `recover.rs`), so a crash before the manifest switch
    /// replays the older files instead and nothing is applied twice.
    fn freeze(&self, carry: bool) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some(reason) = &w.closed {
            return Err(Error::Closed(reason.clone()));
        }
        if self.view.read().live.is_empty() {
            return Ok(());
        }
        let picked = if carry {
            self.pick_carry()
        } else {
            HashSet::new()
        };
        let Some(log) = w.wal.as_mut() else {
            return Err(Error::ReadOnly("flush"));
        };
        let rolled = log.sync().and_then(|()| {
            let mut next = WalWriter::create(&self.dir.join(wal::DIR_NAME), log.seq() + 1)?;
            if !picked.is_empty() {
                self.log_carry(&mut next, &picked)?;
                next.sync()?;
            }
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
        w.wal = Some(next);
        w.sync_file = Some(Arc::new(handle));
        {
            let mut s = self.sync.lock();
            s.synced = s.synced.max(w.batch_seq);
        }
        let mut view = self.view.write();
        let mut live = std::mem::take(&mut view.live);
        if !picked.is_empty() {
            view.live = live.take_buffers(|t, id, _| picked.contains(&(t.to_owned(), id)));
        }
        view.frozen.push((Arc::new(live), checkpoint));
        Ok(())
    }

    /// The head buffers a carrying flush keeps: those holding at most a quarter of the
    /// block target, smallest first (they would make the worst blocks, and cost the
    /// least to log again), while their memory stays within an eighth of `max_head_bytes`.
    /// On `gen_logs.py` lines zstd -1 stores 256 KiB blocks at 18.9% of raw, 64 KiB
    /// blocks at 19.8% and 16 KiB blocks at 22.2%: the gain per byte logged again falls
    /// fast with the buffer's size. Called under the writer lock.
    fn pick_carry(&self) -> HashSet<(String, u32)> {
        let small = (self.opts.block_target_bytes / 4).min(CARRY_MAX_BUFFER);
        let view = self.view.read();
        let mut cands: Vec<(usize, &String, u32)> = view
            .live
            .tenants
            .iter()
            .flat_map(|(t, th)| {
                th.streams.iter().filter_map(move |(&id, sh)| {
                    let fits = !sh.buf.is_empty() && sh.buf.raw_bytes() <= small;
                    fits.then(|| (sh.buf.mem_bytes(), t, id))
                })
            })
            .collect();
        cands.sort_unstable();
        // Carried buffers stay in memory while the frozen head is written: an eighth of
        // the budget keeps the peak RSS of a fast ingest near what it was without carry.
        let budget = self.opts.max_head_bytes / 8;
        let mut used = 0;
        let mut out = HashSet::new();
        for (mem, t, id) in cands {
            used += mem;
            if used > budget {
                break;
            }
            out.insert((t.clone(), id));
        }
        out
    }

    /// Appends carry records for the `picked` head buffers to `wal` and hands them to
    /// the OS; a record is closed once it holds [`CARRY_RECORD_BYTES`] of lines.
    /// Called under the writer lock.
    fn log_carry(&self, wal: &mut WalWriter, picked: &HashSet<(String, u32)>) -> Result<()> {
        let view = self.view.read();
        let mut tenants: Vec<&String> = view.live.tenants.keys().collect();
        tenants.sort();
        for tenant in tenants {
            let Some(tv) = view.tenants.get(tenant) else {
                continue;
            };
            let ix = tv.index.read();
            let mut group: Vec<(&Labels, &head::HeadBuf)> = Vec::new();
            let mut bytes = 0;
            for (&id, sh) in &view.live.tenants[tenant].streams {
                if !picked.contains(&(tenant.clone(), id)) {
                    continue;
                }
                let labels = ix.labels(id).ok_or_else(|| {
                    Error::InvalidArgument(format!("no labels for stream {id} of {tenant}"))
                })?;
                if bytes > 0 && bytes + sh.buf.raw_bytes() > CARRY_RECORD_BYTES {
                    append_carry(wal, tenant, &group)?;
                    group.clear();
                    bytes = 0;
                }
                bytes += sh.buf.raw_bytes();
                group.push((labels, &sh.buf));
            }
            if !group.is_empty() {
                append_carry(wal, tenant, &group)?;
            }
        }
        wal.write_out()
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

/// Line bytes above which a single buffer is not carried: keeps carry records far
/// below `wal::MAX_RECORD_LEN`.
const CARRY_MAX_BUFFER: usize = 16 << 20;
/// Line bytes after which a carry record is closed and the next one started: small
/// records keep the WAL writer's buffer (and the peak memory of a flush) small.
const CARRY_RECORD_BYTES: usize = 1 << 20;

/// Encodes one carry record and appends it to `wal`.
fn append_carry(
    wal: &mut WalWriter,
    tenant: &str,
    group: &[(&Labels, &head::HeadBuf)],
) -> Result<()> {
    wal.append_with(|buf| wal::encode_carry(buf, tenant, group))
        .map(|_| ())
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
