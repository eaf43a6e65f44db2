//! Developer probe: how much of META's missing gain could the operating point (the decision threshold) give?
//!
//! Runs P1 (no ports; the same folds, draws and test sets as `metaforest bench p1 --no-ports`) and scores, on every
//! draw, B0's local forest and META at threshold ½ and at thresholds no method may use, because they read labels of
//! the held-out domain: the best threshold on the test set itself, and the quantile of the unlabelled flows' scores
//! at the *true* attack share. Beside them, label-free ways to pick that quantile (EM prior, classify-and-count) and a
//! self-trained local forest (pseudo-labels from the unlabelled flows). Prints four-domain means per K and per-domain
//! rows; writes nothing unless `DUMP_DIR` names a folder for the per-draw scores (see [`dump`]).
//!
//! `[NO_META=1] [DUMP_DIR=/tmp/dir] cargo run --release -p metaforest-probes --bin p1_ceilings -- [DRAWS] [K,K,...]`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use linfa::ParamGuard;
use ndarray::Axis;

use metaforest_eval::baselines::{em_prior, support_halves};
use metaforest_eval::learner::{attack_proba, threshold, ForestSpec};
use metaforest_eval::meta_method::MetaMethod;
use metaforest_eval::method::{Draw, Fold, Method, Scored};
use metaforest_eval::metrics::{macro_f1, roc_auc};
use metaforest_eval::protocol::{p1_specs, PortsMode};
use metaforest_eval::runner::run_protocol;
use metaforest_eval::BenchParams;
use metaforest_meta::init::{self_train, LocalForestSettings};
use metaforest_meta::{MetaParams, Support};

/// Scores per (held-out domain, K, row name): one value per draw.
type Table = BTreeMap<(String, usize, String), Vec<f64>>;

struct Ceilings {
    meta: MetaMethod,
    /// `NO_META=1` leaves META out (its rows then repeat B0's), for a fast look at B0 alone.
    with_meta: bool,
    table: Arc<Mutex<Table>>,
}

/// Macro-F1 of `scores` on the test rows at the threshold that flags the share `share` of the unlabelled scores.
fn at_share(
    fold: &Fold,
    scores: &[f64],
    unlabelled: &[f64],
    share: f64,
) -> metaforest_eval::Result<f64> {
    let mut u = unlabelled.to_vec();
    u.sort_by(f64::total_cmp);
    let i = (((1.0 - share) * u.len() as f64) as usize).min(u.len() - 1);
    macro_f1(&fold.y_test, &threshold(scores, u[i]))
}

/// B0's forest self-trained on (at most) 1000 of the unlabelled flows, as META+U self-trains its local forest.
fn self_trained(fold: &Fold, draw: &Draw) -> metaforest_eval::Result<Vec<f64>> {
    let n = fold.x_unlabelled.nrows().min(1000);
    let rows: Vec<usize> = (0..n).map(|i| i * fold.x_unlabelled.nrows() / n).collect();
    let settings = LocalForestSettings {
        n_trees: fold.config.trees_local(),
        seed: draw.seed,
    };
    let support = Support {
        x: draw.x_support.view(),
        y: &draw.y_support,
    };
    let forest = self_train(
        &draw.local,
        &settings,
        support,
        fold.x_unlabelled.select(Axis(0), &rows).view(),
    )?;
    attack_proba(&forest, fold.x_test.view())
}

/// Attack share of the unlabelled flows by adjusted counting with cross-fitted forests (Forman 2005; Bella et al.
/// 2010): forests grown on each half of the support score the other half, which estimates their mean score (PACC)
/// and their flag rate at ½ (ACC) on each class; the unlabelled flows' mean score and flag rate under the same
/// forests are then unmixed. `None` at K = 1 (a half would hold one class) or when the halves do not separate.
fn adjusted_counts(fold: &Fold, draw: &Draw) -> metaforest_eval::Result<Option<(f64, f64)>> {
    let k = draw.k;
    if k < 2 {
        return Ok(None);
    }
    let (a, b) = support_halves(k);
    let spec = ForestSpec::default_with_trees(fold.config.trees_local());
    // Per class: (sum of held-out scores, flagged count, count); over unlabelled: (mean score, flag share), per half.
    let mut class = [(0.0, 0.0, 0.0); 2];
    let (mut u_mean, mut u_flag) = (0.0, 0.0);
    for (h, (train, test)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let xt = draw.x_support.select(Axis(0), train);
        let yt: Vec<u32> = train.iter().map(|&i| draw.y_support[i]).collect();
        let forest = spec.fit(xt.view(), &yt, None, draw.seed ^ (0xACC0 + h as u64))?;
        let ps = attack_proba(&forest, draw.x_support.select(Axis(0), test).view())?;
        for (&i, &p) in test.iter().zip(&ps) {
            let c = &mut class[draw.y_support[i] as usize];
            c.0 += p;
            c.1 += f64::from(u8::from(p > 0.5));
            c.2 += 1.0;
        }
        let pu = attack_proba(&forest, fold.x_unlabelled.view())?;
        u_mean += pu.iter().sum::<f64>() / pu.len() as f64 / 2.0;
        u_flag += pu.iter().filter(|&&p| p > 0.5).count() as f64 / pu.len() as f64 / 2.0;
    }
    let [benign, attack] = class.map(|(s, f, n)| (s / n, f / n));
    let unmix = |u: f64, b: f64, a: f64| {
        if a - b < 0.05 {
            None
        } else {
            Some(((u - b) / (a - b)).clamp(0.001, 0.999))
        }
    };
    Ok(unmix(u_mean, benign.0, attack.0).zip(unmix(u_flag, benign.1, attack.1)))
}

/// `DUMP_DIR=DIR` writes one JSON file per draw (labels and the B0 / META scores on the test and unlabelled flows)
/// for offline study of threshold rules. The files hold data-derived scores: keep them outside the repository.
fn dump(
    dir: &std::path::Path,
    fold: &Fold,
    draw: &Draw,
    scores: [&[f64]; 4],
) -> metaforest_eval::Result<()> {
    let labels = fold.labels();
    let y_unlabelled: Vec<u32> = fold
        .unlabelled
        .iter()
        .map(|&r| u32::from(labels[r] != 0))
        .collect();
    let value = serde_json::json!({
        "domain": fold.held_out, "k": draw.k, "draw": draw.index,
        "y_test": fold.y_test, "y_unlabelled": y_unlabelled,
        "b0_test": scores[0], "b0_unlabelled": scores[1],
        "meta_test": scores[2], "meta_unlabelled": scores[3],
    });
    let path = dir.join(format!(
        "{}_k{}_d{}.json",
        fold.held_out, draw.k, draw.index
    ));
    std::fs::write(&path, value.to_string())
        .map_err(|source| metaforest_eval::EvalError::Io { path, source })?;
    Ok(())
}

impl Method for Ceilings {
    fn name(&self) -> &str {
        "CEILINGS"
    }
    fn uses_unlabelled(&self) -> bool {
        true
    }
    fn prepare(&mut self, fold: &Fold) -> metaforest_eval::Result<()> {
        for (d, p) in fold.known.iter().zip(&fold.known_test_proba) {
            println!(
                "{}: known forest {} ROC-AUC {:.3}",
                fold.held_out,
                d.name,
                roc_auc(&fold.y_test, p)?
            );
        }
        if self.with_meta {
            self.meta.prepare(fold)?;
        }
        Ok(())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> metaforest_eval::Result<Scored> {
        let local_unlabelled = attack_proba(&draw.local, fold.x_unlabelled.view())?;
        // META's detector scores both the test flows and the unlabelled ones.
        let (meta, meta_unlabelled) = if self.with_meta {
            let detector = self.meta.detector(fold, draw)?;
            let proba = detector.predict_proba(fold.x_test.view());
            let pred = proba
                .iter()
                .map(|&p| u8::from(p >= detector.threshold()))
                .collect();
            (
                Scored { proba, pred },
                detector.predict_proba(fold.x_unlabelled.view()),
            )
        } else {
            let pred = threshold(&draw.local_test_proba, 0.5);
            (
                Scored {
                    proba: draw.local_test_proba.clone(),
                    pred,
                },
                local_unlabelled.clone(),
            )
        };
        let true_share = fold
            .unlabelled
            .iter()
            .filter(|&&r| fold.labels()[r] != 0)
            .count() as f64
            / fold.unlabelled.len().max(1) as f64;
        let mut rows: Vec<(String, f64)> = Vec::new();
        let counts = adjusted_counts(fold, draw)?;
        for (name, test, unl) in [
            ("B0", &draw.local_test_proba, &local_unlabelled),
            ("META", &meta.proba, &meta_unlabelled),
        ] {
            rows.push((
                format!("{name} at 1/2"),
                macro_f1(&fold.y_test, &threshold(test, 0.5))?,
            ));
            let mut best = 0.0f64;
            for i in 1..50 {
                best = best.max(macro_f1(&fold.y_test, &threshold(test, i as f64 / 50.0))?);
            }
            rows.push((format!("{name}, best test threshold [oracle]"), best));
            rows.push((
                format!("{name}, true attack share [oracle]"),
                at_share(fold, test, unl, true_share)?,
            ));
            rows.push((
                format!("{name}, EM attack share"),
                at_share(fold, test, unl, em_prior(unl, 0.5))?,
            ));
            rows.push((format!("{name} ROC-AUC"), roc_auc(&fold.y_test, test)?));
            if let Some((pacc, acc)) = counts {
                rows.push((
                    format!("{name}, PACC attack share"),
                    at_share(fold, test, unl, pacc)?,
                ));
                rows.push((
                    format!("{name}, ACC attack share"),
                    at_share(fold, test, unl, acc)?,
                ));
                rows.push((
                    format!("{name}: |PACC − true share|"),
                    (pacc - true_share).abs(),
                ));
            }
        }
        if let Some(dir) = std::env::var_os("DUMP_DIR") {
            dump(
                std::path::Path::new(&dir),
                fold,
                draw,
                [
                    &draw.local_test_proba,
                    &local_unlabelled,
                    &meta.proba,
                    &meta_unlabelled,
                ],
            )?;
        }
        let st = self_trained(fold, draw)?;
        rows.push((
            "B0 self-trained at 1/2".into(),
            macro_f1(&fold.y_test, &threshold(&st, 0.5))?,
        ));
        let mut t = self.table.lock().expect("table lock");
        for (name, v) in rows {
            t.entry((fold.held_out.clone(), draw.k, name))
                .or_default()
                .push(v);
        }
        Ok(meta)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut params = BenchParams::new()
        .draws(args.first().and_then(|a| a.parse().ok()).unwrap_or(30))
        .ks(vec![1, 5, 10, 20])
        .progress(false);
    if let Some(ks) = args.get(1) {
        params = params.ks(ks.split(',').map(|k| k.parse()).collect::<Result<_, _>>()?);
    }
    let cfg = params.check()?;
    let cfg = Arc::new(cfg);
    let table = Arc::new(Mutex::new(Table::new()));
    let mut methods: Vec<Box<dyn Method>> = vec![Box::new(Ceilings {
        meta: MetaMethod::new("META", MetaParams::default()),
        with_meta: std::env::var_os("NO_META").is_none(),
        table: Arc::clone(&table),
    })];
    for spec in p1_specs(&metaforest_flows::data_dir(), PortsMode::Without, &cfg)? {
        run_protocol(&spec, &cfg, &mut methods)?;
    }
    let t = table.lock().expect("table lock");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let names: Vec<String> = {
        let mut n: Vec<String> = t.keys().map(|(_, _, n)| n.clone()).collect();
        n.sort();
        n.dedup();
        n
    };
    println!(
        "\nFour-domain mean over {} draws (macro-F1 unless named)\n",
        cfg.draws()
    );
    print!("| row |");
    cfg.ks().iter().for_each(|k| print!(" K={k} |"));
    println!("\n|---|{}", "--:|".repeat(cfg.ks().len()));
    for name in &names {
        print!("| {name} |");
        for &k in cfg.ks() {
            let per_domain: Vec<f64> = t
                .iter()
                .filter(|((_, kk, n), _)| *kk == k && n == name)
                .map(|(_, v)| mean(v))
                .collect();
            print!(" {:.3} |", mean(&per_domain));
        }
        println!();
    }
    println!("\nPer domain\n");
    for ((domain, k, name), v) in t.iter() {
        println!("{domain} K={k} {name}: {:.3}", mean(v));
    }
    Ok(())
}
