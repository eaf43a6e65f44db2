//! The one error type of the crate. Every variant about input names the file, and the line and column
//! where they apply (lines are 1-based and count the header as line 1; columns are 1-based).

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = FlowsError> = std::result::Result<T, E>;

/// Errors of the flow data layer.
#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    /// The file could not be opened or read (not a decoding problem).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The gzip stream is corrupt or truncated; `line` is the first line that could not be read.
    #[error("{}: line {line}: gzip stream is corrupt or truncated: {source}", path.display())]
    Gzip {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },

    /// The input could not be read past `line` (a cut gzip stream, an I/O error while streaming); rows
    /// before it were read. Nothing more can be read from this input.
    #[error("{}: line {line}: the input cannot be read further: {source}", path.display())]
    ReadFailed {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },

    /// A record (one line) longer than the reader's bound; it is skipped and reading can go on.
    #[error("{}: line {line}: record longer than {limit} bytes", path.display())]
    RecordTooLong {
        path: PathBuf,
        line: u64,
        limit: usize,
    },

    /// A table reached a size cap of [`crate::ReadOptions`] (`max_rows` is a stop, not this error).
    #[error("{}: line {line}: {what} exceeds the cap of {limit} (raise it in the read options)", path.display())]
    TooLarge {
        path: PathBuf,
        line: u64,
        what: &'static str,
        limit: u64,
    },

    /// Any other CSV-level problem (e.g. invalid quoting).
    #[error("{}: line {line}: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// The file holds no header row at all.
    #[error("{}: line 1: empty file (no header row)", path.display())]
    EmptyFile { path: PathBuf },

    /// A record has more or fewer fields than the header.
    #[error("{}: line {line}, column {column}: expected {expected} fields as in the header, found {found}", path.display())]
    FieldCount {
        path: PathBuf,
        line: u64,
        /// First column that is missing (or the first extra one).
        column: usize,
        expected: usize,
        found: usize,
    },

    /// A value in a numeric column is not a number.
    #[error("{}: line {line}, column {column} (`{column_name}`): `{value}` is not a number", path.display())]
    NotANumber {
        path: PathBuf,
        line: u64,
        column: usize,
        column_name: String,
        value: String,
    },

    /// A NaN or infinite value met while the policy is [`crate::NonFinitePolicy::Error`].
    #[error("{}: line {line}, column {column} (`{column_name}`): non-finite value `{value}`", path.display())]
    NonFinite {
        path: PathBuf,
        line: u64,
        column: usize,
        column_name: String,
        value: String,
    },

    /// A field that is not valid UTF-8 where text is needed (categorical, label, class).
    #[error("{}: line {line}, column {column} (`{column_name}`): value is not valid UTF-8", path.display())]
    InvalidUtf8 {
        path: PathBuf,
        line: u64,
        column: usize,
        column_name: String,
    },

    /// A label column value the schema cannot read (another data set's convention, e.g. `BENIGN` where
    /// the schema's labels are `0`/`1`).
    #[error("{}: line {line}, column {column} (`{column_name}`): label `{value}` is not one the schema {expected}; is the file in another format?", path.display())]
    UnreadableLabel {
        path: PathBuf,
        line: u64,
        column: usize,
        column_name: String,
        value: String,
        /// The schema and the labels it reads, in words.
        expected: String,
    },

    /// A column the schema requires is not in the header (line 1).
    #[error("{}: line 1: required {role} column `{column}` not found in the header", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        role: &'static str,
    },

    /// A column asked to be passed through (`--keep`) is not in the input; `available` lists its columns.
    #[error("{}: no column `{column}` to keep; the input's columns are: {available}", path.display())]
    UnknownKeptColumn {
        path: PathBuf,
        column: String,
        available: String,
    },

    /// A header column the schema does not know, when the schema's default kind is `error`.
    #[error("{}: line 1, column {column}: column `{name}` is not described by schema `{schema}`", path.display())]
    UnknownHeaderColumn {
        path: PathBuf,
        column: usize,
        name: String,
        schema: String,
    },

    /// The same canonical column appears twice in a header.
    #[error("{}: line 1, column {column}: duplicate column `{name}`", path.display())]
    DuplicateColumn {
        path: PathBuf,
        column: usize,
        name: String,
    },

    /// A schema file is not valid TOML or violates a rule.
    #[error("schema {origin}: {message}")]
    Schema { origin: String, message: String },

    /// A data file the loader expects was not found.
    #[error("data file not found: {}", path.display())]
    FileNotFound { path: PathBuf },

    /// A column name passed to a table operation does not exist.
    #[error("no column named `{0}`")]
    UnknownColumn(String),

    /// Tables that should share one layout do not.
    #[error("incompatible tables: {0}")]
    Incompatible(String),

    /// A class (or label) has fewer rows than an episode or split asks for.
    #[error("class `{class}` has {available} rows, {wanted} wanted")]
    NotEnoughRows {
        class: String,
        wanted: usize,
        available: usize,
    },

    /// An argument is out of range (row index, fraction, shape…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl FlowsError {
    /// The line an input error names, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            FlowsError::Gzip { line, .. }
            | FlowsError::ReadFailed { line, .. }
            | FlowsError::RecordTooLong { line, .. }
            | FlowsError::TooLarge { line, .. }
            | FlowsError::Csv { line, .. }
            | FlowsError::FieldCount { line, .. }
            | FlowsError::NotANumber { line, .. }
            | FlowsError::NonFinite { line, .. }
            | FlowsError::UnreadableLabel { line, .. }
            | FlowsError::InvalidUtf8 { line, .. } => Some(*line),
            FlowsError::EmptyFile { .. }
            | FlowsError::MissingColumn { .. }
            | FlowsError::UnknownHeaderColumn { .. }
            | FlowsError::DuplicateColumn { .. } => Some(1),
            _ => None,
        }
    }

    /// Whether a stream cannot go on after this error (I/O and decoding failures); the others name one
    /// malformed record.
    pub fn ends_stream(&self) -> bool {
        matches!(
            self,
            FlowsError::Io { .. } | FlowsError::Gzip { .. } | FlowsError::ReadFailed { .. }
        )
    }
}

/// Opens `path` for reading; a missing file is [`FlowsError::FileNotFound`], any other failure an I/O error naming it.
pub(crate) fn open_file(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            FlowsError::FileNotFound {
                path: path.to_owned(),
            }
        } else {
            FlowsError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}
