//! The one place that talks to the forest crate: fit a forest from rows of a flow table, read attack
//! probabilities back.

use ndarray::{Array2, ArrayView2, Axis};

use metaforest_flows::FlowTable;
use metaforest_forest::{ClassWeight, Forest, ForestParams, MaxFeatures};

use crate::error::Result;

/// Hyperparameters the evaluation varies (the rest stay at the forest's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ForestSpec {
    pub n_trees: usize,
    pub bootstrap: bool,
    pub max_features: MaxFeatures,
    pub min_samples_leaf: usize,
    pub class_weight: ClassWeight,
}

impl ForestSpec {
    /// scikit-learn-like defaults (bootstrap, √features, leaves of 1, no class weights) with `n_trees` trees.
    pub fn default_with_trees(n_trees: usize) -> Self {
        ForestSpec {
            n_trees,
            bootstrap: true,
            max_features: MaxFeatures::Sqrt,
            min_samples_leaf: 1,
            class_weight: ClassWeight::None,
        }
    }

    /// Short human description, e.g. `bootstrap=off max_features=0.5 min_leaf=1 class_weight=none`.
    pub fn describe(&self) -> String {
        let mf = match self.max_features {
            MaxFeatures::Sqrt => "sqrt".to_string(),
            MaxFeatures::Log2 => "log2".to_string(),
            MaxFeatures::Fraction(f) => format!("{f}"),
            MaxFeatures::Count(c) => format!("{c}"),
            MaxFeatures::All => "all".to_string(),
        };
        let cw = match &self.class_weight {
            ClassWeight::None => "none".to_string(),
            ClassWeight::Balanced => "balanced".to_string(),
            ClassWeight::Explicit(w) => format!("{w:?}"),
        };
        format!(
            "bootstrap={} max_features={mf} min_leaf={} class_weight={cw}",
            if self.bootstrap { "on" } else { "off" },
            self.min_samples_leaf
        )
    }

    fn params(&self, seed: u64) -> ForestParams {
        ForestParams::new()
            .n_trees(self.n_trees)
            .bootstrap(self.bootstrap)
            .max_features(self.max_features)
            .min_samples_leaf(self.min_samples_leaf)
            .class_weight(self.class_weight.clone())
            .n_classes(Some(2))
            .seed(seed)
    }

    /// Fits a binary forest (0 = benign, 1 = attack), optionally with per-row sample weights.
    pub fn fit(
        &self,
        x: ArrayView2<'_, f64>,
        y: &[u32],
        weights: Option<&[f64]>,
        seed: u64,
    ) -> Result<Forest> {
        use linfa::ParamGuard;
        let params = self.params(seed).check()?;
        let forest = match weights {
            Some(w) => params.fit_weighted(x, y, w)?,
            None => params.fit(x, y)?,
        };
        Ok(forest)
    }
}

/// Feature rows of `table` (in the given order) as a matrix.
pub fn rows_matrix(table: &FlowTable, rows: &[usize]) -> Array2<f64> {
    table.features().select(Axis(0), rows)
}

/// Binary labels of `rows` as forest targets.
pub fn rows_targets(table: &FlowTable, rows: &[usize]) -> Vec<u32> {
    let labels = table.labels();
    rows.iter().map(|&r| u32::from(labels[r] != 0)).collect()
}

/// Binary labels of `rows`.
pub fn rows_labels(table: &FlowTable, rows: &[usize]) -> Vec<u8> {
    let labels = table.labels();
    rows.iter().map(|&r| u8::from(labels[r] != 0)).collect()
}

/// Attack probability (column 1 of `predict_proba`), clamped into `[0, 1]` against rounding.
pub fn attack_proba(forest: &Forest, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
    let p = forest.predict_proba(x)?;
    Ok(p.column(1).iter().map(|v| v.clamp(0.0, 1.0)).collect())
}

/// Hard decisions at a probability threshold: attack when `p > at`, so an exact tie at 0.5 is benign,
/// as an argmax that prefers the first class (scikit-learn's `predict`) decides.
pub fn threshold(proba: &[f64], at: f64) -> Vec<u8> {
    proba.iter().map(|&p| u8::from(p > at)).collect()
}
