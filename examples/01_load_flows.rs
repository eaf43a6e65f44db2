//! # 01 — Load flows
//!
//! A `FlowTable` holds network flows column by column: an `f64` feature matrix, a binary label
//! (0 = benign, 1 = attack), an attack class and a domain (the network or data set a flow came from).
//! This example loads the four NF-v2 data sets when they are on disk and the synthetic networks
//! otherwise, then looks at what it got.
//!
//! `cargo run --release --example 01_load_flows`
//! (set `METAFOREST_DATA=DIR` to point at the data; a folder without it selects the synthetic data.)

use metaforest::flows::{datasets, synthetic, FlowTable, SyntheticConfig};

// ANCHOR: load
/// The four NF-v2 data sets pooled into one table when they are on disk, the synthetic networks
/// otherwise. The second value says which, so the output never passes one off as the other.
fn load_flows() -> Result<(FlowTable, &'static str), Box<dyn std::error::Error>> {
    let dir = metaforest::flows::data_dir(); // METAFOREST_DATA, else ../shared/data
    if datasets::has_nf_v2(&dir) {
        Ok((datasets::load_nf_v2_all(&dir)?, "the real NF-v2 data"))
    } else {
        // Four simulated networks × 5,000 flows, 30 % attacks, seed 7: same 41 NF-v2 columns.
        let table = synthetic::generate(&SyntheticConfig::default())?;
        Ok((table, "synthetic networks (no data found)"))
    }
}
// ANCHOR_END: load

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let (table, source) = load_flows()?;
    println!(
        "loaded {} flows × {} features from {source} in {:.1?}",
        table.n_rows(),
        table.n_features(),
        started.elapsed()
    );

    // ANCHOR: inspect
    // Features are f64 (some NF-v2 counters reach 2.8e47) in column-major order.
    let names = table.feature_names();
    println!("first features: {}", names[..6].join(", "));

    // One domain per data set (or simulated network), with its benign/attack balance.
    let [benign, attack] = table.label_counts();
    println!("all domains: {benign} benign, {attack} attack flows");
    let mut attacks = vec![0usize; table.domain_names().len()];
    for (&domain, &label) in table.domain_codes().iter().zip(table.labels()) {
        attacks[domain as usize] += label as usize;
    }
    for ((name, n), n_attack) in table
        .domain_names()
        .iter()
        .zip(table.domain_counts())
        .zip(attacks)
    {
        let share = 100.0 * n_attack as f64 / n.max(1) as f64;
        println!("  {name:<24} {n:>7} flows, {share:>5.1} % attack");
    }

    // Attack classes keep each data set's own spelling (`ddos` in ToN-IoT, `DDoS` in BoT-IoT).
    let top: Vec<String> = table
        .class_counts_named()
        .iter()
        .take(6)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!("most frequent classes: {}", top.join(", "));
    // ANCHOR_END: inspect

    // ANCHOR: flaws
    // Known flaw worth checking before any evaluation: identical feature vectors, sometimes with
    // different labels (they cap the accuracy any detector can reach and leak between splits).
    let dups = table.duplicate_feature_vectors();
    println!(
        "{} flows repeat an earlier feature vector ({} distinct vectors repeat)",
        dups.duplicate_rows, dups.repeated_groups
    );
    // ANCHOR_END: flaws

    // ANCHOR: other
    // The intrinsic data sets load the same way (each in its own feature space).
    let dir = metaforest::flows::data_dir();
    if datasets::has_unsw_nb15(&dir) {
        let unsw = datasets::load_unsw_nb15(&dir)?;
        println!(
            "UNSW-NB15 testing set: {} flows × {} features",
            unsw.n_rows(),
            unsw.n_features()
        );
    }
    if datasets::has_nsl_kdd(&dir) {
        let train = datasets::load_nsl_kdd(&dir, datasets::NslKddFile::Train)?;
        println!(
            "NSL-KDD KDDTrain+: {} flows × {} features",
            train.n_rows(),
            train.n_features()
        );
    }
    // ANCHOR_END: other
    println!("done in {:.1?}", started.elapsed());
    Ok(())
}
