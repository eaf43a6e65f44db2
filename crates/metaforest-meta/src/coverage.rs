//! Per-flow coverage evidence and the learned coverage shift (issue 19, item 3; off by default, switched on by
//! [`crate::MetaParams::coverage_shift`]).
//!
//! *Coverage* says how well the labelled support covers a flow: the distance, in rank space, from the flow to its
//! nearest benign and its nearest attack support flow. A few-shot detector over-flags where the benign support is too
//! narrow for the domain's benign traffic; those false alarms sit far from every benign support flow *and* far from
//! every attack support flow, which true alarms usually do not.
//!
//! Rank space: every feature is mapped to its position among the merged bin edges of the known forests (the
//! quantiles of the known domains' training data, labels not used), so scales do not matter and nothing of the new
//! domain but the support and the flow itself is read. The distance of two flows is the mean over features of the
//! absolute difference of their positions.
//!
//! The shift is a small logistic correction of the ensemble's logit, `logit p' = logit p + b + w · φ`, where `φ` are
//! the standardised [`CoverageFeatures`] of the flow. It is fitted on the meta-training episodes (class-balanced query
//! cross-entropy, ridge-penalised Newton steps, deterministic) and, like every head, kept only if it passes a check on
//! known domains held out of its fit: refitted without each known domain in turn, it must not lower that domain's
//! mean query macro-F1 at ½, and must raise their sum.

use metaforest_forest::Forest;
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::descriptor::{edges_of, encode_k, Support};
use crate::prob::{binary_macro_f1, logit, sigmoid};

/// Width of a flow's coverage features (see [`coverage_features`] for the slots).
pub const COVERAGE_WIDTH: usize = 8;

/// Coverage features of one flow.
pub type CoverageFeatures = [f64; COVERAGE_WIDTH];

/// Small constant of the log-ratio slots (rank distances lie in [0, 1]).
const RATIO_EPS: f64 = 1e-3;

/// Per feature, the sorted finite bin edges of the known forests: the label-free reference of rank space.
#[derive(Clone, Debug, Default)]
pub struct RankReference {
    edges: Vec<Vec<f64>>,
}

impl RankReference {
    /// The merged bin edges of `forests` over `n_features` features (a forest without edges adds none).
    pub fn of(forests: &[&Forest], n_features: usize) -> Self {
        let mut edges = vec![Vec::new(); n_features];
        for f in forests {
            for (e, fe) in edges.iter_mut().zip(edges_of(f)) {
                e.extend(fe.iter().copied().filter(|v| v.is_finite()));
            }
        }
        for e in &mut edges {
            e.sort_by(f64::total_cmp);
        }
        Self { edges }
    }

    /// Position of every feature of `row` in [0, 1] (the mid-rank among equal edges; ½ for a missing value or a
    /// feature without edges).
    pub fn ranks(&self, row: ArrayView1<f64>) -> Vec<f32> {
        row.iter()
            .zip(&self.edges)
            .map(|(&v, e)| {
                if v.is_nan() || e.is_empty() {
                    return 0.5;
                }
                let below = e.partition_point(|&x| x < v);
                let at_or_below = e.partition_point(|&x| x <= v);
                ((below + at_or_below) as f64 / (2 * e.len()) as f64) as f32
            })
            .collect()
    }
}

/// Mean absolute rank difference of two flows.
pub fn rank_distance(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().max(1) as f64;
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .sum::<f64>()
        / n
}

/// The support in rank space: what coverage is measured against.
#[derive(Clone, Debug)]
pub struct SupportCoverage {
    reference: RankReference,
    benign: Vec<Vec<f32>>,
    attack: Vec<Vec<f32>>,
    /// Mean distance of a benign support flow to its nearest other benign support flow (with one benign flow: its
    /// distance to the nearest attack flow), how spread the benign support is.
    benign_spread: f64,
    ln_k: f64,
}

fn nearest(rows: &[Vec<f32>], r: &[f32]) -> f64 {
    rows.iter()
        .map(|s| rank_distance(s, r))
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
}

impl SupportCoverage {
    /// The support's flows in the rank space of `reference`. Reads the support's features and 0/1 labels only.
    pub fn new(reference: RankReference, support: Support) -> Self {
        let (mut benign, mut attack) = (Vec::new(), Vec::new());
        for (row, &y) in support.x.outer_iter().zip(support.y) {
            let r = reference.ranks(row);
            if y == 1 {
                attack.push(r);
            } else {
                benign.push(r);
            }
        }
        let spread_of = |i: usize| -> f64 {
            let others = benign
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, s)| rank_distance(s, &benign[i]))
                .fold(f64::INFINITY, f64::min);
            if others.is_finite() {
                others
            } else {
                nearest(&attack, &benign[i])
            }
        };
        let benign_spread = if benign.is_empty() {
            0.0
        } else {
            (0..benign.len()).map(spread_of).sum::<f64>() / benign.len() as f64
        };
        let k = benign.len().max(attack.len()).max(1);
        Self {
            reference,
            benign,
            attack,
            benign_spread: if benign_spread.is_finite() {
                benign_spread
            } else {
                1.0
            },
            ln_k: encode_k(k),
        }
    }

    /// (distance to the nearest benign, to the nearest attack support flow) of one flow; 1 when the support has no
    /// flow of that class.
    pub fn distances(&self, row: ArrayView1<f64>) -> (f64, f64) {
        let r = self.reference.ranks(row);
        (nearest(&self.benign, &r), nearest(&self.attack, &r))
    }
}

/// Coverage features of every flow of `x`, given the ensemble's attack probability `p` of each. Reads the support
/// (through `coverage`), the flows' features and the ensemble's own probabilities: no label of any flow of `x`.
///
/// Slots: 0 distance to the nearest benign support flow `d_b`, 1 to the nearest attack support flow `d_a`,
/// 2 `d_b − d_a`, 3 `ln((d_b + ε) / (d_a + ε))`, 4 slot 3 where the flow is flagged at ½ (0 elsewhere), 5 `d_b` over
/// the benign support's spread (log), 6 slot 2 × ln K / ln 100, 7 logit p / 5.
pub fn coverage_features(
    coverage: &SupportCoverage,
    x: ArrayView2<f64>,
    p: &[f64],
) -> Vec<CoverageFeatures> {
    x.outer_iter()
        .zip(p)
        .map(|(row, &p)| {
            let (db, da) = coverage.distances(row);
            let ratio = ((db + RATIO_EPS) / (da + RATIO_EPS)).ln();
            let flagged = if p >= 0.5 { 1.0 } else { 0.0 };
            [
                db,
                da,
                db - da,
                ratio,
                ratio * flagged,
                ((db + RATIO_EPS) / (coverage.benign_spread + RATIO_EPS)).ln(),
                (db - da) * coverage.ln_k,
                logit(p) / 5.0,
            ]
        })
        .collect()
}

/// The learned per-flow logit shift: `logit p' = logit p + bias + Σ weight_i (φ_i − mean_i) / scale_i`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageShift {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl CoverageShift {
    /// The shift of one flow's logit.
    pub fn shift(&self, phi: &CoverageFeatures) -> f64 {
        self.bias
            + phi
                .iter()
                .zip(&self.mean)
                .zip(&self.scale)
                .zip(&self.weights)
                .map(|(((v, m), s), w)| w * (v - m) / s)
                .sum::<f64>()
    }

    /// `p` shifted by the flow's coverage.
    pub fn apply(&self, p: f64, phi: &CoverageFeatures) -> f64 {
        sigmoid(logit(p) + self.shift(phi))
    }

    /// Whether it has the stored shape and finite values (a model read from a file).
    pub fn check(&self) -> std::result::Result<(), String> {
        let ok = |v: &[f64]| v.len() == COVERAGE_WIDTH && v.iter().all(|x| x.is_finite());
        if !ok(&self.mean) || !ok(&self.scale) || !ok(&self.weights) || !self.bias.is_finite() {
            return Err(format!(
                "coverage shift: expected {COVERAGE_WIDTH} finite means, scales and weights and a finite bias"
            ));
        }
        if self.scale.iter().any(|&s| s <= 0.0) {
            return Err("coverage shift: a non-positive scale".to_string());
        }
        Ok(())
    }
}

/// One meta-training episode as the shift sees it: the ensemble's query probabilities, the flows' coverage features,
/// 0/1 labels, and class-balanced loss weights (summing to 1).
#[derive(Clone, Debug)]
pub struct CoverageEpisode {
    pub probs: Vec<f64>,
    pub features: Vec<CoverageFeatures>,
    pub labels: Vec<u32>,
    pub loss_weights: Vec<f64>,
    /// The whole task ("benign vs every attack" at its natural balance), what the check reads.
    pub whole_domain: bool,
}

/// Ridge penalty of the shift's weights (on standardised features; the episode losses are means, summing to 1 per
/// episode).
const RIDGE: f64 = 1e-2;
const NEWTON_STEPS: usize = 25;

/// Solves `a · x = b` (small, symmetric positive definite) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (pivot_rows, rest) = a.split_at_mut(c + 1);
        let pivot = &pivot_rows[c];
        for (r, row) in rest.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (v, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *v -= f * p;
            }
            b[c + 1 + r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Fits the shift on `episodes` (all given weight equally); `None` when there is nothing to fit.
pub fn fit_shift(episodes: &[&CoverageEpisode]) -> Option<CoverageShift> {
    let n_flows: usize = episodes.iter().map(|e| e.labels.len()).sum();
    if n_flows == 0 {
        return None;
    }
    let mut mean = vec![0.0; COVERAGE_WIDTH];
    let mut sq = [0.0; COVERAGE_WIDTH];
    for e in episodes {
        for phi in &e.features {
            for j in 0..COVERAGE_WIDTH {
                mean[j] += phi[j];
                sq[j] += phi[j] * phi[j];
            }
        }
    }
    let nf = n_flows as f64;
    mean.iter_mut().for_each(|m| *m /= nf);
    let scale: Vec<f64> = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let sd = (s / nf - m * m).max(0.0).sqrt();
            if sd < 1e-9 {
                1.0
            } else {
                sd
            }
        })
        .collect();
    // Parameters: COVERAGE_WIDTH weights, then the bias.
    let d = COVERAGE_WIDTH + 1;
    let ne = episodes.len().max(1) as f64;
    let mut theta = vec![0.0; d];
    for _ in 0..NEWTON_STEPS {
        let mut g = vec![0.0; d];
        let mut h = vec![vec![0.0; d]; d];
        for e in episodes {
            for ((phi, &p), (&y, &w)) in e
                .features
                .iter()
                .zip(&e.probs)
                .zip(e.labels.iter().zip(&e.loss_weights))
            {
                let mut x = [0.0; COVERAGE_WIDTH + 1];
                for j in 0..COVERAGE_WIDTH {
                    x[j] = (phi[j] - mean[j]) / scale[j];
                }
                x[COVERAGE_WIDTH] = 1.0;
                let s: f64 = x.iter().zip(&theta).map(|(a, b)| a * b).sum();
                let q = sigmoid(logit(p) + s);
                let w = w / ne;
                let r = w * (q - y as f64);
                let c = w * q * (1.0 - q);
                for i in 0..d {
                    g[i] += r * x[i];
                    for k in 0..d {
                        h[i][k] += c * x[i] * x[k];
                    }
                }
            }
        }
        for i in 0..COVERAGE_WIDTH {
            g[i] += RIDGE * theta[i];
            h[i][i] += RIDGE;
        }
        h[COVERAGE_WIDTH][COVERAGE_WIDTH] += 1e-9;
        let step = solve(h, g)?;
        let mut moved = 0.0f64;
        for (t, s) in theta.iter_mut().zip(&step) {
            *t -= s;
            moved = moved.max(s.abs());
        }
        if moved < 1e-8 {
            break;
        }
    }
    if theta.iter().any(|t| !t.is_finite()) {
        return None;
    }
    Some(CoverageShift {
        mean,
        scale,
        weights: theta[..COVERAGE_WIDTH].to_vec(),
        bias: theta[COVERAGE_WIDTH],
    })
}

/// Mean query macro-F1 at ½ over whole-domain episodes, with `shift` applied when given.
fn mean_f1(episodes: &[&CoverageEpisode], shift: Option<&CoverageShift>) -> f64 {
    let f1s: Vec<f64> = episodes
        .iter()
        .map(|e| {
            let flagged = e.probs.iter().zip(&e.features).map(|(&p, phi)| {
                let p = shift.map_or(p, |s| s.apply(p, phi));
                p >= 0.5
            });
            binary_macro_f1(&e.labels, flagged)
        })
        .filter(|f| f.is_finite())
        .collect();
    f1s.iter().sum::<f64>() / f1s.len().max(1) as f64
}

/// What the held-out check saw for one known domain: mean query macro-F1 at ½ without and with the shift fitted on
/// the other domains' episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageCheck {
    pub domain: usize,
    pub without: f64,
    pub with: f64,
}

/// When the fitted shift is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoverageGate {
    /// Refitted without each known domain in turn, it must not lower any of them and must raise their sum (as the
    /// threshold rule's check).
    #[default]
    EveryKnownDomain,
    /// Refitted without each known domain in turn, it must raise their mean (as the configuration head's check).
    MeanOfKnownDomains,
    /// Always kept (a diagnostic: what the shift does unchecked; the checks are still computed and reported).
    Unchecked,
}

/// The coverage setting's outcome, stored in meta-model and detector files when the setting is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageState {
    /// The check it had to pass.
    pub gate: CoverageGate,
    /// The shift that passed the held-out check (`None`: not kept, the ensemble's probability is used as it is).
    pub shift: Option<CoverageShift>,
    /// The held-out check, one entry per known domain held out.
    pub checks: Vec<CoverageCheck>,
}

impl CoverageState {
    /// In plain words, for the training summary and the report's per-fold notes.
    pub fn summary(&self) -> String {
        let gains: Vec<String> = self
            .checks
            .iter()
            .map(|c| format!("{:+.1}", 100.0 * (c.with - c.without)))
            .collect();
        match self.shift {
            Some(_) if self.gate == CoverageGate::Unchecked => format!(
                "coverage shift applied UNCHECKED (held-out known domains, macro-F1 points: {})",
                gains.join(" / ")
            ),
            Some(_) => format!(
                "coverage shift learned (held-out known domains, macro-F1 points: {})",
                gains.join(" / ")
            ),
            None => format!(
                "coverage shift NOT kept (held-out known domains, macro-F1 points: {})",
                gains.join(" / ")
            ),
        }
    }
}

/// Fits the shift on every episode, kept only if it passes `gate`: refitted without each known domain (`groups[i]`
/// is episode `i`'s domain) in turn, its effect on that domain's mean whole-domain query macro-F1 at ½.
pub fn fit_checked(
    episodes: &[CoverageEpisode],
    groups: &[usize],
    gate: CoverageGate,
) -> CoverageState {
    let mut domains: Vec<usize> = groups.to_vec();
    domains.sort_unstable();
    domains.dedup();
    let mut checks = Vec::new();
    for &v in &domains {
        let train: Vec<&CoverageEpisode> = episodes
            .iter()
            .zip(groups)
            .filter(|(_, &g)| g != v)
            .map(|(e, _)| e)
            .collect();
        let held: Vec<&CoverageEpisode> = episodes
            .iter()
            .zip(groups)
            .filter(|(e, &g)| g == v && e.whole_domain)
            .map(|(e, _)| e)
            .collect();
        if held.is_empty() || train.is_empty() {
            continue;
        }
        let Some(shift) = fit_shift(&train) else {
            continue;
        };
        checks.push(CoverageCheck {
            domain: v,
            without: mean_f1(&held, None),
            with: mean_f1(&held, Some(&shift)),
        });
    }
    let gain = checks.iter().map(|c| c.with - c.without).sum::<f64>();
    let passes = match gate {
        CoverageGate::EveryKnownDomain => {
            checks.len() >= 2 && checks.iter().all(|c| c.with >= c.without) && gain > 0.0
        }
        CoverageGate::MeanOfKnownDomains => checks.len() >= 2 && gain > 0.0,
        CoverageGate::Unchecked => true,
    };
    let shift = if passes {
        fit_shift(&episodes.iter().collect::<Vec<_>>())
    } else {
        None
    };
    CoverageState {
        gate,
        shift,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metaforest_forest::ForestParams;
    use ndarray::{array, Array2};

    use linfa::ParamGuard;

    fn forest(x: &Array2<f64>, y: &[u32]) -> Forest {
        ForestParams::new()
            .n_trees(4)
            .seed(1)
            .n_classes(Some(2))
            .check()
            .unwrap()
            .fit(x.view(), y)
            .unwrap()
    }

    fn known() -> Forest {
        let x = Array2::from_shape_fn((64, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let y: Vec<u32> = (0..64).map(|i| (i % 2) as u32).collect();
        forest(&x, &y)
    }

    #[test]
    fn a_flow_equal_to_a_benign_support_flow_has_benign_distance_zero() {
        let f = known();
        let reference = RankReference::of(&[&f], 3);
        let sx = array![[1.0, 2.0, 3.0], [9.0, 12.0, 15.0], [4.0, 4.0, 4.0]];
        let sy = [0, 1, 1];
        let cov = SupportCoverage::new(
            reference,
            Support {
                x: sx.view(),
                y: &sy,
            },
        );
        let (db, da) = cov.distances(sx.row(0));
        assert_eq!(db, 0.0);
        assert!(da > 0.0, "an attack flow far from it: {da}");
        let (db, da) = cov.distances(sx.row(1));
        assert!(db > 0.0);
        assert_eq!(da, 0.0);
        let phi = coverage_features(&cov, sx.view(), &[0.9, 0.9, 0.1]);
        assert_eq!(phi[0][0], 0.0);
        assert!(phi[0][2] < 0.0 && phi[1][2] > 0.0);
        // Flagged at ½: slot 4 repeats slot 3; not flagged: 0.
        assert_eq!(phi[0][4], phi[0][3]);
        assert_eq!(phi[2][4], 0.0);
    }

    #[test]
    fn ranks_are_quantile_positions_of_the_known_edges() {
        let f = known();
        let reference = RankReference::of(&[&f], 3);
        let lo = reference.ranks(array![-1e9, -1e9, -1e9].view());
        let hi = reference.ranks(array![1e9, 1e9, 1e9].view());
        let nan = reference.ranks(array![f64::NAN, f64::NAN, f64::NAN].view());
        assert!(lo.iter().all(|&r| r == 0.0));
        assert!(hi.iter().all(|&r| r == 1.0));
        assert!(nan.iter().all(|&r| r == 0.5));
    }

    #[test]
    fn coverage_reads_support_and_flow_features_only() {
        // The features of a flow depend only on the support, the flow and the ensemble's probability: scoring it in
        // any batch (alone, or among other flows) gives the same values, and nothing about labels of the scored
        // flows enters (the function takes none).
        let f = known();
        let sx = array![[1.0, 2.0, 3.0], [9.0, 12.0, 15.0]];
        let sy = [0, 1];
        let support = Support {
            x: sx.view(),
            y: &sy,
        };
        let cov = SupportCoverage::new(RankReference::of(&[&f], 3), support);
        let q = array![[2.0, 2.0, 2.0], [8.0, 11.0, 16.0], [5.0, 5.0, 5.0]];
        let p = [0.2, 0.8, 0.6];
        let batch = coverage_features(&cov, q.view(), &p);
        for i in 0..3 {
            let alone = coverage_features(&cov, q.slice(ndarray::s![i..i + 1, ..]), &p[i..i + 1]);
            assert_eq!(alone[0], batch[i]);
        }
        // Changing a support label moves the flow's distances; the support's features and labels are the inputs.
        let flipped = [1, 0];
        let cov2 = SupportCoverage::new(
            RankReference::of(&[&f], 3),
            Support {
                x: sx.view(),
                y: &flipped,
            },
        );
        let other = coverage_features(&cov2, q.view(), &p);
        assert_eq!(other[0][0], batch[0][1]);
        assert_eq!(other[0][1], batch[0][0]);
    }

    #[test]
    fn the_shift_learns_to_drop_uncovered_alarms_and_the_check_gates_it() {
        // Episodes where flagged benign flows are far from the benign support (d_b − d_a > 0 is attack evidence):
        // the fitted shift must lower those alarms' probabilities.
        let mk = |seed: u64, whole: bool| {
            let mut probs = Vec::new();
            let mut features = Vec::new();
            let mut labels = Vec::new();
            for i in 0..40u64 {
                let attack = i % 2 == 0;
                let wobble = ((i * 7 + seed) % 5) as f64 / 50.0;
                let (db, da) = if attack {
                    (0.4 + wobble, 0.1)
                } else {
                    (0.1, 0.4 + wobble)
                };
                // Every flow is flagged: the ensemble alone cannot tell them apart.
                let p = 0.7;
                let ratio = ((db + RATIO_EPS) / (da + RATIO_EPS)).ln();
                features.push([db, da, db - da, ratio, ratio, db.ln(), 0.0, logit(p) / 5.0]);
                probs.push(p);
                labels.push(attack as u32);
            }
            let n = labels.len() as f64;
            CoverageEpisode {
                probs,
                features,
                labels,
                loss_weights: vec![1.0 / n; 40],
                whole_domain: whole,
            }
        };
        let episodes: Vec<CoverageEpisode> = (0..6).map(|s| mk(s, true)).collect();
        let groups = [0, 0, 1, 1, 2, 2];
        let state = fit_checked(&episodes, &groups, CoverageGate::EveryKnownDomain);
        let shift = state.shift.as_ref().expect("the check passes");
        assert_eq!(state.checks.len(), 3);
        assert!(state.checks.iter().all(|c| c.with > c.without));
        let benign = &episodes[0].features[1];
        let attack = &episodes[0].features[0];
        assert!(shift.apply(0.7, benign) < 0.5);
        assert!(shift.apply(0.7, attack) > 0.5);
        // Coverage that says nothing (identical features for both classes): the check keeps no shift.
        let mut flat = episodes.clone();
        for e in &mut flat {
            for phi in &mut e.features {
                *phi = [0.2, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, logit(0.7) / 5.0];
            }
        }
        assert!(fit_checked(&flat, &groups, CoverageGate::EveryKnownDomain)
            .shift
            .is_none());
        assert!(
            fit_checked(&flat, &groups, CoverageGate::MeanOfKnownDomains)
                .shift
                .is_none()
        );
        assert!(fit_checked(&flat, &groups, CoverageGate::Unchecked)
            .shift
            .is_some());
    }
}
