//! LogQL metric evaluation: sliding-window range aggregation and vector aggregation.
//!
//! Data: 200 series × 5 000 samples (1 M samples) spread evenly over one hour with a
//! little jitter; evaluated at 61 steps (`step 60s` over the hour), `[5m]` windows.
//! Figures are recorded in `docs/PERFORMANCE.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logjar_logql::metric::*;

const S: i64 = 1_000_000_000;
const SERIES: usize = 200;
const PER_SERIES: usize = 5_000;
const HOUR: i64 = 3_600 * S;

/// Deterministic xorshift so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn labels(i: usize) -> Labels {
    Labels::new([
        ("app", "api".to_string()),
        ("host", format!("host-{}", i % 10)),
        ("pod", format!("pod-{i}")),
    ])
}

/// Sample times for one series: evenly spaced over the hour, jittered, sorted.
fn times(rng: &mut Rng) -> Vec<i64> {
    let gap = HOUR / PER_SERIES as i64;
    (0..PER_SERIES as i64)
        .map(|j| j * gap + (rng.next() % gap as u64) as i64)
        .collect()
}

fn log_series() -> Vec<LogSeries> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..SERIES)
        .map(|i| LogSeries {
            labels: labels(i),
            buckets: times(&mut rng)
                .into_iter()
                .map(|ts_ns| EntryBucket {
                    ts_ns,
                    count: 1,
                    bytes: 80 + rng.next() % 200,
                })
                .collect(),
        })
        .collect()
}

fn sample_series() -> Vec<SampleSeries> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    (0..SERIES)
        .map(|i| {
            let ts = times(&mut rng);
            SampleSeries {
                labels: labels(i),
                samples: ts
                    .into_iter()
                    .map(|t| (t, (rng.next() % 100_000) as f64 / 100.0))
                    .collect(),
            }
        })
        .collect()
}

fn steps() -> Steps {
    Steps::range(HOUR, 2 * HOUR, 60 * S).expect("valid steps")
}

fn range_aggregation(c: &mut Criterion) {
    let logs = log_series();
    // Shift the data into the evaluated hour's windows: evaluate over [1h, 2h] with
    // the data in [0, 1h] shifted by the 1h offset.
    let window = RangeWindow::new(300 * S).with_offset(HOUR);
    let steps = steps();
    let mut g = c.benchmark_group("logql_metric_range");
    g.throughput(Throughput::Elements((SERIES * PER_SERIES) as u64));
    g.sample_size(20);
    g.bench_function("count_over_time_1M_samples_200_series", |b| {
        b.iter(|| {
            black_box(log_range_aggregate(
                RangeOp::CountOverTime,
                window,
                &steps,
                black_box(&logs),
            ))
        })
    });
    g.bench_function("rate_1M_samples_200_series", |b| {
        b.iter(|| {
            black_box(log_range_aggregate(
                RangeOp::Rate,
                window,
                &steps,
                black_box(&logs),
            ))
        })
    });
    let samples = sample_series();
    g.bench_function("quantile_over_time_0.99_1M_samples_200_series", |b| {
        b.iter(|| {
            black_box(unwrapped_range_aggregate(
                RangeOp::QuantileOverTime(0.99),
                window,
                &steps,
                black_box(&samples),
            ))
        })
    });
    g.bench_function("avg_over_time_1M_samples_200_series", |b| {
        b.iter(|| {
            black_box(unwrapped_range_aggregate(
                RangeOp::AvgOverTime,
                window,
                &steps,
                black_box(&samples),
            ))
        })
    });
    g.finish();
}

fn vector_aggregation(c: &mut Criterion) {
    let logs = log_series();
    let window = RangeWindow::new(300 * S).with_offset(HOUR);
    let steps = steps();
    let matrix = log_range_aggregate(RangeOp::Rate, window, &steps, &logs);
    let ts = steps.timestamps_ms(0);
    let by_host = Grouping::by(&["host"]);
    let mut g = c.benchmark_group("logql_metric_vector");
    g.throughput(Throughput::Elements((matrix.len() * ts.len()) as u64));
    g.bench_function("sum_by_host_200_series_61_steps", |b| {
        b.iter(|| {
            black_box(aggregate_matrix(
                VectorOp::Sum,
                &by_host,
                black_box(&matrix),
                &ts,
            ))
        })
    });
    g.bench_function("topk_5_200_series_61_steps", |b| {
        b.iter(|| {
            black_box(aggregate_matrix(
                VectorOp::TopK(5),
                &by_host,
                black_box(&matrix),
                &ts,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, range_aggregation, vector_aggregation);
criterion_main!(benches);
