//! `metaforest adapt`: a meta-model (`.mf`) plus a small labelled file becomes a detector (`.mfd`); given a
//! detector instead, the new labelled flows extend its support (nothing is retrained from scratch), and its
//! rules are re-derived.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use metaforest_meta::rules::RuleParams;

use super::common::{
    calibrate_far, calibrate_far_loo, read_labelled, rule_forest, DetectorFile, InputArgs,
    ModelFile,
};
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
    /// Choose the threshold for this false-alarm budget: from a .mf, on leave-one-out scores of the
    /// benign support flows; from a .mfd, on in-sample scores (never below 0.5).
    #[arg(long)]
    pub max_far: Option<f64>,
}

pub fn run(_ctx: &Context, args: AdaptArgs) -> CmdResult {
    let start = Instant::now();
    // Leave-one-out threshold calibration needs the meta-model, so it happens here when adapting from a .mf.
    let mut loo: Option<(f64, usize)> = None;
    let mut file = if DetectorFile::is_detector(&args.model) {
        let mut det = DetectorFile::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, &det.space)?;
        det.detector.adapt_more(x.view(), &y)?;
        eprintln!(
            "extended the detector's support with {} labelled flows",
            y.len()
        );
        det
    } else {
        let m = ModelFile::load(&args.model)?;
        let (x, y) = read_labelled(&args.support, &args.input, &m.space)?;
        let detector = m.model.adapt(x.view(), &y)?;
        if let Some(f) = args.max_far {
            loo = Some(calibrate_far_loo(&m.model, x.view(), &y, f, 50)?);
        }
        let rf = rule_forest(&detector, &m.model);
        DetectorFile {
            space: m.space,
            source: m.source,
            detector,
            rule_forest: rf,
            threshold_note: "default 0.5".into(),
        }
    };
    if let Some(t) = args.threshold {
        if !(0.0..=1.0).contains(&t) {
            return Err(format!("--threshold {t} is not in [0, 1]").into());
        }
        file.detector.set_threshold(t);
        file.threshold_note = format!("set to {t}");
    } else if let Some(f) = args.max_far {
        if !(0.0..1.0).contains(&f) {
            return Err(format!("--max-far {f} is not in [0, 1)").into());
        }
        match loo {
            Some((t, n)) if n > 0 => {
                file.detector.set_threshold(t);
                file.threshold_note = format!(
                    "false-alarm budget {f}, estimated leave-one-out on {n} benign support flows"
                );
            }
            _ => {
                let t = calibrate_far(&file.detector, f, 0.5);
                file.detector.set_threshold(t);
                file.threshold_note = format!(
                    "false-alarm budget {f} on the support's in-sample scores (never below 0.5)"
                );
            }
        }
    }
    file.save(&args.output)?;

    let (_, y) = file.detector.support();
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
        file.detector.threshold(),
        file.threshold_note
    );
    println!("  forest weights on this domain:");
    for (n, w) in file
        .detector
        .forest_names()
        .iter()
        .zip(file.detector.task_weights())
    {
        println!("    {n:<28} {w:.3}");
    }
    let names = file.names();
    let rules = file.rules(&RuleParams {
        max_rules: 3,
        ..RuleParams::default()
    });
    if !rules.is_empty() {
        println!(
            "  top rules (all: `metaforest rules {}`):",
            args.output.display()
        );
        for r in rules {
            println!(
                "    {}   [precision {:.2}, coverage {:.2}]",
                r.display(&names),
                r.precision,
                r.coverage
            );
        }
    }
    Ok(())
}
