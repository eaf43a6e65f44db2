//! Meta-learner timings: meta-training on known domains, and `adapt` (describe, one forward pass, grow the local
//! forest) at K = 5 and K = 20, alone and with 512 unlabelled flows (`adapt_with_unlabelled`: the local forest is
//! self-trained on them); then scoring, the adapted detector beside a plain 100-tree forest (`-- score` runs only
//! these, after one meta-training). Real NF-v2 data when present (three known domains, the fourth held out), the
//! synthetic networks otherwise. `cargo bench --bench meta`.

use criterion::{criterion_group, criterion_main, Criterion};
use linfa::ParamGuard;
use metaforest::flows::domains::domains_by_dataset;
use metaforest::flows::synthetic::{generate, SyntheticConfig};
use metaforest::flows::{datasets, FlowTable};
use metaforest::meta::{DomainData, MetaModel, MetaParams};
use ndarray::{Array2, Axis};

fn table() -> (FlowTable, &'static str) {
    let dir = metaforest::flows::data_dir();
    match datasets::load_nf_v2_all(&dir) {
        Ok(t) => (t, "nf-v2"),
        Err(_) => (
            generate(&SyntheticConfig::default()).expect("synthetic"),
            "synthetic",
        ),
    }
}

fn support(t: &FlowTable, rows: &[usize], k: usize) -> (Array2<f64>, Vec<u32>) {
    let l = t.labels();
    let mut pick: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| l[r] == 0)
        .take(k)
        .collect();
    pick.extend(rows.iter().copied().filter(|&r| l[r] == 1).take(k));
    (
        t.features().select(Axis(0), &pick),
        pick.iter().map(|&r| l[r] as u32).collect(),
    )
}

fn bench(c: &mut Criterion) {
    let (t, source) = table();
    let d = domains_by_dataset(&t);
    let known: Vec<DomainData> = d[..3]
        .iter()
        .map(|d| DomainData::from_table(&t, &d.name, &d.rows))
        .collect();
    let params = MetaParams::default()
        .seed(1)
        .check()
        .expect("valid parameters");
    let mut g = c.benchmark_group(format!("meta/{source}"));
    g.sample_size(10);
    g.bench_function("meta_train_one_fold_480_episodes", |b| {
        b.iter(|| MetaModel::fit(&known, &params).expect("fit"))
    });
    let model = MetaModel::fit(&known, &params).expect("fit");
    // Unlabelled flows of the held-out domain: an evenly strided sample (the files are grouped by class).
    let held = &d[3].rows;
    let strided: Vec<usize> = (0..512).map(|i| held[i * held.len() / 512]).collect();
    let unlabelled = t.features().select(Axis(0), &strided);
    for k in [5, 20] {
        let (sx, sy) = support(&t, held, k);
        g.bench_function(format!("adapt_k{k}"), |b| {
            b.iter(|| model.adapt(sx.view(), &sy).expect("adapt"))
        });
        g.bench_function(format!("adapt_with_unlabelled_k{k}"), |b| {
            b.iter(|| {
                model
                    .adapt_with_unlabelled(sx.view(), &sy, unlabelled.view())
                    .expect("adapt")
            })
        });
    }
    g.finish();

    // Scoring, side by side with a plain 100-tree forest on the same rows: the detector's forests and its
    // weighting head against the forest alone, a batch of 1,024 held-out flows and one flow at a time.
    let mut g = c.benchmark_group(format!("score/{source}"));
    let (sx, sy) = support(&t, held, 20);
    let detector = model.adapt(sx.view(), &sy).expect("adapt");
    let batch: Vec<usize> = (0..1024).map(|i| held[i * held.len() / 1024]).collect();
    let x = t.features().select(Axis(0), &batch);
    let first = &d[0].rows;
    let train: Vec<usize> = (0..20_000)
        .map(|i| first[i * first.len() / 20_000])
        .collect();
    let labels: Vec<u32> = train.iter().map(|&r| t.labels()[r] as u32).collect();
    let forest = metaforest::forest::ForestParams::new()
        .n_trees(100)
        .seed(1)
        .check()
        .expect("valid parameters")
        .fit(t.features().select(Axis(0), &train).view(), &labels)
        .expect("fit");
    g.bench_function("forest_100_trees_predict_proba_1024", |b| {
        b.iter(|| forest.predict_proba(x.view()).expect("predict"))
    });
    g.bench_function("detector_predict_proba_1024", |b| {
        b.iter(|| detector.predict_proba(x.view()))
    });
    g.bench_function("detector_explain_rows_1024", |b| {
        b.iter(|| detector.explain_rows(x.view()).expect("explain"))
    });
    let one = x.slice(ndarray::s![..1, ..]);
    g.bench_function("forest_100_trees_predict_proba_1_row", |b| {
        b.iter(|| forest.predict_proba(one).expect("predict"))
    });
    g.bench_function("detector_predict_proba_1_row", |b| {
        b.iter(|| detector.predict_proba(one))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
