//! P2's standard NSL-KDD figure: one forest on all of KDDTrain+ (benign vs attack) scored on KDDTest+, with
//! the detection rate on attack types seen in training and on the novel ones. Rendered by
//! [`crate::report::standard_figure_markdown`].

use std::collections::BTreeMap;

use metaforest_flows::datasets::NslKdd;

use crate::config::BenchConfig;
use crate::error::Result;
use crate::learner::{attack_proba, rows_labels, rows_targets, threshold, ForestSpec};
use crate::metrics::{evaluate, Confusion, Metrics};
use crate::protocol::protocol_seed;
use crate::sampling::derive;

/// Detected and total attack rows of one group (an attack type, or all seen / all novel types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detected {
    pub detected: usize,
    pub rows: usize,
}

impl Detected {
    /// `detected / rows`, NaN without rows.
    pub fn rate(&self) -> f64 {
        if self.rows == 0 {
            f64::NAN
        } else {
            self.detected as f64 / self.rows as f64
        }
    }
}

/// The numbers of the standard figure.
#[derive(Debug, Clone)]
pub struct StandardFigure {
    /// Trees of the forest.
    pub trees: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Metrics on KDDTest+ at threshold 0.5.
    pub metrics: Metrics,
    pub confusion: Confusion,
    /// Attack types seen in KDDTrain+, together.
    pub seen: Detected,
    /// The novel attack types, together.
    pub novel: Detected,
    /// Each novel attack type, by name.
    pub novel_types: Vec<(String, Detected)>,
}

/// Trains the standard figure's forest (seeded from the P2 protocol seed) and scores it on KDDTest+.
pub fn p2_standard_figure(nsl: &NslKdd, cfg: &BenchConfig) -> Result<StandardFigure> {
    let seed = protocol_seed(cfg.seed, "P2");
    let train_rows: Vec<usize> = (0..nsl.train.n_rows()).collect();
    let test_rows: Vec<usize> = (0..nsl.test.n_rows()).collect();
    let forest = ForestSpec::default_with_trees(cfg.trees_known).fit(
        nsl.train.features(),
        &rows_targets(&nsl.train, &train_rows),
        None,
        derive(seed, 2),
    )?;
    let proba = attack_proba(&forest, nsl.test.features())?;
    let pred = threshold(&proba, 0.5);
    let y = rows_labels(&nsl.test, &test_rows);
    let metrics = evaluate(&y, &proba, &pred)?;
    let names = nsl.test.class_names();
    let codes = nsl.test.class_codes();
    let mut per_type: BTreeMap<&str, Detected> = BTreeMap::new();
    let (mut seen, mut novel) = (Detected::default(), Detected::default());
    for r in 0..y.len() {
        if y[r] == 0 {
            continue;
        }
        let t = names[codes[r] as usize].as_str();
        let hit = usize::from(pred[r] == 1);
        let e = per_type.entry(t).or_default();
        e.detected += hit;
        e.rows += 1;
        let group = if nsl.families.seen_in_train(t).unwrap_or(true) {
            &mut seen
        } else {
            &mut novel
        };
        group.detected += hit;
        group.rows += 1;
    }
    let novel_types = per_type
        .into_iter()
        .filter(|(t, _)| !nsl.families.seen_in_train(t).unwrap_or(true))
        .map(|(t, d)| (t.to_string(), d))
        .collect();
    Ok(StandardFigure {
        trees: cfg.trees_known,
        train_rows: nsl.train.n_rows(),
        test_rows: nsl.test.n_rows(),
        metrics,
        confusion: Confusion::new(&y, &pred)?,
        seen,
        novel,
        novel_types,
    })
}
