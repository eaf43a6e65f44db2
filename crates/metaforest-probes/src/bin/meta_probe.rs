//! Developer probe: one P1 fold (leave one NF-v2 data set out), META against a plain support-only forest (B0) over
//! paired draws. The full protocol lives in metaforest-eval; this is the fast inner loop for tuning the meta-learner.
//!
//! `cargo run --release -p metaforest-probes --bin meta_probe -- [HELD_OUT_INDEX] [K] [DRAWS]`

use linfa::ParamGuard;
use metaforest_eval::metrics::macro_f1;
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::episode::stratified_split;
use metaforest_flows::{datasets, EpisodeSampler, QuerySize, Stratify};
use metaforest_forest::ForestParams;
use metaforest_meta::{DomainData, MetaModel, MetaParams};
use ndarray::Axis;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric args"))
        .collect();
    let held = *args.first().unwrap_or(&0);
    let k = *args.get(1).unwrap_or(&5);
    let draws = *args.get(2).unwrap_or(&20);
    let t0 = std::time::Instant::now();
    let table = datasets::load_nf_v2_all(metaforest_flows::data_dir())?;
    let domains = domains_by_dataset(&table);
    let known: Vec<DomainData> = domains
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != held)
        .map(|(_, d)| DomainData::from_table(&table, &d.name, &d.rows))
        .collect();
    println!(
        "loaded in {:.1}s; held out {}",
        t0.elapsed().as_secs_f64(),
        domains[held].name
    );
    let t1 = std::time::Instant::now();
    let model = MetaModel::fit(
        &known,
        &MetaParams::default().seed(1).progress(true).check()?,
    )?;
    println!(
        "meta-trained in {:.1}s: {:?}",
        t1.elapsed().as_secs_f64(),
        model.report()
    );
    let split = stratified_split(
        &table,
        &domains[held].rows,
        0.5,
        Some(20_000),
        Stratify::Label,
        7,
    )?;
    let test_x = table.features().select(Axis(0), &split.test);
    let labels = table.labels();
    let test_y: Vec<u32> = split.test.iter().map(|&r| labels[r] as u32).collect();
    let sampler = EpisodeSampler::new(k, QuerySize::PerClass(0), 11);
    let (mut b0s, mut metas, mut ems) = (vec![], vec![], vec![]);
    let mut adapt_ms = vec![];
    for draw in 0..draws as u64 {
        let ep = sampler.sample(&table, &split.pool, draw)?;
        let sx = table.features().select(Axis(0), &ep.support);
        let sy: Vec<u32> = ep.support.iter().map(|&r| labels[r] as u32).collect();
        let b0 = ForestParams::new()
            .n_trees(100)
            .seed(draw)
            .n_classes(Some(2))
            .check()?
            .fit(sx.view(), &sy)?;
        let pb0: Vec<u8> = b0
            .predict(test_x.view())?
            .iter()
            .map(|&c| c as u8)
            .collect();
        let ta = std::time::Instant::now();
        let det = model.adapt(sx.view(), &sy)?;
        adapt_ms.push(ta.elapsed().as_secs_f64() * 1e3);
        let pm = det.predict(test_x.view());
        let step = (split.pool.len() / 512).max(1);
        let unl: Vec<usize> = split
            .pool
            .iter()
            .copied()
            .step_by(step)
            .filter(|r| !ep.support.contains(r))
            .collect();
        let pool_x = table.features().select(Axis(0), &unl);
        let det_u = model.adapt_with_unlabelled(sx.view(), &sy, pool_x.view())?;
        let pe = det_u.predict(test_x.view());
        b0s.push(macro_f1(&test_y, &pb0)?);
        metas.push(macro_f1(&test_y, &pm)?);
        ems.push(macro_f1(&test_y, &pe)?);
        println!(
            "draw {draw}: B0 {:.3}  META {:.3}  META+U {:.3}  init {:?} weights {:?}",
            b0s.last().unwrap(),
            metas.last().unwrap(),
            ems.last().unwrap(),
            det.initialisation().config,
            det.task_weights()
                .iter()
                .map(|w| format!("{w:.2}"))
                .collect::<Vec<_>>()
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{} K={k}: B0 {:.3}  META {:.3}  META+U {:.3}  (paired META−B0 {:+.3}); adapt {:.0} ms mean",
        domains[held].name,
        mean(&b0s),
        mean(&metas),
        mean(&ems),
        mean(&metas) - mean(&b0s),
        mean(&adapt_ms)
    );
    Ok(())
}
