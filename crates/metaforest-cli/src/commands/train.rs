//! `metaforest train`: task learners on the known domains plus the meta-network, saved as a `.mf` file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use linfa::ParamGuard;
use metaforest_flows::training_set::{build_domains, read_family_map, DataSet, DomainsBy};
use metaforest_flows::FlowTable;
use metaforest_meta::{DomainData, FeatureSpace, MetaModel, MetaParams};

use super::common::{
    cap_domains, human_bytes, select_domains, synthetic_networks, DomainRows, InputArgs,
};
use super::training_data::{read_data_set, read_files};
use super::{CmdResult, Context};

/// `metaforest train [--data-set NAME | --input FILE…] [--domains-by HOW] -o model.mf`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A public data set under the data folder: nf-v2, nsl-kdd or unsw-nb15 (default: nf-v2, unless
    /// --input is given).
    #[arg(long, value_parser = parse_data_set, conflicts_with_all = ["inputs", "synthetic"])]
    pub data_set: Option<DataSet>,
    /// Labelled flow files to train on instead (read with --format or --schema; domain = file name).
    #[arg(long = "input", value_name = "FILE", num_args = 1.., conflicts_with = "synthetic")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// How rows form the known domains: dataset (a data set or input file each), family (benign vs
    /// each attack family), class (benign vs each attack class), or column:NAME (one domain per value
    /// of that column, e.g. a day, site or sensor; the column is then not a feature).
    #[arg(long, value_parser = parse_domains_by, default_value = "dataset", value_name = "HOW")]
    pub domains_by: DomainsBy,
    /// A class → family file (a header, then `class,family` lines) for --domains-by family, where the
    /// data has no mapping of its own.
    #[arg(long, value_name = "FILE")]
    pub families: Option<PathBuf>,
    /// Known domains, comma-separated case-insensitive name fragments (default: all found). With the
    /// NF-v2 data: NF-UNSW-NB15-v2, NF-ToN-IoT-v2, NF-CSE-CIC-IDS2018-v2, NF-BoT-IoT-v2.
    #[arg(long, value_delimiter = ',')]
    pub domains: Option<Vec<String>>,
    /// Output meta-model file.
    #[arg(short, long, default_value = "model.mf")]
    pub output: PathBuf,
    /// Train on the built-in synthetic networks (never used unless asked for).
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

fn parse_data_set(s: &str) -> Result<DataSet, String> {
    s.parse()
        .map_err(|e: metaforest_flows::FlowsError| e.to_string())
}

fn parse_domains_by(s: &str) -> Result<DomainsBy, String> {
    s.parse()
        .map_err(|e: metaforest_flows::FlowsError| e.to_string())
}

/// The table to train on and its known domains, as the flags say; missing data is an error.
fn training_domains(
    ctx: &Context,
    args: &TrainArgs,
) -> Result<(FlowTable, String, DomainRows), Box<dyn std::error::Error>> {
    let (mut table, families, source) = if args.synthetic {
        let loaded = synthetic_networks("requested with --synthetic")?;
        (loaded.table, None, loaded.source)
    } else if !args.inputs.is_empty() {
        let set = read_files(&args.input, &args.inputs)?;
        (set.table, set.families, set.source)
    } else {
        let set = read_data_set(&ctx.data_dir, args.data_set.unwrap_or(DataSet::NfV2))?;
        (set.table, set.families, set.source)
    };
    let families = match &args.families {
        Some(path) => Some(read_family_map(path)?),
        None => families,
    };
    let domains = build_domains(&table, &args.domains_by, families.as_ref())?;
    let mut drop: Vec<&str> = args.drop_columns.iter().map(String::as_str).collect();
    if let DomainsBy::Column(name) = &args.domains_by {
        drop.push(name);
    }
    if !drop.is_empty() {
        table = table.drop_columns(&drop)?;
    }
    let all = cap_domains(&table, domains, args.max_rows, args.seed)?;
    let chosen = select_domains(all, args.domains.as_deref())?;
    Ok((table, source, chosen))
}

/// `Benign 900, neptune 60, smurf 40` for the rows of one domain (most frequent first, at most six).
fn class_summary(table: &FlowTable, rows: &[usize]) -> String {
    let mut counts = vec![0usize; table.class_names().len()];
    for &r in rows {
        counts[table.class_codes()[r] as usize] += 1;
    }
    let mut named: Vec<(usize, &str)> = counts
        .iter()
        .zip(table.class_names())
        .filter(|(&n, _)| n > 0)
        .map(|(&n, c)| (n, c.as_str()))
        .collect();
    named.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let more = named.len().saturating_sub(6);
    let mut text: Vec<String> = named
        .iter()
        .take(6)
        .map(|(n, c)| format!("{c} {n}"))
        .collect();
    if more > 0 {
        text.push(format!("{more} more"));
    }
    text.join(", ")
}

/// What each head ended up doing, in plain words.
fn describe_heads(r: &metaforest_meta::TrainReport) -> [String; 3] {
    let weighting = if r.weight_epochs == 0 {
        format!(
            "weighting head: not trained — validation chose 0 epochs, so the weights are fixed: {:.0} % on the \
             local forest, the share that did best on the known domains (validation loss untrained: {:.4})",
            100.0 * r.fixed_local_share,
            r.equal_weight_val_loss
        )
    } else {
        format!(
            "weighting head: learned for {} epochs (validation loss {:.4}; untrained: {:.4})",
            r.weight_epochs, r.weight_val_loss, r.equal_weight_val_loss
        )
    };
    let kept = |name: &str, on: bool, plain: &str| {
        if on {
            format!(
                "{name} head: learned and kept (it beat the plain forest on the validation domain)"
            )
        } else {
            format!(
                "{name} head: dropped (it did not beat the plain forest), adaptation uses {plain}"
            )
        }
    };
    [
        weighting,
        kept(
            "configuration",
            r.config_head_kept,
            "the plain configuration",
        ),
        kept("feature-prior", r.prior_head_kept, "a uniform prior"),
    ]
}

pub fn run(ctx: &Context, args: TrainArgs) -> CmdResult {
    let start = Instant::now();
    let (table, source, chosen) = training_domains(ctx, &args)?;
    eprintln!("data: {source}");
    if chosen.len() < 2 {
        return Err(format!(
            "meta-training needs at least two known domains; found {} ({}). Try --domains-by family, \
             class or column:NAME",
            chosen.len(),
            chosen.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    let domains: Vec<DomainData> = chosen
        .iter()
        .map(|(n, rows)| DomainData::from_table(&table, n, rows))
        .collect();
    for (d, (_, rows)) in domains.iter().zip(&chosen) {
        let attacks = d.y.iter().filter(|&&y| y == 1).count();
        eprintln!(
            "  known domain {:<24} {:>7} flows ({} benign, {} attack; classes: {})",
            d.name,
            d.y.len(),
            d.y.len() - attacks,
            attacks,
            class_summary(&table, rows)
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
    let described = format!(
        "{}: {}",
        source,
        domains
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let model = MetaModel::fit(&domains, &params.check()?)?
        .with_feature_space(FeatureSpace::new(table.columns().to_vec(), described))?;
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
    for line in describe_heads(r) {
        println!("  {line}");
    }
    println!("  took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
