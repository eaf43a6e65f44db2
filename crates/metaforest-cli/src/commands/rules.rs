//! `metaforest rules`: the detector's detection rules as ranked if-then rules (text, JSON, Suricata-style or
//! Sigma-style rule text), derived from its forests' leaf paths and measured on its support; re-derived from
//! the detector's current state.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::rules_export::{named_rules, sigma_rules, suricata_rules};
use metaforest_meta::Detector;

use super::{CmdResult, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleClass {
    Attack,
    Benign,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
    /// Suricata-style rules: protocol and ports in the header, the whole rule in `msg`.
    Suricata,
    /// Sigma-style rules: one YAML document per rule.
    Sigma,
}

/// `metaforest rules detector.mfd [--format text|json|suricata|sigma]`
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The detector (.mfd).
    pub detector: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: RulesFormat,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// First Suricata sid (one per rule, counting up).
    #[arg(long, default_value_t = 9_100_001)]
    pub sid: u64,
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
    let space = detector.feature_space();
    let rules = named_rules(&detector_rules(&detector, &params), space);
    let (_, y) = detector.support();
    let format = if args.json {
        RulesFormat::Json
    } else {
        args.format
    };
    match format {
        RulesFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "detector": detector.id()?,
                "support_flows": y.len(),
                "rules": rules,
            }))?
        ),
        RulesFormat::Suricata => print!("{}", suricata_rules(&rules, &detector.id()?, args.sid)),
        RulesFormat::Sigma => print!("{}", sigma_rules(&rules, space, &detector.id()?)),
        RulesFormat::Text => {
            println!(
                "{} rules from the detector's forests (precision and coverage on its {} support flows):",
                rules.len(),
                y.len()
            );
            for r in &rules {
                println!(
                    "{:>3}. {}\n     precision {:.2} ({}/{}), coverage {:.2}, from forest `{}`",
                    r.rank, r.rule, r.precision, r.correct, r.covered, r.coverage, r.forest
                );
            }
        }
    }
    Ok(())
}
