//! The evaluation crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Two inputs that must be parallel (labels, scores, predictions) differ in length.
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    /// A score is not a probability in `[0, 1]` (or is NaN).
    #[error("score at index {index} is {value}, expected a probability in [0, 1]")]
    BadScore { index: usize, value: f64 },
    /// A protocol or method was configured in a way that cannot run.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A domain has too few rows of a class for the requested split or draw.
    #[error("domain {domain}: {message}")]
    Domain { domain: String, message: String },
    /// A data set needed by a protocol is missing.
    #[error("no data at {}: {message}", path.display())]
    MissingData { path: PathBuf, message: String },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON report could not be parsed (line and column are serde_json's).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Drawing an SVG plot failed.
    #[error("plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    /// The flows crate failed (loading, splitting, sampling).
    #[error(transparent)]
    Flows(#[from] metaforest_flows::FlowsError),
    /// The forest crate failed (fitting, predicting).
    #[error(transparent)]
    Forest(#[from] metaforest_forest::ForestError),
    /// The meta-learner failed (meta-training or adaptation).
    #[error(transparent)]
    Meta(#[from] metaforest_meta::MetaError),
}

/// Result alias for this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
