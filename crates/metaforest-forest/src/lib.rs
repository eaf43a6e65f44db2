//! metaforest-forest: the random forest at the heart of metaforest.
//!
//! Histogram-binned CART trees (quantile bins learned on the training data, one byte per cell,
//! column-major, a bin of its own for missing values), per-split feature sampling with an optional
//! per-feature prior, class and sample weights, bootstrap, leaves holding class distributions, flat
//! node arrays with raw-value thresholds, a derived 4-byte-node prediction plan that gives the same
//! numbers from a sixth of the memory, impurity-based importances, tree
//! transplant with leaf refit, warm start, thread-count-independent determinism and a versioned,
//! checksummed file format. linfa's `Fit` / `PredictInplace` are implemented for interop.
//!
//! ```
//! use linfa::ParamGuard;
//! use metaforest_forest::ForestParams;
//! use ndarray::array;
//! let x = array![[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]];
//! let y = [0u32, 1, 0, 1];
//! let forest = ForestParams::new().n_trees(10).seed(1).check()?.fit(x.view(), &y)?;
//! assert_eq!(forest.predict(x.view())?, vec![0, 1, 0, 1]);
//! # Ok::<(), metaforest_forest::ForestError>(())
//! ```

mod binning;
pub mod container;
mod error;
mod forest;
mod io;
mod linfa_impl;
mod params;
mod paths;
mod plan;
mod tree;
mod walk;

pub use binning::BinEdges;
pub use error::{ForestError, Result};
pub use forest::Forest;
pub use io::{FORMAT_VERSION, MAGIC};
pub use params::{
    ClassWeight, ForestParams, MaxFeatures, SplitCriterion, ValidForestParams, MAX_BINS,
};
pub use tree::{PathStep, Tree, TreePath, TreeStats};
