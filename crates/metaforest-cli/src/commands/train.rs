//! `metaforest train`: task learners on the known domains plus the meta-network, saved as a `.mf` file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use linfa::ParamGuard;
use metaforest_flows::datasets::{has_nf_v2, load_nf_v2_all};
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::episode::stratified_split;
use metaforest_flows::synthetic::generate;
use metaforest_flows::{FlowTable, Stratify, SyntheticConfig};
use metaforest_meta::{DomainData, MetaModel, MetaParams};

use super::common::{human_bytes, ModelFile};
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

/// Named row sets of a table (one per domain).
pub type DomainRows = Vec<(String, Vec<usize>)>;

/// Loaded known/candidate domains.
pub struct Loaded {
    pub table: FlowTable,
    /// `real data at …` or `synthetic …`.
    pub source: String,
}

/// The NF-v2 data when present (and not `synthetic`), else the synthetic networks.
pub fn load_data(data_dir: &Path, synthetic: bool) -> Result<Loaded, Box<dyn std::error::Error>> {
    if !synthetic && has_nf_v2(data_dir) {
        let table = load_nf_v2_all(data_dir)?;
        return Ok(Loaded {
            table,
            source: format!("real NF-v2 data at {}", data_dir.display()),
        });
    }
    let cfg = SyntheticConfig {
        n_networks: 4,
        rows_per_network: 6_000,
        ..SyntheticConfig::default()
    };
    let why = if synthetic {
        "requested".to_string()
    } else {
        format!("no NF-v2 data at {}", data_dir.display())
    };
    Ok(Loaded {
        table: generate(&cfg)?,
        source: format!(
            "synthetic networks ({} × {} flows; {why})",
            cfg.n_networks, cfg.rows_per_network
        ),
    })
}

/// Rows of each domain (by data set), capped per domain by a class-stratified sample.
pub fn domain_rows(
    table: &FlowTable,
    cap: usize,
    seed: u64,
) -> Result<DomainRows, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for d in domains_by_dataset(table) {
        let rows = if cap > 0 && d.rows.len() > cap {
            stratified_split(table, &d.rows, 1.0, Some(cap), Stratify::Class, seed)?.test
        } else {
            d.rows.clone()
        };
        out.push((d.name.clone(), rows));
    }
    Ok(out)
}

/// Keeps the domains whose names contain one of the fragments (case-insensitive).
pub fn select_domains(
    all: DomainRows,
    wanted: Option<&[String]>,
) -> Result<DomainRows, Box<dyn std::error::Error>> {
    let Some(wanted) = wanted else {
        return Ok(all);
    };
    let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    let mut out = Vec::new();
    for w in wanted {
        let w = w.trim().to_lowercase();
        let hits: Vec<&(String, Vec<usize>)> = all
            .iter()
            .filter(|(n, _)| n.to_lowercase().contains(&w))
            .collect();
        match hits.as_slice() {
            [one] => {
                if !out.iter().any(|(n, _): &(String, Vec<usize>)| n == &one.0) {
                    out.push((*one).clone());
                }
            }
            [] => {
                return Err(format!("no domain matches `{w}`; known: {}", names.join(", ")).into())
            }
            _ => {
                return Err(format!(
                    "`{w}` matches several domains ({}); be more specific",
                    hits.iter()
                        .map(|h| h.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into())
            }
        }
    }
    Ok(out)
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
    let model = MetaModel::fit(&domains, &params.check()?)?;
    let file = ModelFile {
        space: loaded.table.columns().to_vec(),
        source: format!(
            "{}: {}",
            loaded.source,
            domains
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        model,
    };
    file.save(&args.output)?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    let r = file.model.report();
    println!(
        "meta-model written to {} ({})",
        args.output.display(),
        human_bytes(size)
    );
    println!(
        "  {} known domains, {} features, {} trees each; {} episodes ({} train / {} validation)",
        domains.len(),
        file.space.len(),
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
