//! # 06 — Detect, explain, save
//!
//! An adapted `Detector` scores incoming flows and says why: how much each forest (the known domains'
//! and the local one) weighed in a decision, and which features the most heavily
//! weighted forest tested on the flow's decision paths. It also reports what the meta-network chose
//! for the local forest, and saves to a self-contained `.mfd` file.
//!
//! `cargo run --release --example 06_detect_and_explain`

use linfa::ParamGuard; // brings `MetaParams::check` into scope
use metaforest::flows::{
    datasets, domains::domains_by_dataset, episode::stratified_split, synthetic, EpisodeSampler,
    FlowTable, QuerySize, Stratify, SyntheticConfig,
};
use metaforest::meta::{Detector, DomainData, MetaModel, MetaParams};
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
        .seed(7);
    Ok(MetaModel::fit(&known, &params.check()?)?)
}

fn rows_xy(table: &FlowTable, rows: &[usize]) -> (Array2<f64>, Vec<u32>) {
    let x = table.features().select(Axis(0), rows);
    let y = rows.iter().map(|&r| u32::from(table.labels()[r])).collect();
    (x, y)
}

fn main() -> Result<()> {
    let (table, source) = load_flows()?;
    println!("data: {source}");
    let model = meta_train(&table)?;
    let new_network = &domains_by_dataset(&table)[HELD_OUT];
    let split = stratified_split(
        &table,
        &new_network.rows,
        0.5,
        Some(2_000),
        Stratify::Label,
        42,
    )?;
    let support =
        EpisodeSampler::new(10, QuerySize::PerClass(0), 11).sample(&table, &split.pool, 0)?;
    let (x_support, y_support) = rows_xy(&table, &support.support);
    let detector = model.adapt(x_support.view(), &y_support)?;

    // ANCHOR: detect
    // Score a batch of incoming flows (here: the held-out test flows, labels kept aside).
    let (incoming, truth) = rows_xy(&table, &split.test);
    let scores = detector.predict_proba(incoming.view());
    let alerts = detector.predict(incoming.view());
    let n_alerts = alerts.iter().filter(|&&a| a == 1).count();
    let hits = alerts
        .iter()
        .zip(&truth)
        .filter(|(&a, &t)| a == 1 && t == 1)
        .count();
    println!(
        "{} flows, {n_alerts} alerts at threshold {:.2}, {hits} of them real attacks",
        incoming.nrows(),
        detector.threshold()
    );
    // ANCHOR_END: detect

    // ANCHOR: weights
    // Which forests the detector leans on for this network (mean weight over the support flows),
    // and the initialisation the meta-network chose for the local forest.
    for (name, w) in detector.forest_names().iter().zip(detector.task_weights()) {
        println!("  weight {w:.3}  {name}");
    }
    let init = detector.initialisation();
    println!(
        "local forest: bootstrap {}, half the features per split {}, transplanted trees {}",
        init.config.bootstrap, init.config.half_features, init.config.transplant
    );
    // ANCHOR_END: weights

    // ANCHOR: explain
    // Explain the highest-scoring alert.
    let top = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .expect("at least one flow");
    let row: Vec<f64> = incoming.row(top).to_vec();
    let why = detector.explain(&row)?;
    println!(
        "\nflow {top}: score {:.3} → {} (true label {})",
        why.score,
        if why.attack { "ALERT" } else { "benign" },
        truth[top],
    );
    for f in &why.forests {
        println!(
            "  {:<24} weight {:.3}  says P(attack) = {:.3}",
            f.forest, f.weight, f.attack_probability
        );
    }
    let names = table.feature_names();
    for (feature, share) in &why.top_features {
        println!(
            "  {:<30} {:>5.1} % of the split tests on its paths (value {})",
            names[*feature],
            100.0 * share,
            row[*feature]
        );
    }
    // ANCHOR_END: explain

    // ANCHOR: save
    // The detector file carries its known forests and network: it scores flows on its own.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("detector.mfd");
    detector.save(&path)?;
    let loaded = Detector::load(&path)?;
    assert_eq!(loaded.predict_proba(incoming.view()), scores);
    println!(
        "\nsaved {} ({:.1} MB); the reloaded detector gives identical scores",
        path.display(),
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    // ANCHOR_END: save
    Ok(())
}
