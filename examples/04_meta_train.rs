//! # 04 — Meta-train on the known domains
//!
//! Stage 1 trains one forest (task learner) per known domain. Stage 2 trains a small dfdx network
//! over simulated few-shot episodes drawn from those domains: each episode pretends one known domain
//! is new, shows the network what the *other* forests say about a K-shot support, and teaches it to
//! weight the forests and initialise a local forest so that the query flows are scored well.
//! One domain is held out entirely: it plays the new network in example 05.
//!
//! Settings here are tiny so the example runs in seconds; the defaults (`MetaParams::default()`)
//! are what `metaforest train` and the benchmarks use.
//!
//! `cargo run --release --example 04_meta_train`

use linfa::ParamGuard;
use metaforest::flows::{
    datasets, domains::domains_by_dataset, episode::stratified_split, synthetic, FlowTable,
    Stratify, SyntheticConfig,
};
use metaforest::meta::{DomainData, MetaModel, MetaParams};

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

/// The domain that plays the new network (NF-CSE-CIC-IDS2018-v2 on the real data).
const HELD_OUT: usize = 2;

fn main() -> Result<()> {
    let (table, source) = load_flows()?;
    println!("data: {source}");
    let domains = domains_by_dataset(&table);

    // ANCHOR: known
    // Every domain except the held-out one, as owned feature matrices with 0/1 targets and attack
    // classes (the classes give the meta-trainer its "benign vs class X" episodes). Each is cut to a
    // class-stratified sample of at most 8,000 flows to keep the example fast.
    let mut known = Vec::new();
    for (i, d) in domains.iter().enumerate().filter(|&(i, _)| i != HELD_OUT) {
        let rows =
            stratified_split(&table, &d.rows, 1.0, Some(8_000), Stratify::Class, i as u64)?.test;
        known.push(DomainData::from_table(&table, &d.name, &rows));
    }
    let names: Vec<&str> = known.iter().map(|d| d.name.as_str()).collect();
    println!(
        "known domains: {}; held out: {}",
        names.join(", "),
        domains[HELD_OUT].name
    );
    // ANCHOR_END: known

    // ANCHOR: fit
    let params = MetaParams::default()
        .n_episodes(80) // default 480
        .ks(vec![1, 5, 10, 20]) // K varies across episodes
        .query_size(128) // query flows per episode, natural class balance
        .task_learner_trees(30) // trees per known-domain forest (default 60)
        .local_trees(20) // trees of the local forest grown on each support (default 100)
        .max_epochs(15) // early stopping on held-out episodes usually ends sooner
        .seed(7)
        .check()?; // validated once (linfa's ParamGuard)
    let started = std::time::Instant::now();
    let model = MetaModel::fit(&known, &params)?;
    println!("meta-trained in {:.1?}", started.elapsed());
    // ANCHOR_END: fit

    // ANCHOR: report
    let r = model.report();
    println!(
        "{} training / {} validation episodes",
        r.episodes_train, r.episodes_val
    );
    // The weighting head's query log-loss on validation episodes, against the plain average of
    // the same forests: lower is better, and the gap is what meta-learning bought.
    println!(
        "validation query log-loss: learned weights {:.4}, equal weights {:.4}",
        r.weight_val_loss, r.equal_weight_val_loss
    );
    for t in model.known() {
        println!("  task learner {:<24} {} trees", t.name, t.forest.n_trees());
    }
    // ANCHOR_END: report

    // ANCHOR: save
    // One file holds the known forests, the network (safetensors), and the input normalisation.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.mf");
    model.save(&path)?;
    let loaded = MetaModel::load(&path)?;
    assert_eq!(loaded.known().len(), model.known().len());
    println!(
        "saved {} ({:.1} MB) and loaded it back",
        path.display(),
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    // ANCHOR_END: save
    Ok(())
}
