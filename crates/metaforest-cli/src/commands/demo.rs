//! `metaforest demo`: meta-train on the known domains, adapt to a held-out one from K labelled flows per
//! class, and compare with a forest trained on those K flows alone (B0), in about a minute.

use std::time::Instant;

use clap::Args;
use linfa::ParamGuard;
use metaforest_eval::learner::{attack_proba, threshold, ForestSpec};
use metaforest_eval::metrics::Confusion;
use metaforest_flows::episode::stratified_split;
use metaforest_flows::{EpisodeSampler, QuerySize, Stratify};
use metaforest_meta::{DomainData, MetaModel, MetaParams};
use ndarray::Axis;

use super::common::{domain_rows, load_data, select_domains};
use super::{CmdResult, Context};

/// `metaforest demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Held-out domain (case-insensitive name fragment), or `all` (the default): each domain in turn,
    /// meta-training on the others.
    #[arg(long)]
    pub holdout: Option<String>,
    /// Labelled flows per class to adapt from.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20")]
    pub ks: Vec<usize>,
    /// Draws of the support per K.
    #[arg(long, default_value_t = 5)]
    pub draws: usize,
    /// Use the synthetic networks even when real data is present.
    #[arg(long)]
    pub synthetic: bool,
    /// Meta-training episodes (the full default is 480).
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Trees per known-domain forest (the full default is 60).
    #[arg(long, default_value_t = 30)]
    pub trees: usize,
    /// Rows kept per known domain.
    #[arg(long, default_value_t = 8_000)]
    pub max_rows: usize,
    /// Test flows of the held-out domain.
    #[arg(long, default_value_t = 3_000)]
    pub test_rows: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Per-K means of one held-out domain: (macro-F1 META, B0, FAR META, B0, META wins).
type KRow = (f64, f64, f64, f64, usize);

pub fn run(ctx: &Context, args: DemoArgs) -> CmdResult {
    let start = Instant::now();
    let loaded = load_data(&ctx.data_dir, args.synthetic)?;
    println!("metaforest demo — data: {}", loaded.source);
    let all = domain_rows(&loaded.table, 0, args.seed)?;
    let holdouts: Vec<(String, Vec<usize>)> = match args.holdout.as_deref() {
        None | Some("all") => all.clone(),
        Some(h) => select_domains(all.clone(), Some(&[h.to_string()]))?,
    };
    println!(
        "quick settings: {} episodes, {} trees per known forest, ≤ {} rows per known domain, {} draws per K \
         (full training: `metaforest train`)",
        args.episodes, args.trees, args.max_rows, args.draws
    );
    let capped = domain_rows(&loaded.table, args.max_rows, args.seed)?;
    let mut results: Vec<(String, Vec<KRow>)> = Vec::new();
    for held in &holdouts {
        let rows = evaluate_holdout(&loaded.table, &capped, held, &args)?;
        results.push((held.0.clone(), rows));
    }
    println!();
    println!(
        "{:<24} {:>4} | {:>13} {:>7} | {:>8} {:>7} | META better",
        "held-out domain", "K", "macro-F1 META", "B0", "FAR META", "B0"
    );
    println!("{}", "-".repeat(84));
    let print = |name: &str, k: usize, r: &KRow, draws: String| {
        println!(
            "{name:<24} {k:>4} | {:>13.3} {:>7.3} | {:>8.3} {:>7.3} | {draws}",
            r.0, r.1, r.2, r.3
        );
    };
    for (name, rows) in &results {
        for (k, r) in args.ks.iter().zip(rows) {
            print(name, *k, r, format!("{}/{} draws", r.4, args.draws));
        }
    }
    if results.len() > 1 {
        println!("{}", "-".repeat(84));
        for (i, k) in args.ks.iter().enumerate() {
            let n = results.len() as f64;
            let sum = |f: fn(&KRow) -> f64| results.iter().map(|(_, r)| f(&r[i])).sum::<f64>() / n;
            let wins: usize = results.iter().map(|(_, r)| r[i].4).sum();
            let m = (sum(|r| r.0), sum(|r| r.1), sum(|r| r.2), sum(|r| r.3), wins);
            print(
                &format!("mean of {}", results.len()),
                *k,
                &m,
                format!("{wins}/{} draws", args.draws * results.len()),
            );
        }
    }
    println!();
    println!(
        "Test: up to {} flows of each held-out domain, never seen in meta-training. META = meta-learned weighting \
         of the known forests and a local forest grown on the same flows, at 0.5; B0 = a 100-tree \
         forest on the K labelled flows per class alone, at 0.5.",
        args.test_rows
    );
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn evaluate_holdout(
    table: &metaforest_flows::FlowTable,
    capped: &[(String, Vec<usize>)],
    held: &(String, Vec<usize>),
    args: &DemoArgs,
) -> Result<Vec<KRow>, Box<dyn std::error::Error>> {
    let known: Vec<DomainData> = capped
        .iter()
        .filter(|(n, _)| *n != held.0)
        .map(|(n, rows)| DomainData::from_table(table, n, rows))
        .collect();
    let params = MetaParams::default()
        .n_episodes(args.episodes)
        .task_learner_trees(args.trees)
        .max_epochs(20)
        .seed(args.seed);
    let t = Instant::now();
    let model = MetaModel::fit(&known, &params.check()?)?;
    eprintln!(
        "held out {}: meta-trained on {} in {:.1} s",
        held.0,
        known
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        t.elapsed().as_secs_f64()
    );
    // The held-out domain: an adaptation pool and a test set (never seen by meta-training).
    let split = stratified_split(
        table,
        &held.1,
        0.5,
        Some(args.test_rows),
        Stratify::Label,
        args.seed,
    )?;
    let test_x = table.features().select(Axis(0), &split.test);
    let labels = table.labels();
    let test_y: Vec<u8> = split.test.iter().map(|&r| labels[r]).collect();
    let b0 = ForestSpec::default_with_trees(100);
    let mut out = Vec::new();
    for &k in &args.ks {
        let sampler = EpisodeSampler::new(k, QuerySize::PerClass(0), args.seed ^ k as u64);
        let (mut mf, mut bf, mut ma, mut ba, mut wins) = (vec![], vec![], vec![], vec![], 0);
        for d in 0..args.draws {
            let ep = sampler.sample(table, &split.pool, d as u64)?;
            let sx = table.features().select(Axis(0), &ep.support);
            let sy: Vec<u32> = ep.support.iter().map(|&r| u32::from(labels[r])).collect();
            let det = model.adapt(sx.view(), &sy)?;
            let p = det.predict_proba(test_x.view());
            let pred: Vec<u8> = p.iter().map(|&s| u8::from(s >= det.threshold())).collect();
            let cm = Confusion::new(&test_y, &pred)?;
            let forest = b0.fit(sx.view(), &sy, None, args.seed + d as u64)?;
            let pb = attack_proba(&forest, test_x.view())?;
            let cb = Confusion::new(&test_y, &threshold(&pb, 0.5))?;
            wins += usize::from(cm.macro_f1() > cb.macro_f1());
            mf.push(cm.macro_f1());
            bf.push(cb.macro_f1());
            ma.push(cm.false_alarm_rate());
            ba.push(cb.false_alarm_rate());
        }
        out.push((mean(&mf), mean(&bf), mean(&ma), mean(&ba), wins));
    }
    Ok(out)
}
