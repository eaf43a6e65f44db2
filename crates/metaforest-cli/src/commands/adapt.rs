//! `metaforest adapt`: a meta-model (`.mf`) plus a small labelled file becomes a detector (`.mfd`); given a
//! detector instead, the new labelled flows extend its support (nothing is retrained from scratch), and its
//! rules are re-derived.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use metaforest_meta::io::is_detector_file;
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::{Detector, MetaModel};

use super::common::{read_labelled, InputArgs};
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
    let (mut detector, _from_model) = if is_detector_file(&args.model) {
        let mut det = Detector::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, det.feature_space().columns())?;
        det.adapt_more(x.view(), &y)?;
        eprintln!(
            "extended the detector's support with {} labelled flows",
            y.len()
        );
        (det, false)
    } else {
        let m = MetaModel::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, m.feature_space().columns())?;
        (m.adapt(x.view(), &y)?, true)
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
