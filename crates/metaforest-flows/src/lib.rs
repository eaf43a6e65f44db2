//! metaforest-flows: the flow data layer of metaforest.
//!
//! - [`FlowTable`]: a columnar table of flows (features `f64`, column-major; categorical columns as
//!   dictionary codes; binary label; attack class; domain).
//! - [`read_csv`] + [`Schema`]: one streaming, schema-driven CSV reader (gzip detected by magic bytes);
//!   built-in schemas live in `data/schemas/` and are embedded.
//! - [`RowReader`]: flows one at a time, mapped onto a model's feature space, from a schema CSV, a
//!   CICFlowMeter CSV or a Zeek `conn.log`; [`RowFormat::from_name`] picks the reader.
//! - [`datasets`]: loaders for the public data sets in `../shared/data` (NF-v2, NSL-KDD, UNSW-NB15).
//! - [`domains`]: domains (named row subsets) and tasks; [`episode`]: seeded stratified K-shot episodes
//!   and splits; [`synthetic`]: a synthetic multi-network generator in the NF-v2 feature space.

pub mod cicflowmeter;
pub mod datasets;
pub mod domains;
pub mod episode;
mod error;
mod gzip;
mod header;
mod lines;
mod number;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "parquet")]
mod parquet_rows;
mod reader;
pub mod rng;
mod row_format;
mod row_reader;
mod schema;
mod sniff;
pub mod synthetic;
mod table;
pub mod training_set;
pub mod zeek;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use domains::Domain;
pub use episode::{Episode, EpisodeSampler, QuerySize, Split, Stratify};
pub use error::{FlowsError, Result};
pub use lines::DEFAULT_MAX_RECORD_BYTES;
pub use reader::{
    read_csv, read_csv_from, read_header, NonFinitePolicy, ReadOptions, DEFAULT_BYTE_CAP,
    DEFAULT_ROW_CAP, UNLABELLED_CLASS,
};
pub use row_format::RowFormat;
pub use row_reader::{MappedRow, RowReader};
pub use schema::{ColumnRole, DefaultKind, Encoders, Schema, BUILTIN_SCHEMAS};
pub use sniff::Sniffed;
pub use synthetic::SyntheticConfig;
pub use table::{
    ColumnKind, ColumnSpec, Dictionary, DuplicateReport, FlowTable, ATTACK, BENIGN, UNKNOWN_CODE,
};

/// Environment variable naming the data folder.
pub const DATA_ENV: &str = "METAFOREST_DATA";
/// Environment variable that turns "skipped: no data" into a failure in tests.
pub const REQUIRE_DATA_ENV: &str = "METAFOREST_REQUIRE_DATA";
/// Default data folder, relative to the working directory (the workspace root in development).
pub const DEFAULT_DATA_DIR: &str = "../shared/data";

/// The data folder: `METAFOREST_DATA` if set and non-empty, else `../shared/data` (relative to the
/// current directory). A `--data DIR` flag, where a program has one, takes precedence over both.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Like [`data_dir`], but the default is resolved against `base` (tests pass the workspace root,
/// found from `env!("CARGO_MANIFEST_DIR")`, so they work from any current directory).
pub fn data_dir_relative_to(base: &Path) -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => base.join(DEFAULT_DATA_DIR),
    }
}

/// Whether `METAFOREST_REQUIRE_DATA=1` (missing real data must fail instead of skipping).
pub fn require_data() -> bool {
    std::env::var(REQUIRE_DATA_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// For a test whose real data is missing at `dir`: fails under `METAFOREST_REQUIRE_DATA=1`; otherwise
/// writes `1 real-data test skipped (no data at …): <test>` to standard error past the test harness's
/// output capture, so a run without data says so. `instead` adds what the test does in its place.
pub fn skip_real_data(dir: &Path, instead: &str) {
    assert!(
        !require_data(),
        "{REQUIRE_DATA_ENV}=1 but there is no data at {}",
        dir.display()
    );
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let instead = if instead.is_empty() {
        String::new()
    } else {
        format!(" ({instead})")
    };
    // Straight to the handle: the harness captures `eprintln!`, not writes to stderr itself.
    let _ = writeln!(
        std::io::stderr().lock(),
        "1 real-data test skipped (no data at {}): {test}{instead}",
        dir.display()
    );
}
