//! Micro benchmarks of the forest engine: fit on 20,000 × 40, batch predict_proba, one-flow latency.
//! The side-by-side comparison with other libraries is `cargo run --release -p metaforest-compare`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use linfa::ParamGuard;
use metaforest::flows::synthetic::benchmark_rows;
use metaforest::forest::{Forest, ForestParams};
use std::hint::black_box;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool")
}

fn bench(c: &mut Criterion) {
    let (x, y) = benchmark_rows(25_000, 7);
    let (xtr, xte) = (
        x.slice(ndarray::s![..20_000, ..]),
        x.slice(ndarray::s![20_000.., ..]),
    );
    let ytr = &y[..20_000];
    let pool = pool();

    let mut g = c.benchmark_group("forest");
    g.sample_size(10);
    let p20 = ForestParams::new()
        .n_trees(20)
        .seed(1)
        .check()
        .expect("params");
    g.bench_function("fit 20k x 40, 20 trees, 2 threads", |b| {
        b.iter(|| pool.install(|| black_box(p20.fit(xtr, ytr).expect("fit"))))
    });

    let p100 = ForestParams::new()
        .n_trees(100)
        .seed(1)
        .check()
        .expect("params");
    let forest: Forest = pool.install(|| p100.fit(xtr, ytr).expect("fit"));
    g.bench_function("predict_proba 5k rows, 100 trees, 2 threads", |b| {
        b.iter(|| pool.install(|| black_box(forest.predict_proba(xte).expect("predict"))))
    });
    g.bench_function("predict_proba 64 rows (sequential path), 100 trees", |b| {
        let small = xte.slice(ndarray::s![..64, ..]);
        b.iter(|| black_box(forest.predict_proba(small).expect("predict")))
    });
    let rows: Vec<Vec<f64>> = xte.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut out = vec![0.0; 2];
    let mut i = 0usize;
    g.bench_function("predict_proba_row_into one flow, 100 trees", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % rows.len();
                i
            },
            |k| {
                forest
                    .predict_proba_row_into(&rows[k], &mut out)
                    .expect("row");
                black_box(out[1])
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
