//! `metaforest forest fit|predict`: a plain random forest on a labelled file, read through the same
//! readers as the detector — the support-only baseline in one command.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use linfa::ParamGuard;
use metaforest_forest::ForestParams;
use metaforest_meta::{FeatureSpace, PlainForest};

use super::common::{is_fatal, open_rows, InputArgs};
use super::detect::OutputFormat;
use super::training_data::read_files;
use super::{CmdResult, Context};

/// `metaforest forest fit|predict`
#[derive(Debug, Args)]
pub struct ForestArgs {
    #[command(subcommand)]
    pub command: ForestCommand,
}

#[derive(Debug, Subcommand)]
pub enum ForestCommand {
    /// Grow a forest on labelled flows (benign vs attack) and save it.
    Fit(FitArgs),
    /// Score flows with a saved forest (CSV or JSON lines on standard output).
    Predict(PredictArgs),
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Labelled flow files (a Label or attack column).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output forest file.
    #[arg(short, long, default_value = "forest.mff")]
    pub output: PathBuf,
    /// Trees.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The forest file written by `forest fit`.
    pub forest: PathBuf,
    /// Flows to score; `-` or nothing reads standard input (plain or gzip).
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub format: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub output: OutputFormat,
    /// Alarm threshold on the attack probability.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
}

pub fn run(_ctx: &Context, args: ForestArgs) -> CmdResult {
    match args.command {
        ForestCommand::Fit(a) => fit(a),
        ForestCommand::Predict(a) => predict(a),
    }
}

fn fit(args: FitArgs) -> CmdResult {
    let set = read_files(&args.input, &args.inputs)?;
    let t = &set.table;
    let [benign, attack] = t.label_counts();
    if benign == 0 || attack == 0 {
        return Err(format!(
            "{}: a forest needs both classes ({benign} benign, {attack} attack flows)",
            set.source
        )
        .into());
    }
    let forest = ForestParams::new()
        .n_trees(args.trees)
        .seed(args.seed)
        .n_classes(Some(2))
        .check()?
        .fit(t.features(), &t.labels_u32())?;
    PlainForest::new(
        forest,
        FeatureSpace::new(t.columns().to_vec(), set.source.clone()),
    )?
    .save(&args.output)?;
    println!(
        "forest written to {}: {} trees on {} flows ({benign} benign, {attack} attack), {} features, from {}",
        args.output.display(),
        args.trees,
        t.n_rows(),
        t.n_features(),
        set.source
    );
    Ok(())
}

fn predict(args: PredictArgs) -> CmdResult {
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(format!("threshold {} is not in [0, 1]", args.threshold).into());
    }
    let plain = PlainForest::load(&args.forest)?;
    let (forest, space) = (plain.forest(), plain.feature_space());
    let nf = space.width();
    let mut src = open_rows(args.input.as_deref(), &args.format, space)?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if args.output == OutputFormat::Csv {
        writeln!(out, "line,score,verdict,label")?;
    }
    let mut row = vec![0.0; nf];
    let mut proba = vec![0.0; forest.n_classes()];
    let (mut read, mut skipped) = (0u64, 0u64);
    while let Some(next) = src.next_row(&mut row) {
        let meta = match next {
            Ok(m) => m,
            Err(e) if is_fatal(&e) => return Err(e.into()),
            Err(e) => {
                skipped += 1;
                eprintln!("skipped malformed row: {e}");
                continue;
            }
        };
        read += 1;
        forest.predict_proba_row_into(&row, &mut proba)?;
        let score = proba[1];
        let verdict = if score >= args.threshold {
            "attack"
        } else {
            "benign"
        };
        let label = meta.label.map_or(String::new(), |l| l.to_string());
        match args.output {
            OutputFormat::Csv => writeln!(out, "{},{score:.6},{verdict},{label}", meta.line)?,
            OutputFormat::Jsonl => {
                let label = meta.label.map_or("null".to_owned(), |l| l.to_string());
                writeln!(
                    out,
                    "{{\"line\":{},\"score\":{score:.6},\"verdict\":\"{verdict}\",\"label\":{label}}}",
                    meta.line
                )?
            }
        }
    }
    out.flush()?;
    eprintln!(
        "scored {read} flows with the forest from {} ({skipped} malformed rows skipped)",
        space.source()
    );
    Ok(())
}
