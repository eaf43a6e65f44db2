//! Baselines B0–B6 and ORACLE. Every method thresholds its own attack probability (0.5 unless stated).
//!
//! | name | what |
//! |---|---|
//! | B0 | forest on the K-shot support only |
//! | B1 | forest on the pooled known domains (zero-shot) |
//! | B2 | forest on the pooled known domains plus the support, the support up-weighted to half the total weight |
//! | B3 | equal-weight average of the per-domain forests and the local (B0) forest |
//! | B4 | the same members weighted by softmax(−support log-loss) |
//! | B5 | local forest with hyperparameters tuned on K-shot episodes of the known domains |
//! | B6 | B0 with its class prior re-estimated by EM on the held-out domain's unlabelled flows (Saerens 2002) |
//! | ORACLE | forest on the whole labelled adaptation pool |

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use metaforest_forest::{ClassWeight, MaxFeatures};

use crate::error::{EvalError, Result};
use crate::learner::{attack_proba, rows_labels, rows_matrix, rows_targets, threshold, ForestSpec};
use crate::method::{Draw, Fold, Method, Scored};
use crate::metrics::{log_loss, macro_f1};
use crate::sampling::{derive, k_per_class, rng, stratified_cap, without};

/// The decision threshold on the attack probability shared by the baselines.
pub const THRESHOLD: f64 = 0.5;

fn scored(proba: Vec<f64>) -> Scored {
    let pred = threshold(&proba, THRESHOLD);
    Scored { proba, pred }
}

fn not_prepared(name: &str) -> EvalError {
    EvalError::Config(format!("{name}: score() called before prepare()"))
}

/// All baselines and ORACLE in report order.
pub fn all_baselines() -> Vec<Box<dyn Method>> {
    vec![
        Box::new(B0),
        Box::new(B1::default()),
        Box::new(B2::default()),
        Box::new(B3),
        Box::new(B4),
        Box::new(B5::default()),
        Box::new(B6),
        Box::new(Oracle::default()),
    ]
}

/// B0: the local forest on the support alone (the draw's shared local forest).
pub struct B0;

impl Method for B0 {
    fn name(&self) -> &str {
        "B0"
    }
    fn describe(&self) -> String {
        "forest on the K-shot support only".into()
    }
    fn prepare(&mut self, _fold: &Fold) -> Result<()> {
        Ok(())
    }
    fn score(&self, _fold: &Fold, draw: &Draw) -> Result<Scored> {
        Ok(scored(draw.local_test_proba.clone()))
    }
}

/// Stratified cap of every known domain, concatenated (rows sorted per domain, domains in order).
fn pooled_rows(fold: &Fold, cap_per_domain: usize, stream: u64) -> Vec<usize> {
    let labels = fold.labels();
    fold.known
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            stratified_cap(
                &d.rows,
                labels,
                cap_per_domain,
                &mut rng(fold.seed, stream + i as u64),
            )
        })
        .collect()
}

/// B1: zero-shot forest on the pooled known domains; its test scores are the same for every draw.
#[derive(Default)]
pub struct B1 {
    proba: Option<Vec<f64>>,
}

impl Method for B1 {
    fn name(&self) -> &str {
        "B1"
    }
    fn describe(&self) -> String {
        "forest on the pooled known domains (zero-shot)".into()
    }
    fn prepare(&mut self, fold: &Fold) -> Result<()> {
        let rows = pooled_rows(fold, fold.config.pooled_cap, 0xB1_0000);
        let forest = ForestSpec::default_with_trees(fold.config.trees_known).fit(
            rows_matrix(&fold.table, &rows).view(),
            &rows_targets(&fold.table, &rows),
            None,
            derive(fold.seed, 0xB1),
        )?;
        self.proba = Some(attack_proba(&forest, fold.x_test.view())?);
        Ok(())
    }
    fn score(&self, _fold: &Fold, _draw: &Draw) -> Result<Scored> {
        Ok(scored(
            self.proba.clone().ok_or_else(|| not_prepared("B1"))?,
        ))
    }
}

/// B2: pooled known domains plus the support; the support's rows together weigh as much as the pool.
#[derive(Default)]
pub struct B2 {
    pooled: Option<(Array2<f64>, Vec<u32>)>,
}

impl Method for B2 {
    fn name(&self) -> &str {
        "B2"
    }
    fn describe(&self) -> String {
        "forest on pooled known domains + support (support rows weighted to half of the total weight)".into()
    }
    fn prepare(&mut self, fold: &Fold) -> Result<()> {
        let rows = pooled_rows(fold, fold.config.b2_cap, 0xB2_0000);
        self.pooled = Some((
            rows_matrix(&fold.table, &rows),
            rows_targets(&fold.table, &rows),
        ));
        Ok(())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let (xp, yp) = self.pooled.as_ref().ok_or_else(|| not_prepared("B2"))?;
        let (x, y, w) = metaforest_meta::pooled::pool_and_support(
            xp.view(),
            yp,
            draw.x_support.view(),
            &draw.y_support,
        )?;
        let forest = ForestSpec::default_with_trees(fold.config.trees_b2).fit(
            x.view(),
            &y,
            Some(&w),
            derive(draw.seed, 0xB2),
        )?;
        Ok(scored(attack_proba(&forest, fold.x_test.view())?))
    }
}

/// B3: equal-weight average of the known forests and the local forest.
pub struct B3;

impl Method for B3 {
    fn name(&self) -> &str {
        "B3"
    }
    fn describe(&self) -> String {
        "equal-weight ensemble of the per-domain forests and the local forest".into()
    }
    fn prepare(&mut self, _fold: &Fold) -> Result<()> {
        Ok(())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let mut members: Vec<&[f64]> = fold.known_test_proba.iter().map(Vec::as_slice).collect();
        members.push(&draw.local_test_proba);
        let w = vec![1.0 / members.len() as f64; members.len()];
        Ok(scored(weighted_average(&members, &w)))
    }
}

/// Weighted average of member probability vectors (weights sum to 1).
pub fn weighted_average(members: &[&[f64]], weights: &[f64]) -> Vec<f64> {
    let n = members.first().map_or(0, |m| m.len());
    let mut out = vec![0.0; n];
    for (m, &w) in members.iter().zip(weights) {
        for (o, &p) in out.iter_mut().zip(m.iter()) {
            *o += w * p;
        }
    }
    out.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

/// Softmax of `−losses`.
pub fn softmax_neg(losses: &[f64]) -> Vec<f64> {
    let min = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let e: Vec<f64> = losses.iter().map(|l| (-(l - min)).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// B4: the B3 members weighted by softmax(−support log-loss). The local forest cannot be judged on the
/// support it was grown on, so its loss is cross-fitted (two halves of the support, each scored by a forest
/// grown on the other half); at K = 1 a half holds one class only, so its loss is taken as ln 2 (a coin).
pub struct B4;

impl Method for B4 {
    fn name(&self) -> &str {
        "B4"
    }
    fn describe(&self) -> String {
        "per-domain + local forests weighted by softmax(-support log-loss); local loss cross-fitted"
            .into()
    }
    fn prepare(&mut self, _fold: &Fold) -> Result<()> {
        Ok(())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let mut losses = Vec::with_capacity(fold.known_forests.len() + 1);
        for f in &fold.known_forests {
            losses.push(log_loss(
                &draw.y_support,
                &attack_proba(f, draw.x_support.view())?,
            )?);
        }
        losses.push(cross_fitted_local_loss(fold, draw)?);
        let w = softmax_neg(&losses);
        let mut members: Vec<&[f64]> = fold.known_test_proba.iter().map(Vec::as_slice).collect();
        members.push(&draw.local_test_proba);
        Ok(scored(weighted_average(&members, &w)))
    }
}

/// Two halves of a draw's support (`k` benign rows then `k` attack rows) for cross-fitting: each takes alternate
/// rows of each class, so each half holds both classes when `k` ≥ 2.
pub fn support_halves(k: usize) -> (Vec<usize>, Vec<usize>) {
    (0..2 * k).partition(|&i| (i % k) & 1 == 0)
}

fn cross_fitted_local_loss(fold: &Fold, draw: &Draw) -> Result<f64> {
    let k = draw.k;
    if k < 2 {
        return Ok(std::f64::consts::LN_2);
    }
    let (a, b) = support_halves(k);
    let spec = ForestSpec::default_with_trees(fold.config.trees_local);
    let mut total = 0.0;
    for (h, (train, test)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let xt = draw.x_support.select(Axis(0), train);
        let yt: Vec<u32> = train.iter().map(|&i| draw.y_support[i]).collect();
        let forest = spec.fit(xt.view(), &yt, None, derive(draw.seed, 0xB4 + h as u64))?;
        let xs = draw.x_support.select(Axis(0), test);
        let ys: Vec<u32> = test.iter().map(|&i| draw.y_support[i]).collect();
        total += log_loss(&ys, &attack_proba(&forest, xs.view())?)? * test.len() as f64;
    }
    Ok(total / (2 * k) as f64)
}

/// B5: the local forest with hyperparameters (bootstrap, features per split, min leaf, class weight) chosen,
/// per K, by mean macro-F1 over K-shot episodes drawn from the known domains only.
#[derive(Default)]
pub struct B5 {
    chosen: BTreeMap<usize, ForestSpec>,
}

impl B5 {
    /// The candidate grid; the first entry is B0's default, which wins ties.
    pub fn grid(n_trees: usize) -> Vec<ForestSpec> {
        let mut out = Vec::new();
        for class_weight in [ClassWeight::None, ClassWeight::Explicit(vec![2.0, 1.0])] {
            for min_samples_leaf in [1, 3] {
                for bootstrap in [true, false] {
                    for max_features in [
                        MaxFeatures::Sqrt,
                        MaxFeatures::Fraction(0.5),
                        MaxFeatures::All,
                    ] {
                        out.push(ForestSpec {
                            n_trees,
                            bootstrap,
                            max_features,
                            min_samples_leaf,
                            class_weight: class_weight.clone(),
                        });
                    }
                }
            }
        }
        // Put the default (bootstrap, sqrt, leaf 1, no weights) first.
        let default = ForestSpec::default_with_trees(n_trees);
        out.sort_by_key(|s| *s != default);
        out
    }

    /// The configuration chosen for `k` (after `prepare`).
    pub fn chosen(&self, k: usize) -> Option<&ForestSpec> {
        self.chosen.get(&k)
    }
}

impl Method for B5 {
    fn name(&self) -> &str {
        "B5"
    }
    fn describe(&self) -> String {
        let mut s = String::from("local forest tuned per K on known-domain episodes:");
        for (k, spec) in &self.chosen {
            s.push_str(&format!(" K={k}: {};", spec.describe()));
        }
        s
    }
    fn prepare(&mut self, fold: &Fold) -> Result<()> {
        let cfg = &fold.config;
        let labels = fold.labels();
        let grid = Self::grid(cfg.tune_trees);
        self.chosen.clear();
        for &k in &cfg.ks {
            // Episodes: round-robin over the known domains that have k rows of each class.
            let eligible: Vec<usize> = (0..fold.known.len())
                .filter(|&i| {
                    let [b, a] = crate::sampling::by_label(&fold.known[i].rows, labels);
                    b.len() > k && a.len() > k
                })
                .collect();
            if eligible.is_empty() {
                continue;
            }
            let mut episodes = Vec::new();
            for e in 0..cfg.tune_episodes {
                let d = &fold.known[eligible[e % eligible.len()]];
                let mut r = rng(derive(fold.seed, 0xB5_0000 + k as u64), e as u64);
                let Some(support) = k_per_class(&d.rows, labels, k, &mut r) else {
                    continue;
                };
                let query =
                    stratified_cap(&without(&d.rows, &support), labels, cfg.tune_query, &mut r);
                episodes.push((
                    rows_matrix(&fold.table, &support),
                    rows_targets(&fold.table, &support),
                    rows_matrix(&fold.table, &query),
                    rows_labels(&fold.table, &query),
                    derive(fold.seed, (k * 1000 + e) as u64),
                ));
            }
            let jobs: Vec<(usize, usize)> = (0..grid.len())
                .flat_map(|g| (0..episodes.len()).map(move |e| (g, e)))
                .collect();
            let scores: Vec<Result<f64>> = jobs
                .par_iter()
                .map(|&(g, e)| {
                    let (xs, ys, xq, yq, seed) = &episodes[e];
                    let forest = grid[g].fit(xs.view(), ys, None, *seed)?;
                    let p = attack_proba(&forest, xq.view())?;
                    macro_f1(yq, &threshold(&p, THRESHOLD))
                })
                .collect();
            let mut mean = vec![0.0; grid.len()];
            for (&(g, _), s) in jobs.iter().zip(scores) {
                mean[g] += s? / episodes.len() as f64;
            }
            let best = (0..grid.len()).fold(0, |b, g| if mean[g] > mean[b] { g } else { b });
            let mut spec = grid[best].clone();
            spec.n_trees = cfg.trees_local;
            self.chosen.insert(k, spec);
        }
        Ok(())
    }
    fn fold_choice(&self) -> Option<String> {
        Some(self.describe())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let default = ForestSpec::default_with_trees(fold.config.trees_local);
        let spec = self.chosen.get(&draw.k).unwrap_or(&default);
        if *spec == default {
            // Same hyperparameters as B0: B0's forest is the tuned one.
            return Ok(scored(draw.local_test_proba.clone()));
        }
        let forest = spec.fit(
            draw.x_support.view(),
            &draw.y_support,
            None,
            derive(draw.seed, 0xB5),
        )?;
        Ok(scored(attack_proba(&forest, fold.x_test.view())?))
    }
}

/// B6: B0 with its attack prior re-estimated on the held-out domain's unlabelled flows by EM
/// (Saerens, Latinne & Decaestecker 2002) and its posteriors corrected to that prior. Uses unlabelled traffic.
pub struct B6;

pub use metaforest_meta::prob::{adjust_prior, em_prior};

impl Method for B6 {
    fn name(&self) -> &str {
        "B6"
    }
    fn describe(&self) -> String {
        "B0 with its class prior corrected by EM on the held-out domain's unlabelled pool flows (uses unlabelled traffic)".into()
    }
    fn uses_unlabelled(&self) -> bool {
        true
    }
    fn prepare(&mut self, _fold: &Fold) -> Result<()> {
        Ok(())
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let train_prior =
            draw.y_support.iter().filter(|&&y| y == 1).count() as f64 / draw.y_support.len() as f64;
        let pu = attack_proba(&draw.local, fold.x_unlabelled.view())?;
        let pi = em_prior(&pu, train_prior);
        let tp = train_prior.clamp(1e-6, 1.0 - 1e-6);
        Ok(scored(
            draw.local_test_proba
                .iter()
                .map(|&p| adjust_prior(p, tp, pi))
                .collect(),
        ))
    }
}

/// ORACLE: a forest on the whole labelled adaptation pool (capped by `oracle_cap`); the same for every draw.
#[derive(Default)]
pub struct Oracle {
    proba: Option<Vec<f64>>,
}

impl Method for Oracle {
    fn name(&self) -> &str {
        "ORACLE"
    }
    fn describe(&self) -> String {
        "forest on the whole labelled adaptation pool of the held-out domain".into()
    }
    fn prepare(&mut self, fold: &Fold) -> Result<()> {
        let rows = stratified_cap(
            &fold.pool,
            fold.labels(),
            fold.config.oracle_cap,
            &mut rng(fold.seed, 0x0AC1E),
        );
        let forest = ForestSpec::default_with_trees(fold.config.trees_known).fit(
            rows_matrix(&fold.table, &rows).view(),
            &rows_targets(&fold.table, &rows),
            None,
            derive(fold.seed, 0x0AC1E),
        )?;
        self.proba = Some(attack_proba(&forest, fold.x_test.view())?);
        Ok(())
    }
    fn score(&self, _fold: &Fold, _draw: &Draw) -> Result<Scored> {
        Ok(scored(
            self.proba.clone().ok_or_else(|| not_prepared("ORACLE"))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_recovers_a_shifted_prior() {
        // A calibrated classifier under a 50/50 training prior: attacks get 0.8, benign 0.2.
        // With 10 % attacks among the unlabelled flows, EM should move the prior well below 0.5.
        let mut p = vec![0.2; 900];
        p.extend(vec![0.8; 100]);
        let pi = em_prior(&p, 0.5);
        assert!(pi < 0.2, "prior {pi}");
        // Adjusting to the same prior is the identity.
        assert!((adjust_prior(0.3, 0.5, 0.5) - 0.3).abs() < 1e-12);
        // Lower attack prior lowers the posterior.
        assert!(adjust_prior(0.6, 0.5, 0.1) < 0.6);
    }

    #[test]
    fn softmax_and_average() {
        let w = softmax_neg(&[0.0, std::f64::consts::LN_2]);
        assert!((w[0] - 2.0 / 3.0).abs() < 1e-12 && (w[1] - 1.0 / 3.0).abs() < 1e-12);
        let avg = weighted_average(&[&[1.0, 0.0], &[0.0, 0.0]], &[0.25, 0.75]);
        assert_eq!(avg, vec![0.25, 0.0]);
    }

    #[test]
    fn b5_grid_starts_with_the_default() {
        let g = B5::grid(10);
        assert_eq!(g.len(), 24);
        assert_eq!(g[0], ForestSpec::default_with_trees(10));
    }
}
