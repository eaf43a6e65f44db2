//! `metaforest demo`: meta-train on the known domains, adapt to a held-out one from K labelled flows per
//! class, and compare with a forest trained on those K flows alone (B0), in about a minute.

use std::time::Instant;

use clap::Args;
use metaforest_eval::learner::{attack_proba, threshold, ForestSpec};
use metaforest_eval::metrics::Confusion;
use metaforest_flows::episode::stratified_split;
use metaforest_flows::{EpisodeSampler, QuerySize, Stratify};
use metaforest_meta::{DomainData, MetaModel, MetaParams};
use ndarray::Axis;

use super::train::{domain_rows, load_data, select_domains};
use super::{CmdResult, Context};

/// `metaforest demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Held-out domain (case-insensitive name fragment; default: NF-ToN-IoT-v2, or the last synthetic
    /// network).
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
    #[arg(long, default_value_t = 120)]
    pub episodes: usize,
    /// Trees per known-domain forest (the full default is 60).
    #[arg(long, default_value_t = 30)]
    pub trees: usize,
    /// Rows kept per known domain.
    #[arg(long, default_value_t = 8_000)]
    pub max_rows: usize,
    /// Test flows of the held-out domain.
    #[arg(long, default_value_t = 4_000)]
    pub test_rows: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub fn run(ctx: &Context, args: DemoArgs) -> CmdResult {
    let start = Instant::now();
    let loaded = load_data(&ctx.data_dir, args.synthetic)?;
    println!("metaforest demo — data: {}", loaded.source);
    let all = domain_rows(&loaded.table, 0, args.seed)?;
    let holdout = args.holdout.clone().unwrap_or_else(|| {
        if loaded.real {
            "ToN".into()
        } else {
            all.last().map(|(n, _)| n.clone()).unwrap_or_default()
        }
    });
    let held = select_domains(all.clone(), Some(&[holdout]))?
        .pop()
        .ok_or("no held-out domain")?;
    let capped = domain_rows(&loaded.table, args.max_rows, args.seed)?;
    let known: Vec<DomainData> = capped
        .iter()
        .filter(|(n, _)| *n != held.0)
        .map(|(n, rows)| DomainData::from_table(&loaded.table, n, rows))
        .collect();
    println!(
        "held-out domain: {} ({} flows); known: {}",
        held.0,
        held.1.len(),
        known
            .iter()
            .map(|d| format!("{} ({} flows kept)", d.name, d.y.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "quick settings: {} episodes, {} trees per known forest, ≤ {} rows per known domain (full training: `metaforest train`)",
        args.episodes, args.trees, args.max_rows
    );
    let params = MetaParams::default()
        .n_episodes(args.episodes)
        .task_learner_trees(args.trees)
        .max_epochs(20)
        .seed(args.seed);
    let t = Instant::now();
    let model = MetaModel::fit(&known, &params)?;
    println!("meta-trained in {:.1} s", t.elapsed().as_secs_f64());

    // The held-out domain: an adaptation pool and a test set (never seen by meta-training).
    let split = stratified_split(
        &loaded.table,
        &held.1,
        0.5,
        Some(args.test_rows),
        Stratify::Label,
        args.seed,
    )?;
    let test_x = loaded.table.features().select(Axis(0), &split.test);
    let labels = loaded.table.labels();
    let test_y: Vec<u8> = split.test.iter().map(|&r| labels[r]).collect();
    let b0 = ForestSpec::default_with_trees(100);

    println!();
    println!(
        "{:>4} | {:>12} {:>12} | {:>10} {:>10} | META better",
        "K", "macro-F1 META", "B0", "FAR META", "B0"
    );
    println!("{}", "-".repeat(70));
    for &k in &args.ks {
        let sampler = EpisodeSampler::new(k, QuerySize::PerClass(0), args.seed ^ k as u64);
        let (mut mf, mut bf, mut ma, mut ba, mut wins) = (vec![], vec![], vec![], vec![], 0);
        for d in 0..args.draws {
            let ep = sampler.sample(&loaded.table, &split.pool, d as u64)?;
            let sx = loaded.table.features().select(Axis(0), &ep.support);
            let sy: Vec<u32> = ep.support.iter().map(|&r| u32::from(labels[r])).collect();
            let det = model.adapt(sx.view(), &sy)?;
            let p = det.predict_proba(test_x.view());
            let pred: Vec<u8> = p.iter().map(|&s| u8::from(s >= det.threshold)).collect();
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
        println!(
            "{k:>4} | {:>13.3} {:>12.3} | {:>10.3} {:>10.3} | {wins}/{} draws",
            mean(&mf),
            mean(&bf),
            mean(&ma),
            mean(&ba),
            args.draws
        );
    }
    println!();
    println!(
        "{} test flows of {}; means over {} draws per K. META = meta-learned weighting of the known forests \
         plus a meta-initialised local forest; B0 = a 100-tree forest on the K labelled flows per class alone.",
        test_y.len(),
        held.0,
        args.draws
    );
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
