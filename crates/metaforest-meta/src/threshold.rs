//! The decision threshold of a new domain, learned across meta-training episodes.
//!
//! The support is balanced (K flows per class) while a network's traffic is not, so the right alert threshold
//! depends on the domain's class balance. A balanced support says nothing about that balance; the domain's
//! unlabelled traffic does. The rule reads one statistic of it, the share of unlabelled flows the detector flags at
//! probability ½, and maps it to a threshold in logit space:
//!
//! `threshold logit = intercept + slope · logit(flagged share)`
//!
//! Both coefficients are chosen on meta-training episodes whose query sets keep their task's natural class balance,
//! to maximise the mean query macro-F1 (the headline metric, which a Bayes prior correction does not maximise: on a
//! 4 %-attack network it would threshold at 0.96 and miss most attacks).
//!
//! Without unlabelled flows the detector thresholds at ½. A constant shift learned from the known domains' balances
//! was measured to lose 3–4 macro-F1 points when the held-out network's balance differs from theirs (leave one NF-v2
//! data set out), which it always does, so none is applied.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::prob::{binary_macro_f1 as macro_f1, logit, sigmoid};

/// Flagged shares are clipped to this distance from 0 and 1 before the logit.
const SHARE_EPS: f64 = 0.01;

/// A learned mapping from the unlabelled flagged share to the decision threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRule {
    pub intercept: f64,
    pub slope: f64,
}

/// One meta-training episode, as the rule sees it: the detector's attack probabilities on the query (natural class
/// balance), the query's 0/1 labels, and the share of the episode's unlabelled flows flagged at ½.
#[derive(Clone, Debug)]
pub struct ThresholdEpisode {
    pub query_probs: Vec<f64>,
    pub labels: Vec<u32>,
    pub flagged: f64,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        Self::NEUTRAL
    }
}

impl ThresholdRule {
    /// Threshold ½ whatever the traffic.
    pub const NEUTRAL: ThresholdRule = ThresholdRule {
        intercept: 0.0,
        slope: 0.0,
    };

    /// Share of `probs` at or above ½.
    pub fn flagged_share(probs: &[f64]) -> f64 {
        probs.iter().filter(|&&p| p >= 0.5).count() as f64 / probs.len().max(1) as f64
    }

    /// Whether the threshold depends on the flagged share at all (a kept rule); [`ThresholdRule::NEUTRAL`] and
    /// any other zero-slope rule give one threshold whatever the traffic.
    pub fn reads_flagged_share(&self) -> bool {
        self.slope != 0.0
    }

    /// The attack-probability threshold for a domain whose unlabelled flows are flagged at ½ with share `flagged`.
    pub fn threshold(&self, flagged: f64) -> f64 {
        let share = flagged.clamp(SHARE_EPS, 1.0 - SHARE_EPS);
        sigmoid(self.intercept + self.slope * logit_unclipped(share))
    }

    /// [`ThresholdRule::fit`] on all episodes, kept only if, fitted without each group (known domain) in turn, it
    /// raises that group's mean macro-F1 over threshold ½ on *every* group: a rule that does not transfer to each
    /// known domain would not transfer to a new one (an average let a rule that hurt one known domain through, and
    /// on P1 it then hurt two of the four held-out domains). Fewer than two groups: [`ThresholdRule::NEUTRAL`].
    pub fn fit_checked(episodes: &[ThresholdEpisode], groups: &[usize]) -> Self {
        let mut ids: Vec<usize> = groups.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < 2 {
            return Self::NEUTRAL;
        }
        let mut worst_gain = f64::INFINITY;
        for &g in &ids {
            let (mut train, mut held) = (Vec::new(), Vec::new());
            for (e, &eg) in episodes.iter().zip(groups) {
                if eg == g {
                    held.push(e);
                } else {
                    train.push(e.clone());
                }
            }
            let rule = Self::fit(&train);
            let gain = mean_f1(&rule, &held) - mean_f1(&Self::NEUTRAL, &held);
            worst_gain = worst_gain.min(gain);
        }
        let rule = Self::fit(episodes);
        tracing::info!(
            ?rule,
            worst_held_out_gain = worst_gain,
            "threshold rule check"
        );
        if worst_gain > 0.0 {
            rule
        } else {
            Self::NEUTRAL
        }
    }

    /// Grid search over (intercept, slope) for the highest mean query macro-F1; ties go to the rule nearest
    /// [`ThresholdRule::NEUTRAL`], so an uninformative statistic leaves the threshold at ½.
    pub fn fit(episodes: &[ThresholdEpisode]) -> Self {
        if episodes.is_empty() {
            return Self::NEUTRAL;
        }
        // Query logits once; a rule then only compares them with its per-episode threshold logit.
        let logits: Vec<Vec<f64>> = episodes
            .iter()
            .map(|e| e.query_probs.iter().map(|&p| logit(p)).collect())
            .collect();
        let intercepts = (-24..=24).map(|i| i as f64 * 0.125);
        let slopes: Vec<f64> = (-30..=10).map(|i| i as f64 * 0.05).collect();
        let grid: Vec<ThresholdRule> = intercepts
            .flat_map(|a| {
                slopes.iter().map(move |&b| ThresholdRule {
                    intercept: a,
                    slope: b,
                })
            })
            .collect();
        let score = |r: &ThresholdRule| -> f64 {
            episodes
                .iter()
                .zip(&logits)
                .map(|(e, z)| {
                    let share = e.flagged.clamp(SHARE_EPS, 1.0 - SHARE_EPS);
                    let t = r.intercept + r.slope * logit_unclipped(share);
                    macro_f1(&e.labels, z.iter().map(|&v| v > t))
                })
                .sum::<f64>()
                / episodes.len() as f64
        };
        let scored: Vec<(f64, f64, ThresholdRule)> = grid
            .par_iter()
            .map(|r| (score(r), r.intercept.abs() + r.slope.abs(), *r))
            .collect();
        scored
            .into_iter()
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)))
            .map(|(_, _, r)| r)
            .unwrap_or(Self::NEUTRAL)
    }
}

/// Mean query macro-F1 of `rule` over `episodes`.
fn mean_f1(rule: &ThresholdRule, episodes: &[&ThresholdEpisode]) -> f64 {
    let total: f64 = episodes
        .iter()
        .map(|e| {
            let t = rule.threshold(e.flagged);
            macro_f1(&e.labels, e.query_probs.iter().map(|&p| p > t))
        })
        .sum();
    total / episodes.len().max(1) as f64
}

fn logit_unclipped(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_rule_thresholds_at_one_half() {
        assert_eq!(ThresholdRule::NEUTRAL.threshold(0.03), 0.5);
        assert_eq!(ThresholdRule::NEUTRAL.threshold(0.97), 0.5);
    }

    #[test]
    fn a_rule_without_slope_gives_one_threshold_whatever_the_flagged_share() {
        // The detector skips scoring its unlabelled sample for such a rule, so the threshold must not move at all.
        let flat = ThresholdRule {
            intercept: 0.7,
            slope: 0.0,
        };
        assert!(!flat.reads_flagged_share() && !ThresholdRule::NEUTRAL.reads_flagged_share());
        for share in [0.0, 0.003, 0.2, 0.5, 0.97, 1.0] {
            assert_eq!(
                flat.threshold(share).to_bits(),
                flat.threshold(0.5).to_bits()
            );
        }
        let kept = ThresholdRule {
            intercept: 0.0,
            slope: 0.4,
        };
        assert!(kept.reads_flagged_share());
        assert!(kept.threshold(0.1) < kept.threshold(0.9));
    }

    #[test]
    fn fitted_rule_raises_the_threshold_where_few_flows_are_flagged() {
        // Rare-attack episodes: benign flows spread up to 0.7, so the best threshold lies above ½.
        // Attack-heavy episodes: attacks spread down to 0.3, so it lies below ½.
        let rare = ThresholdEpisode {
            query_probs: (0..100)
                .map(|i| if i < 95 { 0.7 * i as f64 / 95.0 } else { 0.95 })
                .collect(),
            labels: (0..100).map(|i| (i >= 95) as u32).collect(),
            flagged: 0.15,
        };
        let heavy = ThresholdEpisode {
            query_probs: (0..100)
                .map(|i| {
                    if i < 5 {
                        0.05
                    } else {
                        0.3 + 0.7 * i as f64 / 100.0
                    }
                })
                .collect(),
            labels: (0..100).map(|i| (i >= 5) as u32).collect(),
            flagged: 0.85,
        };
        let rule = ThresholdRule::fit(&[rare, heavy]);
        assert!(rule.threshold(0.15) > 0.6, "{rule:?}");
        assert!(rule.threshold(0.85) < 0.4, "{rule:?}");
    }
}

/// Lowest threshold a budget may set unless a lower one is asked for: below it a flow the detector rates more
/// likely benign than attack would alarm.
pub const FAR_FLOOR: f64 = 0.5;

/// Scored flows a false-alarm budget needs: `ceil(1/max_far)`, the count at which one alarm among them is
/// within the budget (the conformal threshold of `crate::calibration` exists from `1/max_far - 1` on).
pub fn flows_needed_for_far(max_far: f64) -> usize {
    // The tolerance keeps budgets such as 0.05 (1/0.05 = 20.000000000000004 in floating point) at 20.
    (1.0 / max_far - 1e-9).ceil().max(1.0) as usize
}

/// How a detector's threshold was chosen (saved with it and printed by the CLI).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ThresholdBasis {
    /// ½: no unlabelled flows were given.
    Default,
    /// The learned [`ThresholdRule`] applied to the domain's unlabelled flows.
    LearnedRule,
    /// Set by the user.
    Set,
    /// Calibrated to a false-alarm budget on `scored` out-of-sample scores from `evidence`: `quantile` is the
    /// lowest threshold at which at most `max_far` of them alarm, and the threshold is `quantile.max(floor)`
    /// (`floor` is ½ unless a lower threshold was asked for).
    FalseAlarmBudget {
        max_far: f64,
        evidence: FarEvidence,
        scored: usize,
        quantile: f64,
        floor: f64,
    },
}

/// What a false-alarm budget was estimated from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FarEvidence {
    /// Benign support flows, each scored by a detector adapted without it.
    LeaveOneOut,
    /// The domain's unlabelled flows, assumed to be mostly benign.
    Unlabelled,
}

impl std::fmt::Display for ThresholdBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => write!(f, "default 0.5"),
            Self::LearnedRule => write!(f, "learned rule on the domain's unlabelled flows"),
            Self::Set => write!(f, "set by the user"),
            Self::FalseAlarmBudget {
                max_far,
                evidence,
                scored,
                quantile,
                floor,
            } => {
                let on = match evidence {
                    FarEvidence::LeaveOneOut => {
                        format!("leave-one-out scores of {scored} benign support flows")
                    }
                    FarEvidence::Unlabelled => format!(
                        "score quantiles of {scored} unlabelled flows (assumption: the unlabelled sample is \
                         benign-dominated)"
                    ),
                };
                write!(f, "false-alarm budget {max_far} on {on}")?;
                if quantile < floor {
                    write!(
                        f,
                        "; the budget allowed {quantile:.4}, raised to the floor {floor}"
                    )?;
                }
                Ok(())
            }
        }
    }
}
