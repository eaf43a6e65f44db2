//! Fixed-width descriptors: what each forest says about a task, what it is, and what the support looks like.
//!
//! dfdx 0.13 sizes layers at compile time, so every network input has a constant width. The number of forests is a
//! batch (set) dimension: the same per-forest network scores every forest, whatever their count. Per-feature inputs
//! of the prior head are likewise a batch over features, so no padding to a maximum feature count is needed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use metaforest_forest::Forest;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::prob::{log_loss, logit, pair_auc};

/// The support size K (flows per class) as the networks read it: ln K / ln 100, so K = 1 is 0 and K = 100 is 1.
pub(crate) fn encode_k(k: usize) -> f64 {
    (k.max(1) as f64).ln() / 100f64.ln()
}

/// Width of a per-forest descriptor (see [`forest_evidence`] for the slots).
pub const FOREST_WIDTH: usize = 17;
/// Named slots of a per-forest descriptor ([`ForestEvidence::descriptor`]), in the order [`forest_evidence`]
/// writes them.
pub mod forest_slot {
    pub const IS_LOCAL: usize = 0;
    pub const SUPPORT_LOG_LOSS: usize = 1;
    pub const SUPPORT_ACCURACY: usize = 2;
    pub const MEAN_P_ATTACK: usize = 3;
    pub const MEAN_P_BENIGN: usize = 4;
    pub const SEPARATION: usize = 5;
    pub const SUPPORT_AUC: usize = 6;
    pub const CONFIDENCE: usize = 7;
    pub const AGREEMENT_LOCAL: usize = 8;
    pub const AGREEMENT_OTHERS: usize = 9;
    pub const TRAIN_ATTACK_PRIOR: usize = 10;
    pub const LOG10_TRAIN_ROWS: usize = 11;
    pub const MEAN_DEPTH: usize = 12;
    pub const LN_MEAN_LEAVES: usize = 13;
    pub const DISTRIBUTION_SHIFT: usize = 14;
    pub const OUT_OF_RANGE: usize = 15;
    pub const IMPORTANCE_COSINE: usize = 16;
}

/// Width of a per-(forest, flow) descriptor (see [`QueryEvidence`]).
pub const QUERY_WIDTH: usize = 8;
/// Width of the task descriptor (see [`task_descriptor`]).
pub const TASK_WIDTH: usize = 15;
/// Input width of the weighting network: forest ‖ flow ‖ task.
pub const WEIGHT_IN: usize = FOREST_WIDTH + QUERY_WIDTH + TASK_WIDTH;
/// Input width of the configuration head: task ‖ mean of the known forests' descriptors.
pub const INIT_IN: usize = TASK_WIDTH + FOREST_WIDTH;
/// Width of a per-feature descriptor for the sampling-prior head.
pub const FEATURE_WIDTH: usize = 7;

/// A labelled support set: rows × features and 0/1 targets (1 = attack).
#[derive(Clone, Copy)]
pub struct Support<'a> {
    pub x: ArrayView2<'a, f64>,
    pub y: &'a [u32],
}

impl Support<'_> {
    pub fn n_attack(&self) -> usize {
        self.y.iter().filter(|&&c| c == 1).count()
    }
    pub fn n_benign(&self) -> usize {
        self.y.len() - self.n_attack()
    }
}

/// Attack probability (class 1) of every row.
///
/// Callers pass rows of the model's feature width (checked at adaptation), so a width error here is a bug.
pub fn attack_probs(forest: &Forest, x: ArrayView2<f64>) -> Vec<f64> {
    let p = forest
        .predict_proba(x)
        .expect("feature width checked before scoring");
    attack_column(p.view())
}

fn attack_column(p: ArrayView2<f64>) -> Vec<f64> {
    if p.ncols() < 2 {
        return vec![0.0; p.nrows()];
    }
    p.column(1).to_vec()
}

/// Where `v` falls in a training distribution summarised by its bin edges: 0 below the first edge, 1 above the
/// last. NaN (missing) sits in the middle so it reads as "not shifted".
fn cdf_position(edges: &[f64], v: f64) -> f64 {
    if v.is_nan() || edges.is_empty() {
        return 0.5;
    }
    edges.partition_point(|&e| e < v) as f64 / edges.len() as f64
}

fn out_of_range(edges: &[f64], v: f64) -> bool {
    let (lo, hi) = training_range(edges);
    v.is_finite() && (v < lo || v > hi)
}

/// The range of a feature's bin edges; no value lies outside a feature without edges.
fn training_range(edges: &[f64]) -> (f64, f64) {
    match (edges.first(), edges.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

/// How far the support's feature distribution lies from the forest's training distribution, read through the
/// forest's bin edges: (mean over features of |mean CDF position − ½|, fraction of cells outside the training range).
pub fn distribution_shift(forest: &Forest, x: ArrayView2<f64>) -> (f64, f64) {
    let edges = edges_of(forest);
    let (mut shift, mut outside, mut cells) = (0.0, 0.0, 0.0);
    let n_used = edges.len().min(x.ncols());
    for (j, e) in edges.iter().enumerate().take(n_used) {
        let col = x.column(j);
        let mean_pos =
            col.iter().map(|&v| cdf_position(e, v)).sum::<f64>() / col.len().max(1) as f64;
        shift += (mean_pos - 0.5).abs();
        outside += col.iter().filter(|&&v| out_of_range(e, v)).count() as f64;
        cells += col.len() as f64;
    }
    (shift / n_used.max(1) as f64, outside / cells.max(1.0))
}

/// Training bin edges per feature (empty for a forest assembled from transplanted trees).
pub fn edges_of(forest: &Forest) -> &[Vec<f64>] {
    forest.bin_edges().map(|b| b.all()).unwrap_or(&[])
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// (support flows, attack flows among them) in one leaf, if any support flow lands there.
type Occupant = Option<(f32, f32)>;

/// Per tree: leaf id → (support flows in that leaf, attack flows among them). This is the "which support flows share
/// the query's leaves" evidence: a known forest's partition used as a similarity kernel on the new domain. A
/// `BTreeMap`, so a saved detector's bytes do not depend on hashing order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LeafOccupancy {
    per_tree: Vec<BTreeMap<u32, (f32, f32)>>,
    /// `per_tree` as arrays indexed by leaf, built on first lookup (derived: not saved).
    #[serde(skip)]
    by_leaf: OnceLock<Vec<Vec<Occupant>>>,
}

impl LeafOccupancy {
    pub fn new(forest: &Forest, support: Support) -> Self {
        let leaves = forest
            .apply(support.x)
            .expect("feature width checked before scoring");
        let mut per_tree = vec![BTreeMap::new(); leaves.ncols()];
        for (row, leaf_row) in leaves.axis_iter(Axis(0)).enumerate() {
            let attack = if support.y[row] == 1 { 1.0 } else { 0.0 };
            for (t, &leaf) in leaf_row.iter().enumerate() {
                let e = per_tree[t].entry(leaf).or_insert((0.0, 0.0));
                e.0 += 1.0;
                e.1 += attack;
            }
        }
        Self {
            per_tree,
            by_leaf: OnceLock::new(),
        }
    }

    /// Number of trees it covers.
    pub fn n_trees(&self) -> usize {
        self.per_tree.len()
    }

    /// The per-tree maps as arrays indexed by leaf, each as long as `forest`'s tree has leaves (a leaf a flow can
    /// reach; larger ids, which only a damaged file could hold, can never match and are left out).
    fn by_leaf(&self, forest: &Forest) -> &[Vec<Occupant>] {
        self.by_leaf.get_or_init(|| {
            self.per_tree
                .iter()
                .zip(forest.trees())
                .map(|(m, tree)| {
                    let mut table = vec![None; tree.n_leaves()];
                    for (&leaf, &v) in m {
                        if let Some(slot) = table.get_mut(leaf as usize) {
                            *slot = Some(v);
                        }
                    }
                    table
                })
                .collect()
        })
    }

    /// (fraction of trees whose leaf holds a support flow, attack share of the support flows in those leaves), for
    /// a flow's leaves in `forest`, the forest this occupancy was counted in.
    fn lookup(&self, forest: &Forest, leaves: impl Iterator<Item = u32>) -> (f64, f64) {
        let by_leaf = self.by_leaf(forest);
        let (mut occupied, mut count, mut attacks) = (0.0, 0.0, 0.0);
        let mut n = 0.0;
        for (t, leaf) in leaves.enumerate() {
            n += 1.0;
            let entry = by_leaf.get(t).and_then(|m| m.get(leaf as usize));
            if let Some(&Some((c, a))) = entry {
                occupied += 1.0;
                count += c as f64;
                attacks += a as f64;
            }
        }
        let vote = if count > 0.0 { attacks / count } else { 0.5 };
        (occupied / f64::max(n, 1.0), vote)
    }
}

/// What one forest says on the support, computed once per adaptation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForestEvidence {
    pub descriptor: [f32; FOREST_WIDTH],
    pub occupancy: LeafOccupancy,
    pub support_probs: Vec<f64>,
}

impl ForestEvidence {
    /// The value of one descriptor slot ([`forest_slot`]).
    pub fn slot(&self, slot: usize) -> f64 {
        self.descriptor[slot] as f64
    }
}

/// Static facts about a forest that do not depend on the task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForestFacts {
    /// Attack share of the forest's training data.
    pub attack_prior: f64,
    pub n_train: usize,
    pub mean_depth: f64,
    pub mean_leaves: f64,
    pub importances: Vec<f64>,
}

impl ForestFacts {
    pub fn of(forest: &Forest, n_train: usize) -> Self {
        let stats = forest.tree_stats();
        let n = stats.len().max(1) as f64;
        let prior = forest.train_class_prior();
        Self {
            attack_prior: prior.get(1).copied().unwrap_or(0.0),
            n_train,
            mean_depth: stats.iter().map(|s| s.depth as f64).sum::<f64>() / n,
            mean_leaves: stats.iter().map(|s| s.n_leaves as f64).sum::<f64>() / n,
            importances: forest.feature_importances(),
        }
    }
}

/// Builds every forest's evidence on the support. `forests[last]` is the local forest.
///
/// Slots of a forest descriptor: 0 is-local, 1 support log-loss, 2 support accuracy, 3 mean p on support attacks,
/// 4 mean p on support benign, 5 separation (3 − 4), 6 support ROC-AUC, 7 mean confidence |2p − 1|, 8 agreement
/// with the local forest, 9 agreement with the other forests, 10 training attack prior, 11 log10 training rows,
/// 12 mean depth, 13 ln mean leaves, 14 distribution shift, 15 out-of-range share, 16 importance cosine with the
/// local forest.
pub fn forest_evidence(
    forests: &[(&Forest, &ForestFacts)],
    support: Support,
) -> Vec<ForestEvidence> {
    let probs: Vec<Vec<f64>> = forests
        .iter()
        .map(|(f, _)| attack_probs(f, support.x))
        .collect();
    let n = support.y.len().max(1) as f64;
    let local = probs.len() - 1;
    let local_imp = &forests[local].1.importances;
    forests
        .iter()
        .enumerate()
        .map(|(i, (forest, facts))| {
            let p = &probs[i];
            let mean_where = |class: u32| {
                let (s, c) = p
                    .iter()
                    .zip(support.y)
                    .filter(|(_, &y)| y == class)
                    .fold((0.0, 0.0), |(s, c), (&p, _)| (s + p, c + 1.0));
                if c > 0.0 {
                    s / c
                } else {
                    0.5
                }
            };
            let acc = p
                .iter()
                .zip(support.y)
                .filter(|(&p, &y)| (p >= 0.5) == (y == 1))
                .count() as f64
                / n;
            let agree_local = 1.0
                - p.iter()
                    .zip(&probs[local])
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f64>()
                    / n;
            let others: Vec<usize> = (0..probs.len()).filter(|&j| j != i).collect();
            let agree_others = if others.is_empty() {
                1.0
            } else {
                1.0 - (0..p.len())
                    .map(|r| {
                        let m =
                            others.iter().map(|&j| probs[j][r]).sum::<f64>() / others.len() as f64;
                        (p[r] - m).abs()
                    })
                    .sum::<f64>()
                    / n
            };
            let (shift, outside) = distribution_shift(forest, support.x);
            let (pa, pb) = (mean_where(1), mean_where(0));
            let d = [
                (i == local) as u8 as f64,
                log_loss(support.y, p),
                acc,
                pa,
                pb,
                pa - pb,
                pair_auc(p, support.y),
                p.iter().map(|&p| (2.0 * p - 1.0).abs()).sum::<f64>() / n,
                agree_local,
                agree_others,
                facts.attack_prior,
                (facts.n_train.max(1) as f64).log10(),
                facts.mean_depth,
                facts.mean_leaves.max(1.0).ln(),
                shift,
                outside,
                cosine(&facts.importances, local_imp),
            ];
            ForestEvidence {
                descriptor: d.map(|v| v as f32),
                occupancy: LeafOccupancy::new(forest, support),
                support_probs: p.clone(),
            }
        })
        .collect()
}

/// Per-feature statistics of the support: standardised mean difference between the classes, constancy, and the
/// share of distinct values.
pub struct SupportStats {
    pub smd: Vec<f64>,
    pub constant: Vec<bool>,
    pub distinct: Vec<f64>,
}

impl SupportStats {
    pub fn of(support: Support) -> Self {
        let nf = support.x.ncols();
        let (mut smd, mut constant, mut distinct) = (vec![0.0; nf], vec![false; nf], vec![0.0; nf]);
        for j in 0..nf {
            let col = support.x.column(j);
            let vals: Vec<f64> = col
                .iter()
                .map(|&v| if v.is_finite() { v } else { 0.0 })
                .collect();
            let stats = |class: u32| {
                let v: Vec<f64> = vals
                    .iter()
                    .zip(support.y)
                    .filter(|(_, &y)| y == class)
                    .map(|(&v, _)| v)
                    .collect();
                let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
                let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len().max(1) as f64;
                (m, var)
            };
            let ((ma, va), (mb, vb)) = (stats(1), stats(0));
            let pooled = ((va + vb) / 2.0).sqrt();
            let diff = (ma - mb).abs();
            smd[j] = if diff == 0.0 {
                0.0
            } else if pooled <= 1e-12 * diff.max(1.0) {
                10.0 // perfectly separated by a constant-per-class feature
            } else {
                (diff / pooled).min(10.0)
            };
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            constant[j] = sorted.len() <= 1;
            distinct[j] = sorted.len() as f64 / vals.len().max(1) as f64;
        }
        Self {
            smd,
            constant,
            distinct,
        }
    }
}

/// What the domain's unlabelled flows say, when the operator supplies some (they always have unlabelled traffic).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnlabelledSummary {
    /// Mean attack probability of the local forest (trained on the balanced support) on the unlabelled flows.
    pub local_mean: f64,
    /// EM estimate of the attack share (Saerens et al. 2002) from the local forest's probabilities.
    pub em_prior: f64,
    /// Mean attack probability of the known forests on the unlabelled flows.
    pub known_mean: f64,
}

impl UnlabelledSummary {
    pub fn of(local: &Forest, known: &[&Forest], x: ArrayView2<f64>) -> Option<Self> {
        if x.nrows() == 0 {
            return None;
        }
        let p = attack_probs(local, x);
        let local_mean = p.iter().sum::<f64>() / p.len() as f64;
        let known_mean = known
            .iter()
            .map(|f| attack_probs(f, x).iter().sum::<f64>() / x.nrows() as f64)
            .sum::<f64>()
            / known.len().max(1) as f64;
        Some(Self {
            local_mean,
            em_prior: crate::prob::em_prior(&p, 0.5),
            known_mean,
        })
    }
}

/// Slots: 0 ln K / ln 100, 1 known forests / 8, 2 mean known support log-loss, 3 best known support AUC, 4 mean known
/// support AUC, 5 mean known p on support benign, 6 mean known p on support attacks, 7 constant-feature share,
/// 8 mean SMD, 9 max SMD, 10 mean known distribution shift, 11 unlabelled flows given (0/1), 12 local forest's mean p
/// on them, 13 logit of their EM attack share / 5, 14 known forests' mean p on them (12–14 are ½, 0, ½ without).
pub fn task_descriptor(
    k: usize,
    known: &[ForestEvidence],
    stats: &SupportStats,
    unlabelled: Option<&UnlabelledSummary>,
) -> [f32; TASK_WIDTH] {
    let n = known.len().max(1) as f64;
    let mean = |slot: usize| known.iter().map(|e| e.slot(slot)).sum::<f64>() / n;
    let best_auc = known
        .iter()
        .map(|e| e.slot(forest_slot::SUPPORT_AUC))
        .fold(0.5, f64::max);
    let nf = stats.smd.len().max(1) as f64;
    let (given, local_mean, em, known_mean) = match unlabelled {
        Some(u) => (1.0, u.local_mean, logit(u.em_prior) / 5.0, u.known_mean),
        None => (0.0, 0.5, 0.0, 0.5),
    };
    let d = [
        encode_k(k),
        known.len() as f64 / 8.0,
        mean(forest_slot::SUPPORT_LOG_LOSS),
        best_auc,
        mean(forest_slot::SUPPORT_AUC),
        mean(forest_slot::MEAN_P_BENIGN),
        mean(forest_slot::MEAN_P_ATTACK),
        stats.constant.iter().filter(|&&c| c).count() as f64 / nf,
        stats.smd.iter().sum::<f64>() / nf,
        stats.smd.iter().copied().fold(0.0, f64::max),
        mean(forest_slot::DISTRIBUTION_SHIFT),
        given,
        local_mean,
        em,
        known_mean,
    ];
    d.map(|v| v as f32)
}

/// Input of the configuration head: the task descriptor and the mean descriptor of the known forests.
pub fn init_input(task: &[f32; TASK_WIDTH], known: &[ForestEvidence]) -> [f32; INIT_IN] {
    let mut out = [0f32; INIT_IN];
    out[..TASK_WIDTH].copy_from_slice(task);
    let n = known.len().max(1) as f32;
    for e in known {
        for (o, v) in out[TASK_WIDTH..].iter_mut().zip(e.descriptor) {
            *o += v / n;
        }
    }
    out
}

/// Per-feature inputs of the prior head. Slots: 0 mean known importance × F, 1 max known importance × F, 2 local
/// importance × F, 3 support SMD, 4 constant in support, 5 share of support values outside the known forests'
/// training ranges, 6 distinct-value share.
pub fn feature_inputs(
    known: &[(&Forest, &ForestFacts)],
    local_importance: &[f64],
    support: Support,
    stats: &SupportStats,
) -> Vec<[f32; FEATURE_WIDTH]> {
    let nf = support.x.ncols();
    let scale = nf as f64;
    (0..nf)
        .map(|j| {
            let imps: Vec<f64> = known
                .iter()
                .map(|(_, f)| f.importances.get(j).copied().unwrap_or(0.0))
                .collect();
            let mean_imp = imps.iter().sum::<f64>() / imps.len().max(1) as f64;
            let max_imp = imps.iter().copied().fold(0.0, f64::max);
            let col = support.x.column(j);
            let outside = known
                .iter()
                .map(|(f, _)| {
                    let e = edges_of(f).get(j).map(|e| e.as_slice()).unwrap_or(&[]);
                    col.iter().filter(|&&v| out_of_range(e, v)).count() as f64
                        / col.len().max(1) as f64
                })
                .sum::<f64>()
                / known.len().max(1) as f64;
            let d = [
                mean_imp * scale,
                max_imp * scale,
                local_importance.get(j).copied().unwrap_or(0.0) * scale,
                stats.smd[j],
                stats.constant[j] as u8 as f64,
                outside,
                stats.distinct[j],
            ];
            d.map(|v| v as f32)
        })
        .collect()
}

/// Per (forest, flow) evidence for a batch of flows: `probs[f][q]` and the descriptor rows laid out forest-major
/// within each flow (row `q * n_forests + f`), ready for the weighting network.
pub struct QueryEvidence {
    pub n_forests: usize,
    pub probs: Vec<Vec<f64>>,
    /// Each forest's leaves for each flow (`n_flows × n_trees`), as [`Forest::apply`] gives them.
    pub leaves: Vec<Array2<u32>>,
    /// `n_flows * n_forests` rows of width [`WEIGHT_IN`].
    pub rows: Vec<[f32; WEIGHT_IN]>,
}

/// Slots of the per-(forest, flow) part: 0 p, 1 confidence, 2 p − mean p over forests, 3 p − p_local, 4 leaf
/// co-occupancy with support flows, 5 attack share of those support flows, 6 out-of-range share of the flow's
/// features, 7 logit p / 5.
pub fn query_evidence(
    forests: &[&Forest],
    evidence: &[ForestEvidence],
    task: &[f32; TASK_WIDTH],
    x: ArrayView2<f64>,
) -> QueryEvidence {
    let nf = forests.len();
    let nq = x.nrows();
    let (probs, leaves): (Vec<Vec<f64>>, Vec<_>) = forests
        .iter()
        .map(|f| {
            let (p, leaves) = f
                .predict_proba_with_leaves(x)
                .expect("feature width checked before scoring");
            (attack_column(p.view()), leaves)
        })
        .unzip();
    let local = nf - 1;
    let ranges: Vec<Vec<(f64, f64)>> = forests
        .iter()
        .map(|f| edges_of(f).iter().map(|e| training_range(e)).collect())
        .collect();
    let n_cols = x.ncols();
    let x_rows = x.as_standard_layout();
    let rows_of_x = x_rows.as_slice().expect("standard layout is contiguous");
    let mut rows = Vec::with_capacity(nq * nf);
    for q in 0..nq {
        let mean_p = probs.iter().map(|p| p[q]).sum::<f64>() / nf as f64;
        let row = &rows_of_x[q * n_cols..(q + 1) * n_cols];
        for f in 0..nf {
            let p = probs[f][q];
            let (occ, vote) = evidence[f]
                .occupancy
                .lookup(forests[f], leaves[f].row(q).iter().copied());
            let outside = row
                .iter()
                .zip(&ranges[f])
                .filter(|(&v, &(lo, hi))| v.is_finite() && (v < lo || v > hi))
                .count() as f64
                / row.len().max(1) as f64;
            let qd = [
                p,
                (2.0 * p - 1.0).abs(),
                p - mean_p,
                p - probs[local][q],
                occ,
                vote,
                outside,
                logit(p) / 5.0,
            ];
            let mut r = [0f32; WEIGHT_IN];
            r[..FOREST_WIDTH].copy_from_slice(&evidence[f].descriptor);
            for (o, v) in r[FOREST_WIDTH..FOREST_WIDTH + QUERY_WIDTH]
                .iter_mut()
                .zip(qd)
            {
                *o = v as f32;
            }
            r[FOREST_WIDTH + QUERY_WIDTH..].copy_from_slice(task);
            rows.push(r);
        }
    }
    QueryEvidence {
        n_forests: nf,
        probs,
        leaves,
        rows,
    }
}

/// Column-wise standardisation fitted on meta-training inputs only (never on a held-out domain).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Normalizer {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Normalizer {
    pub fn fit<const W: usize>(rows: &[[f32; W]]) -> Self {
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0f64; W];
        let mut sq = vec![0f64; W];
        for r in rows {
            for j in 0..W {
                let v = if r[j].is_finite() { r[j] as f64 } else { 0.0 };
                mean[j] += v;
                sq[j] += v * v;
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n - m * m).max(0.0).sqrt();
                // A constant input carries no information; scale 1 keeps it finite instead of dividing by zero.
                if sd < 1e-6 {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            scale,
        }
    }

    /// Standardises in place; non-finite values become the column mean (0 after scaling), large values are clipped.
    pub fn apply<const W: usize>(&self, rows: &mut [[f32; W]]) {
        for r in rows {
            for ((v, m), s) in r.iter_mut().zip(&self.mean).zip(&self.scale) {
                let z = if v.is_finite() { (*v - m) / s } else { 0.0 };
                *v = z.clamp(-10.0, 10.0);
            }
        }
    }
}
