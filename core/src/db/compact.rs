//! Compaction in the engine: plan per tenant, rewrite, switch the manifest, publish.
//!
//! 1. (compaction mutex: one at a time) If delete requests are due, flush first so the
//!    head's data is in segments (always for an explicit `compact()`).
//! 2. Per tenant, from the view's segment list (in write order):
//!    - a segment whose every chunk is past its stream's retention cutoff is **dropped**
//!      without being read;
//!    - a segment holding expired entries (background runs: at least a quarter of its
//!      raw bytes) or entries of a due delete request is **dirty**: it must be rewritten;
//!    - a segment under a quarter of `compaction_segment_bytes` is **small**.
//!
//!    Runs of consecutive (in write order) dirty or small segments whose oldest entries
//!    fall in the same time partition (`compaction_partition`, a UTC day by default), up
//!    to `compaction_segment_bytes`, are rewritten into one new segment each (runs of one
//!    clean segment are left alone). Consecutive, so that the new segment can take the
//!    run's place in the write order (its `order` is the first input's), which keeps
//!    "the first written copy of a duplicate wins" true across compactions.
//! 3. Under the manifest lock: one manifest write removes the inputs and dropped
//!    segments, adds the outputs and marks the applied delete requests; then, under
//!    the view lock, the same change is published in one step.
//! 4. The old files are deleted (open snapshots keep their maps: unlinking a mapped
//!    file leaves the mapping valid on Unix).
//!
//! A crash before step 3 leaves new files the manifest does not list; after it, old
//! files it does not list. Either way the next open deletes them, so every entry is
//! there exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::flush::{add_segment, remove_file};
use super::{Inner, SegRef, TenantSegs};
use crate::compaction::{rewrite_stream, CompactionReport, InputChunk, Pace, StreamRewrite};
use crate::delete::{CompiledDelete, DeleteStatus, StreamDeletes};
use crate::error::Result;
use crate::labels::Labels;
use crate::manifest::SegmentRecord;
use crate::segment::{Segment, SegmentWriter};

/// Who asked for the compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `Db::compact`: thorough, unthrottled.
    Explicit,
    /// The background schedule: throttled, lazier about partly expired segments.
    Background,
}

/// Per tenant, the pending delete requests past their cancel period.
type DueDeletes = HashMap<String, Vec<Arc<CompiledDelete>>>;

/// What one tenant's compaction produced, not yet switched.
#[derive(Debug, Default)]
struct TenantOut {
    removed: HashSet<u64>,
    added: Vec<(SegmentRecord, SegRef)>,
    /// Due delete requests that touched a rewritten segment.
    touched: HashSet<u64>,
}

/// Test hook: `LOGJAR_COMPACT_PAUSE_MS` sleeps this long after each output segment
/// is written, to widen the window a crash test can hit.
fn test_pause() {
    if let Some(ms) = std::env::var_os("LOGJAR_COMPACT_PAUSE_MS")
        .and_then(|v| v.to_str().and_then(|s| s.parse::<u64>().ok()))
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

impl Inner {
    pub(super) fn compact(&self, mode: Mode) -> Result<CompactionReport> {
        let _one = self.compaction.lock();
        let t0 = Instant::now();
        let now = crate::retention::now_ns();
        let cancel_ns =
            i64::try_from(self.opts.delete_cancel_period.as_nanos()).unwrap_or(i64::MAX);
        let due_of = |tv: &super::TenantView| -> Vec<Arc<CompiledDelete>> {
            tv.deletes
                .iter()
                .filter(|d| d.created.saturating_add(cancel_ns) <= now)
                .cloned()
                .collect()
        };
        let any_due = self
            .view
            .read()
            .tenants
            .values()
            .any(|tv| !due_of(tv).is_empty());
        if mode == Mode::Explicit || any_due {
            self.flush()?;
        }

        // The inputs: every tenant's segments and due deletes, as of now.
        let (tenants, due): (Vec<(String, Arc<TenantSegs>)>, DueDeletes) = {
            let view = self.view.read();
            let mut t: Vec<(String, Arc<TenantSegs>)> = view
                .tenants
                .iter()
                .map(|(n, tv)| (n.clone(), tv.segs.clone()))
                .collect();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            let d = view
                .tenants
                .iter()
                .map(|(n, tv)| (n.clone(), due_of(tv)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            (t, d)
        };
        {
            let mut ms = self.manifest.lock();
            ms.applying = due.values().flatten().map(|d| d.id).collect();
        }
        let result = self.compact_tenants(mode, now, &tenants, &due);
        let outs = match result {
            Ok(o) => o,
            Err(e) => {
                self.manifest.lock().applying.clear();
                return Err(e);
            }
        };
        let mut report = CompactionReport::default();
        for (_, segs) in &tenants {
            report.segments_before += segs.segments.len() as u64;
            report.bytes_before += segs
                .segments
                .iter()
                .map(|s| s.seg.file_bytes())
                .sum::<u64>();
        }
        let switched = self.switch(&tenants, &due, outs, &mut report);
        self.manifest.lock().applying.clear();
        let old_files = switched?;
        for id in old_files {
            remove_file(&super::seg_path(&self.dir, id));
        }
        if mode == Mode::Explicit {
            self.sweep_orphans();
        }
        report.duration_ms = t0.elapsed().as_millis() as u64;
        Ok(report)
    }

    fn compact_tenants(
        &self,
        mode: Mode,
        now: i64,
        tenants: &[(String, Arc<TenantSegs>)],
        due: &DueDeletes,
    ) -> Result<Vec<(String, TenantOut, CompactionReport)>> {
        let rate = match mode {
            Mode::Explicit => 0,
            Mode::Background => self.opts.compaction_max_bytes_per_sec,
        };
        let mut pace = Pace::new(rate, &self.compact_stop);
        let mut outs: Vec<(String, TenantOut, CompactionReport)> = Vec::new();
        for (tenant, segs) in tenants {
            let mut rep = CompactionReport::default();
            let no_due = Vec::new();
            let due = due.get(tenant).unwrap_or(&no_due);
            let out = match self.compact_tenant(mode, now, tenant, segs, due, &mut pace, &mut rep) {
                Ok(o) => o,
                Err(e) => {
                    for (_, o, _) in &outs {
                        for (_, sr) in &o.added {
                            remove_file(&super::seg_path(&self.dir, sr.file_id));
                        }
                    }
                    return Err(e);
                }
            };
            outs.push((tenant.clone(), out, rep));
        }
        Ok(outs)
    }

    #[allow(clippy::too_many_arguments)]
    fn compact_tenant(
        &self,
        mode: Mode,
        now: i64,
        tenant: &str,
        segs: &TenantSegs,
        due: &[Arc<CompiledDelete>],
        pace: &mut Pace<'_>,
        rep: &mut CompactionReport,
    ) -> Result<TenantOut> {
        let cutoffs = self.policy.cutoffs(tenant, now);
        let target = self.opts.compaction_segment_bytes;
        #[derive(PartialEq, Clone, Copy)]
        enum Class {
            Drop,
            Dirty,
            Small,
            Big,
        }
        let mut out = TenantOut::default();
        let mut classes = Vec::with_capacity(segs.segments.len());
        for sr in &segs.segments {
            let seg = &sr.seg;
            let cuts: Vec<i64> = seg
                .streams()
                .iter()
                .map(|s| cutoffs.cutoff(s.labels()))
                .collect();
            let mut all_expired = true;
            let mut expired_raw = 0u64;
            let mut any_expired = false;
            let mut touched = false;
            for c in seg.chunks() {
                let cut = cuts[c.stream as usize];
                if c.max_ts >= cut && c.entries > 0 {
                    all_expired = false;
                }
                if c.min_ts < cut {
                    any_expired = true;
                    expired_raw += c
                        .blocks
                        .iter()
                        .filter(|b| b.min_ts < cut)
                        .map(|b| b.raw_bytes)
                        .sum::<u64>();
                }
            }
            if !all_expired {
                for (si, st) in seg.streams().iter().enumerate() {
                    for d in due.iter().filter(|d| d.matches_stream(st.labels())) {
                        if seg
                            .chunks()
                            .iter()
                            .any(|c| c.stream as usize == si && d.overlaps(c.min_ts, c.max_ts))
                        {
                            touched = true;
                            out.touched.insert(d.id);
                        }
                    }
                }
            }
            let raw: u64 = seg.chunks().iter().map(|c| c.raw_bytes).sum();
            let class = if all_expired {
                Class::Drop
            } else if touched
                || (any_expired && (mode == Mode::Explicit || expired_raw * 4 >= raw.max(1)))
            {
                Class::Dirty
            } else if seg.file_bytes() < target / 4 {
                Class::Small
            } else {
                Class::Big
            };
            classes.push(class);
        }

        // Runs of consecutive small or dirty segments of one time partition.
        let part_ns = i64::try_from(self.opts.compaction_partition.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1);
        let partition = |i: usize| -> i64 {
            let seg = &segs.segments[i].seg;
            let oldest = seg
                .chunks()
                .iter()
                .filter(|c| c.entries > 0)
                .map(|c| c.min_ts)
                .min()
                .unwrap_or(0);
            oldest.div_euclid(part_ns)
        };
        let mut runs: Vec<Vec<usize>> = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut cur_bytes = 0u64;
        let mut cur_part = 0i64;
        let close = |cur: &mut Vec<usize>, runs: &mut Vec<Vec<usize>>, classes: &[Class]| {
            let run = std::mem::take(cur);
            if run.len() >= 2 || run.iter().any(|&i| classes[i] == Class::Dirty) {
                runs.push(run);
            }
        };
        for (i, class) in classes.iter().enumerate() {
            match class {
                Class::Drop => {
                    let sr = &segs.segments[i];
                    rep.segments_dropped += 1;
                    rep.entries_expired += sr.seg.chunks().iter().map(|c| c.entries).sum::<u64>();
                    out.removed.insert(sr.file_id);
                }
                Class::Big => {
                    close(&mut cur, &mut runs, &classes);
                    cur_bytes = 0;
                }
                Class::Dirty | Class::Small => {
                    let size = segs.segments[i].seg.file_bytes();
                    let part = partition(i);
                    if !cur.is_empty() && (cur_bytes + size > target || part != cur_part) {
                        close(&mut cur, &mut runs, &classes);
                        cur_bytes = 0;
                    }
                    cur_part = part;
                    cur.push(i);
                    cur_bytes += size;
                }
            }
        }
        close(&mut cur, &mut runs, &classes);

        for run in runs {
            let inputs: Vec<&SegRef> = run.iter().map(|&i| &segs.segments[i]).collect();
            match self.rewrite_run(tenant, &inputs, &cutoffs, due, pace, rep) {
                Ok(added) => {
                    rep.segments_rewritten += inputs.len() as u64;
                    for sr in &inputs {
                        out.removed.insert(sr.file_id);
                    }
                    if let Some(a) = added {
                        rep.segments_written += 1;
                        out.added.push(a);
                    }
                    test_pause();
                }
                Err(e) => {
                    for (_, sr) in &out.added {
                        remove_file(&super::seg_path(&self.dir, sr.file_id));
                    }
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Rewrites a run of segments (in write order) into one new segment; `None` when
    /// nothing in them survives.
    fn rewrite_run(
        &self,
        tenant: &str,
        inputs: &[&SegRef],
        cutoffs: &crate::retention::Cutoffs<'_>,
        due: &[Arc<CompiledDelete>],
        pace: &mut Pace<'_>,
        rep: &mut CompactionReport,
    ) -> Result<Option<(SegmentRecord, SegRef)>> {
        // Per stream: labels and chunks in write order.
        let mut streams: BTreeMap<u32, (&Labels, Vec<InputChunk<'_>>)> = BTreeMap::new();
        for sr in inputs {
            let seg: &Segment = &sr.seg;
            for c in seg.chunks() {
                let st = &seg.streams()[c.stream as usize];
                streams
                    .entry(st.stream_id)
                    .or_insert_with(|| (st.labels(), Vec::new()))
                    .1
                    .push((seg, c));
            }
        }
        let file_id = self.alloc_file_id();
        let path = super::seg_path(&self.dir, file_id);
        let mut w = SegmentWriter::create(&path, tenant)?;
        for (id, (labels, chunks)) in &streams {
            let mut rw = StreamRewrite {
                cutoff: cutoffs.cutoff(labels),
                deletes: StreamDeletes::for_stream(due, labels),
                block_target: self.opts.block_target_bytes,
                zstd_level: self.opts.zstd_level,
                chunk_target: self.opts.compaction_chunk_bytes,
                pace: &mut *pace,
                report: &mut *rep,
            };
            rewrite_stream(&mut w, *id, labels, chunks, &mut rw)?;
        }
        let summary = w.finish()?;
        if summary.entries == 0 {
            remove_file(&path);
            return Ok(None);
        }
        let seg = Arc::new(Segment::open(&path)?);
        let order = inputs.first().map_or(file_id, |s| s.order);
        let rec = SegmentRecord {
            file_id,
            tenant: tenant.to_owned(),
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
            entries: summary.entries,
            raw_bytes: summary.raw_bytes,
            file_bytes: summary.file_bytes,
            order,
        };
        Ok(Some((
            rec,
            SegRef {
                seg,
                file_id,
                order,
            },
        )))
    }

    /// One manifest write and one view change for the whole compaction. Returns the
    /// ids of the segment files to delete.
    fn switch(
        &self,
        tenants: &[(String, Arc<TenantSegs>)],
        due: &DueDeletes,
        outs: Vec<(String, TenantOut, CompactionReport)>,
        report: &mut CompactionReport,
    ) -> Result<Vec<u64>> {
        let input_ids: HashSet<u64> = tenants
            .iter()
            .flat_map(|(_, s)| s.segments.iter().map(|r| r.file_id))
            .collect();
        let mut ms = self.manifest.lock();
        let mut view = self.view.write();
        // Due requests are applied unless data they may match arrived since the
        // compaction took its inputs (a head, or a segment flushed meanwhile).
        let mut applied: HashSet<u64> = HashSet::new();
        let mut partial: HashSet<u64> = HashSet::new();
        for (tenant, ds) in due {
            let Some(tv) = view.tenants.get(tenant) else {
                continue;
            };
            let ix = tv.index.read();
            for d in ds {
                let new_segs = tv
                    .segs
                    .segments
                    .iter()
                    .filter(|s| !input_ids.contains(&s.file_id))
                    .any(|s| {
                        s.seg.chunks().iter().any(|c| {
                            d.overlaps(c.min_ts, c.max_ts)
                                && d.matches_stream(s.seg.streams()[c.stream as usize].labels())
                        })
                    });
                let heads = view
                    .frozen
                    .iter()
                    .map(|(h, _)| &**h)
                    .chain(std::iter::once(&view.live))
                    .filter_map(|h| h.tenants.get(tenant))
                    .any(|th| {
                        th.streams.iter().any(|(id, sh)| {
                            sh.time_range().is_some_and(|(lo, hi)| d.overlaps(lo, hi))
                                && ix.labels(*id).is_some_and(|l| d.matches_stream(l))
                        })
                    });
                if new_segs || heads {
                    partial.insert(d.id);
                } else {
                    applied.insert(d.id);
                }
            }
        }
        let mut removed: HashSet<u64> = HashSet::new();
        let mut m = ms.manifest.clone();
        for (_, o, rep) in &outs {
            removed.extend(&o.removed);
            report.add(rep);
            for d in &o.touched {
                if partial.contains(d) {
                    for r in &mut m.deletes {
                        if r.request.id == *d {
                            r.partially_applied = true;
                        }
                    }
                }
            }
        }
        m.segments.retain(|r| !removed.contains(&r.file_id));
        for (_, o, _) in &outs {
            m.segments.extend(o.added.iter().map(|(r, _)| r.clone()));
        }
        for r in &mut m.deletes {
            if applied.contains(&r.request.id) && r.request.status == DeleteStatus::Pending {
                r.request.status = DeleteStatus::Applied;
                report.deletes_applied += 1;
            }
        }
        m.generation += 1;
        if let Err(e) = m.write(&self.dir) {
            drop(view);
            for (_, o, _) in &outs {
                for (_, sr) in &o.added {
                    remove_file(&super::seg_path(&self.dir, sr.file_id));
                }
            }
            return Err(e);
        }
        ms.manifest = m;
        // Publish: rebuild each changed tenant's segment list in write order.
        let mut by_tenant: HashMap<&str, &TenantOut> = HashMap::new();
        for (t, o, _) in &outs {
            by_tenant.insert(t.as_str(), o);
        }
        for (tenant, tv) in view.tenants.iter_mut() {
            if let Some(o) = by_tenant.get(tenant.as_str()) {
                if !o.removed.is_empty() || !o.added.is_empty() {
                    let mut list: Vec<SegRef> = tv
                        .segs
                        .segments
                        .iter()
                        .filter(|s| !o.removed.contains(&s.file_id))
                        .cloned()
                        .chain(o.added.iter().map(|(_, s)| s.clone()))
                        .collect();
                    list.sort_by_key(|s| (s.order, s.file_id));
                    let mut segs = TenantSegs::default();
                    for s in list {
                        add_segment(&mut segs, s);
                    }
                    tv.segs = Arc::new(segs);
                }
            }
            if tv.deletes.iter().any(|d| applied.contains(&d.id)) {
                Arc::make_mut(&mut tv.deletes).retain(|d| !applied.contains(&d.id));
            }
        }
        for (_, segs) in view.tenants.iter().map(|(t, tv)| (t, &tv.segs)) {
            report.segments_after += segs.segments.len() as u64;
            report.bytes_after += segs
                .segments
                .iter()
                .map(|s| s.seg.file_bytes())
                .sum::<u64>();
        }
        Ok(removed.into_iter().collect())
    }

    /// Deletes segment and index files the manifest does not list, and temp files
    /// (left by a failed write); runs with no flush in flight.
    fn sweep_orphans(&self) {
        let _no_flush = self.flush.lock();
        let (segs, idxs): (HashSet<u64>, HashSet<u64>) = {
            let ms = self.manifest.lock();
            (
                ms.manifest.segments.iter().map(|r| r.file_id).collect(),
                ms.manifest.index_files.iter().map(|r| r.file_id).collect(),
            )
        };
        let seg_dir = self.dir.join(crate::segment::DIR_NAME);
        let idx_dir = self.dir.join(crate::index_file::DIR_NAME);
        if let Ok(files) = crate::segment::segment_files(&seg_dir) {
            for (id, p) in files {
                if !segs.contains(&id) {
                    remove_file(&p);
                }
            }
        }
        if let Ok(files) = crate::index_file::index_files(&idx_dir) {
            for (id, p) in files {
                if !idxs.contains(&id) {
                    remove_file(&p);
                }
            }
        }
        for d in [&seg_dir, &idx_dir] {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "tmp") {
                        remove_file(&p);
                    }
                }
            }
        }
    }
}
