//! Binary detection metrics (benign = 0 = negative, attack = 1 = positive).
//!
//! Every function is pure and takes labels, attack probabilities (`scores`) and/or hard predictions.
//! Labels may be `u8`, `u32` or `bool`; anything non-zero is an attack.
//!
//! # Degenerate cases
//! A metric whose denominator is empty is `NaN`, never a made-up 0 or 1:
//! - detection rate (attack recall) is `NaN` when the test set has no attack;
//! - false-alarm rate is `NaN` when the test set has no benign flow;
//! - precision is `NaN` when nothing is predicted as an attack;
//! - ROC-AUC and detection rate at 1 % false alarms are `NaN` unless both classes occur;
//! - PR-AUC (average precision) is `NaN` when the test set has no attack;
//! - accuracy, ECE and log-loss are `NaN` only for an empty test set.
//!
//! Macro-F1 follows scikit-learn's label set: it averages the F1 of each class that occurs in the labels
//! *or* in the predictions. A test set with one class only, predicted perfectly, scores 1.0; the same
//! test set with some flows predicted as the absent class scores the mean of the present class's F1 and 0.
//! It is `NaN` only for an empty test set.
//!
//! Aggregation over draws ([`crate::stats`]) skips `NaN` values and reports how many it skipped.

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// A class label: anything non-zero is an attack.
pub trait Label: Copy {
    /// True for an attack (positive) label.
    fn is_attack(self) -> bool;
}

impl Label for u8 {
    fn is_attack(self) -> bool {
        self != 0
    }
}
impl Label for u32 {
    fn is_attack(self) -> bool {
        self != 0
    }
}
impl Label for bool {
    fn is_attack(self) -> bool {
        self
    }
}

/// The false-alarm rate at which [`dr_at_far`] is reported by [`evaluate`].
pub const ALERT_BUDGET_FAR: f64 = 0.01;
/// Number of equal-width bins of the expected calibration error.
pub const ECE_BINS: usize = 10;
/// Probabilities are clipped to `[EPS, 1 - EPS]` in the log-loss, as scikit-learn does.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Counts of a binary confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

impl Confusion {
    /// Counts from labels and hard predictions.
    pub fn new<L: Label, P: Label>(labels: &[L], preds: &[P]) -> Result<Self> {
        check_len("predictions", preds.len(), labels.len())?;
        let mut c = Confusion::default();
        for (&y, &p) in labels.iter().zip(preds) {
            match (y.is_attack(), p.is_attack()) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        Ok(c)
    }
    /// Number of flows.
    pub fn n(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }
    /// Attack recall, `NaN` without attacks.
    pub fn detection_rate(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Benign false-positive rate, `NaN` without benign flows.
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
    /// Attack precision, `NaN` when nothing is predicted as an attack.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Fraction of flows predicted correctly, `NaN` when empty.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.n())
    }
    /// Macro-F1 over the classes present in labels or predictions (see the module docs).
    pub fn macro_f1(&self) -> f64 {
        metaforest_meta::prob::macro_f1_from_counts(self.tp, self.fp, self.fn_, self.tn)
    }
}

/// All metrics of one scored test set. In JSON an undefined (`NaN`) metric is `null`, and `null` reads back
/// as `NaN`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(deserialize_with = "null_as_nan")]
    pub macro_f1: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub detection_rate: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub false_alarm_rate: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub precision: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub accuracy: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub roc_auc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub pr_auc: f64,
    /// Detection rate at a false-alarm rate of at most 1 % ([`ALERT_BUDGET_FAR`]).
    #[serde(deserialize_with = "null_as_nan")]
    pub dr_at_1pct_far: f64,
    /// Expected calibration error of the attack probability, 10 bins.
    #[serde(deserialize_with = "null_as_nan")]
    pub ece: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub log_loss: f64,
}

/// serde_json writes a non-finite float as `null`; read it back as `NaN`.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Metrics {
    /// Names of the metric fields, in declaration order (the order of [`Metrics::values`]).
    pub const NAMES: [&'static str; 10] = [
        "macro_f1",
        "detection_rate",
        "false_alarm_rate",
        "precision",
        "accuracy",
        "roc_auc",
        "pr_auc",
        "dr_at_1pct_far",
        "ece",
        "log_loss",
    ];

    /// The values in the order of [`Metrics::NAMES`].
    pub fn values(&self) -> [f64; 10] {
        [
            self.macro_f1,
            self.detection_rate,
            self.false_alarm_rate,
            self.precision,
            self.accuracy,
            self.roc_auc,
            self.pr_auc,
            self.dr_at_1pct_far,
            self.ece,
            self.log_loss,
        ]
    }

    /// One metric by name (see [`Metrics::NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values()[i])
    }
}

/// Computes every metric. `scores` are attack probabilities in `[0, 1]`; `preds` the method's hard decisions.
pub fn evaluate<L: Label, P: Label>(labels: &[L], scores: &[f64], preds: &[P]) -> Result<Metrics> {
    check_scores(labels.len(), scores)?;
    let c = Confusion::new(labels, preds)?;
    Ok(Metrics {
        macro_f1: c.macro_f1(),
        detection_rate: c.detection_rate(),
        false_alarm_rate: c.false_alarm_rate(),
        precision: c.precision(),
        accuracy: c.accuracy(),
        roc_auc: roc_auc(labels, scores)?,
        pr_auc: average_precision(labels, scores)?,
        dr_at_1pct_far: dr_at_far(labels, scores, ALERT_BUDGET_FAR)?,
        ece: expected_calibration_error(labels, scores, ECE_BINS)?,
        log_loss: log_loss(labels, scores)?,
    })
}

/// Macro-F1 of hard predictions (see the module docs for the degenerate cases).
pub fn macro_f1<L: Label, P: Label>(labels: &[L], preds: &[P]) -> Result<f64> {
    Ok(Confusion::new(labels, preds)?.macro_f1())
}

/// Area under the ROC curve: the probability that a random attack scores above a random benign flow,
/// ties counting one half (Mann–Whitney U with mid-ranks). `NaN` unless both classes occur.
pub fn roc_auc<L: Label>(labels: &[L], scores: &[f64]) -> Result<f64> {
    check_scores(labels.len(), scores)?;
    let n_pos = labels.iter().filter(|y| y.is_attack()).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(f64::NAN);
    }
    let order = sorted_ascending(scores);
    // Sum of the (1-based, tie-averaged) ranks of the attacks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        let pos_in_group = order[i..=j]
            .iter()
            .filter(|&&r| labels[r].is_attack())
            .count();
        rank_sum += mid_rank * pos_in_group as f64;
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Ok(u / (n_pos as f64 * n_neg as f64))
}

/// PR-AUC as average precision (scikit-learn's definition): `Σ (R_t − R_{t−1}) P_t` over the distinct score
/// thresholds from the highest down; tied scores enter together. `NaN` when there is no attack.
pub fn average_precision<L: Label>(labels: &[L], scores: &[f64]) -> Result<f64> {
    check_scores(labels.len(), scores)?;
    let n_pos = labels.iter().filter(|y| y.is_attack()).count();
    if n_pos == 0 {
        return Ok(f64::NAN);
    }
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (tp, fp) in threshold_counts(labels, scores) {
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// The largest detection rate reachable with a false-alarm rate of at most `max_far`, flagging every flow
/// whose score is at or above one of the observed scores (no interpolation between thresholds, so the value
/// is achievable by an operator). `NaN` unless both classes occur.
pub fn dr_at_far<L: Label>(labels: &[L], scores: &[f64], max_far: f64) -> Result<f64> {
    check_scores(labels.len(), scores)?;
    let n_pos = labels.iter().filter(|y| y.is_attack()).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(f64::NAN);
    }
    let mut best = 0.0f64; // flagging nothing: DR 0 at FAR 0
    for (tp, fp) in threshold_counts(labels, scores) {
        // Small tolerance so that exactly 1 % of benign flows counts as within a 1 % budget.
        if fp as f64 / n_neg as f64 <= max_far + 1e-12 {
            best = best.max(tp as f64 / n_pos as f64);
        }
    }
    Ok(best)
}

/// Expected calibration error of the attack probability: `Σ_b (n_b / n) |attack share in b − mean score in b|`
/// over `bins` equal-width bins of `[0, 1]` (a score of exactly 1 falls in the last bin). `NaN` when empty.
pub fn expected_calibration_error<L: Label>(
    labels: &[L],
    scores: &[f64],
    bins: usize,
) -> Result<f64> {
    check_scores(labels.len(), scores)?;
    if bins == 0 {
        return Err(EvalError::Config("ECE needs at least one bin".into()));
    }
    if labels.is_empty() {
        return Ok(f64::NAN);
    }
    let mut count = vec![0usize; bins];
    let mut sum_score = vec![0.0; bins];
    let mut sum_label = vec![0.0; bins];
    for (&y, &s) in labels.iter().zip(scores) {
        let b = ((s * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        sum_score[b] += s;
        sum_label[b] += f64::from(u8::from(y.is_attack()));
    }
    let n = labels.len() as f64;
    Ok((0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (sum_label[b] - sum_score[b]).abs() / n)
        .sum())
}

/// Mean binary cross-entropy of the attack probability, clipped to `[1e-15, 1 − 1e-15]`. `NaN` when empty.
pub fn log_loss<L: Label>(labels: &[L], scores: &[f64]) -> Result<f64> {
    check_scores(labels.len(), scores)?;
    if labels.is_empty() {
        return Ok(f64::NAN);
    }
    let total: f64 = labels
        .iter()
        .zip(scores)
        .map(|(&y, &s)| {
            let p = s.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            if y.is_attack() {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Ok(total / labels.len() as f64)
}

/// Cumulative (true positives, false positives) after each distinct score, from the highest score down.
fn threshold_counts<L: Label>(labels: &[L], scores: &[f64]) -> Vec<(usize, usize)> {
    let mut order = sorted_ascending(scores);
    order.reverse();
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, &r) in order.iter().enumerate() {
        if labels[r].is_attack() {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = i + 1 == order.len() || scores[order[i + 1]] != scores[r];
        if last_of_tie {
            out.push((tp, fp));
        }
    }
    out
}

fn sorted_ascending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Scores were checked to be finite, so total_cmp orders them as numbers.
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(EvalError::LengthMismatch {
            what,
            got,
            expected,
        });
    }
    Ok(())
}

fn check_scores(n_labels: usize, scores: &[f64]) -> Result<()> {
    check_len("scores", scores.len(), n_labels)?;
    if let Some((index, &value)) = scores
        .iter()
        .enumerate()
        .find(|(_, s)| !(0.0..=1.0).contains(*s))
    {
        return Err(EvalError::BadScore { index, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn confusion_rates_by_hand() {
        // y: 1 1 1 0 0 0 0 ; p: 1 1 0 1 0 0 0  => tp 2, fn 1, fp 1, tn 3
        let y = [1u8, 1, 1, 0, 0, 0, 0];
        let p = [1u8, 1, 0, 1, 0, 0, 0];
        let c = Confusion::new(&y, &p).unwrap();
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 3,
                fn_: 1
            }
        );
        assert!(close(c.detection_rate(), 2.0 / 3.0));
        assert!(close(c.false_alarm_rate(), 0.25));
        assert!(close(c.precision(), 2.0 / 3.0));
        assert!(close(c.accuracy(), 5.0 / 7.0));
        // F1 attack = 4/6, F1 benign = 6/8.
        assert!(close(c.macro_f1(), (4.0 / 6.0 + 0.75) / 2.0));
    }

    #[test]
    fn macro_f1_degenerate_cases() {
        // One class only, predicted perfectly: only that class counts.
        assert!(close(macro_f1(&[1u8, 1, 1], &[1u8, 1, 1]).unwrap(), 1.0));
        assert!(close(macro_f1(&[0u32, 0], &[0u32, 0]).unwrap(), 1.0));
        // One class only, one flow wrongly predicted as the absent class: F1(attack) = 4/5, F1(benign) = 0.
        assert!(close(
            macro_f1(&[1u8, 1, 1], &[1u8, 1, 0]).unwrap(),
            (0.8 + 0.0) / 2.0
        ));
        // Both classes, everything predicted benign: F1(attack) = 0, F1(benign) = 2*2/(4+2) = 2/3.
        assert!(close(
            macro_f1(&[0u8, 0, 1, 1], &[0u8, 0, 0, 0]).unwrap(),
            (2.0 / 3.0) / 2.0
        ));
        assert!(macro_f1::<u8, u8>(&[], &[]).unwrap().is_nan());
        // Everything predicted benign: precision undefined, detection rate 0.
        let c = Confusion::new(&[0u8, 1], &[0u8, 0]).unwrap();
        assert!(c.precision().is_nan());
        assert!(close(c.detection_rate(), 0.0));
        // No attack in the test set: detection rate undefined, false alarms defined.
        let c = Confusion::new(&[0u8, 0], &[1u8, 0]).unwrap();
        assert!(c.detection_rate().is_nan());
        assert!(close(c.false_alarm_rate(), 0.5));
    }

    #[test]
    fn roc_auc_by_hand_with_ties() {
        // Pairs (pos, neg): pos {0.9, 0.4}, neg {0.4, 0.1}.
        // 0.9>0.4 ✓, 0.9>0.1 ✓, 0.4=0.4 ½, 0.4>0.1 ✓  => 3.5 / 4.
        let y = [1u8, 1, 0, 0];
        let s = [0.9, 0.4, 0.4, 0.1];
        assert!(close(roc_auc(&y, &s).unwrap(), 0.875));
        // All scores tied: 0.5.
        assert!(close(roc_auc(&y, &[0.3; 4]).unwrap(), 0.5));
        // Perfectly inverted ranking: 0.
        assert!(close(roc_auc(&[1u8, 0], &[0.1, 0.9]).unwrap(), 0.0));
        assert!(roc_auc(&[1u8, 1], &[0.1, 0.9]).unwrap().is_nan());
    }

    #[test]
    fn average_precision_by_hand() {
        // Scores descending: 0.9(+), 0.8(-), 0.7(+), 0.1(-).
        // Thresholds: R=.5 P=1; R=.5 P=.5; R=1 P=2/3; R=1 P=.5  => AP = .5*1 + .5*2/3.
        let y = [1u8, 0, 1, 0];
        let s = [0.9, 0.8, 0.7, 0.1];
        assert!(close(
            average_precision(&y, &s).unwrap(),
            0.5 + 0.5 * 2.0 / 3.0
        ));
        // A tie between a positive and a negative at the top enters together: P = 1/2 at R = 1/2.
        let y = [1u8, 0, 1];
        let s = [0.9, 0.9, 0.5];
        assert!(close(
            average_precision(&y, &s).unwrap(),
            0.5 * 0.5 + 0.5 * 2.0 / 3.0
        ));
        assert!(average_precision(&[0u8, 0], &[0.2, 0.3]).unwrap().is_nan());
        // Only attacks: every threshold has precision 1.
        assert!(close(
            average_precision(&[1u8, 1], &[0.2, 0.3]).unwrap(),
            1.0
        ));
    }

    #[test]
    fn dr_at_far_by_hand() {
        // 100 benign flows scored 0.00..0.99, 4 attacks scored 0.995, 0.985(tie-free), 0.5, 0.2.
        let mut y = vec![0u8; 100];
        let mut s: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        y.extend([1, 1, 1, 1]);
        s.extend([0.995, 0.985, 0.5, 0.2]);
        // Threshold 0.985 flags attack 0.995, 0.985 and benign 0.99: FAR 1 % — within budget, DR 2/4.
        // Lowering to 0.98 adds a second benign flow (FAR 2 %), over budget.
        assert!(close(dr_at_far(&y, &s, 0.01).unwrap(), 0.5));
        // With a zero budget only 0.995 (above every benign score) counts.
        assert!(close(dr_at_far(&y, &s, 0.0).unwrap(), 0.25));
        assert!(dr_at_far(&[1u8], &[0.5], 0.01).unwrap().is_nan());
    }

    #[test]
    fn ece_by_hand() {
        // Bin [0.1,0.2): scores 0.1, 0.1 labels 0, 1 -> |1 - 0.2| = 0.8 (sums).
        // Bin [0.9,1.0]: scores 0.9, 1.0 labels 1, 1 -> |2 - 1.9| = 0.1.
        // ECE = (0.8 + 0.1) / 4.
        let y = [0u8, 1, 1, 1];
        let s = [0.1, 0.1, 0.9, 1.0];
        assert!(close(
            expected_calibration_error(&y, &s, 10).unwrap(),
            0.9 / 4.0
        ));
        // Perfectly calibrated hard scores.
        assert!(close(
            expected_calibration_error(&[0u8, 1], &[0.0, 1.0], 10).unwrap(),
            0.0
        ));
    }

    #[test]
    fn log_loss_by_hand_and_clipping() {
        let y = [1u8, 0];
        let s = [0.8, 0.4];
        let want = -(0.8f64.ln() + 0.6f64.ln()) / 2.0;
        assert!(close(log_loss(&y, &s).unwrap(), want));
        // A confident mistake is finite thanks to clipping: -ln(1e-15).
        let l = log_loss(&[1u8], &[0.0]).unwrap();
        assert!((l - 34.538776394910684).abs() < 1e-9);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(matches!(
            roc_auc(&[1u8, 0], &[0.5]),
            Err(EvalError::LengthMismatch { .. })
        ));
        assert!(matches!(
            evaluate(&[1u8, 0], &[0.5, f64::NAN], &[1u8, 0]),
            Err(EvalError::BadScore { index: 1, .. })
        ));
        assert!(matches!(
            evaluate(&[1u8, 0], &[0.5, 1.5], &[1u8, 0]),
            Err(EvalError::BadScore { index: 1, .. })
        ));
        assert!(matches!(
            Confusion::new(&[1u8, 0], &[1u8]),
            Err(EvalError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn evaluate_one_class_test_set() {
        // Only attacks, all detected.
        let m = evaluate(&[1u8, 1, 1], &[0.9, 0.8, 0.7], &[1u8, 1, 1]).unwrap();
        assert!(close(m.macro_f1, 1.0));
        assert!(close(m.detection_rate, 1.0));
        assert!(m.false_alarm_rate.is_nan());
        assert!(m.roc_auc.is_nan());
        assert!(close(m.pr_auc, 1.0));
        assert!(m.dr_at_1pct_far.is_nan());
        assert!(m.log_loss.is_finite());
        assert_eq!(m.get("macro_f1"), Some(m.macro_f1));
        assert_eq!(m.get("nope"), None);
    }
}
