//! Hyperparameters: the unchecked builder [`ForestParams`] and the validated [`ValidForestParams`].

use serde::{Deserialize, Serialize};

use crate::error::{ForestError, Result};

/// How many candidate features are drawn at each split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// `ceil(sqrt(n_features))` (scikit-learn's classifier default).
    Sqrt,
    /// `max(1, ceil(log2(n_features)))`.
    Log2,
    /// `ceil(fraction * n_features)`, fraction in `(0, 1]`.
    Fraction(f64),
    /// A fixed count (capped at the number of features with a positive prior).
    Count(usize),
    /// Every feature at every split.
    All,
}

impl MaxFeatures {
    /// The number of features drawn per split for `n_features` usable features (at least 1).
    pub fn resolve(&self, n_features: usize) -> usize {
        let n = n_features.max(1);
        let k = match *self {
            MaxFeatures::Sqrt => (n as f64).sqrt().ceil() as usize,
            MaxFeatures::Log2 => (n as f64).log2().ceil() as usize,
            MaxFeatures::Fraction(f) => (f * n as f64).ceil() as usize,
            MaxFeatures::Count(c) => c,
            MaxFeatures::All => n,
        };
        k.clamp(1, n)
    }
}

/// Class weights multiply each sample's weight by the weight of its class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every class weighs 1.
    None,
    /// `n_samples / (n_classes_present * count(class))`, computed on the (sample-weighted) training targets.
    Balanced,
    /// One non-negative weight per class.
    Explicit(Vec<f64>),
}

/// Impurity measure used to choose splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitCriterion {
    /// Gini impurity.
    Gini,
    /// Shannon entropy (information gain).
    Entropy,
}

/// Largest number of value bins per feature; one more bin is reserved for missing values (NaN).
pub const MAX_BINS: usize = 255;

/// Validated hyperparameters; obtain through `ForestParams::check` (linfa's
/// [`ParamGuard`](linfa::ParamGuard)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidForestParams {
    pub(crate) n_trees: usize,
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_samples_leaf: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) max_features: MaxFeatures,
    pub(crate) bootstrap: bool,
    pub(crate) sample_fraction: f64,
    pub(crate) class_weight: ClassWeight,
    pub(crate) feature_prior: Option<Vec<f64>>,
    pub(crate) criterion: SplitCriterion,
    pub(crate) n_bins: usize,
    pub(crate) seed: u64,
    pub(crate) n_classes: Option<usize>,
}

impl Default for ValidForestParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            sample_fraction: 1.0,
            class_weight: ClassWeight::None,
            feature_prior: None,
            criterion: SplitCriterion::Gini,
            n_bins: MAX_BINS,
            seed: 0,
            n_classes: None,
        }
    }
}

impl ValidForestParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Maximum depth (root = depth 0); `None` grows until leaves are pure or too small.
    pub fn max_depth(&self) -> Option<usize> {
        self.max_depth
    }
    /// Minimum number of training rows in a leaf.
    pub fn min_samples_leaf(&self) -> usize {
        self.min_samples_leaf
    }
    /// Minimum number of training rows a node needs to be split.
    pub fn min_samples_split(&self) -> usize {
        self.min_samples_split
    }
    /// Candidate features per split.
    pub fn max_features(&self) -> MaxFeatures {
        self.max_features
    }
    /// Whether each tree trains on a bootstrap sample.
    pub fn bootstrap(&self) -> bool {
        self.bootstrap
    }
    /// Rows drawn per tree, as a fraction of the training rows.
    pub fn sample_fraction(&self) -> f64 {
        self.sample_fraction
    }
    /// Class weighting.
    pub fn class_weight(&self) -> &ClassWeight {
        &self.class_weight
    }
    /// Per-feature sampling prior.
    pub fn feature_prior(&self) -> Option<&[f64]> {
        self.feature_prior.as_deref()
    }
    /// Split criterion.
    pub fn criterion(&self) -> SplitCriterion {
        self.criterion
    }
    /// Value bins per feature (plus one missing-value bin).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }
    /// Seed of the whole forest.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Declared number of classes, if any.
    pub fn n_classes(&self) -> Option<usize> {
        self.n_classes
    }
}

/// Unchecked hyperparameters (builder). `check()` validates them into [`ValidForestParams`];
/// linfa's `Fit` can be called on either.
///
/// ```
/// use metaforest_forest::{ForestParams, MaxFeatures};
/// use linfa::ParamGuard;
/// let params = ForestParams::new().n_trees(50).max_features(MaxFeatures::Log2).seed(7).check().unwrap();
/// assert_eq!(params.n_trees(), 50);
/// assert!(ForestParams::new().n_trees(0).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ForestParams(pub(crate) ValidForestParams);

impl ForestParams {
    /// Defaults: 100 trees, unlimited depth, 1 row per leaf, 2 per split, sqrt features, bootstrap of
    /// 100 %, no class weights, no prior, Gini, 255 bins, seed 0, classes from the data.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of trees (≥ 1).
    pub fn n_trees(mut self, n: usize) -> Self {
        self.0.n_trees = n;
        self
    }
    /// Maximum depth (`None` = unlimited; `Some(0)` is a single leaf).
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.0.max_depth = d;
        self
    }
    /// Minimum rows per leaf (≥ 1).
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.0.min_samples_leaf = n;
        self
    }
    /// Minimum rows to split a node (≥ 2).
    pub fn min_samples_split(mut self, n: usize) -> Self {
        self.0.min_samples_split = n;
        self
    }
    /// Candidate features per split.
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.0.max_features = m;
        self
    }
    /// Bootstrap (sampling with replacement) on or off.
    pub fn bootstrap(mut self, on: bool) -> Self {
        self.0.bootstrap = on;
        self
    }
    /// Rows drawn per tree as a fraction of the training rows, in `(0, 1]` (with or without bootstrap).
    pub fn sample_fraction(mut self, f: f64) -> Self {
        self.0.sample_fraction = f;
        self
    }
    /// Class weighting.
    pub fn class_weight(mut self, w: ClassWeight) -> Self {
        self.0.class_weight = w;
        self
    }
    /// Per-feature sampling prior: non-negative weights, one per feature, not all zero. Candidate
    /// features at each split are drawn without replacement with probability proportional to these
    /// weights; a feature with weight 0 is never split on.
    pub fn feature_prior(mut self, prior: Option<Vec<f64>>) -> Self {
        self.0.feature_prior = prior;
        self
    }
    /// Split criterion.
    pub fn criterion(mut self, c: SplitCriterion) -> Self {
        self.0.criterion = c;
        self
    }
    /// Value bins per feature, 2..=255 (one extra bin always holds missing values).
    pub fn n_bins(mut self, n: usize) -> Self {
        self.0.n_bins = n;
        self
    }
    /// Seed; tree `i` is seeded from `(seed, i)` so results never depend on the thread count.
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = s;
        self
    }
    /// Number of classes (≥ 2); default `max(y) + 1` (at least 2).
    pub fn n_classes(mut self, n: Option<usize>) -> Self {
        self.0.n_classes = n;
        self
    }

    fn validate(p: &ValidForestParams) -> Result<()> {
        let bad = |param: &'static str, message: String| {
            Err(ForestError::InvalidParameter { param, message })
        };
        if p.n_trees == 0 {
            return bad("n_trees", "must be at least 1, got 0".into());
        }
        if p.min_samples_leaf == 0 {
            return bad("min_samples_leaf", "must be at least 1, got 0".into());
        }
        if p.min_samples_split < 2 {
            return bad(
                "min_samples_split",
                format!("must be at least 2, got {}", p.min_samples_split),
            );
        }
        match p.max_features {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return bad(
                    "max_features",
                    format!("Fraction must be in (0, 1], got {f}"),
                );
            }
            MaxFeatures::Count(0) => {
                return bad("max_features", "Count must be at least 1, got 0".into())
            }
            _ => {}
        }
        if !(p.sample_fraction > 0.0 && p.sample_fraction <= 1.0) {
            return bad(
                "sample_fraction",
                format!("must be in (0, 1], got {}", p.sample_fraction),
            );
        }
        if let ClassWeight::Explicit(w) = &p.class_weight {
            if w.is_empty() {
                return bad("class_weight", "Explicit weights must not be empty".into());
            }
            if let Some((i, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return bad(
                    "class_weight",
                    format!("weight of class {i} is {v}; weights must be finite and >= 0"),
                );
            }
            if w.iter().all(|v| *v == 0.0) {
                return bad("class_weight", "all class weights are 0".into());
            }
            if let Some(n) = p.n_classes {
                if w.len() != n {
                    return bad(
                        "class_weight",
                        format!("{} Explicit weights given but n_classes is {n}", w.len()),
                    );
                }
            }
        }
        if let Some(prior) = &p.feature_prior {
            if prior.is_empty() {
                return bad(
                    "feature_prior",
                    "must have one weight per feature, got none".into(),
                );
            }
            if let Some((i, v)) = prior
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return bad(
                    "feature_prior",
                    format!("weight of feature {i} is {v}; weights must be finite and >= 0"),
                );
            }
            if prior.iter().all(|v| *v == 0.0) {
                return bad(
                    "feature_prior",
                    "all feature weights are 0, no feature could be split on".into(),
                );
            }
        }
        if !(2..=MAX_BINS).contains(&p.n_bins) {
            return bad(
                "n_bins",
                format!("must be in 2..={MAX_BINS}, got {}", p.n_bins),
            );
        }
        if let Some(n) = p.n_classes {
            if n < 2 {
                return bad("n_classes", format!("must be at least 2, got {n}"));
            }
            if n > u16::MAX as usize {
                return bad(
                    "n_classes",
                    format!("must be at most {}, got {n}", u16::MAX),
                );
            }
        }
        Ok(())
    }
}

impl linfa::ParamGuard for ForestParams {
    type Checked = ValidForestParams;
    type Error = ForestError;

    fn check_ref(&self) -> Result<&ValidForestParams> {
        Self::validate(&self.0)?;
        Ok(&self.0)
    }

    fn check(self) -> Result<ValidForestParams> {
        Self::validate(&self.0)?;
        Ok(self.0)
    }
}

impl From<ValidForestParams> for ForestParams {
    fn from(p: ValidForestParams) -> Self {
        ForestParams(p)
    }
}
