//! # 02 — Train a forest (and watch it fail on another network)
//!
//! A *task learner* is a random forest trained on one domain. This example trains one on the first
//! domain, scores it on that domain's held-out flows (intrinsic: it looks excellent) and on every other
//! domain (cross-domain: it collapses), then looks inside it: feature importances, the decision path
//! of one flow, and a save/load round trip.
//!
//! `cargo run --release --example 02_train_a_forest`

use linfa::ParamGuard; // brings `ForestParams::check` into scope (linfa's validated-parameters pattern)
use metaforest::eval::metrics::{evaluate, Metrics};
use metaforest::flows::{
    datasets, domains::domains_by_dataset, episode::stratified_split, synthetic, FlowTable,
    Stratify, SyntheticConfig,
};
use metaforest::forest::{Forest, ForestParams, MaxFeatures};
use ndarray::Axis;

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

// ANCHOR: sample
/// A stratified random sample of at most `cap` of `rows` (every label keeps its share). Keeps the
/// example fast; `stratified_split` with a test fraction of 1 and a cap is exactly that.
fn sample(table: &FlowTable, rows: &[usize], cap: usize, seed: u64) -> Result<Vec<usize>> {
    Ok(stratified_split(table, rows, 1.0, Some(cap), Stratify::Label, seed)?.test)
}
// ANCHOR_END: sample

// ANCHOR: score
/// Attack probabilities of `forest` on `rows`, thresholded at 0.5, scored against the true labels.
fn score(forest: &Forest, table: &FlowTable, rows: &[usize]) -> Result<Metrics> {
    let x = table.features().select(Axis(0), rows);
    let proba = forest.predict_proba(x.view())?; // rows × classes; column 1 = attack
    let attack: Vec<f64> = proba.column(1).to_vec();
    let decision: Vec<u8> = attack.iter().map(|&p| u8::from(p > 0.5)).collect();
    let truth: Vec<u8> = rows.iter().map(|&r| table.labels()[r]).collect();
    Ok(evaluate(&truth, &attack, &decision)?)
}
// ANCHOR_END: score

fn main() -> Result<()> {
    let (table, source) = load_flows()?;
    println!("data: {source}");
    let domains = domains_by_dataset(&table);
    let home = &domains[0];

    // ANCHOR: train
    // Hold out 30 % of the home domain (stratified by label) for testing; train on at most 20,000
    // of the remaining flows.
    let split = stratified_split(&table, &home.rows, 0.3, Some(5_000), Stratify::Label, 1)?;
    let train = sample(&table, &split.pool, 20_000, 2)?;
    let x = table.features().select(Axis(0), &train);
    let y: Vec<u32> = train
        .iter()
        .map(|&r| u32::from(table.labels()[r]))
        .collect();

    let params = ForestParams::new()
        .n_trees(30)
        .max_features(MaxFeatures::Sqrt) // √41 ≈ 7 candidate features per split
        .n_classes(Some(2)) // 0 = benign, 1 = attack, even if a sample lacked one
        .seed(42) // same seed, same forest, at any thread count
        .check()?; // validates the parameters once (linfa's ParamGuard)
    let started = std::time::Instant::now();
    let forest = params.fit(x.view(), &y)?;
    println!(
        "trained {} trees on {} flows of {} in {:.1?}",
        forest.n_trees(),
        train.len(),
        home.name,
        started.elapsed()
    );
    // ANCHOR_END: train

    // ANCHOR: cross
    println!(
        "\n{:<28} {:>8} {:>8} {:>8} {:>8}",
        "tested on", "macro-F1", "DR", "FAR", "ROC-AUC"
    );
    let m = score(&forest, &table, &split.test)?;
    let row = |name: &str, m: &Metrics| {
        println!(
            "{name:<28} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            m.macro_f1, m.detection_rate, m.false_alarm_rate, m.roc_auc
        )
    };
    row(&format!("{} (held-out)", home.name), &m);
    for other in &domains[1..] {
        let rows = sample(&table, &other.rows, 5_000, 3)?;
        row(&other.name, &score(&forest, &table, &rows)?);
    }
    // ANCHOR_END: cross

    // ANCHOR: inspect
    // Mean decrease in impurity, normalised to sum 1.
    let names = table.feature_names();
    let mut importances: Vec<(usize, f64)> = forest
        .feature_importances()
        .into_iter()
        .enumerate()
        .collect();
    importances.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("\nmost important features:");
    for (j, imp) in importances.iter().take(5) {
        println!("  {:<30} {imp:.3}", names[*j]);
    }

    // Why did the first test flow get its score? Its path through the first tree:
    let flow: Vec<f64> = table.features().row(split.test[0]).to_vec();
    let paths = forest.decision_path(&flow)?;
    println!("\npath of one flow through tree 0:");
    for step in &paths[0].steps {
        let op = if step.went_left { "<=" } else { ">" };
        println!(
            "  {} = {} {op} {}",
            names[step.feature], step.value, step.threshold
        );
    }
    println!("  leaf class distribution: {:?}", paths[0].distribution);
    // ANCHOR_END: inspect

    // ANCHOR: save
    // Versioned, checksummed file; written to a temporary file and renamed, so never half-written.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("forest.bin");
    forest.save(&path)?;
    let loaded = Forest::load(&path)?;
    let x_test = table.features().select(Axis(0), &split.test);
    assert_eq!(
        loaded.predict_proba(x_test.view())?,
        forest.predict_proba(x_test.view())?
    );
    println!(
        "\nsaved and reloaded {} ({} bytes): identical predictions",
        path.display(),
        std::fs::metadata(&path)?.len()
    );
    // ANCHOR_END: save
    Ok(())
}
