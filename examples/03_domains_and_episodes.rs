//! # 03 — Domains, tasks and K-shot episodes
//!
//! Meta-learning needs many small learning problems. A *domain* is a named set of rows (a data set or
//! a network); a *task* is "benign vs attack" inside a domain, or "benign vs one attack class"; an
//! *episode* is a K-shot *support* (K labelled flows per class, what an analyst could label) plus a
//! disjoint *query* (the flows the adapted detector is judged on).
//!
//! `cargo run --release --example 03_domains_and_episodes`

use metaforest::flows::{
    datasets,
    domains::{binary_tasks, domains_by_class_family, domains_by_dataset},
    episode::stratified_split,
    synthetic, EpisodeSampler, FlowTable, QuerySize, Stratify, SyntheticConfig,
};

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

fn main() -> Result<()> {
    let (table, source) = load_flows()?;
    println!("data: {source}\n");

    // ANCHOR: domains
    // Cross-domain mode: one domain per data set (or simulated network).
    let domains = domains_by_dataset(&table);
    for d in &domains {
        let [benign, attack] = d.label_counts(&table);
        println!(
            "domain {:<24} {benign:>7} benign {attack:>7} attack",
            d.name
        );
    }

    // Intrinsic mode: many tasks inside the domains. "Benign vs attack class X" for every class
    // with at least 50 flows, and "benign vs family" (here each class is its own family; for
    // NSL-KDD pass the attack → family mapping from `datasets::load_nsl_kdd_all`).
    let tasks = binary_tasks(&table, 50);
    println!("\n{} binary tasks, e.g.:", tasks.len());
    for t in tasks.iter().take(4) {
        println!("  {:<48} {:>7} flows", t.name, t.len());
    }
    let families = domains_by_class_family(&table, |class| Some(class.to_owned()), true);
    println!("{} benign-vs-family tasks", families.len());
    // ANCHOR_END: domains

    // ANCHOR: episodes
    // An episode from the first domain: K = 5 labelled flows per class in the support, and a
    // balanced query of 20 per class. Rows are indices into `table`.
    let domain = &domains[0];
    let sampler = EpisodeSampler::new(5, QuerySize::PerClass(20), 7);
    let episode = sampler.sample_domain(&table, domain, 0)?;
    let labels = |rows: &[usize]| -> Vec<u8> { rows.iter().map(|&r| table.labels()[r]).collect() };
    println!(
        "\nepisode 0 of {}: support rows {:?}\n  support labels {:?}, {} query flows",
        domain.name,
        episode.support,
        labels(&episode.support),
        episode.query.len()
    );

    // Seeded: the same (seed, draw) always gives the same rows, on any machine or thread count;
    // another draw gives another episode.
    assert_eq!(episode, sampler.sample_domain(&table, domain, 0)?);
    assert_ne!(episode, sampler.sample_domain(&table, domain, 1)?);

    // A query with the domain's natural class balance (what a detector meets in practice), capped.
    let natural = EpisodeSampler::new(5, QuerySize::Rest { cap: 2_000 }, 7);
    let e = natural.sample_domain(&table, domain, 0)?;
    let attack = labels(&e.query).iter().filter(|&&l| l == 1).count();
    println!(
        "natural-balance query: {} flows, {:.1} % attack",
        e.query.len(),
        100.0 * attack as f64 / e.query.len() as f64
    );

    // Stratify by attack class instead of label: K flows of every class present.
    let per_class =
        EpisodeSampler::new(2, QuerySize::PerClass(0), 7).with_stratify(Stratify::Class);
    match per_class.sample_domain(&table, domain, 0) {
        Ok(e) => println!("class-stratified support: {} flows", e.support.len()),
        // A class with fewer than K rows is a clear error, never a panic.
        Err(e) => println!("class-stratified support refused: {e}"),
    }
    // ANCHOR_END: episodes

    // ANCHOR: split
    // The protocols split a held-out domain once into an adaptation pool (supports are drawn from
    // it) and a test set (never seen by any method); here 50/50 with the test set capped at 5,000.
    let split = stratified_split(&table, &domain.rows, 0.5, Some(5_000), Stratify::Label, 42)?;
    println!(
        "\nsplit of {}: {} pool rows, {} test rows",
        domain.name,
        split.pool.len(),
        split.test.len()
    );
    let support =
        EpisodeSampler::new(10, QuerySize::PerClass(0), 42).sample(&table, &split.pool, 0)?;
    assert!(support.support.iter().all(|r| !split.test.contains(r)));
    println!(
        "a K=10 support drawn from the pool: {} flows",
        support.support.len()
    );
    // ANCHOR_END: split
    Ok(())
}
