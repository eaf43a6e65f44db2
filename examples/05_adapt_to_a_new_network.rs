//! # 05 — Adapt to a new network from a handful of labelled flows
//!
//! The held-out domain plays a network metaforest has never seen. Its flows are split once into an
//! adaptation pool (where an analyst would label a few flows) and a test set. For K labelled flows
//! per class, `MetaModel::adapt` describes the support, runs one forward pass of the meta-network,
//! grows the initialised local forest and returns a `Detector`. It is compared with B0, a plain
//! forest trained on the same K-shot support.
//!
//! `cargo run --release --example 05_adapt_to_a_new_network`

use linfa::ParamGuard;
use metaforest::eval::metrics::{evaluate, Metrics};
use metaforest::flows::{
    datasets, domains::domains_by_dataset, episode::stratified_split, synthetic, EpisodeSampler,
    FlowTable, QuerySize, Stratify, SyntheticConfig,
};
use metaforest::forest::ForestParams;
use metaforest::meta::{DomainData, MetaModel, MetaParams};
use ndarray::{Array2, Axis};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The NF-v2 data when present, the synthetic networks otherwise (see example 01).
fn load_flows() -> Result<(FlowTable, &'static str)> {
    let dir = metaforest::flows::data_dir();
    if datasets::has_nf_v2(&dir) {
        Ok((datasets::load_nf_v2_all(&dir)?, "the real NF-v2 data"))
    } else {
        let table = synthetic::generate(&SyntheticConfig::default())?;
        Ok((table, "synthetic networks (no data found)"))
    }
}

const HELD_OUT: usize = 2;

/// Example 04 in a few lines: meta-train on every domain but the held-out one (small settings).
fn meta_train(table: &FlowTable) -> Result<MetaModel> {
    let mut known = Vec::new();
    for (i, d) in domains_by_dataset(table).iter().enumerate() {
        if i != HELD_OUT {
            let rows =
                stratified_split(table, &d.rows, 1.0, Some(8_000), Stratify::Class, i as u64)?.test;
            known.push(DomainData::from_table(table, &d.name, &rows));
        }
    }
    let params = MetaParams::default()
        .n_episodes(80)
        .ks(vec![1, 5, 10, 20])
        .query_size(128)
        .task_learner_trees(30)
        .local_trees(20)
        .max_epochs(15)
        .seed(7)
        .check()?;
    Ok(MetaModel::fit(&known, &params)?)
}

/// Features and 0/1 targets of some rows.
fn rows_xy(table: &FlowTable, rows: &[usize]) -> (Array2<f64>, Vec<u32>) {
    let x = table.features().select(Axis(0), rows);
    let y = rows.iter().map(|&r| u32::from(table.labels()[r])).collect();
    (x, y)
}

fn print_row(name: &str, m: &Metrics) {
    println!(
        "{name:<24} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
        m.macro_f1, m.detection_rate, m.false_alarm_rate, m.roc_auc
    );
}

fn main() -> Result<()> {
    let (table, source) = load_flows()?;
    println!("data: {source}");
    let model = meta_train(&table)?;
    let new_network = &domains_by_dataset(&table)[HELD_OUT];

    // ANCHOR: split
    // The new network: a pool to label from and a test set (stratified, test capped at 5,000).
    let split = stratified_split(
        &table,
        &new_network.rows,
        0.5,
        Some(5_000),
        Stratify::Label,
        42,
    )?;
    let (x_test, y_test) = rows_xy(&table, &split.test);
    println!(
        "new network: {} ({} test flows)",
        new_network.name,
        split.test.len()
    );
    // ANCHOR_END: split

    println!(
        "\n{:<24} {:>8} {:>8} {:>8} {:>8}",
        "K = 5", "macro-F1", "DR", "FAR", "ROC-AUC"
    );
    // ANCHOR: adapt
    // K = 5 labelled flows per class, drawn from the pool.
    let episode =
        EpisodeSampler::new(5, QuerySize::PerClass(0), 11).sample(&table, &split.pool, 0)?;
    let (x_support, y_support) = rows_xy(&table, &episode.support);

    // B0: a plain forest on the ten labelled flows alone.
    let b0 = ForestParams::new()
        .n_trees(20)
        .n_classes(Some(2))
        .seed(1)
        .check()?;
    let b0 = b0.fit(x_support.view(), &y_support)?;
    let p_b0: Vec<f64> = b0.predict_proba(x_test.view())?.column(1).to_vec();
    let d_b0: Vec<u8> = p_b0.iter().map(|&p| u8::from(p > 0.5)).collect();
    print_row("B0 (support only)", &evaluate(&y_test, &p_b0, &d_b0)?);

    // META: the meta-model adapted to the same support.
    let started = std::time::Instant::now();
    let mut detector = model.adapt(x_support.view(), &y_support)?;
    let adapt_time = started.elapsed();
    let p_meta = detector.predict_proba(x_test.view()); // attack probability per flow
    let d_meta = detector.predict(x_test.view()); // 0/1 at `detector.threshold`
    print_row("META", &evaluate(&y_test, &p_meta, &d_meta)?);
    println!("(adapt took {adapt_time:.1?})");
    // ANCHOR_END: adapt

    // ANCHOR: more
    // More labels arrive: extend the support instead of starting over. The known forests and the
    // network are reused; only the local forest and the support evidence are recomputed.
    let labelled: Vec<usize> = episode.support.clone();
    let rest: Vec<usize> = split
        .pool
        .iter()
        .copied()
        .filter(|r| !labelled.contains(r))
        .collect();
    let more = EpisodeSampler::new(15, QuerySize::PerClass(0), 12).sample(&table, &rest, 0)?;
    let (x_more, y_more) = rows_xy(&table, &more.support);
    detector.adapt_more(x_more.view(), &y_more)?;
    let p = detector.predict_proba(x_test.view());
    print_row(
        "META, K = 5 + 15",
        &evaluate(&y_test, &p, &detector.predict(x_test.view()))?,
    );
    // ANCHOR_END: more

    // ANCHOR: em
    // The support is balanced (K per class) but real traffic is not. Unlabelled flows are always
    // available: given a sample of them, the detector sets its threshold with the learned rule,
    // from the share of them it flags. Reports label such results "uses unlabelled traffic".
    let unlabelled: Vec<usize> = rest.iter().copied().take(3_000).collect();
    let x_unlabelled = table.features().select(Axis(0), &unlabelled);
    let with_traffic =
        model.adapt_with_unlabelled(x_support.view(), &y_support, x_unlabelled.view())?;
    assert!(with_traffic.uses_unlabelled());
    let p = with_traffic.predict_proba(x_test.view());
    let d = with_traffic.predict(x_test.view());
    print_row("META + unlabelled, K = 5", &evaluate(&y_test, &p, &d)?);
    // ANCHOR_END: em
    Ok(())
}
