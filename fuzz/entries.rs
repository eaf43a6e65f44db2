//! The fuzz entry points, shared by the cargo-fuzz targets (`fuzz_targets/`) and the stable-Rust smoke
//! run in `cargo test` (`tests/fuzz_smoke.rs` at the workspace root). Each one feeds arbitrary bytes to
//! one reader or loader; any result is fine, a panic, hang or abort is a bug.

use std::io::BufRead;
use std::path::Path;

use metaforest::flows::zeek::nf_v2_space;
use metaforest::flows::{read_csv_from, Encoders, ReadOptions, RowFormat, Schema};
use metaforest::forest::Forest;
use metaforest::meta::{Detector, MetaModel, PlainForest};

/// Caps that keep one input cheap: the point is the parser, not the allocator.
fn small_table() -> ReadOptions {
    ReadOptions {
        row_cap: 10_000,
        byte_cap: 1 << 20,
        max_record_bytes: 64 << 10,
        allow_unlabelled: true,
        ..ReadOptions::default()
    }
}

/// Reads every row of a stream in the NF-v2 space (errors are rows too).
fn stream(format: &RowFormat, data: &[u8]) {
    let space = nf_v2_space();
    let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut rows) = format.reader_with_max_record_bytes(input, "fuzz", &space, 64 << 10) else {
        return;
    };
    let mut out = vec![0.0; space.len()];
    while let Some(row) = rows.next_row(&mut out) {
        let _ = row;
    }
    let _ = rows.mapping();
}

/// The schema CSV readers: the whole-table reader and the streaming one (NF-v2 schema).
pub fn schema_csv(data: &[u8]) {
    let schema = Schema::builtin("nf-v2").expect("built-in schema");
    let _ = read_csv_from(
        data,
        Path::new("fuzz.csv"),
        &schema,
        &mut Encoders::new(),
        &small_table(),
    );
    stream(&RowFormat::Schema(schema), data);
}

/// The Zeek `conn.log` reader (TSV and JSON).
pub fn zeek(data: &[u8]) {
    stream(&RowFormat::Zeek, data);
}

/// The CICFlowMeter CSV reader.
pub fn cicflowmeter(data: &[u8]) {
    stream(&RowFormat::CicFlowMeter, data);
}

/// A schema TOML file, then a small CSV read with it.
pub fn schema_toml(data: &[u8]) {
    let Ok(schema) = Schema::from_toml_str(&String::from_utf8_lossy(data), "fuzz") else {
        return;
    };
    let csv = b"a,b,label\n1,2,0\n3,x,1\n";
    let _ = read_csv_from(
        &csv[..],
        Path::new("fuzz.csv"),
        &schema,
        &mut Encoders::new(),
        &small_table(),
    );
}

/// A forest file; a forest that loads must predict.
pub fn forest_from_bytes(data: &[u8]) {
    if let Ok(forest) = Forest::from_bytes(data, Path::new("fuzz.mff")) {
        let row = vec![0.5; forest.n_features()];
        let _ = forest.predict_proba_row(&row);
    }
}

fn with_file<T>(data: &[u8], load: impl FnOnce(&Path) -> T) -> T {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "metaforest-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).expect("temporary file");
    let out = load(&path);
    let _ = std::fs::remove_file(&path);
    out
}

/// A meta-model file (`.mf`).
pub fn meta_model(data: &[u8]) {
    let _ = with_file(data, |p| MetaModel::load(p));
}

/// A detector file (`.mfd`).
pub fn detector(data: &[u8]) {
    let _ = with_file(data, |p| Detector::load(p));
}

/// A plain forest file (`.mff`, `metaforest forest fit`); one that loads must predict.
pub fn plain_forest(data: &[u8]) {
    if let Ok(plain) = with_file(data, |p| PlainForest::load(p)) {
        let row = vec![0.5; plain.forest().n_features()];
        let _ = plain.forest().predict_proba_row(&row);
    }
}

/// A Parquet flow file: the streaming row reader and the whole-table reader (NF-v2 column names).
pub fn parquet(data: &[u8]) {
    use metaforest::flows::parquet::{read_parquet, ParquetRowReader};
    let schema = Schema::builtin("nf-v2").expect("built-in schema");
    let space = nf_v2_space();
    with_file(data, |p| {
        if let Ok(mut rows) = ParquetRowReader::open(p, &schema, &space) {
            let mut out = vec![0.0; space.len()];
            while let Some(row) = rows.next_row(&mut out) {
                let _ = row;
            }
        }
        let _ = read_parquet(p, &schema, &mut Encoders::new(), &small_table());
    });
}
