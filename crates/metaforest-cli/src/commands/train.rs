//! `metaforest train`: task learners on the known domains plus the meta-network, saved as a `.mf` file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use linfa::ParamGuard;
use metaforest_meta::{DomainData, FeatureSpace, MetaModel, MetaParams};

use super::common::{domain_rows, human_bytes, load_data, select_domains};
use super::{CmdResult, Context};

/// `metaforest train --domains … -o model.mf`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Known domains, comma-separated case-insensitive name fragments (default: all found). With the
    /// NF-v2 data: NF-UNSW-NB15-v2, NF-ToN-IoT-v2, NF-CSE-CIC-IDS2018-v2, NF-BoT-IoT-v2.
    #[arg(long, value_delimiter = ',')]
    pub domains: Option<Vec<String>>,
    /// Output meta-model file.
    #[arg(short, long, default_value = "model.mf")]
    pub output: PathBuf,
    /// Train on the built-in synthetic networks even when real data is present.
    #[arg(long)]
    pub synthetic: bool,
    /// Rows kept per known domain (stratified by class; 0 = all).
    #[arg(long, default_value_t = 20_000)]
    pub max_rows: usize,
    /// Meta-training episodes.
    #[arg(long, default_value_t = 480)]
    pub episodes: usize,
    /// Trees per known-domain forest.
    #[arg(long, default_value_t = 60)]
    pub trees: usize,
    /// Trees of the local forest grown at adaptation.
    #[arg(long)]
    pub local_trees: Option<usize>,
    /// Maximum epochs of each head.
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Drop these feature columns (e.g. L4_SRC_PORT,L4_DST_PORT).
    #[arg(long, value_delimiter = ',')]
    pub drop_columns: Vec<String>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(ctx: &Context, args: TrainArgs) -> CmdResult {
    let start = Instant::now();
    let mut loaded = load_data(&ctx.data_dir, args.synthetic)?;
    if !args.drop_columns.is_empty() {
        let cols: Vec<&str> = args.drop_columns.iter().map(String::as_str).collect();
        loaded.table = loaded.table.drop_columns(&cols)?;
    }
    eprintln!("data: {}", loaded.source);
    let all = domain_rows(&loaded.table, args.max_rows, args.seed)?;
    let chosen = select_domains(all, args.domains.as_deref())?;
    if chosen.len() < 2 {
        return Err("meta-training needs at least two known domains (--domains)".into());
    }
    let domains: Vec<DomainData> = chosen
        .iter()
        .map(|(n, rows)| DomainData::from_table(&loaded.table, n, rows))
        .collect();
    for d in &domains {
        let attacks = d.y.iter().filter(|&&y| y == 1).count();
        eprintln!(
            "  known domain {:<24} {:>7} flows ({} benign, {} attack)",
            d.name,
            d.y.len(),
            d.y.len() - attacks,
            attacks
        );
    }
    let mut params = MetaParams::default()
        .n_episodes(args.episodes)
        .task_learner_trees(args.trees)
        .seed(args.seed)
        .progress(!args.no_progress);
    if let Some(n) = args.local_trees {
        params = params.local_trees(n);
    }
    if let Some(n) = args.max_epochs {
        params = params.max_epochs(n);
    }
    let source = format!(
        "{}: {}",
        loaded.source,
        domains
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let model = MetaModel::fit(&domains, &params.check()?)?
        .with_feature_space(FeatureSpace::new(loaded.table.columns().to_vec(), source))?;
    model.save(&args.output)?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    let r = model.report();
    println!(
        "meta-model written to {} ({})",
        args.output.display(),
        human_bytes(size)
    );
    println!(
        "  {} known domains, {} features, {} trees each; {} episodes ({} train / {} validation)",
        domains.len(),
        model.feature_space().width(),
        args.trees,
        r.episodes_train + r.episodes_val,
        r.episodes_train,
        r.episodes_val
    );
    println!(
        "  weighting head validation loss {:.4} (equal weights: {:.4})",
        r.weight_val_loss, r.equal_weight_val_loss
    );
    println!("  took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
