//! Formats without `--format`: sniffing a file's first line, a user's schema composed with the
//! CICFlowMeter → NF-v2 mapping, and a label column in another data set's convention reported as such.

use std::io::Write;
use std::path::{Path, PathBuf};

use metaforest_flows::zeek::nf_v2_space;
use metaforest_flows::{read_csv, Encoders, FlowsError, ReadOptions, RowFormat, Schema};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn kind(f: &RowFormat) -> &'static str {
    match f {
        RowFormat::Zeek => "zeek",
        RowFormat::CicFlowMeter => "cicflowmeter",
        RowFormat::Schema(_) => "schema",
        #[cfg(feature = "parquet")]
        RowFormat::Parquet(_) => "parquet",
    }
}

#[test]
fn files_are_sniffed_from_their_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let zeek = write(
        dir.path(),
        "conn.log",
        "#separator \\x09\n#fields\tts\tuid\tid.orig_p\tid.resp_p\tproto\n1.0\tCa\t1234\t80\ttcp\n",
    );
    let json = write(
        dir.path(),
        "conn.json",
        "{\"ts\":1.0,\"uid\":\"Ca\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1234}\n",
    );
    let cic = write(
        dir.path(),
        "flows.csv",
        "Dst Port,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,Label\n80,1000,2,3,BENIGN\n",
    );
    let nf = write(
        dir.path(),
        "nf.csv",
        "IN_BYTES,OUT_BYTES,Label,Attack\n1,2,0,Benign\n",
    );
    let sniffed = |p: &Path| RowFormat::sniff_path(p).unwrap().map(|s| kind(&s.format));
    assert_eq!(sniffed(&zeek), Some("zeek"));
    assert_eq!(sniffed(&json), Some("zeek"));
    assert_eq!(sniffed(&cic), Some("cicflowmeter"));
    assert_eq!(sniffed(&nf), None);
    // A sniffed format reads the file it was sniffed from.
    let format = RowFormat::sniff_path(&zeek).unwrap().unwrap().format;
    let mut rows = format.open(&zeek, &nf_v2_space()).unwrap();
    let mut row = vec![0.0; nf_v2_space().len()];
    assert!(rows.next_row(&mut row).unwrap().is_ok());
    assert!(matches!(
        RowFormat::sniff_path(&dir.path().join("absent.csv")),
        Err(FlowsError::FileNotFound { .. })
    ));
}

#[test]
fn a_schema_composes_with_the_nf_v2_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::from_toml_str(
        "name = 'site'\ndefault = 'numeric'\nbenign_labels = ['ok']\n[columns]\nverdict = 'label'\n",
        "test",
    )
    .unwrap();
    let csv = write(
        dir.path(),
        "site.csv",
        "Flow Duration,Tot Fwd Pkts,TotLen Fwd Pkts,verdict\n2000,4,400,ok\n",
    );
    let space = nf_v2_space();
    let mut rows = RowFormat::Schema(schema).open(&csv, &space).unwrap();
    let mapped: Vec<String> = rows.mapping().into_iter().map(|(t, _)| t).collect();
    for target in ["FLOW_DURATION_MILLISECONDS", "IN_PKTS", "IN_BYTES"] {
        assert!(mapped.iter().any(|m| m == target), "{target} in {mapped:?}");
    }
    let mut row = vec![0.0; space.len()];
    let meta = rows.next_row(&mut row).unwrap().unwrap();
    assert_eq!(meta.label, Some(0));
    let at = |name: &str| space.iter().position(|c| c.name == name).unwrap();
    assert_eq!(row[at("FLOW_DURATION_MILLISECONDS")], 2.0);
    assert_eq!(row[at("IN_PKTS")], 4.0);
}

#[test]
fn a_label_in_another_convention_is_an_error_not_an_attack() {
    let dir = tempfile::tempdir().unwrap();
    let nf = Schema::builtin("nf-v2").unwrap();
    let csv = write(
        dir.path(),
        "other.csv",
        "IN_BYTES,Label,Attack\n10,0,Benign\n20,1,scan\n30,BENIGN,Benign\n",
    );
    let mut rows = RowFormat::Schema(nf.clone())
        .open(&csv, &nf_v2_space())
        .unwrap();
    let mut row = vec![0.0; nf_v2_space().len()];
    assert_eq!(rows.next_row(&mut row).unwrap().unwrap().label, Some(0));
    assert_eq!(rows.next_row(&mut row).unwrap().unwrap().label, Some(1));
    let err = rows.next_row(&mut row).unwrap().unwrap_err();
    assert!(
        matches!(&err, FlowsError::UnreadableLabel { line: 4, column: 2, value, .. } if value == "BENIGN"),
        "{err}"
    );
    assert!(err.to_string().contains("schema `nf-v2`"), "{err}");
    let whole = read_csv(&csv, &nf, &mut Encoders::new(), &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(whole, FlowsError::UnreadableLabel { line: 4, .. }),
        "{whole}"
    );
}
