//! `metaforest explain`: which known forests and which features drove the decision on one flow, and
//! which of the detector's rules fire on it.

use std::path::PathBuf;

use clap::Args;
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::Detector;

use super::common::{method_name, open_rows, InputArgs};
use super::{CmdResult, Context};

/// `metaforest explain detector.mfd --row "v1,v2,…"` or `--input FILE --line N`
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The detector (.mfd).
    pub detector: PathBuf,
    /// The flow: values in the detector's feature order, comma-separated, or `NAME=value,…` pairs
    /// (unnamed features are missing).
    #[arg(long, conflicts_with_all = ["input", "line"], allow_hyphen_values = true)]
    pub row: Option<String>,
    /// A flow file to take the row from.
    #[arg(long, requires = "line")]
    pub input: Option<PathBuf>,
    /// The line number (as `detect` reports it) of the row in --input.
    #[arg(long, requires = "input")]
    pub line: Option<u64>,
    #[command(flatten)]
    pub format: InputArgs,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_row(text: &str, names: &[String]) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.contains('=')) {
        let mut row = vec![f64::NAN; names.len()];
        for p in parts.iter().filter(|p| !p.is_empty()) {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("`{p}`: expected NAME=value"))?;
            let j = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(k.trim()))
                .ok_or_else(|| format!("unknown feature `{k}`"))?;
            row[j] = v
                .trim()
                .parse()
                .map_err(|_| format!("feature `{k}`: `{v}` is not a number"))?;
        }
        return Ok(row);
    }
    if parts.len() != names.len() {
        return Err(format!(
            "--row has {} values; the detector reads {} features ({} …)",
            parts.len(),
            names.len(),
            names.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    parts
        .iter()
        .enumerate()
        .map(|(j, p)| {
            if p.is_empty() {
                Ok(f64::NAN)
            } else {
                p.parse::<f64>().map_err(|_| {
                    format!("value {} (`{}`): `{p}` is not a number", j + 1, names[j]).into()
                })
            }
        })
        .collect()
}

pub fn run(_ctx: &Context, args: ExplainArgs) -> CmdResult {
    let detector = Detector::load(&args.detector)?;
    let names = detector.feature_space().names();
    let row = match (&args.row, &args.input, args.line) {
        (Some(r), _, _) => parse_row(r, &names)?,
        (None, Some(path), Some(line)) => {
            let mut src = open_rows(Some(path), &args.format, detector.feature_space())?;
            let mut row = vec![0.0; names.len()];
            let mut found = None;
            while let Some(r) = src.next_row(&mut row) {
                match r {
                    Ok(m) if m.line == line => {
                        found = Some(row.clone());
                        break;
                    }
                    Ok(m) if m.line > line => break,
                    Err(e) if e.to_string().contains(&format!("line {line}")) => {
                        return Err(e.into())
                    }
                    _ => {}
                }
            }
            found.ok_or_else(|| format!("{}: no flow on line {line}", path.display()))?
        }
        _ => return Err("give --row VALUES, or --input FILE --line N".into()),
    };
    let ex = detector.explain(&row)?;
    let rules: Vec<_> = detector_rules(
        &detector,
        &RuleParams {
            max_rules: 200,
            benign: true,
            ..RuleParams::default()
        },
    )
    .into_iter()
    .filter(|r| r.matches(&row))
    .take(5)
    .collect();
    if args.json {
        let v = serde_json::json!({
            "score": ex.score,
            "verdict": if ex.score >= detector.threshold() { "attack" } else { "benign" },
            "threshold": detector.threshold(),
            "method": method_name(&detector),
            "forests": ex.forests.iter().map(|f| serde_json::json!({
                "forest": f.forest, "weight": f.weight, "attack_probability": f.attack_probability,
            })).collect::<Vec<_>>(),
            "top_features": ex.top_features.iter().map(|(j, s)| serde_json::json!({
                "feature": names[*j], "value": row[*j], "share_of_splits": s,
            })).collect::<Vec<_>>(),
            "rules": rules.iter().map(|r| r.describe(detector.feature_space())).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "score {:.4} → {} (threshold {:.4}; {})",
        ex.score,
        if ex.score >= detector.threshold() {
            "ATTACK"
        } else {
            "benign"
        },
        detector.threshold(),
        method_name(&detector),
    );
    println!("forests (weight for this flow, attack probability):");
    for f in &ex.forests {
        println!(
            "  {:<28} {:>6.3}  {:.3}",
            f.forest, f.weight, f.attack_probability
        );
    }
    println!("features on the decision paths of the heaviest forest (share of its split tests):");
    for (j, s) in &ex.top_features {
        println!("  {:<32} = {:<14} {:.3}", names[*j], row[*j], s);
    }
    if !rules.is_empty() {
        println!("rules that fire on this flow:");
        for r in &rules {
            println!(
                "  {}  [precision {:.2}]",
                r.describe(detector.feature_space()),
                r.precision
            );
        }
    }
    Ok(())
}
