//! One regression test per stream failure of issue 17: each asserts the clear error, the exact physical
//! line numbers, and that no valid row is lost. The inputs are written by the tests themselves.

use std::io::{BufRead, Write};
use std::time::Instant;

use metaforest_flows::zeek::nf_v2_space;
use metaforest_flows::{
    read_csv_from, Encoders, FlowsError, ReadOptions, RowFormat, Schema, DEFAULT_MAX_RECORD_BYTES,
};

const NF_HEADER: &str = "L4_SRC_PORT,L4_DST_PORT,PROTOCOL,IN_BYTES,Label,Attack";

fn nf_row(i: usize) -> String {
    format!(
        "{},{},6,{},{},{}",
        1000 + i,
        80,
        i * 3,
        i % 2,
        ["Benign", "scan"][i % 2]
    )
}

/// Lines and errors of a stream read through the public trait object.
fn read_stream(
    format: &str,
    bytes: Vec<u8>,
    max_record: usize,
) -> (Vec<(u64, Vec<f64>)>, Vec<FlowsError>) {
    let space = nf_v2_space();
    let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(bytes));
    let format = RowFormat::from_name(format).unwrap();
    let mut rows = format
        .reader_with_max_record_bytes(input, "flows", &space, max_record)
        .unwrap();
    let mut out = vec![0.0; space.len()];
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    while let Some(r) = rows.next_row(&mut out) {
        match r {
            Ok(m) => ok.push((m.line, out.clone())),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn lines_of(rows: &[(u64, Vec<f64>)]) -> Vec<u64> {
    rows.iter().map(|r| r.0).collect()
}

#[test]
fn a_stray_quote_makes_one_row_malformed_not_the_rest() {
    let mut text = format!("{NF_HEADER}\n");
    for i in 0..2000 {
        if i == 999 {
            text += "\"1999,80,6,3,1,scan\n"; // line 1001: a quote opening a field
        } else {
            text += &(nf_row(i) + "\n");
        }
    }
    let (ok, errors) = read_stream("nf-v2", text.into_bytes(), DEFAULT_MAX_RECORD_BYTES);
    assert_eq!(ok.len(), 1999);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line(), Some(1001), "{}", errors[0]);
    assert!(errors[0].to_string().contains("line 1001"), "{}", errors[0]);
    let expected: Vec<u64> = (2..=2001).filter(|&l| l != 1001).collect();
    assert_eq!(lines_of(&ok), expected);
}

#[test]
fn crlf_blank_lines_and_a_bom_keep_physical_line_numbers() {
    // CRLF only: the first data row is line 2, not the header's line 1.
    let text = format!("{NF_HEADER}\r\n{}\r\n{}\r\n", nf_row(0), nf_row(1));
    let (ok, errors) = read_stream("nf-v2", text.into_bytes(), DEFAULT_MAX_RECORD_BYTES);
    assert!(errors.is_empty());
    assert_eq!(lines_of(&ok), [2, 3]);
    // Mixed: a BOM, CRLF and LF, blank lines (also CRLF ones) between rows.
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(NF_HEADER.as_bytes());
    bytes.extend_from_slice(b"\r\n\r\n\n");
    let mut expected = Vec::new();
    let mut line = 3;
    for i in 0..500 {
        line += 1;
        expected.push(line);
        bytes.extend_from_slice(nf_row(i).as_bytes());
        bytes.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        if i % 7 == 0 {
            bytes.extend_from_slice(b"\r\n\n");
            line += 2;
        }
    }
    let (ok, errors) = read_stream("nf-v2", bytes, DEFAULT_MAX_RECORD_BYTES);
    assert!(errors.is_empty(), "{}", errors[0]);
    assert_eq!(lines_of(&ok), expected);
    // The values are those of the plain file.
    let plain = format!("{NF_HEADER}\n{}\n", nf_row(0));
    let (first, _) = read_stream("nf-v2", plain.into_bytes(), DEFAULT_MAX_RECORD_BYTES);
    assert_eq!(first[0].1.len(), ok[0].1.len());
    for (a, b) in first[0].1.iter().zip(&ok[0].1) {
        assert!(a == b || (a.is_nan() && b.is_nan()));
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_cut_gzip_stream_ends_with_the_line_reached_after_every_whole_row() {
    let mut text = format!("{NF_HEADER}\n");
    for i in 0..20_000 {
        text += &(nf_row(i) + "\n");
    }
    let full = gzip(text.as_bytes());
    let cut = full[..full.len() / 2].to_vec();
    let space = nf_v2_space();
    let input =
        metaforest_flows::zeek::wrap_maybe_gzip(std::io::Cursor::new(cut), "cut.csv.gz".as_ref())
            .unwrap();
    let format = RowFormat::from_name("nf-v2").unwrap();
    let mut rows = format.reader(input, "cut.csv.gz", &space).unwrap();
    let mut out = vec![0.0; space.len()];
    let mut lines = Vec::new();
    let mut fatal = None;
    while let Some(r) = rows.next_row(&mut out) {
        match r {
            Ok(m) => lines.push(m.line),
            Err(e) => {
                assert!(fatal.is_none(), "nothing after the fatal error");
                fatal = Some(e);
            }
        }
    }
    let e = fatal.expect("a cut stream is an error");
    assert!(e.ends_stream(), "{e}");
    assert!(matches!(e, FlowsError::ReadFailed { .. }), "{e}");
    // Every row decoded before the cut was read, in order, and the error names the next line.
    assert!(lines.len() > 1000, "{}", lines.len());
    assert_eq!(lines, (2..2 + lines.len() as u64).collect::<Vec<_>>());
    assert_eq!(e.line(), Some(lines.last().unwrap() + 1), "{e}");
    assert!(e.to_string().contains("cut.csv.gz"), "{e}");
}

#[test]
fn a_non_utf8_zeek_uid_is_one_malformed_row() {
    let mut text =
        b"#separator \\x09\n#fields\tts\tuid\tid.orig_p\tid.resp_p\tproto\torig_bytes\n".to_vec();
    for i in 0..3000 {
        let uid: &[u8] = if i == 10 { b"C\xffuid" } else { b"Cuid" };
        text.extend_from_slice(format!("{i}.0\t").as_bytes());
        text.extend_from_slice(uid);
        text.extend_from_slice(format!("\t{}\t80\ttcp\t{}\n", 1000 + i, i).as_bytes());
    }
    let (ok, errors) = read_stream("zeek", text, DEFAULT_MAX_RECORD_BYTES);
    assert_eq!(ok.len(), 2999);
    assert_eq!(errors.len(), 1);
    match &errors[0] {
        FlowsError::InvalidUtf8 {
            line,
            column,
            column_name,
            ..
        } => assert_eq!((*line, *column, column_name.as_str()), (13, 2, "uid")),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        lines_of(&ok),
        (3..=3002).filter(|&l| l != 13).collect::<Vec<_>>()
    );
}

#[test]
fn an_over_long_line_is_one_malformed_row_and_the_stream_goes_on() {
    let mut text = format!("{NF_HEADER}\n{}\n", nf_row(0));
    text += &"9".repeat(5000);
    text += "\n";
    text += &(nf_row(1) + "\n");
    let (ok, errors) = read_stream("nf-v2", text.clone().into_bytes(), 1000);
    assert_eq!(lines_of(&ok), [2, 4]);
    assert!(
        matches!(
            errors[..],
            [FlowsError::RecordTooLong {
                line: 3,
                limit: 1000,
                ..
            }]
        ),
        "{errors:?}"
    );
    // Zeek likewise.
    let mut zeek = String::from("#fields\tid.orig_p\tid.resp_p\n1\t2\n");
    zeek += &"x".repeat(5000);
    zeek += "\n3\t4\n";
    let (ok, errors) = read_stream("zeek", zeek.into_bytes(), 1000);
    assert_eq!(lines_of(&ok), [2, 4]);
    assert!(matches!(
        errors[..],
        [FlowsError::RecordTooLong { line: 3, .. }]
    ));
}

#[test]
fn an_over_long_line_in_a_table_is_a_clear_error() {
    let schema = Schema::builtin("nf-v2").unwrap();
    let mut text = format!("{NF_HEADER}\n{}\n", nf_row(0));
    text += &"9".repeat(5000);
    let opts = ReadOptions {
        max_record_bytes: 1000,
        ..ReadOptions::default()
    };
    let e = read_csv_from(
        text.as_bytes(),
        "t.csv".as_ref(),
        &schema,
        &mut Encoders::new(),
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(e, FlowsError::RecordTooLong { line: 3, .. }),
        "{e}"
    );
}

#[test]
fn table_caps_stop_a_small_compressed_file_from_filling_the_memory() {
    let schema = Schema::builtin("nf-v2").unwrap();
    let mut text = format!("{NF_HEADER}\n");
    for i in 0..1000 {
        text += &(nf_row(i) + "\n");
    }
    let gz = gzip(text.as_bytes());
    let read = |opts: &ReadOptions| {
        read_csv_from(
            &gz[..],
            "big.csv.gz".as_ref(),
            &schema,
            &mut Encoders::new(),
            opts,
        )
    };
    let rows = ReadOptions {
        row_cap: 500,
        ..ReadOptions::default()
    };
    let e = read(&rows).unwrap_err();
    assert!(
        matches!(
            e,
            FlowsError::TooLarge {
                line: 502,
                limit: 500,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("big.csv.gz"), "{e}");
    let bytes = ReadOptions {
        byte_cap: 10_000,
        ..ReadOptions::default()
    };
    assert!(matches!(read(&bytes), Err(FlowsError::TooLarge { .. })));
    assert_eq!(read(&ReadOptions::default()).unwrap().n_rows(), 1000);
}

#[test]
fn header_deduplication_is_linear() {
    // 20,000 empty names, gzip-compressed to a few dozen bytes.
    let schema = Schema::from_toml_str(
        "name='l'\nbenign_labels=['0']\n[columns]\nlabel='label'\n",
        "l",
    )
    .unwrap();
    let mut text = ",".repeat(20_000);
    text += "label\n";
    let gz = gzip(text.as_bytes());
    let start = Instant::now();
    let t = read_csv_from(
        &gz[..],
        "h.csv.gz".as_ref(),
        &schema,
        &mut Encoders::new(),
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(start.elapsed().as_secs_f64() < 3.0, "{:?}", start.elapsed());
    let names = t.feature_names();
    assert_eq!(names.len(), 20_000);
    assert_eq!((names[0], names[1], names[19_999]), ("", ".1", ".19999"));
}
