//! Binary operators: arithmetic, comparison and set operators between vectors and
//! scalars, with Prometheus-style vector matching.
//!
//! Confirmed in Loki (`pkg/logql/evaluator.go` `vectorBinop`, `resultMetric`,
//! `vectorAnd/Or/Unless`, `LiteralStepEvaluator`; `syntax/ast.go` `MergeBinOp`), where
//! Loki differs from Prometheus and this module follows Loki:
//! - `x / 0` and `x % 0` are **NaN** (Loki guards division by zero), not ±Inf; `%` is
//!   Go's `math.Mod` (same as Rust's `%` on floats), `^` is `math.Pow`;
//! - comparisons without `bool` keep the sample when true, with the value of the
//!   left-hand side for vector/vector and of the vector side for vector/scalar; with
//!   `bool` every matched sample is kept with 0 or 1; a scalar/scalar comparison gives
//!   0 or 1;
//! - matching signature: with `on(l…)` the listed labels, with `ignoring(l…)` all but
//!   them, by default all labels; for `group_right` the sides are swapped for matching
//!   and swapped back for the operation;
//! - result labels: the "many" side's labels (lhs for one-to-one), reduced for
//!   one-to-one matching to the `on` labels or by the `ignoring` labels; `group_x(l…)`
//!   labels are copied from the "one" side (removed when absent there);
//! - errors (Loki's wording, which differs from Prometheus'): a duplicate signature on the
//!   "one" side is `found duplicate series on the right hand-side;many-to-many matching
//!   not allowed: matching labels must be unique on one side` ("left" for
//!   `group_right`); a second lhs match in one-to-one matching is `multiple matches for
//!   labels: many-to-one matching must be explicit (group_left/group_right)` — checked
//!   before the comparison filter, as Loki does; two results with equal labels under
//!   `group_x` is `multiple matches for labels: grouping labels must ensure unique
//!   matches`;
//! - `and`/`or`/`unless` are many-to-many on the signature; `a and b` is empty if either
//!   side is; `a or b` is lhs then the rhs samples whose signature lhs lacks (all of rhs
//!   if lhs is empty); `a unless b` is lhs minus samples whose signature rhs has.

use std::collections::{HashMap, HashSet};

use thiserror::Error;

use crate::metric::series::{
    matrix_to_vectors, vectors_to_matrix, Labels, Matrix, Sample, Series, Vector,
};

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// True for `== != > >= < <=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le
        )
    }

    /// True for `and or unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// The operator as written in LogQL.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Arithmetic result, or the truth of a comparison as 0/1 (set operators give NaN).
    fn apply(self, l: f64, r: f64) -> f64 {
        let truth = |b: bool| if b { 1.0 } else { 0.0 };
        match self {
            BinOp::Add => l + r,
            BinOp::Sub => l - r,
            BinOp::Mul => l * r,
            BinOp::Div if r == 0.0 => f64::NAN,
            BinOp::Div => l / r,
            BinOp::Mod if r == 0.0 => f64::NAN,
            BinOp::Mod => l % r,
            BinOp::Pow => l.powf(r),
            BinOp::Eq => truth(l == r),
            BinOp::Ne => truth(l != r),
            BinOp::Gt => truth(l > r),
            BinOp::Ge => truth(l >= r),
            BinOp::Lt => truth(l < r),
            BinOp::Le => truth(l <= r),
            BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
        }
    }

    /// The value of one matched pair: `None` when a filtering comparison is false.
    /// `keep` is the value a true filtering comparison keeps.
    fn merge(self, l: f64, r: f64, return_bool: bool, keep: f64) -> Option<f64> {
        let v = self.apply(l, r);
        if self.is_comparison() && !return_bool {
            (v == 1.0).then_some(keep)
        } else {
            Some(v)
        }
    }
}

/// Which side of a vector/vector operation may have several samples per signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cardinality {
    /// Default: each signature at most once on each side.
    #[default]
    OneToOne,
    /// `group_left`: many lhs samples per rhs sample.
    ManyToOne,
    /// `group_right`: many rhs samples per lhs sample.
    OneToMany,
}

/// Vector matching modifiers of a binary operation.
///
/// `VectorMatching::default()` is plain one-to-one matching on all labels.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VectorMatching {
    /// One-to-one, `group_left` or `group_right`.
    pub card: Cardinality,
    /// `true` for `on(labels)`, `false` for `ignoring(labels)` (or no clause).
    pub on: bool,
    /// The labels of `on(…)` / `ignoring(…)`.
    pub labels: Vec<String>,
    /// The labels listed in `group_left(…)` / `group_right(…)`.
    pub include: Vec<String>,
}

impl VectorMatching {
    /// `on(labels)` with one-to-one cardinality.
    pub fn on<S: AsRef<str>>(labels: &[S]) -> VectorMatching {
        VectorMatching {
            on: true,
            labels: labels.iter().map(|s| s.as_ref().to_owned()).collect(),
            ..VectorMatching::default()
        }
    }

    /// `ignoring(labels)` with one-to-one cardinality.
    pub fn ignoring<S: AsRef<str>>(labels: &[S]) -> VectorMatching {
        VectorMatching {
            on: false,
            labels: labels.iter().map(|s| s.as_ref().to_owned()).collect(),
            ..VectorMatching::default()
        }
    }

    /// The same matching with `group_left(include)`.
    pub fn group_left<S: AsRef<str>>(self, include: &[S]) -> VectorMatching {
        VectorMatching {
            card: Cardinality::ManyToOne,
            include: include.iter().map(|s| s.as_ref().to_owned()).collect(),
            ..self
        }
    }

    /// The same matching with `group_right(include)`.
    pub fn group_right<S: AsRef<str>>(self, include: &[S]) -> VectorMatching {
        VectorMatching {
            card: Cardinality::OneToMany,
            include: include.iter().map(|s| s.as_ref().to_owned()).collect(),
            ..self
        }
    }

    fn signature(&self, labels: &Labels) -> Labels {
        if self.on {
            labels.keep(&self.labels)
        } else {
            labels.drop_names(&self.labels)
        }
    }

    /// Loki's `resultMetric`: `many` is the sample from the many (or left) side, `one`
    /// the matched sample of the other side.
    fn result_labels(&self, many: &Labels, one: &Labels) -> Labels {
        let mut out = match self.card {
            Cardinality::OneToOne => self.signature(many),
            _ => many.clone(),
        };
        for name in &self.include {
            out = out.with(name, one.get(name).unwrap_or(""));
        }
        out
    }
}

/// An error of a binary operation (Loki's messages).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BinOpError {
    /// Two samples with one signature on the side that must be unique.
    #[error("found duplicate series on the {side} hand-side;many-to-many matching not allowed: matching labels must be unique on one side")]
    DuplicateSeries {
        /// `"right"`, or `"left"` for `group_right`.
        side: &'static str,
    },
    /// One-to-one matching found a second lhs sample for a signature.
    #[error("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")]
    ManyToOneNotExplicit,
    /// `group_x` produced two results with the same labels.
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    /// A set operator with a scalar operand.
    #[error("set operator \"{0}\" not allowed in binary scalar expression")]
    SetOperatorOnScalar(&'static str),
}

/// `scalar ⊕ scalar`. Comparisons give 0 or 1 (LogQL requires `bool` there; that is a
/// parse-time check).
///
/// ```
/// use logjar_logql::metric::{scalar_binop, BinOp};
/// assert_eq!(scalar_binop(BinOp::Pow, 2.0, 10.0), Ok(1024.0));
/// assert!(scalar_binop(BinOp::Div, 1.0, 0.0).unwrap().is_nan()); // Loki: NaN, not +Inf
/// assert_eq!(scalar_binop(BinOp::Gt, 2.0, 1.0), Ok(1.0));
/// ```
pub fn scalar_binop(op: BinOp, lhs: f64, rhs: f64) -> Result<f64, BinOpError> {
    if op.is_set() {
        return Err(BinOpError::SetOperatorOnScalar(op.as_str()));
    }
    Ok(op.apply(lhs, rhs))
}

/// `vector ⊕ scalar` (`scalar_on_left = false`) or `scalar ⊕ vector` (`true`). Labels
/// are kept; a filtering comparison keeps the vector's value.
///
/// ```
/// use logjar_logql::metric::{vector_scalar_binop, BinOp, Labels, Sample};
/// let v = vec![Sample::new(Labels::new([("a", "1")]), 3.0), Sample::new(Labels::new([("a", "2")]), 10.0)];
/// let r = vector_scalar_binop(BinOp::Lt, &v, 5.0, true, false).unwrap(); // 5 < v
/// assert_eq!(r, vec![v[1].clone()]);
/// let r = vector_scalar_binop(BinOp::Sub, &v, 5.0, true, false).unwrap(); // 5 - v
/// assert_eq!(r[0].value, 2.0);
/// ```
pub fn vector_scalar_binop(
    op: BinOp,
    vector: &[Sample],
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Result<Vector, BinOpError> {
    if op.is_set() {
        return Err(BinOpError::SetOperatorOnScalar(op.as_str()));
    }
    Ok(vector
        .iter()
        .filter_map(|s| {
            let (l, r) = if scalar_on_left {
                (scalar, s.value)
            } else {
                (s.value, scalar)
            };
            op.merge(l, r, return_bool, s.value)
                .map(|v| Sample::new(s.labels.clone(), v))
        })
        .collect())
}

/// `vector ⊕ vector` with vector matching.
///
/// ```
/// use logjar_logql::metric::{vector_binop, BinOp, Labels, Sample, VectorMatching};
/// let l = |p: &[(&str, &str)], v: f64| Sample::new(Labels::new(p.iter().copied()), v);
/// // errors by (host, code) / on (host) group_left total
/// let errors = vec![l(&[("host", "a"), ("code", "500")], 2.0), l(&[("host", "a"), ("code", "502")], 6.0)];
/// let total = vec![l(&[("host", "a")], 8.0)];
/// let m = VectorMatching::on(&["host"]).group_left::<&str>(&[]);
/// let r = vector_binop(BinOp::Div, &m, false, &errors, &total).unwrap();
/// assert_eq!(r, vec![l(&[("host", "a"), ("code", "500")], 0.25), l(&[("host", "a"), ("code", "502")], 0.75)]);
/// ```
pub fn vector_binop(
    op: BinOp,
    matching: &VectorMatching,
    return_bool: bool,
    lhs: &[Sample],
    rhs: &[Sample],
) -> Result<Vector, BinOpError> {
    match op {
        BinOp::And => return Ok(set_and(matching, lhs, rhs)),
        BinOp::Or => return Ok(set_or(matching, lhs, rhs)),
        BinOp::Unless => return Ok(set_unless(matching, lhs, rhs)),
        _ => {}
    }
    let one_to_many = matching.card == Cardinality::OneToMany;
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_sig: HashMap<Labels, &Sample> = HashMap::with_capacity(one.len());
    for s in one {
        if one_by_sig
            .insert(matching.signature(&s.labels), s)
            .is_some()
        {
            let side = if one_to_many { "left" } else { "right" };
            return Err(BinOpError::DuplicateSeries { side });
        }
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ms in many {
        let sig = matching.signature(&ms.labels);
        let Some(os) = one_by_sig.get(&sig) else {
            continue;
        };
        let labels = matching.result_labels(&ms.labels, &os.labels);
        if matching.card == Cardinality::OneToOne {
            if matched.contains_key(&sig) {
                return Err(BinOpError::ManyToOneNotExplicit);
            }
            matched.insert(sig, HashSet::new());
        } else if !matched.entry(sig).or_default().insert(labels.clone()) {
            return Err(BinOpError::GroupingNotUnique);
        }
        let (l, r) = if one_to_many {
            (os.value, ms.value)
        } else {
            (ms.value, os.value)
        };
        if let Some(v) = op.merge(l, r, return_bool, l) {
            out.push(Sample::new(labels, v));
        }
    }
    Ok(out)
}

fn signatures(matching: &VectorMatching, v: &[Sample]) -> HashSet<Labels> {
    v.iter().map(|s| matching.signature(&s.labels)).collect()
}

fn set_and(matching: &VectorMatching, lhs: &[Sample], rhs: &[Sample]) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let r = signatures(matching, rhs);
    lhs.iter()
        .filter(|s| r.contains(&matching.signature(&s.labels)))
        .cloned()
        .collect()
}

fn set_or(matching: &VectorMatching, lhs: &[Sample], rhs: &[Sample]) -> Vector {
    if lhs.is_empty() {
        return rhs.to_vec();
    }
    let l = signatures(matching, lhs);
    let mut out = lhs.to_vec();
    out.extend(
        rhs.iter()
            .filter(|s| !l.contains(&matching.signature(&s.labels)))
            .cloned(),
    );
    out
}

fn set_unless(matching: &VectorMatching, lhs: &[Sample], rhs: &[Sample]) -> Vector {
    if rhs.is_empty() {
        return lhs.to_vec();
    }
    let r = signatures(matching, rhs);
    lhs.iter()
        .filter(|s| !r.contains(&matching.signature(&s.labels)))
        .cloned()
        .collect()
}

/// [`vector_binop`] at every evaluation time of two matrices (`step_ts_ms` as in
/// [`aggregate_matrix`](super::aggregate_matrix)); the first error stops evaluation, as
/// in Loki. The result is sorted by labels.
///
/// ```
/// use logjar_logql::metric::{matrix_binop, BinOp, Labels, Point, Series, VectorMatching};
/// let series = |v: &[(i64, f64)]| Series {
///     labels: Labels::new([("app", "api")]),
///     points: v.iter().map(|&(ts_ms, value)| Point { ts_ms, value }).collect(),
/// };
/// let errors = vec![series(&[(0, 1.0), (60_000, 3.0)])];
/// let total = vec![series(&[(0, 4.0), (60_000, 0.0)])];
/// let r = matrix_binop(BinOp::Div, &VectorMatching::default(), false, &errors, &total, &[0, 60_000]).unwrap();
/// assert_eq!(r[0].points[0].value, 0.25);
/// assert!(r[0].points[1].value.is_nan()); // x / 0 is NaN in Loki
/// ```
pub fn matrix_binop(
    op: BinOp,
    matching: &VectorMatching,
    return_bool: bool,
    lhs: &[Series],
    rhs: &[Series],
    step_ts_ms: &[i64],
) -> Result<Matrix, BinOpError> {
    let l = matrix_to_vectors(lhs, step_ts_ms);
    let r = matrix_to_vectors(rhs, step_ts_ms);
    let out = l
        .iter()
        .zip(&r)
        .map(|(l, r)| vector_binop(op, matching, return_bool, l, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vectors_to_matrix(step_ts_ms, out))
}

/// [`vector_scalar_binop`] at every evaluation time of a matrix.
pub fn matrix_scalar_binop(
    op: BinOp,
    matrix: &[Series],
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
    step_ts_ms: &[i64],
) -> Result<Matrix, BinOpError> {
    let out = matrix_to_vectors(matrix, step_ts_ms)
        .iter()
        .map(|v| vector_scalar_binop(op, v, scalar, scalar_on_left, return_bool))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vectors_to_matrix(step_ts_ms, out))
}
