//! Probability helpers shared by descriptors, the network, adaptation and the threshold rule. This module imports
//! nothing else of the crate, so every other module can use it without an import cycle.

/// Probabilities are clipped to this distance from 0 and 1 before logs, so one overconfident leaf cannot give ∞.
pub const PROB_EPS: f64 = 1e-3;

fn clip(p: f64) -> f64 {
    p.clamp(PROB_EPS, 1.0 - PROB_EPS)
}

/// Log-odds of `p`, clipped to [`PROB_EPS`].
pub fn logit(p: f64) -> f64 {
    let p = clip(p);
    (p / (1.0 - p)).ln()
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Mean binary log-loss of probabilities `p` against 0/1 `labels` (labels first, as the evaluation metrics take them).
pub fn log_loss(labels: &[u32], p: &[f64]) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    let s: f64 = p
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = clip(p);
            if y == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    s / p.len() as f64
}

/// ROC-AUC by pair counting (ties count one half); 0.5 when a class is absent. Supports are small, so O(n²) is fine.
pub fn pair_auc(p: &[f64], y: &[u32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        if yi != 1 {
            continue;
        }
        for (j, &yj) in y.iter().enumerate() {
            if yj == 1 {
                continue;
            }
            pairs += 1.0;
            wins += if p[i] > p[j] {
                1.0
            } else if p[i] == p[j] {
                0.5
            } else {
                0.0
            };
        }
    }
    if pairs == 0.0 {
        0.5
    } else {
        wins / pairs
    }
}

/// EM estimate of the positive-class prior of unlabelled data (Saerens, Latinne & Decaestecker 2002), given
/// posteriors calibrated for a training prior `train_prior`.
pub fn em_prior(posteriors: &[f64], train_prior: f64) -> f64 {
    let pt = train_prior.clamp(1e-6, 1.0 - 1e-6);
    if posteriors.is_empty() {
        return pt;
    }
    let mut pi = pt;
    for _ in 0..1000 {
        let next = posteriors
            .iter()
            .map(|&p| adjust_prior(p, pt, pi))
            .sum::<f64>()
            / posteriors.len() as f64;
        let next = next.clamp(1e-6, 1.0 - 1e-6);
        let done = (next - pi).abs() < 1e-8;
        pi = next;
        if done {
            break;
        }
    }
    pi
}

/// Posterior `p` (under prior `from`) re-expressed under prior `to` (Bayes' rule on the prior ratio).
pub fn adjust_prior(p: f64, from: f64, to: f64) -> f64 {
    let a = p * to / from;
    let b = (1.0 - p) * (1.0 - to) / (1.0 - from);
    if a + b > 0.0 {
        a / (a + b)
    } else {
        p
    }
}

/// F1 of one class from its counts, `None` when the class is absent from both labels and predictions
/// (`2 TP + FP + FN = 0`).
pub fn f1_from_counts(tp: usize, fp: usize, fn_: usize) -> Option<f64> {
    let d = 2 * tp + fp + fn_;
    (d > 0).then(|| 2.0 * tp as f64 / d as f64)
}

/// Binary macro-F1 from confusion counts, scikit-learn's label set: the mean F1 of the classes that occur in the
/// labels or the predictions; `NaN` when neither class occurs (no flows).
pub fn macro_f1_from_counts(tp: usize, fp: usize, fn_: usize, tn: usize) -> f64 {
    match (f1_from_counts(tp, fp, fn_), f1_from_counts(tn, fn_, fp)) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => f64::NAN,
    }
}

/// Binary macro-F1 ([`macro_f1_from_counts`]) of `flagged` decisions against 0/1 `labels`.
pub fn binary_macro_f1(labels: &[u32], flagged: impl Iterator<Item = bool>) -> f64 {
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for (&y, f) in labels.iter().zip(flagged) {
        match (y == 1, f) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    macro_f1_from_counts(tp, fp, fn_, tn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_of_perfect_and_inverted_predictions() {
        let y = [0, 0, 1, 1];
        assert_eq!(binary_macro_f1(&y, y.iter().map(|&v| v == 1)), 1.0);
        assert_eq!(binary_macro_f1(&y, y.iter().map(|&v| v == 0)), 0.0);
        // One class only, predicted perfectly: the absent class does not count.
        assert_eq!(binary_macro_f1(&[0, 0], [false, false].into_iter()), 1.0);
        assert!(binary_macro_f1(&[], std::iter::empty()).is_nan());
    }

    #[test]
    fn log_loss_takes_labels_first() {
        let l = log_loss(&[1, 0], &[0.9, 0.1]);
        assert!((l - -(0.9f64.ln())).abs() < 1e-12);
    }
}
