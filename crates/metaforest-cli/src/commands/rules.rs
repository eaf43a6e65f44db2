//! `metaforest rules`: the detector's detection rules as ranked if-then rules (text or JSON), derived from
//! its forests' leaf paths and measured on its support; re-derived from the detector's current state.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::Detector;

use super::{CmdResult, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleClass {
    Attack,
    Benign,
    Both,
}

/// `metaforest rules detector.mfd [--json]`
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The detector (.mfd).
    pub detector: PathBuf,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many rules.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Rules for which verdict.
    #[arg(long, value_enum, default_value = "attack")]
    pub class: RuleClass,
    /// Minimum precision on the support.
    #[arg(long, default_value_t = 0.5)]
    pub min_precision: f64,
    /// Maximum conditions per rule.
    #[arg(long, default_value_t = 6)]
    pub max_conditions: usize,
}

pub fn run(_ctx: &Context, args: RulesArgs) -> CmdResult {
    let detector = Detector::load(&args.detector)?;
    let params = RuleParams {
        max_rules: args.top,
        attack: args.class != RuleClass::Benign,
        benign: args.class != RuleClass::Attack,
        min_precision: args.min_precision,
        max_conditions: args.max_conditions.max(1),
    };
    let rules = detector_rules(&detector, &params);
    let names = detector.feature_space().names();
    let (_, y) = detector.support();
    if args.json {
        let v: Vec<serde_json::Value> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!({
                    "rank": i + 1,
                    "rule": r.display(&names),
                    "verdict": if r.attack { "attack" } else { "benign" },
                    "conditions": r.conditions.iter().map(|c| serde_json::json!({
                        "feature": names[c.feature],
                        "greater_than": c.lower,
                        "at_most": c.upper,
                    })).collect::<Vec<_>>(),
                    "precision": r.precision,
                    "coverage": r.coverage,
                    "covered": r.covered,
                    "correct": r.correct,
                    "forest": r.forest,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "support_flows": y.len(),
                "rules": v,
            }))?
        );
        return Ok(());
    }
    println!(
        "{} rules from the detector's forests (precision and coverage on its {} support flows):",
        rules.len(),
        y.len()
    );
    for (i, r) in rules.iter().enumerate() {
        println!(
            "{:>3}. {}\n     precision {:.2} ({}/{}), coverage {:.2}, from forest `{}`",
            i + 1,
            r.display(&names),
            r.precision,
            r.correct,
            r.covered,
            r.coverage,
            r.forest
        );
    }
    Ok(())
}
