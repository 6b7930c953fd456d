//! Sliding-window accumulators used by range aggregation.
//!
//! Windows are index ranges `[lo, hi)` into a time-ordered value slice; between
//! evaluation times both ends only move forward. Two structures cover every operation:
//!
//! - [`TwoStack`]: any associative summary (sum, mean/variance, min, max) in amortised
//!   O(1) per sample. The window is split at `mid`: the older part keeps suffix
//!   summaries (built once, right to left), the newer part one running summary. Removing
//!   a sample never subtracts, so there is no cancellation drift: each window's summary
//!   is a merge of exact partial summaries, as accurate as a fresh recomputation.
//! - [`SortedWindow`]: the window's values kept sorted (binary-search insert/remove),
//!   for quantiles; [`RankWindow`] does the same with ranks in a Fenwick tree when
//!   equal values are identical (no NaN, no `-0.0`).

use std::cmp::Ordering;

/// An associative summary of values with an identity.
pub(crate) trait Monoid: Copy {
    /// The summary of no values.
    fn empty() -> Self;
    /// The summary of one value.
    fn of(v: f64) -> Self;
    /// The summary of `self`'s values followed by `later`'s.
    fn merge(self, later: Self) -> Self;
}

/// Sliding summary over `[lo, hi)`; see the module docs.
#[derive(Debug)]
pub(crate) struct TwoStack<M> {
    lo: usize,
    mid: usize,
    hi: usize,
    base: usize,
    suffix: Vec<M>,
    back: M,
}

impl<M: Monoid> TwoStack<M> {
    pub(crate) fn new() -> Self {
        TwoStack {
            lo: 0,
            mid: 0,
            hi: 0,
            base: 0,
            suffix: Vec::new(),
            back: M::empty(),
        }
    }

    /// Moves the window to `[lo, hi)`. Requires `lo <= hi`, both not below the previous
    /// call's and `hi <= values.len()`; violations are clamped, never panic.
    pub(crate) fn slide(&mut self, values: &[f64], lo: usize, hi: usize) {
        let hi = hi.min(values.len()).max(self.hi);
        let lo = lo.min(hi).max(self.lo);
        if lo >= self.hi {
            // Everything currently held leaves the window.
            self.mid = lo;
            self.hi = lo;
            self.back = M::empty();
        }
        for &v in &values[self.hi..hi] {
            self.back = self.back.merge(M::of(v));
        }
        self.hi = hi;
        self.lo = lo;
        if lo >= self.mid {
            self.rebuild(values);
        }
    }

    fn rebuild(&mut self, values: &[f64]) {
        self.base = self.lo;
        self.suffix.clear();
        self.suffix.resize(self.hi - self.lo, M::empty());
        let mut acc = M::empty();
        for i in (self.lo..self.hi).rev() {
            acc = M::of(values[i]).merge(acc);
            self.suffix[i - self.lo] = acc;
        }
        self.mid = self.hi;
        self.back = M::empty();
    }

    /// Summary of the current window.
    pub(crate) fn get(&self) -> M {
        if self.lo < self.mid {
            self.suffix[self.lo - self.base].merge(self.back)
        } else {
            self.back
        }
    }
}

/// Sum with Neumaier compensation over finite values; infinities and NaNs counted
/// apart so they never poison the compensation term.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SumM {
    s: f64,
    c: f64,
    pos_inf: u32,
    neg_inf: u32,
    nan: u32,
}

impl SumM {
    /// The sum with Go/IEEE semantics for the special values: NaN if any NaN or both
    /// infinities are present, else the infinity present, else the finite sum.
    pub(crate) fn value(&self) -> f64 {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            f64::NAN
        } else if self.pos_inf > 0 {
            f64::INFINITY
        } else if self.neg_inf > 0 {
            f64::NEG_INFINITY
        } else if self.s.is_finite() {
            self.s + self.c
        } else {
            self.s
        }
    }

    /// True when finite values alone overflowed.
    pub(crate) fn overflowed(&self) -> bool {
        self.nan == 0 && self.pos_inf == 0 && self.neg_inf == 0 && !self.s.is_finite()
    }
}

impl Monoid for SumM {
    fn empty() -> Self {
        SumM {
            s: 0.0,
            c: 0.0,
            pos_inf: 0,
            neg_inf: 0,
            nan: 0,
        }
    }

    fn of(v: f64) -> Self {
        let mut m = SumM::empty();
        if v.is_nan() {
            m.nan = 1;
        } else if v == f64::INFINITY {
            m.pos_inf = 1;
        } else if v == f64::NEG_INFINITY {
            m.neg_inf = 1;
        } else {
            m.s = v;
        }
        m
    }

    fn merge(self, later: Self) -> Self {
        let t = self.s + later.s;
        let c = if !t.is_finite() {
            0.0
        } else if self.s.abs() >= later.s.abs() {
            self.c + later.c + ((self.s - t) + later.s)
        } else {
            self.c + later.c + ((later.s - t) + self.s)
        };
        SumM {
            s: t,
            c,
            pos_inf: self.pos_inf.saturating_add(later.pos_inf),
            neg_inf: self.neg_inf.saturating_add(later.neg_inf),
            nan: self.nan.saturating_add(later.nan),
        }
    }
}

/// Count, mean and sum of squared deviations (Chan et al. parallel merge) of finite
/// values; any non-finite value makes the variance NaN, as Welford's update does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VarM {
    n: u64,
    mean: f64,
    m2: f64,
    non_finite: u32,
}

impl VarM {
    /// Population variance.
    pub(crate) fn variance(&self) -> f64 {
        if self.non_finite > 0 || self.n == 0 {
            return f64::NAN;
        }
        self.m2 / self.n as f64
    }
}

impl Monoid for VarM {
    fn empty() -> Self {
        VarM {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            non_finite: 0,
        }
    }

    fn of(v: f64) -> Self {
        if v.is_finite() {
            VarM {
                n: 1,
                mean: v,
                m2: 0.0,
                non_finite: 0,
            }
        } else {
            VarM {
                non_finite: 1,
                ..VarM::empty()
            }
        }
    }

    fn merge(self, later: Self) -> Self {
        let non_finite = self.non_finite.saturating_add(later.non_finite);
        if self.n == 0 {
            return VarM {
                non_finite,
                ..later
            };
        }
        if later.n == 0 {
            return VarM { non_finite, ..self };
        }
        let n = self.n + later.n;
        let (na, nb, nf) = (self.n as f64, later.n as f64, n as f64);
        let delta = later.mean - self.mean;
        VarM {
            n,
            mean: self.mean + delta * (nb / nf),
            m2: self.m2 + later.m2 + delta * delta * (na * nb / nf),
            non_finite,
        }
    }
}

/// Minimum ignoring NaN unless all values are NaN (Loki's `min_over_time`); NaN is also
/// the identity. Ties keep the earlier value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MinM(pub(crate) f64);

impl Monoid for MinM {
    fn empty() -> Self {
        MinM(f64::NAN)
    }
    fn of(v: f64) -> Self {
        MinM(v)
    }
    fn merge(self, later: Self) -> Self {
        if self.0.is_nan() || later.0 < self.0 {
            later
        } else {
            self
        }
    }
}

/// Maximum ignoring NaN unless all values are NaN (Loki's `max_over_time`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaxM(pub(crate) f64);

impl Monoid for MaxM {
    fn empty() -> Self {
        MaxM(f64::NAN)
    }
    fn of(v: f64) -> Self {
        MaxM(v)
    }
    fn merge(self, later: Self) -> Self {
        if self.0.is_nan() || later.0 > self.0 {
            later
        } else {
            self
        }
    }
}

/// Value order used for quantiles: NaN sorts first (Loki's heap `Less` treats NaN as
/// the smallest value).
pub(crate) fn cmp_nan_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The window's values, sorted by [`cmp_nan_first`].
#[derive(Debug, Default)]
pub(crate) struct SortedWindow {
    lo: usize,
    hi: usize,
    sorted: Vec<f64>,
}

impl SortedWindow {
    /// Moves the window to `[lo, hi)` (same contract as [`TwoStack::slide`]).
    pub(crate) fn slide(&mut self, values: &[f64], lo: usize, hi: usize) {
        let hi = hi.min(values.len()).max(self.hi);
        let lo = lo.min(hi).max(self.lo);
        if lo >= self.hi {
            self.sorted.clear();
            self.hi = lo;
        } else {
            for &v in &values[self.lo..lo] {
                let i = self
                    .sorted
                    .partition_point(|&x| cmp_nan_first(x, v) == Ordering::Less);
                if i < self.sorted.len() {
                    self.sorted.remove(i);
                }
            }
        }
        for &v in &values[self.hi..hi] {
            let i = self
                .sorted
                .partition_point(|&x| cmp_nan_first(x, v) != Ordering::Greater);
            self.sorted.insert(i, v);
        }
        self.lo = lo;
        self.hi = hi;
    }

    /// The sorted values of the window.
    pub(crate) fn values(&self) -> &[f64] {
        &self.sorted
    }
}

/// Order statistics of a sliding window over one series' values, for quantiles over
/// many overlapping windows: every value is replaced by its rank among the series'
/// distinct values, and a Fenwick tree counts the window's ranks, so a slide costs
/// O(log n) per sample (no memmove of a sorted window) and the k-th smallest value is a
/// tree descent.
///
/// Only for values where comparing equal means bitwise equal (no NaN, no `-0.0`:
/// [`RankWindow::applies`]); [`SortedWindow`] keeps the arrival order of such values.
#[derive(Debug)]
pub(crate) struct RankWindow {
    lo: usize,
    hi: usize,
    /// The series' distinct values, ascending.
    keys: Vec<f64>,
    /// Rank (index into `keys`) of each sample.
    ranks: Vec<u32>,
    /// Fenwick tree over ranks (1-based).
    tree: Vec<u32>,
    len: usize,
}

impl RankWindow {
    /// True when every value compares equal only to identical values.
    pub(crate) fn applies(values: &[f64]) -> bool {
        values
            .iter()
            .all(|v| !(v.is_nan() || *v == 0.0 && v.is_sign_negative()))
            && values.len() < u32::MAX as usize
    }

    /// A window over `values` (which must satisfy [`applies`](Self::applies)).
    pub(crate) fn new(values: &[f64]) -> RankWindow {
        let mut keys = values.to_vec();
        keys.sort_by(|a, b| cmp_nan_first(*a, *b));
        keys.dedup();
        let ranks = values
            .iter()
            .map(|v| keys.partition_point(|k| cmp_nan_first(*k, *v) == Ordering::Less) as u32)
            .collect();
        RankWindow {
            lo: 0,
            hi: 0,
            tree: vec![0; keys.len() + 1],
            keys,
            ranks,
            len: 0,
        }
    }

    fn add(&mut self, rank: u32, up: bool) {
        let mut i = rank as usize + 1;
        while i < self.tree.len() {
            if up {
                self.tree[i] += 1;
            } else {
                self.tree[i] -= 1;
            }
            i += i & i.wrapping_neg();
        }
        if up {
            self.len += 1;
        } else {
            self.len -= 1;
        }
    }

    /// Moves the window to `[lo, hi)` (same contract as [`SortedWindow::slide`]).
    pub(crate) fn slide(&mut self, lo: usize, hi: usize) {
        let hi = hi.min(self.ranks.len()).max(self.hi);
        let lo = lo.min(hi).max(self.lo);
        if lo >= self.hi {
            self.tree.iter_mut().for_each(|c| *c = 0);
            self.len = 0;
            self.hi = lo;
        } else {
            for i in self.lo..lo {
                self.add(self.ranks[i], false);
            }
        }
        for i in self.hi..hi {
            self.add(self.ranks[i], true);
        }
        self.lo = lo;
        self.hi = hi;
    }

    /// Number of values in the window.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `k`-th smallest value of the window (0-based; `k < len`).
    pub(crate) fn kth(&self, k: usize) -> f64 {
        let n = self.tree.len() - 1;
        let mut pos = 0usize;
        let mut rem = k + 1;
        let mut step = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            let next = pos + step;
            if next <= n && (self.tree[next] as usize) < rem {
                pos = next;
                rem -= self.tree[next] as usize;
            }
            step >>= 1;
        }
        self.keys.get(pos).copied().unwrap_or(f64::NAN)
    }

    /// [`quantile_sorted`] of the window's values.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.len == 0 || q.is_nan() {
            return f64::NAN;
        }
        if q < 0.0 {
            return f64::NEG_INFINITY;
        }
        if q > 1.0 {
            return f64::INFINITY;
        }
        let n = self.len as f64;
        let rank = q * (n - 1.0);
        let lower = rank.floor().max(0.0);
        let upper = (n - 1.0).min(lower + 1.0);
        let weight = rank - rank.floor();
        self.kth(lower as usize) * (1.0 - weight) + self.kth(upper as usize) * weight
    }
}

/// Prometheus/Loki `quantile` over values sorted by [`cmp_nan_first`]: NaN for no
/// values, -Inf for `q < 0`, +Inf for `q > 1`, NaN for `q` NaN, else linear
/// interpolation between the two closest ranks (`rank = q·(n-1)`), computed with the
/// same formula as Loki (so `v·0` terms follow IEEE, e.g. `Inf·0 = NaN`).
pub(crate) fn quantile_sorted(q: f64, sorted: &[f64]) -> f64 {
    if sorted.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let n = sorted.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    sorted[lower as usize] * (1.0 - weight) + sorted[upper as usize] * weight
}

/// [`quantile_sorted`] of unsorted values, by selection (reorders `values`).
pub(crate) fn quantile_select(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    let (_, &mut lo_v, right) =
        values.select_nth_unstable_by(lower as usize, |a, b| cmp_nan_first(*a, *b));
    let hi_v = if upper > lower {
        right
            .iter()
            .copied()
            .min_by(|a, b| cmp_nan_first(*a, *b))
            .unwrap_or(lo_v)
    } else {
        lo_v
    };
    lo_v * (1.0 - weight) + hi_v * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_sum(v: &[f64]) -> f64 {
        v.iter().sum()
    }

    #[test]
    fn two_stack_sum_matches_naive_over_slides() {
        let vals: Vec<f64> = (0..50).map(|i| (i * 7 % 13) as f64 - 6.0).collect();
        let mut ts = TwoStack::<SumM>::new();
        let windows = [
            (0, 3),
            (1, 5),
            (2, 5),
            (5, 5),
            (6, 20),
            (19, 21),
            (30, 50),
            (49, 50),
        ];
        for (lo, hi) in windows {
            ts.slide(&vals, lo, hi);
            assert_eq!(ts.get().value(), naive_sum(&vals[lo..hi]), "[{lo},{hi})");
        }
    }

    #[test]
    fn sum_special_values() {
        let s = |v: &[f64]| v.iter().fold(SumM::empty(), |a, &x| a.merge(SumM::of(x)));
        assert_eq!(s(&[1.0, f64::INFINITY]).value(), f64::INFINITY);
        assert!(s(&[f64::INFINITY, f64::NEG_INFINITY]).value().is_nan());
        assert!(s(&[1.0, f64::NAN]).value().is_nan());
        assert_eq!(s(&[1e308, 1e308]).value(), f64::INFINITY);
        assert!(s(&[1e308, 1e308]).overflowed());
        // Compensation keeps small terms next to big ones.
        assert_eq!(s(&[1e16, 1.0, -1e16]).value(), 1.0);
    }

    #[test]
    fn min_max_ignore_nan_unless_all_nan() {
        let mn = |v: &[f64]| v.iter().fold(MinM::empty(), |a, &x| a.merge(MinM::of(x))).0;
        let mx = |v: &[f64]| v.iter().fold(MaxM::empty(), |a, &x| a.merge(MaxM::of(x))).0;
        assert_eq!(mn(&[f64::NAN, 3.0, 1.0, f64::NAN]), 1.0);
        assert_eq!(mx(&[f64::NAN, 3.0, 1.0, f64::NAN]), 3.0);
        assert!(mn(&[f64::NAN, f64::NAN]).is_nan());
    }

    #[test]
    fn variance_merge() {
        let v = |xs: &[f64]| xs.iter().fold(VarM::empty(), |a, &x| a.merge(VarM::of(x)));
        assert_eq!(v(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).variance(), 4.0);
        assert_eq!(v(&[5.0]).variance(), 0.0);
        assert!(v(&[1.0, f64::INFINITY]).variance().is_nan());
    }

    #[test]
    fn sorted_window_tracks_multiset() {
        let vals = [3.0, 1.0, 2.0, 1.0, f64::NAN, 5.0];
        let mut w = SortedWindow::default();
        w.slide(&vals, 0, 4);
        assert_eq!(w.values(), &[1.0, 1.0, 2.0, 3.0]);
        w.slide(&vals, 2, 5);
        assert_eq!(w.values().len(), 3);
        assert!(w.values()[0].is_nan());
        assert_eq!(&w.values()[1..], &[1.0, 2.0]);
        w.slide(&vals, 5, 6);
        assert_eq!(w.values(), &[5.0]);
    }

    /// The rank window gives exactly the sorted window's quantiles over random slides
    /// of values with duplicates and infinities.
    #[test]
    fn rank_window_matches_sorted_window() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 2, 7, 64, 300] {
            let vals: Vec<f64> = (0..n)
                .map(|_| match next() % 13 {
                    0 => f64::INFINITY,
                    1 => f64::NEG_INFINITY,
                    2 => 0.0,
                    r => (next() % 40) as f64 / 4.0 - if r == 3 { 100.0 } else { 0.0 },
                })
                .collect();
            assert!(RankWindow::applies(&vals));
            let mut rw = RankWindow::new(&vals);
            let mut sw = SortedWindow::default();
            let (mut lo, mut hi) = (0usize, 0usize);
            for _ in 0..200 {
                hi += (next() % 9) as usize;
                lo += (next() % 9) as usize;
                let (l, h) = (lo.min(hi), hi);
                rw.slide(l, h);
                sw.slide(&vals, l, h);
                assert_eq!(rw.len(), sw.values().len());
                for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0, -1.0, 2.0, f64::NAN] {
                    let (a, b) = (rw.quantile(q), quantile_sorted(q, sw.values()));
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "n {n} [{l},{h}) q {q}: {a} vs {b}"
                    );
                }
                if lo > n + 10 {
                    break;
                }
            }
        }
        assert!(!RankWindow::applies(&[1.0, f64::NAN]));
        assert!(!RankWindow::applies(&[-0.0]));
    }

    #[test]
    fn quantile_interpolates() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(0.5, &v), 2.5);
        assert_eq!(quantile_sorted(0.0, &v), 1.0);
        assert_eq!(quantile_sorted(1.0, &v), 4.0);
        assert_eq!(quantile_sorted(0.25, &v), 1.75);
        assert_eq!(quantile_sorted(-0.1, &v), f64::NEG_INFINITY);
        assert_eq!(quantile_sorted(1.1, &v), f64::INFINITY);
        assert!(quantile_sorted(0.5, &[]).is_nan());
        assert_eq!(quantile_sorted(0.9, &[7.0]), 7.0);
        // Loki's formula: weight 0 still multiplies the upper value.
        assert!(quantile_sorted(0.0, &[1.0, f64::INFINITY]).is_nan());
    }

    #[test]
    fn quantile_select_matches_sorted() {
        let vals = [5.0, f64::NAN, 1.0, 3.0, 3.0, -2.0, 8.0];
        let mut sorted = vals.to_vec();
        sorted.sort_by(|a, b| cmp_nan_first(*a, *b));
        for q in [-0.5, 0.0, 0.1, 0.25, 0.5, 0.6, 0.99, 1.0, 1.5] {
            let a = quantile_sorted(q, &sorted);
            let b = quantile_select(q, &mut vals.clone());
            assert!(a == b || (a.is_nan() && b.is_nan()), "q={q}: {a} vs {b}");
        }
        assert!(quantile_select(0.5, &mut []).is_nan());
    }
}
