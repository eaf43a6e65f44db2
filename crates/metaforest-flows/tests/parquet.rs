//! Golden tests of the Parquet reader: a Parquet file written here reads into the same table as the
//! CSV export of the same rows, row group after row group.
#![cfg(feature = "parquet")]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use metaforest_flows::parquet::{read_parquet, ParquetRowReader};
use metaforest_flows::{
    read_csv, ColumnSpec, Encoders, FlowsError, ReadOptions, RowFormat, Schema,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

const SCHEMA: &str = r#"
name = "test"
default = "numeric"
missing = ["-"]
benign_labels = ["0"]
benign_classes = ["normal"]
drop = ["id"]
[columns]
id = "ignore"
proto = "categorical"
label = "label"
attack = "attack_class"
[aliases]
"Protocol" = "proto"
"#;

const CSV: &str = "id,bytes,Protocol,dur,label,attack\n\
                   1,10,tcp,0.5,0,normal\n\
                   2,20,udp,-,1,scan\n\
                   3,1e300,tcp,inf,1,flood\n\
                   4,7,icmp,2.25,0,normal\n\
                   5,3,udp,0.125,1,scan\n";

fn schema() -> Schema {
    Schema::from_toml_str(SCHEMA, "test").unwrap()
}

/// The rows of `CSV` as Arrow columns: ints, strings, floats with a null (the CSV's `-`), an
/// integer label, and a header name that only an alias maps.
fn batch() -> RecordBatch {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5]))),
        (
            "bytes",
            Arc::new(Float64Array::from(vec![10.0, 20.0, 1e300, 7.0, 3.0])),
        ),
        (
            "Protocol",
            Arc::new(StringArray::from(vec!["tcp", "udp", "tcp", "icmp", "udp"])),
        ),
        (
            "dur",
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                None,
                Some(f64::INFINITY),
                Some(2.25),
                Some(0.125),
            ])),
        ),
        ("label", Arc::new(Int64Array::from(vec![0, 1, 1, 0, 1]))),
        (
            "attack",
            Arc::new(StringArray::from(vec![
                "normal", "scan", "flood", "normal", "scan",
            ])),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

/// Writes `batch` with at most `rows_per_group` rows in each row group.
fn write_parquet(path: &Path, batch: &RecordBatch, rows_per_group: usize) {
    let file = std::fs::File::create(path).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_size(rows_per_group)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn options(domain: &str) -> ReadOptions {
    ReadOptions {
        domain: Some(domain.into()),
        ..ReadOptions::default()
    }
}

#[test]
fn parquet_reads_like_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("flows.csv");
    std::fs::write(&csv_path, CSV).unwrap();
    let expected = read_csv(&csv_path, &schema(), &mut Encoders::new(), &options("d")).unwrap();
    // One row group, then row groups of 2 rows: the reader streams them into one table.
    for rows_per_group in [1024, 2] {
        let pq_path = dir.path().join(format!("flows-{rows_per_group}.parquet"));
        write_parquet(&pq_path, &batch(), rows_per_group);
        let got = read_parquet(&pq_path, &schema(), &mut Encoders::new(), &options("d")).unwrap();
        // Debug output compares NaN cells too (NaN != NaN under PartialEq).
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    }
    assert_eq!(expected.feature_names(), vec!["bytes", "proto", "dur"]);
}

#[test]
fn frozen_encoders_and_row_limit_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.parquet");
    write_parquet(&path, &batch(), 2);
    let mut encoders = Encoders::new();
    read_parquet(&path, &schema(), &mut encoders, &options("d")).unwrap();
    let mut frozen = encoders.clone().frozen();
    let options = ReadOptions {
        max_rows: Some(3),
        ..options("d")
    };
    let t = read_parquet(&path, &schema(), &mut frozen, &options).unwrap();
    assert_eq!(t.n_rows(), 3);
    assert_eq!(t.labels(), &[0, 1, 1]);
    // The default domain name drops `.parquet`.
    let t = read_parquet(
        &path,
        &schema(),
        &mut Encoders::new(),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(t.domain_names(), &["flows"]);
}

#[test]
fn missing_and_unknown_columns_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.parquet");
    let b = batch();
    let without_label = b.project(&[0, 1, 2, 3, 5]).unwrap();
    write_parquet(&path, &without_label, 1024);
    // As in CSV: a missing label column is an error, unless allowed; then the attack class gives
    // every row its label.
    let err = read_parquet(&path, &schema(), &mut Encoders::new(), &options("d")).unwrap_err();
    assert!(matches!(err, FlowsError::MissingColumn { .. }), "{err}");
    let lenient = ReadOptions {
        allow_unlabelled: true,
        ..options("d")
    };
    let t = read_parquet(&path, &schema(), &mut Encoders::new(), &lenient).unwrap();
    assert_eq!(t.labels(), &[0, 1, 1, 0, 1]);
    let strict = Schema::from_toml_str(
        &SCHEMA.replace("default = \"numeric\"", "default = \"error\""),
        "t",
    )
    .unwrap();
    let extra = RecordBatch::try_from_iter([
        ("bytes", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
        (
            "mystery",
            Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&path, &extra, 1024);
    let err = read_parquet(&path, &strict, &mut Encoders::new(), &options("d")).unwrap_err();
    assert!(
        matches!(err, FlowsError::UnknownHeaderColumn { .. }),
        "{err}"
    );
    let err = read_parquet(&path, &schema(), &mut Encoders::new(), &options("d")).unwrap_err();
    assert!(matches!(err, FlowsError::MissingColumn { .. }), "{err}");
}

/// Every row of a row stream: the mapped values (as text, so NaN compares), line, label and class.
fn stream(format: &RowFormat, path: &Path, target: &[ColumnSpec]) -> Vec<String> {
    let mut rows = format.open(path, target).unwrap();
    let mut out = vec![0.0; target.len()];
    let mut seen = Vec::new();
    while let Some(row) = rows.next_row(&mut out) {
        seen.push(match row {
            Ok(r) => format!("{out:?} {r:?}"),
            Err(e) => format!("error: {e}"),
        });
    }
    seen
}

#[test]
fn parquet_streams_rows_like_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("flows.csv");
    std::fs::write(&csv_path, CSV).unwrap();
    let table = read_csv(&csv_path, &schema(), &mut Encoders::new(), &options("d")).unwrap();
    // The target space in another order, with a column neither file has.
    let mut target: Vec<ColumnSpec> = table.columns().iter().rev().cloned().collect();
    target.push(ColumnSpec::numeric("absent"));
    let expected = stream(&RowFormat::Schema(schema()), &csv_path, &target);
    assert_eq!(expected.len(), 5);
    assert!(
        expected[1].starts_with(
            "[NaN, 1.0, 20.0, NaN] MappedRow { line: 3, label: Some(1), class: Some(\"scan\") }"
        ),
        "{}",
        expected[1]
    );
    for rows_per_group in [1024, 2] {
        let pq_path = dir.path().join(format!("rows-{rows_per_group}.parquet"));
        write_parquet(&pq_path, &batch(), rows_per_group);
        let format = RowFormat::Parquet(schema());
        assert_eq!(stream(&format, &pq_path, &target), expected);
        let mapping = format.open(&pq_path, &target).unwrap().mapping();
        assert_eq!(mapping.len(), 3);
        assert!(
            mapping.contains(&("proto".into(), "proto".into())),
            "{mapping:?}"
        );
    }
}

#[test]
fn a_malformed_parquet_value_fails_its_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let batch = RecordBatch::try_from_iter(vec![
        ("bytes", text(vec!["1", "2", "abc", "4"])),
        ("label", text(vec!["0", "1", "1", "0"])),
    ])
    .unwrap();
    let path = dir.path().join("bad.parquet");
    write_parquet(&path, &batch, 2);
    let target = [ColumnSpec::numeric("bytes")];
    let rows = stream(&RowFormat::Parquet(schema()), &path, &target);
    assert_eq!(rows.len(), 4);
    assert!(
        rows[2].contains("line 4") && rows[2].contains("bytes"),
        "{}",
        rows[2]
    );
    assert!(
        rows[3].starts_with("[4.0] MappedRow { line: 5"),
        "{}",
        rows[3]
    );
}

#[test]
fn parquet_by_name_reads_nf_v2_columns_from_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "L4_DST_PORT",
            Arc::new(Int64Array::from(vec![80, 53])) as ArrayRef,
        ),
        ("Label", Arc::new(Int64Array::from(vec![1, 0])) as ArrayRef),
    ])
    .unwrap();
    let path = dir.path().join("nf.parquet");
    write_parquet(&path, &batch, 1024);
    let format = RowFormat::from_name("parquet").unwrap();
    let target = metaforest_flows::zeek::nf_v2_space();
    let rows = stream(&format, &path, &target);
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("80.0") && rows[0].contains("label: Some(1)"),
        "{}",
        rows[0]
    );
    let input: Box<dyn std::io::BufRead + Send> = Box::new(&b""[..]);
    let err = format.reader(input, "<stdin>", &target).err().unwrap();
    assert!(err.to_string().contains("not from a stream"), "{err}");
}

/// The Parquet decoder panics on some corrupt footers; every such file is an error naming it, never a panic.
#[test]
fn a_corrupt_footer_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_parquet(&good, &batch(), 2);
    let bytes = std::fs::read(&good).unwrap();
    let target = vec![ColumnSpec::numeric("bytes"), ColumnSpec::numeric("dur")];
    let bad = dir.path().join("bad.parquet");
    // Each byte of the footer (the last 8 bytes are its length and the magic) set to 0xff in turn.
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let footer = bytes.len() - 8 - footer_len as usize..bytes.len() - 8;
    let mut decoder_failures = 0;
    for at in footer {
        let mut v = bytes.clone();
        v[at] = 0xff;
        std::fs::write(&bad, &v).unwrap();
        let opened = std::panic::catch_unwind(|| {
            let mut rows = ParquetRowReader::open(&bad, &schema(), &target)?;
            let mut out = vec![0.0; target.len()];
            while let Some(row) = rows.next_row(&mut out) {
                row?;
            }
            Ok::<_, FlowsError>(())
        });
        let result =
            opened.unwrap_or_else(|_| panic!("footer byte {at} set to 0xff: a panic escaped"));
        if let Err(e) = result {
            let text = e.to_string();
            assert!(text.contains("bad.parquet"), "{text}");
            decoder_failures += usize::from(text.contains("the decoder failed"));
        }
    }
    // The decoder does panic on some of them (the guard is what turns those into errors).
    assert!(decoder_failures > 0);
}

#[test]
fn the_row_cap_applies_to_parquet_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("five.parquet");
    write_parquet(&path, &batch(), 2);
    let capped = ReadOptions {
        row_cap: 4,
        ..options("five")
    };
    let err = read_parquet(&path, &schema(), &mut Encoders::new(), &capped).unwrap_err();
    assert!(
        matches!(
            err,
            FlowsError::TooLarge {
                line: 6,
                limit: 4,
                ..
            }
        ),
        "{err}"
    );
    let fits = ReadOptions {
        row_cap: 5,
        ..options("five")
    };
    assert_eq!(
        read_parquet(&path, &schema(), &mut Encoders::new(), &fits)
            .unwrap()
            .n_rows(),
        5
    );
}
