//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong when configuring, fitting, using, saving or loading a forest.
#[derive(Debug, thiserror::Error)]
pub enum ForestError {
    /// A hyperparameter has a value the forest cannot work with.
    #[error("invalid forest parameter `{param}`: {message}")]
    InvalidParameter {
        /// Name of the parameter, as in the builder method.
        param: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// There are no training rows (or no rows with a positive weight).
    #[error("no training data: {0}")]
    EmptyData(String),
    /// The number of feature rows and the number of targets (or weights) differ.
    #[error("shape mismatch: {what} has {got} entries but the feature matrix has {expected} rows")]
    LengthMismatch {
        /// Which input is too long or too short.
        what: &'static str,
        /// Rows in the feature matrix.
        expected: usize,
        /// Entries in the other input.
        got: usize,
    },
    /// A target is not below the number of classes.
    #[error("target at row {row} is class {class}, but the forest has {n_classes} classes (0..{n_classes})")]
    ClassOutOfRange {
        /// Row of the offending target.
        row: usize,
        /// Its value.
        class: u64,
        /// The number of classes.
        n_classes: usize,
    },
    /// A sample weight is negative, NaN or infinite.
    #[error("sample weight at row {row} is {value}; weights must be finite and >= 0")]
    InvalidSampleWeight {
        /// Row of the offending weight.
        row: usize,
        /// Its value.
        value: f64,
    },
    /// Input has a different number of features than the forest was trained on.
    #[error("feature count mismatch: the forest expects {expected} features, got {got}")]
    FeatureMismatch {
        /// Features the forest knows.
        expected: usize,
        /// Features given.
        got: usize,
    },
    /// Trees or parameters disagree on the number of classes.
    #[error("class count mismatch: expected {expected} classes, got {got}")]
    ClassMismatch {
        /// Classes the forest knows.
        expected: usize,
        /// Classes given.
        got: usize,
    },
    /// An operation needs at least one tree.
    #[error("a forest needs at least one tree")]
    NoTrees,
    /// Leaf indices that are not one leaf of each of the forest's trees.
    #[error("leaves do not fit the forest: {0}")]
    LeafMismatch(String),
    /// A row index is out of range.
    #[error("row {row} is out of range for a matrix with {n_rows} rows")]
    RowOutOfRange {
        /// Requested row.
        row: usize,
        /// Rows available.
        n_rows: usize,
    },
    /// Reading or writing a model file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the forest magic bytes.
    #[error("{path} is not a metaforest forest file (bad magic bytes)")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its header says.
    #[error("{path} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload checksum does not match.
    #[error(
        "{path} is corrupted: checksum {found:#010x} does not match the stored {stored:#010x}"
    )]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// Checksum in the header.
        stored: u32,
        /// Checksum of the payload read.
        found: u32,
    },
    /// The file was written by a newer format version than this build understands.
    #[error("{path} has forest format version {found}, newer than the supported version {supported}; upgrade metaforest")]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// The payload could not be decoded or describes an inconsistent forest.
    #[error("{path}: invalid forest payload: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A forest (for example one built from deserialised trees) is internally inconsistent.
    #[error("inconsistent forest: {0}")]
    Inconsistent(String),
    /// An error from linfa (raised through its traits).
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

/// Result alias for this crate.
pub type Result<T, E = ForestError> = std::result::Result<T, E>;
