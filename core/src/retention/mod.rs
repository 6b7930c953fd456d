//! Retention: how long each stream keeps its entries.
//!
//! A [`RetentionPolicy`] is compiled once from [`Options`] (the global period, the
//! global `retention_stream` rules and the per-tenant overrides). For a stream it gives
//! a period, chosen as Loki documents it (`operations/storage/retention`):
//!
//! 1. the tenant's own stream rules, if one matches: the highest priority wins, and
//!    among equal priorities the shortest period (Loki's `RetentionPeriodFor`);
//! 2. else the global stream rules, the same way;
//! 3. else the tenant's retention period, if set;
//! 4. else the global retention period.
//!
//! A period of `0` keeps data forever. Retention is measured against the wall clock:
//! an entry with `ts < now - period` has expired. Snapshots hide expired entries at
//! once (by raising the start of every read to the stream's cutoff); compaction
//! removes them from disk.
//!
//! ```
//! use logjar::retention::RetentionPolicy;
//! use logjar::{Labels, Options};
//!
//! let opts = Options::from_json(r#"{
//!     "retention": "30d",
//!     "retention_stream": [
//!         {"selector": "{level=\"debug\"}", "priority": 1, "period": "1d"},
//!         {"selector": "{namespace=\"prod\"}", "priority": 2, "period": "90d"}
//!     ],
//!     "retention_tenants": {"b": {"retention": "7d"}}
//! }"#).unwrap();
//! let p = RetentionPolicy::new(&opts).unwrap();
//! let day = 86_400_000_000_000i64;
//! let debug = Labels::new([("level", "debug")]).unwrap();
//! let prod_debug = Labels::new([("level", "debug"), ("namespace", "prod")]).unwrap();
//! let other = Labels::new([("app", "x")]).unwrap();
//! assert_eq!(p.period("a", &debug), Some(day));
//! assert_eq!(p.period("a", &prod_debug), Some(90 * day)); // higher priority wins
//! assert_eq!(p.period("a", &other), Some(30 * day));
//! assert_eq!(p.period("b", &other), Some(7 * day));
//! ```

use std::collections::HashMap;

use logjar_logql::matcher::LabelMatcher;

use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::options::{Options, RetentionRule};

/// A compiled retention rule.
#[derive(Debug, Clone)]
struct Rule {
    matchers: Vec<LabelMatcher>,
    priority: u32,
    /// Nanoseconds; 0 = forever.
    period: i64,
}

impl Rule {
    fn matches(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches_opt(labels.get(m.name())))
    }
}

#[derive(Debug, Clone, Default)]
struct TenantRules {
    period: Option<i64>,
    rules: Vec<Rule>,
}

/// Retention compiled from [`Options`]; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct RetentionPolicy {
    period: i64,
    rules: Vec<Rule>,
    tenants: HashMap<String, TenantRules>,
}

fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn compile(rules: &[RetentionRule], what: &str) -> Result<Vec<Rule>> {
    rules
        .iter()
        .map(|r| {
            let matchers = logjar_logql::parse_selector(&r.selector).map_err(|e| {
                Error::InvalidArgument(format!(
                    "bad options: {what} selector {:?}: {}",
                    r.selector,
                    e.render(&r.selector)
                ))
            })?;
            Ok(Rule {
                matchers,
                priority: r.priority,
                period: ns(r.period),
            })
        })
        .collect()
}

/// Loki's choice among matching rules: highest priority, then shortest period.
fn pick(rules: &[Rule], labels: &Labels) -> Option<i64> {
    let mut best: Option<&Rule> = None;
    for r in rules.iter().filter(|r| r.matches(labels)) {
        best = match best {
            Some(b) if b.priority > r.priority => Some(b),
            Some(b) if b.priority == r.priority && shorter_or_equal(b.period, r.period) => Some(b),
            _ => Some(r),
        };
    }
    best.map(|r| r.period)
}

/// `a <= b` for periods where 0 means forever (longest).
fn shorter_or_equal(a: i64, b: i64) -> bool {
    match (a, b) {
        (0, 0) => true,
        (0, _) => false,
        (_, 0) => true,
        (a, b) => a <= b,
    }
}

impl RetentionPolicy {
    /// Compiles the retention options; a bad selector is [`Error::InvalidArgument`].
    pub fn new(opts: &Options) -> Result<Self> {
        let mut tenants = HashMap::new();
        for (t, tr) in &opts.retention_tenants {
            crate::labels::validate_tenant(t).map_err(|e| {
                Error::InvalidArgument(format!("bad options: retention_tenants: {e}"))
            })?;
            tenants.insert(
                t.clone(),
                TenantRules {
                    period: tr.retention.map(ns),
                    rules: compile(&tr.retention_stream, &format!("retention_tenants.{t}"))?,
                },
            );
        }
        Ok(RetentionPolicy {
            period: ns(opts.retention),
            rules: compile(&opts.retention_stream, "retention_stream")?,
            tenants,
        })
    }

    /// The retention period (ns) of a stream of `tenant`; `None` keeps it forever.
    pub fn period(&self, tenant: &str, labels: &Labels) -> Option<i64> {
        let t = self.tenants.get(tenant);
        let p = t
            .and_then(|t| pick(&t.rules, labels))
            .or_else(|| pick(&self.rules, labels))
            .or_else(|| t.and_then(|t| t.period))
            .unwrap_or(self.period);
        (p > 0).then_some(p)
    }

    /// True when the period of `tenant`'s streams does not depend on their labels.
    pub fn is_uniform(&self, tenant: &str) -> bool {
        self.rules.is_empty() && self.tenants.get(tenant).is_none_or(|t| t.rules.is_empty())
    }

    /// True when no rule or period ever expires anything.
    pub fn keeps_everything(&self) -> bool {
        self.period == 0
            && self.rules.iter().all(|r| r.period == 0)
            && self
                .tenants
                .values()
                .all(|t| t.period.unwrap_or(0) == 0 && t.rules.iter().all(|r| r.period == 0))
    }

    /// The cutoffs of `tenant` at wall-clock time `now` (ns).
    pub fn cutoffs(&self, tenant: &str, now: i64) -> Cutoffs<'_> {
        let uniform = self.is_uniform(tenant).then(|| {
            let p = self
                .tenants
                .get(tenant)
                .and_then(|t| t.period)
                .unwrap_or(self.period);
            cutoff(now, (p > 0).then_some(p))
        });
        Cutoffs {
            policy: self,
            tenant: tenant.to_owned(),
            now,
            uniform,
        }
    }
}

fn cutoff(now: i64, period: Option<i64>) -> i64 {
    match period {
        Some(p) => now.saturating_sub(p),
        None => i64::MIN,
    }
}

/// Per-stream cutoffs of one tenant at one instant: entries with `ts < cutoff` have
/// expired.
#[derive(Debug, Clone)]
pub struct Cutoffs<'a> {
    policy: &'a RetentionPolicy,
    tenant: String,
    now: i64,
    uniform: Option<i64>,
}

impl Cutoffs<'_> {
    /// The cutoff of every stream when it does not depend on labels.
    pub fn uniform(&self) -> Option<i64> {
        self.uniform
    }

    /// The cutoff of a stream (`i64::MIN`: nothing expires).
    pub fn cutoff(&self, labels: &Labels) -> i64 {
        match self.uniform {
            Some(c) => c,
            None => cutoff(self.now, self.policy.period(&self.tenant, labels)),
        }
    }
}

/// The current wall-clock time in ns since the Unix epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(sel: &str, priority: u32, hours: u64) -> RetentionRule {
        RetentionRule {
            selector: sel.into(),
            priority,
            period: std::time::Duration::from_secs(hours * 3600),
        }
    }

    #[test]
    fn loki_rule_order() {
        let h = 3_600_000_000_000i64;
        let mut o = Options::default().retention(std::time::Duration::from_secs(744 * 3600));
        o.retention_stream = vec![rule(r#"{namespace="dev"}"#, 1, 24)];
        o.retention_tenants.insert(
            "29".into(),
            crate::options::TenantRetention {
                retention: Some(std::time::Duration::from_secs(168 * 3600)),
                retention_stream: vec![
                    rule(r#"{namespace="prod"}"#, 2, 336),
                    rule(r#"{container="loki"}"#, 1, 72),
                ],
            },
        );
        o.retention_tenants.insert(
            "30".into(),
            crate::options::TenantRetention {
                retention: None,
                retention_stream: vec![rule(r#"{container="nginx"}"#, 1, 24)],
            },
        );
        let p = RetentionPolicy::new(&o).unwrap();
        let l = |pairs: &[(&str, &str)]| Labels::new(pairs.iter().copied()).unwrap();
        assert_eq!(p.period("1", &l(&[("namespace", "dev")])), Some(24 * h));
        assert_eq!(p.period("1", &l(&[("namespace", "x")])), Some(744 * h));
        assert_eq!(p.period("29", &l(&[("namespace", "x")])), Some(168 * h));
        assert_eq!(
            p.period("29", &l(&[("container", "loki"), ("namespace", "prod")])),
            Some(336 * h)
        );
        assert_eq!(p.period("29", &l(&[("container", "loki")])), Some(72 * h));
        assert_eq!(p.period("30", &l(&[("container", "nginx")])), Some(24 * h));
        assert_eq!(p.period("30", &l(&[("container", "x")])), Some(744 * h));
        // Equal priorities: the shortest period.
        o.retention_stream = vec![rule(r#"{a="1"}"#, 5, 10), rule(r#"{b="1"}"#, 5, 3)];
        let p = RetentionPolicy::new(&o).unwrap();
        assert_eq!(p.period("1", &l(&[("a", "1"), ("b", "1")])), Some(3 * h));
        assert!(!p.is_uniform("1"));
        assert!(RetentionPolicy::new(&Options::default())
            .unwrap()
            .keeps_everything());
    }
}
