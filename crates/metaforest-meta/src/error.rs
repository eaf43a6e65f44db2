use std::path::PathBuf;

/// Everything that can go wrong while meta-training, adapting, saving or loading.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("invalid meta-learner parameter `{name}`: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    #[error("support set has no {missing} flows: adaptation needs at least one labelled flow of each class")]
    OneClassSupport { missing: &'static str },
    #[error("support set is empty")]
    EmptySupport,
    #[error(
        "feature width mismatch: the meta-model was trained on {expected} features, got {got}"
    )]
    FeatureMismatch { expected: usize, got: usize },
    #[error("meta-training needs at least {needed} known domains, got {got}")]
    TooFewDomains { needed: usize, got: usize },
    #[error("no episode could be drawn from the known domains: {0}")]
    NoEpisodes(String),
    #[error(transparent)]
    Forest(#[from] metaforest_forest::ForestError),
    #[error(transparent)]
    Flows(#[from] metaforest_flows::FlowsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a metaforest meta-model file (bad magic header)")]
    BadMagic { path: PathBuf },
    #[error("{path}: meta-model format version {found} is newer than this build supports ({supported}); upgrade metaforest")]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: meta-model format version {found} is older than this build reads ({supported}); retrain it with `metaforest train`")]
    OlderVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: file is truncated (expected {expected} payload bytes, found {found})")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: checksum mismatch (file is corrupted)")]
    Checksum { path: PathBuf },
    #[error("{path}: cannot decode meta-model: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("dfdx network error: {0}")]
    Network(String),
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;
