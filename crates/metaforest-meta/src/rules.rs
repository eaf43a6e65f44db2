//! Readable if-then rules from an adapted [`Detector`]: the leaf paths that the detector's support flows
//! take through its local forest and through its most heavily weighted known forest, each merged per
//! feature into an interval, simplified, measured on the support (precision, coverage), deduplicated and
//! ranked. Rules are derived from the detector as it is, so adapting it again re-derives them.
//!
//! Only leaves that some support flow reaches are considered: a leaf no labelled flow reaches has no
//! precision to report. A path step on a missing (`NaN`) value adds no condition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detector::Detector;
use metaforest_forest::Forest;

/// `lower < x[feature] <= upper` (either bound may be absent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub feature: usize,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

impl Condition {
    /// Whether `v` satisfies the condition (a missing value satisfies none).
    pub fn holds(&self, v: f64) -> bool {
        !v.is_nan() && self.lower.is_none_or(|l| v > l) && self.upper.is_none_or(|u| v <= u)
    }

    /// `name > a`, `name <= b` or `a < name <= b`.
    pub fn display(&self, name: &str) -> String {
        match (self.lower, self.upper) {
            (Some(l), Some(u)) => format!("{} < {name} <= {}", num(l), num(u)),
            (Some(l), None) => format!("{name} > {}", num(l)),
            (None, Some(u)) => format!("{name} <= {}", num(u)),
            (None, None) => format!("{name} is present"),
        }
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e6 || v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.3}")
    }
}

/// One rule: if every condition holds, the flow is `attack` (or benign).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub conditions: Vec<Condition>,
    /// The verdict the rule gives.
    pub attack: bool,
    /// The forest whose trees produced it (`local` or a known domain's name).
    pub forest: String,
    /// Support flows the rule covers, and how many of them have the rule's class.
    pub covered: usize,
    pub correct: usize,
    /// `correct / covered`.
    pub precision: f64,
    /// Share of the support flows of the rule's class that the rule covers.
    pub coverage: f64,
    /// Ranking score: Laplace-smoothed precision × coverage.
    pub score: f64,
}

impl Rule {
    /// Whether the rule fires on `row`.
    pub fn matches(&self, row: &[f64]) -> bool {
        self.conditions
            .iter()
            .all(|c| row.get(c.feature).is_some_and(|&v| c.holds(v)))
    }

    /// `IF a AND b THEN attack`, with feature names.
    pub fn display(&self, names: &[String]) -> String {
        let conds: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let fallback = format!("f{}", c.feature);
                c.display(names.get(c.feature).unwrap_or(&fallback))
            })
            .collect();
        format!(
            "IF {} THEN {}",
            if conds.is_empty() {
                "true".to_string()
            } else {
                conds.join(" AND ")
            },
            if self.attack { "attack" } else { "benign" }
        )
    }
}

/// Which rules to keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleParams {
    /// At most this many rules (after ranking).
    pub max_rules: usize,
    /// Keep attack rules, benign rules, or both.
    pub attack: bool,
    pub benign: bool,
    /// Drop rules below this precision on the support.
    pub min_precision: f64,
    /// Conditions kept per rule at most (the least useful are dropped first).
    pub max_conditions: usize,
}

impl Default for RuleParams {
    fn default() -> Self {
        Self {
            max_rules: 20,
            attack: true,
            benign: false,
            min_precision: 0.5,
            max_conditions: 6,
        }
    }
}

fn merge(steps: &[metaforest_forest::PathStep]) -> Vec<Condition> {
    let mut by_feature: BTreeMap<usize, Condition> = BTreeMap::new();
    for s in steps {
        if s.value.is_nan() || s.threshold.is_nan() {
            continue;
        }
        let c = by_feature.entry(s.feature).or_insert(Condition {
            feature: s.feature,
            lower: None,
            upper: None,
        });
        if s.went_left {
            c.upper = Some(c.upper.map_or(s.threshold, |u: f64| u.min(s.threshold)));
        } else {
            c.lower = Some(c.lower.map_or(s.threshold, |l: f64| l.max(s.threshold)));
        }
    }
    by_feature.into_values().collect()
}

/// (covered, correct) of a condition set on the support.
fn measure(
    conds: &[Condition],
    attack: bool,
    x: &ndarray::ArrayView2<f64>,
    y: &[u32],
) -> (usize, usize) {
    let mut covered = 0;
    let mut correct = 0;
    for (r, &label) in y.iter().enumerate() {
        if conds.iter().all(|c| c.holds(x[[r, c.feature]])) {
            covered += 1;
            correct += usize::from((label == 1) == attack);
        }
    }
    (covered, correct)
}

fn laplace(covered: usize, correct: usize) -> f64 {
    (correct as f64 + 1.0) / (covered as f64 + 2.0)
}

/// Greedily drops conditions whose removal does not lower the smoothed precision (C4.5-style rule
/// simplification), then keeps at most `max` conditions.
fn simplify(
    mut conds: Vec<Condition>,
    attack: bool,
    x: &ndarray::ArrayView2<f64>,
    y: &[u32],
    max: usize,
) -> Vec<Condition> {
    loop {
        let (cov, cor) = measure(&conds, attack, x, y);
        let base = laplace(cov, cor);
        let mut best: Option<(usize, f64)> = None;
        for i in 0..conds.len() {
            let mut rest = conds.clone();
            rest.remove(i);
            let (c2, k2) = measure(&rest, attack, x, y);
            let p = laplace(c2, k2);
            let must_shrink = conds.len() > max;
            if (p >= base || must_shrink) && best.is_none_or(|(_, b)| p > b) {
                best = Some((i, p));
            }
        }
        match best {
            Some((i, _)) if !conds.is_empty() => {
                conds.remove(i);
            }
            _ => return conds,
        }
    }
}

/// Index and name of the most heavily weighted known forest (not the local one), by
/// [`Detector::task_weights`].
pub fn heaviest_known(detector: &Detector) -> Option<(usize, String)> {
    let w = detector.task_weights();
    let names = detector.forest_names();
    let n_known = detector.known().len().min(w.len().saturating_sub(1));
    (0..n_known)
        .max_by(|&a, &b| w[a].total_cmp(&w[b]))
        .map(|k| (k, names[k].clone()))
}

/// The detector's ranked rules from its local forest and its most heavily weighted known forest
/// ([`heaviest_known`]), as they are now.
pub fn detector_rules(detector: &Detector, params: &RuleParams) -> Vec<Rule> {
    let known =
        heaviest_known(detector).and_then(|(k, name)| detector.known_forest(k).map(|f| (name, f)));
    extract_rules(
        detector,
        known.as_ref().map(|(name, f)| (name.as_str(), *f)),
        params,
    )
}

/// Derives the detector's ranked rules (see the module documentation) from its local forest and, when
/// given, a known forest (normally the one [`heaviest_known`] names, through [`Detector::known_forest`];
/// [`detector_rules`] does both).
pub fn extract_rules(
    detector: &Detector,
    known: Option<(&str, &Forest)>,
    params: &RuleParams,
) -> Vec<Rule> {
    let (x, y) = detector.support();
    let mut forests: Vec<(String, &Forest)> = vec![("local".to_string(), detector.local_forest())];
    if let Some((name, forest)) = known {
        forests.push((name.to_string(), forest));
    }
    // Candidate paths, keyed by their merged conditions so identical paths are measured once.
    let mut candidates: BTreeMap<String, (Vec<Condition>, bool, String)> = BTreeMap::new();
    for (fname, forest) in &forests {
        for r in 0..y.len() {
            let row: Vec<f64> = x.row(r).to_vec();
            let Ok(paths) = forest.decision_path(&row) else {
                continue;
            };
            for p in paths {
                let attack_p = p.distribution.get(1).copied().unwrap_or(0.0);
                let attack = attack_p >= 0.5;
                if (attack && !params.attack) || (!attack && !params.benign) {
                    continue;
                }
                let conds = merge(&p.steps);
                let key = format!("{attack}{conds:?}");
                candidates
                    .entry(key)
                    .or_insert_with(|| (conds, attack, fname.clone()));
            }
        }
    }
    let n_attack = y.iter().filter(|&&l| l == 1).count().max(1);
    let n_benign = y.iter().filter(|&&l| l != 1).count().max(1);
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    for (conds, attack, forest) in candidates.into_values() {
        let conds = simplify(conds, attack, &x, y, params.max_conditions);
        let (covered, correct) = measure(&conds, attack, &x, y);
        if covered == 0 {
            continue;
        }
        let precision = correct as f64 / covered as f64;
        if precision < params.min_precision {
            continue;
        }
        let coverage = correct as f64 / if attack { n_attack } else { n_benign } as f64;
        let rule = Rule {
            score: laplace(covered, correct) * coverage,
            conditions: conds,
            attack,
            forest,
            covered,
            correct,
            precision,
            coverage,
        };
        // Deduplicate: equal condition sets after simplification collapse into one.
        let key = format!("{}{:?}", rule.attack, rule.conditions);
        rules.entry(key).or_insert(rule);
    }
    let mut rules: Vec<Rule> = rules.into_values().collect();
    rules.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.conditions.len().cmp(&b.conditions.len()))
            .then_with(|| format!("{:?}", a.conditions).cmp(&format!("{:?}", b.conditions)))
    });
    // Drop rules that cover exactly the same support flows as a better-ranked rule of the same class.
    let mut seen: Vec<(bool, Vec<bool>)> = Vec::new();
    rules.retain(|r| {
        let cover: Vec<bool> = (0..y.len())
            .map(|i| r.matches(&x.row(i).to_vec()))
            .collect();
        if seen.iter().any(|(a, c)| *a == r.attack && *c == cover) {
            false
        } else {
            seen.push((r.attack, cover));
            true
        }
    });
    rules.truncate(params.max_rules);
    rules
}
