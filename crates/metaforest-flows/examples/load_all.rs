//! Generates 100k synthetic flows, then loads every shared data set; prints sizes and timings:
//! `cargo run --release -p metaforest-flows --example load_all [DATA_DIR]`.

use std::time::Instant;

use metaforest_flows::datasets;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(metaforest_flows::data_dir, Into::into);
    let t = Instant::now();
    let syn = metaforest_flows::synthetic::generate(&metaforest_flows::SyntheticConfig {
        n_networks: 4,
        rows_per_network: 25_000,
        attack_fraction: 0.3,
        seed: 1,
    })?;
    println!(
        "synthetic {:>8} rows {:>3} features             {:.2?}",
        syn.n_rows(),
        syn.n_features(),
        t.elapsed()
    );
    let all = Instant::now();
    let t = Instant::now();
    let nf = datasets::load_nf_v2_all(&dir)?;
    println!(
        "nf-v2     {:>8} rows {:>3} features  {:>6.0} MB  {:.2?}",
        nf.n_rows(),
        nf.n_features(),
        nf.memory_bytes() as f64 / 1e6,
        t.elapsed()
    );
    let t = Instant::now();
    let kdd = datasets::load_nsl_kdd_all(&dir)?;
    let kdd_rows: usize = datasets::NslKddFile::ALL
        .iter()
        .map(|&f| kdd.table(f).n_rows())
        .sum();
    println!(
        "nsl-kdd   {:>8} rows {:>3} features             {:.2?}",
        kdd_rows,
        kdd.train.n_features(),
        t.elapsed()
    );
    let t = Instant::now();
    let unsw = datasets::load_unsw_nb15(&dir)?;
    println!(
        "unsw-nb15 {:>8} rows {:>3} features  {:>6.0} MB  {:.2?}",
        unsw.n_rows(),
        unsw.n_features(),
        unsw.memory_bytes() as f64 / 1e6,
        t.elapsed()
    );
    println!("all shared data loaded in {:.2?}", all.elapsed());
    Ok(())
}
