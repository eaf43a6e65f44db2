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
    /// Not this kind of model file; `hint` says what it is when it is another metaforest file.
    #[error("{path}: not a metaforest {what} file{hint}")]
    BadMagic {
        path: PathBuf,
        what: &'static str,
        hint: String,
    },
    #[error("{path}: {what} format version {found} is newer than this build supports ({supported}); upgrade metaforest")]
    NewerVersion {
        path: PathBuf,
        what: &'static str,
        found: u32,
        supported: u32,
    },
    /// A file in a format this build no longer reads: an older format version, or the CLI's own former formats.
    #[error("{path}: {what} in an older format ({found}) that this build no longer reads; re-create it with {recreate}")]
    OlderFormat {
        path: PathBuf,
        what: &'static str,
        found: String,
        recreate: &'static str,
    },
    #[error("{path}: file is truncated (expected {expected} bytes, found {found})")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: checksum mismatch (file is corrupted)")]
    Checksum { path: PathBuf },
    #[error("{path}: cannot decode {what}: {reason}")]
    Decode {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    /// The file decodes but its contents are inconsistent (a damaged or crafted file).
    #[error("{path}: invalid {what}: {reason}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    /// A false-alarm budget finer than the evidence can resolve: `needed` scored flows give steps of 1/`needed`.
    #[error(
        "a false-alarm budget of {max_far} needs at least {needed} benign support flows (scored leave-one-out) \
         or {needed} unlabelled flows to be resolved; this detector has {benign} benign support flows and \
         {unlabelled} unlabelled flows. Add labelled benign flows, give unlabelled traffic, ask for a budget of \
         at least {coarsest}, or set the threshold by hand"
    )]
    FarBudgetUnresolvable {
        max_far: f64,
        needed: usize,
        benign: usize,
        unlabelled: usize,
        /// The smallest budget the larger of the two samples resolves.
        coarsest: String,
    },
    #[error(
        "{what} cannot be saved: it was trained with `{setting}`, an experiment the file format does not carry yet"
    )]
    NotSaved {
        what: &'static str,
        setting: &'static str,
    },
    #[error("dfdx network error: {0}")]
    Network(String),
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;
