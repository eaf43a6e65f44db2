//! `metaforest adapt`: a meta-model (`.mf`) plus a small labelled file becomes a detector (`.mfd`); given a
//! detector instead, the new labelled flows extend its support (nothing is retrained from scratch), and its
//! rules are re-derived. With `--unlabelled`, a sample of the new network's traffic is read too (META+U).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use metaforest_meta::io::is_detector_file;
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::{Detector, MetaModel, UNLABELLED_SAMPLE};

use super::common::{read_labelled, read_unlabelled_sample, InputArgs};
use super::{CmdResult, Context};

/// `metaforest adapt model.mf --support labelled.csv -o detector.mfd`
#[derive(Debug, Args)]
pub struct AdaptArgs {
    /// A meta-model (.mf), or a detector (.mfd) to adapt further with more labelled flows.
    pub model: PathBuf,
    /// Labelled flows of the new domain (both classes).
    #[arg(long)]
    pub support: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// A sample of the new network's traffic, unlabelled (read like --support; an evenly spread
    /// sample is used): the local forest self-trains on it and the threshold follows the learned rule
    /// for its class balance (META+U).
    #[arg(long, value_name = "FILE")]
    pub unlabelled: Option<PathBuf>,
    /// Output detector file.
    #[arg(short, long, default_value = "detector.mfd")]
    pub output: PathBuf,
    /// Decision threshold on the attack probability.
    #[arg(long, conflicts_with = "max_far")]
    pub threshold: Option<f64>,
    /// Choose the threshold for this false-alarm budget F: on leave-one-out scores of the benign support
    /// flows when there are at least 1/F of them, else on the unlabelled flows' scores; otherwise refuse.
    /// Never below 0.5 unless --allow-threshold-below-half.
    #[arg(long)]
    pub max_far: Option<f64>,
    /// Let --max-far set a threshold below 0.5.
    #[arg(long, requires = "max_far")]
    pub allow_threshold_below_half: bool,
}

pub fn run(_ctx: &Context, args: AdaptArgs) -> CmdResult {
    let start = Instant::now();
    if let Some(t) = args.threshold {
        if !(0.0..=1.0).contains(&t) {
            return Err(format!("--threshold {t} is not in [0, 1]").into());
        }
    }
    if let Some(f) = args.max_far {
        if !(f > 0.0 && f < 1.0) {
            return Err(format!("--max-far {f} is not in (0, 1)").into());
        }
    }
    let detector_given = is_detector_file(&args.model);
    if detector_given && args.unlabelled.is_some() {
        return Err(format!(
            "--unlabelled adapts from a meta-model (.mf); {} is a detector: adapt the meta-model again with \
             --support and --unlabelled",
            args.model.display()
        )
        .into());
    }
    let mut detector = if detector_given {
        let mut det = Detector::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, det.feature_space())?;
        det.adapt_more(x.view(), &y)?;
        eprintln!(
            "extended the detector's support with {} labelled flows",
            y.len()
        );
        det
    } else {
        let m = MetaModel::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, m.feature_space())?;
        let det = match &args.unlabelled {
            Some(path) => {
                let (u, seen) = read_unlabelled_sample(path, &args.input, m.feature_space())?;
                eprintln!(
                    "unlabelled: {seen} flows in {}, an evenly spread sample of {} kept",
                    path.display(),
                    u.nrows().min(UNLABELLED_SAMPLE)
                );
                m.adapt_with_unlabelled(x.view(), &y, u.view())?
            }
            None => m.adapt(x.view(), &y)?,
        };
        det
    };
    if let Some(t) = args.threshold {
        detector.set_threshold(t);
    } else if let Some(f) = args.max_far {
        detector
            .calibrate_far(f, args.allow_threshold_below_half)
            .map_err(|e| format!("--max-far: {e}"))?;
    }
    detector.save(&args.output)?;

    let (_, y) = detector.support();
    let attacks = y.iter().filter(|&&l| l == 1).count();
    println!(
        "detector written to {} ({} support flows: {} benign, {} attack; {:.2} s)",
        args.output.display(),
        y.len(),
        y.len() - attacks,
        attacks,
        start.elapsed().as_secs_f64()
    );
    println!(
        "  method: {}",
        if detector.uses_unlabelled() {
            "META+U (the support and a sample of the network's unlabelled flows)"
        } else {
            "META (the labelled support only)"
        }
    );
    println!(
        "  threshold {:.4} ({})",
        detector.threshold(),
        detector.threshold_basis()
    );
    println!("  forest weights on this domain:");
    for (n, w) in detector.forest_names().iter().zip(detector.task_weights()) {
        println!("    {n:<28} {w:.3}");
    }
    let rules = detector_rules(
        &detector,
        &RuleParams {
            max_rules: 3,
            ..RuleParams::default()
        },
    );
    if !rules.is_empty() {
        println!(
            "  top rules (all: `metaforest rules {}`):",
            args.output.display()
        );
        for r in rules {
            println!(
                "    {}   [precision {:.2}, coverage {:.2}]",
                r.describe(detector.feature_space()),
                r.precision,
                r.coverage
            );
        }
    }
    Ok(())
}
