//! Dev probe for the forest's prediction paths (not part of the book; the comparison table is
//! `cargo run --release -p metaforest-compare`). It replaces the forest crate's synthetic-only `predict_speed`. Fits 100 trees on NF-v2 pooled (`nf`, 80 % of rows in the bench's
//! shuffled order) or on synthetic rows (`syn`), caches the forest and test rows in the cache folder
//! (`--cache-dir`, default: the system's temporary folder) so that later runs only predict, and prints tree shapes, batch rows/s (best of `REPS`, 2 threads),
//! one-flow latency percentiles and the node visits per flow behind them, the size of the trees and
//! of their prediction plan, and the same flows timed again straight after their first run (in
//! cache) and after reading 1, 4 and 16 MiB of other data.
//!
//! `cargo run --release -p metaforest-probes --bin predict_probe -- [nf|syn] [--cache-dir DIR]`
use std::time::Instant;

use linfa::ParamGuard;
use metaforest_flows::synthetic::benchmark_rows;
use metaforest_forest::{Forest, ForestParams};
use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let mut which = "nf".to_string();
    let mut cache_dir = std::env::temp_dir();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--cache-dir" {
            cache_dir = args.next().expect("--cache-dir needs a folder").into();
        } else {
            which = a;
        }
    }
    let cache = cache_dir.join(format!("probe_{which}.mf"));
    let x_cache = cache_dir.join(format!("probe_{which}_xte.bin"));
    if let (Ok(f), Ok(b)) = (Forest::load(&cache), std::fs::read(&x_cache)) {
        let v: Vec<f64> = b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let nf = f.n_features();
        return measure(
            &f,
            Array2::from_shape_vec((v.len() / nf, nf), v).expect("shape"),
        );
    }
    let (x, y) = if which == "nf" {
        let dir = metaforest_flows::data_dir();
        let table = metaforest_flows::datasets::load_nf_v2_all(&dir).expect("NF-v2 data");
        (table.features().to_owned(), table.labels_u32())
    } else {
        benchmark_rows(120_000, 42)
    };
    let n = x.nrows();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(42));
    let n_train = if which == "nf" { n * 4 / 5 } else { 100_000 };
    let x_train = x.select(Axis(0), &order[..n_train]);
    let y_train: Vec<u32> = order[..n_train].iter().map(|i| y[*i]).collect();
    let x_test = x.select(Axis(0), &order[n_train..]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let t = Instant::now();
    let params = ForestParams::new()
        .n_trees(100)
        .seed(42)
        .check()
        .expect("params");
    let f = pool.install(|| params.fit(x_train.view(), &y_train).expect("fit"));
    eprintln!("fit {:.2} s", t.elapsed().as_secs_f64());
    f.save(&cache).expect("save");
    let bytes: Vec<u8> = x_test.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&x_cache, bytes).expect("write test rows");
    measure(&f, x_test);
}

fn measure(f: &Forest, x_test: Array2<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let st = f.tree_stats();
    let nodes: usize = st.iter().map(|s| s.n_nodes).sum();
    let depth = st.iter().map(|s| s.depth as f64).sum::<f64>() / st.len() as f64;
    // `load` has built `f`'s plan already; time the build on a fresh copy of its trees.
    let fresh = Forest::from_trees(f.trees().to_vec()).expect("same trees");
    let t = Instant::now();
    let plan_bytes = fresh.prediction_plan_bytes();
    let plan_ms = t.elapsed().as_secs_f64() * 1e3;
    let tree_bytes: usize = f
        .trees()
        .iter()
        .map(|t| t.stats().n_nodes * 16 + t.n_leaves() * t.n_classes() * 8)
        .sum();
    eprintln!(
        "nodes/tree {:.0}, mean depth {depth:.1}; nodes and leaves {:.1} MB, prediction plan {} \
         (built in {plan_ms:.0} ms)",
        nodes as f64 / st.len() as f64,
        tree_bytes as f64 / 1e6,
        plan_bytes.map_or("none".into(), |b| format!("{:.2} MB", b as f64 / 1e6))
    );
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(pool.install(|| f.predict_proba(x_test.view()).expect("predict")));
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "batch {:.0} rows/s ({} rows)",
        x_test.nrows() as f64 / best,
        x_test.nrows()
    );
    if let Ok(col) = std::env::var("MF_SORT") {
        let leaves = f.apply(x_test.view()).expect("apply");
        let mut idx: Vec<usize> = (0..x_test.nrows()).collect();
        let col: usize = col.parse().unwrap_or(0);
        idx.sort_by_key(|&i| (leaves[[i, col]], leaves[[i, col + 1]]));
        let xs = x_test.select(Axis(0), &idx);
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(pool.install(|| f.predict_proba(xs.view()).expect("predict")));
            best = best.min(t.elapsed().as_secs_f64());
        }
        eprintln!("sorted batch {:.0} rows/s", x_test.nrows() as f64 / best);
    }
    // Small batches take the sequential path (no rayon, no sorted walk).
    let t = Instant::now();
    for start in (0..x_test.nrows()).step_by(256) {
        let end = (start + 256).min(x_test.nrows());
        std::hint::black_box(
            f.predict_proba(x_test.slice(ndarray::s![start..end, ..]))
                .expect("predict"),
        );
    }
    eprintln!(
        "256-row batches {:.0} rows/s",
        x_test.nrows() as f64 / t.elapsed().as_secs_f64()
    );
    let rows: Vec<Vec<f64>> = x_test
        .rows()
        .into_iter()
        .take(5000)
        .map(|r| r.to_vec())
        .collect();
    let mut out = vec![0.0; f.n_classes()];
    let mut lat: Vec<f64> = rows
        .iter()
        .map(|r| {
            let t = Instant::now();
            f.predict_proba_row_into(r, &mut out).expect("row");
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let mut steps: Vec<usize> = rows
        .iter()
        .map(|r| {
            f.decision_path(r)
                .expect("path")
                .iter()
                .map(|p| p.steps.len())
                .sum()
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    steps.sort_unstable();
    let pct = |p: usize, n: usize| n * p / 100;
    eprintln!(
        "one flow p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs; node visits per flow p50 {}, p99 {}",
        lat[pct(50, lat.len())],
        lat[pct(90, lat.len())],
        lat[pct(99, lat.len())],
        steps[pct(50, steps.len())],
        steps[pct(99, steps.len())]
    );
    // Each flow again: right after its first run (its paths are in cache, so the gap to the figures
    // above is what memory costs), then after reading other data of each size, to see how much
    // may pass through the cache between two flows before the forest's lines are gone (L2 is
    // 1 MiB per core here).
    print_percentiles("same flow again (warm)", time_again(f, &rows, |_| {}));
    for kb in [1024usize, 4096, 16384] {
        let buf = vec![1u8; kb * 1024];
        let read_buf = |_: usize| {
            let sum = buf
                .iter()
                .step_by(64)
                .fold(0u64, |a, b| a.wrapping_add(*b as u64));
            std::hint::black_box(sum);
        };
        let label = format!("again after reading {kb} KiB");
        print_percentiles(&label, time_again(f, &rows[..1000], read_buf));
    }
}

/// Times each row's prediction run a second time, `between(i)` running in between.
fn time_again(f: &Forest, rows: &[Vec<f64>], between: impl Fn(usize)) -> Vec<f64> {
    let mut out = vec![0.0; f.n_classes()];
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            f.predict_proba_row_into(r, &mut out).expect("row");
            between(i);
            let t = Instant::now();
            f.predict_proba_row_into(r, &mut out).expect("row");
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn print_percentiles(label: &str, mut lat: Vec<f64>) {
    lat.sort_by(f64::total_cmp);
    let at = |p: usize| lat[lat.len() * p / 100];
    eprintln!(
        "{label}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
        at(50),
        at(90),
        at(99)
    );
}
