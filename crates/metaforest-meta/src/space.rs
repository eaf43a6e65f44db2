//! The feature space a meta-model reads: its columns (names, and the dictionaries of categorical ones) and where its
//! training data came from. Saved with the model and its detectors, so a later file in any supported format can be
//! mapped onto the columns the forests were trained on.

use metaforest_flows::ColumnSpec;
use serde::{Deserialize, Serialize};

/// The columns of the flows a model reads, in feature order, and a description of its training data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpace {
    columns: Vec<ColumnSpec>,
    source: String,
}

impl FeatureSpace {
    /// `columns` in feature order; `source` says where the training data came from (e.g. `NF-v2: NF-UNSW-NB15-v2, …`).
    pub fn new(columns: Vec<ColumnSpec>, source: impl Into<String>) -> Self {
        Self {
            columns,
            source: source.into(),
        }
    }

    /// Numeric columns `f0`, `f1`, … (what a model fitted on bare arrays reads until told otherwise).
    pub fn unnamed(width: usize) -> Self {
        Self::new(
            (0..width)
                .map(|j| ColumnSpec::numeric(format!("f{j}")))
                .collect(),
            "",
        )
    }

    /// The columns, in feature order.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// Where the training data came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Column names, in feature order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}
