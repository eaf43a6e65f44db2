//! The local forest's initialisation: a hyperparameter configuration from a small grid, a per-feature sampling
//! prior, and whether to transplant (and refit on the support) trees of the best-matching known forest.

use linfa::ParamGuard;
use metaforest_forest::{Forest, ForestParams, MaxFeatures};
use serde::{Deserialize, Serialize};

use crate::descriptor::{attack_probs, forest_slot, ForestEvidence, Support};
use crate::error::Result;
use crate::prob::pair_auc;

/// One point of the configuration grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalConfig {
    pub bootstrap: bool,
    /// `true`: half of the features are candidates at each split; `false`: √F.
    pub half_features: bool,
    /// Transplant a quarter of the local forest's size from the known forest that ranks the support best, leaves
    /// refit on the support.
    pub transplant: bool,
}

/// Grid size; the configuration head has one logit per entry of [`CONFIGS`].
pub const N_CONFIGS: usize = 8;

/// The grid the configuration head chooses from. Index 0 is the plain default forest (B0's setting).
pub const CONFIGS: [LocalConfig; N_CONFIGS] = {
    let mut out = [LocalConfig {
        bootstrap: true,
        half_features: false,
        transplant: false,
    }; N_CONFIGS];
    let mut i = 0;
    while i < N_CONFIGS {
        out[i] = LocalConfig {
            bootstrap: i & 1 == 0,
            half_features: i & 2 != 0,
            transplant: i & 4 != 0,
        };
        i += 1;
    }
    out
};

/// Weight of the learned prior against a uniform one: the prior steers, it never excludes a feature (restricting the
/// local forest to the features known forests find important loses badly, DESIGN.md).
pub const PRIOR_MIX: f64 = 0.5;

/// Pseudo-count strength pulling refit leaves toward the donor's leaf distribution.
pub const REFIT_SMOOTHING: f64 = 2.0;

/// What the meta-network decided for a new domain's local forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Initialisation {
    pub config: LocalConfig,
    pub config_probs: Vec<f32>,
    /// Per-feature sampling weights (mean 1), or `None` for uniform sampling.
    pub feature_prior: Option<Vec<f64>>,
    /// Index (among the known forests) of the transplant donor, when the configuration transplants.
    pub donor: Option<usize>,
}

impl Initialisation {
    /// B0's setting: default forest, uniform prior, no transplant.
    pub fn plain() -> Self {
        Self {
            config: CONFIGS[0],
            config_probs: vec![],
            feature_prior: None,
            donor: None,
        }
    }
}

/// Turns prior-head logits into sampling weights: softmax, mixed with uniform, scaled to mean 1.
pub fn prior_from_logits(logits: &[f32]) -> Vec<f64> {
    let n = logits.len().max(1) as f64;
    let max = logits.iter().copied().fold(f32::MIN, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter()
        .map(|v| n * ((1.0 - PRIOR_MIX) / n + PRIOR_MIX * v / z))
        .collect()
}

/// The known forest whose probabilities rank the support best (ties: the lower log-loss).
pub fn best_donor(known: &[ForestEvidence], support: Support) -> Option<usize> {
    known
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                i,
                pair_auc(&e.support_probs, support.y),
                -e.slot(forest_slot::SUPPORT_LOG_LOSS),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)))
        .map(|(i, _, _)| i)
}

/// Base settings of every local forest; the configuration overrides bootstrap and features per split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalForestSettings {
    pub n_trees: usize,
    pub seed: u64,
}

impl Default for LocalForestSettings {
    fn default() -> Self {
        Self {
            n_trees: 100,
            seed: 0,
        }
    }
}

/// Grows the local forest on the support as the initialisation says.
pub fn grow_local(
    init: &Initialisation,
    settings: &LocalForestSettings,
    support: Support,
    known: &[&Forest],
) -> Result<Forest> {
    let cfg = init.config;
    let n_transplant = match (cfg.transplant, init.donor) {
        (true, Some(_)) => settings.n_trees / 4,
        _ => 0,
    };
    let params = ForestParams::new()
        .n_trees(settings.n_trees - n_transplant)
        .bootstrap(cfg.bootstrap)
        .max_features(if cfg.half_features {
            MaxFeatures::Fraction(0.5)
        } else {
            MaxFeatures::Sqrt
        })
        .feature_prior(init.feature_prior.clone())
        .n_classes(Some(2))
        .seed(settings.seed)
        .check()?;
    let mut local = params.fit(support.x, support.y)?;
    if let (true, Some(d)) = (n_transplant > 0, init.donor) {
        let donor = known[d];
        let mut moved =
            Forest::from_trees(donor.trees()[..n_transplant.min(donor.trees().len())].to_vec())?;
        moved.refit_leaves(support.x, support.y, REFIT_SMOOTHING)?;
        let mut trees = local.trees().to_vec();
        trees.extend(moved.trees().iter().cloned());
        local = Forest::from_trees(trees)?;
    }
    Ok(local)
}

/// Unlabelled flows the support-grown local forest scores at most this (benign) or above one minus it (attack) join
/// its training set when the operator supplies unlabelled traffic ([`self_train`]).
pub const PSEUDO_LABEL_MARGIN: f64 = 0.2;

/// Grows the local forest again on the support plus the unlabelled flows it was confident about, labelled as it
/// scored them: the new domain's own traffic, at its own class balance, fills in what K flows per class cannot show.
/// The support's rows together weigh as much as the pseudo-labelled ones (each at least 1). The forest is grown with
/// the plain configuration (a learned initialisation's configuration, prior and transplants are not reapplied).
/// Measured on P1 as META+U (see ARCHITECTURE.md): paired to B0, +5.7 / +1.0 / +0.0 / +0.4 macro-F1 points at
/// K = 1 / 5 / 10 / 20, where META without it has +4.4 / +1.6 / −0.9 / −0.0. Without a confident flow the local
/// forest is returned as it was.
pub fn self_train(
    local: &Forest,
    settings: &LocalForestSettings,
    support: Support,
    unlabelled: ndarray::ArrayView2<f64>,
) -> Result<Forest> {
    let p = attack_probs(local, unlabelled);
    let pick: Vec<usize> = (0..p.len())
        .filter(|&i| p[i] <= PSEUDO_LABEL_MARGIN || p[i] > 1.0 - PSEUDO_LABEL_MARGIN)
        .collect();
    if pick.is_empty() {
        return Ok(local.clone());
    }
    let confident = unlabelled.select(ndarray::Axis(0), &pick);
    let x = ndarray::concatenate(ndarray::Axis(0), &[support.x.view(), confident.view()]).map_err(
        |_| crate::error::MetaError::FeatureMismatch {
            expected: support.x.ncols(),
            got: unlabelled.ncols(),
        },
    )?;
    let mut y = support.y.to_vec();
    y.extend(pick.iter().map(|&i| u32::from(p[i] > 0.5)));
    let support_weight = (pick.len() as f64 / support.y.len() as f64).max(1.0);
    let mut w = vec![support_weight; support.y.len()];
    w.extend(std::iter::repeat_n(1.0, pick.len()));
    let params = ForestParams::new()
        .n_trees(settings.n_trees)
        .n_classes(Some(2))
        .seed(settings.seed ^ 0x5e1f)
        .check()?;
    Ok(params.fit_weighted(x.view(), &y, &w)?)
}
