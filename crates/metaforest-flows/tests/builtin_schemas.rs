//! The built-in schemas on small fixtures written by the tests themselves (never copies of real data).

use std::io::Write;

use metaforest_flows::{
    read_csv, read_header, ColumnKind, Encoders, FlowsError, ReadOptions, Schema, UNKNOWN_CODE,
};

fn write(dir: &tempfile::TempDir, name: &str, text: &str, gzip: bool) -> std::path::PathBuf {
    let p = dir.path().join(name);
    let bytes = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    } else {
        text.as_bytes().to_vec()
    };
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn cicflowmeter_2017_style_export() {
    let dir = tempfile::tempdir().unwrap();
    // CIC-IDS2017 style: leading spaces, identifiers, a repeated header, Infinity and NaN rates.
    let text =
        "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, \
Flow Duration, Flow Bytes/s, Fwd Header Length, Fwd Header Length, Label\n\
1-2-3,10.0.0.1,51000,10.0.0.2,80,6,3/7/2017 8:55,1200,Infinity,40,40,BENIGN\n\
1-2-4,10.0.0.3,51001,10.0.0.2,22,6,3/7/2017 8:56,10,NaN,20,20,SSH-Patator\n";
    let p = write(&dir, "Tuesday.pcap_ISCX.csv", text, false);
    let schema = Schema::builtin("cicflowmeter").unwrap();
    let t = read_csv(&p, &schema, &mut Encoders::new(), &ReadOptions::default()).unwrap();
    assert_eq!(
        t.feature_names(),
        vec![
            "Src Port",
            "Dst Port",
            "Protocol",
            "Flow Duration",
            "Flow Bytes/s",
            "Fwd Header Length",
            "Fwd Header Length.1"
        ]
    );
    assert_eq!(t.labels(), &[0, 1]);
    assert_eq!(t.class_names(), &["BENIGN", "SSH-Patator"]);
    let j = t.column_index("Flow Bytes/s").unwrap();
    assert!(t.features()[[0, j]].is_nan() && t.features()[[1, j]].is_nan());
    assert_eq!(t.features()[[1, t.column_index("Dst Port").unwrap()]], 22.0);
    assert_eq!(t.domain_names(), &["Tuesday.pcap_ISCX"]);
    // Ports stay, and can be dropped.
    let no_ports = t.drop_columns(&["Src Port", "Dst Port"]).unwrap();
    assert_eq!(no_ports.n_features(), 5);
    assert_eq!(read_header(&p, b',').unwrap()[4], "Destination Port");
}

#[test]
fn zeek_conn_csv_with_iot23_labels() {
    let dir = tempfile::tempdir().unwrap();
    let text = "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,service,duration,orig_bytes,resp_bytes,\
conn_state,local_orig,local_resp,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes,\
tunnel_parents,label,detailed-label\n\
1525879831.0,CUmrqr4svHuSXJy5z7,192.168.100.103,51524,65.127.233.163,23,tcp,-,2.999,0,0,S0,-,-,0,S,3,180,0,0,(empty),Malicious,PartOfAHorizontalPortScan\n\
1525879832.0,CH98aB3s1kJeq6SFOc,192.168.100.103,56305,192.168.100.1,53,udp,dns,0.0005,40,56,SF,-,-,0,Dd,1,68,1,84,(empty),Benign,-\n";
    let p = write(&dir, "conn.log.labeled.csv.gz", text, true);
    let schema = Schema::builtin("zeek-conn").unwrap();
    let t = read_csv(&p, &schema, &mut Encoders::new(), &ReadOptions::default()).unwrap();
    assert_eq!(t.n_rows(), 2);
    assert_eq!(t.labels(), &[1, 0]);
    assert_eq!(t.class_names(), &["PartOfAHorizontalPortScan", "-"]);
    assert!(t.column_index("uid").is_none() && t.column_index("ts").is_none());
    let svc = t.column_index("service").unwrap();
    assert!(t.columns()[svc].is_categorical());
    assert_eq!(t.features()[[1, svc]], 1.0); // "-" then "dns"
    assert_eq!(t.domain_names(), &["conn.log.labeled"]);
}

#[test]
fn stable_encoding_across_files_with_schema_from_path() {
    let dir = tempfile::tempdir().unwrap();
    let schema_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/schemas/nsl-kdd.toml"
    ))
    .unwrap();
    let sp = write(&dir, "nsl.toml", &schema_text, false);
    let schema = Schema::from_path(&sp).unwrap();
    let head = "duration,protocol_type,service,flag,src_bytes,attack,difficulty\n";
    let train = write(
        &dir,
        "train.csv",
        &format!("{head}0,tcp,http,SF,200,normal,21\n0,udp,domain_u,SF,40,normal,21\n0,tcp,private,S0,0,neptune,19\n"),
        true,
    );
    let test = write(
        &dir,
        "test.csv",
        &format!("{head}0,icmp,ecr_i,SF,1032,smurf,20\n0,tcp,http,SF,300,normal,21\n0,tcp,private,REJ,0,mscan,7\n"),
        true,
    );
    let mut enc = Encoders::new();
    let tr = read_csv(&train, &schema, &mut enc, &ReadOptions::default()).unwrap();
    let mut frozen = Encoders::from_table(&tr).frozen();
    let te = read_csv(&test, &schema, &mut frozen, &ReadOptions::default()).unwrap();
    let proto = tr.column_index("protocol_type").unwrap();
    let flag = tr.column_index("flag").unwrap();
    assert_eq!(te.features()[[0, proto]], UNKNOWN_CODE); // icmp unseen in train
    assert_eq!(te.features()[[1, proto]], tr.features()[[0, proto]]); // tcp
    assert_eq!(te.features()[[2, flag]], UNKNOWN_CODE); // REJ unseen
    assert_eq!(te.class_code("normal"), tr.class_code("normal"));
    assert_eq!(te.labels(), &[1, 0, 1]);
    let ColumnKind::Categorical(d) = &te.columns()[flag].kind else {
        panic!("flag is categorical")
    };
    assert_eq!(d.values(), &["SF", "S0"]);
    assert!(te.column_index("difficulty").is_none());
    // A bad schema file is an error naming it.
    let bad = write(
        &dir,
        "bad.toml",
        "name = 'x'\n[columns]\nattack = 'atack_class'\n",
        false,
    );
    let e = Schema::from_path(&bad).unwrap_err();
    assert!(matches!(e, FlowsError::Schema { .. }));
    assert!(e.to_string().contains("bad.toml"), "{e}");
}
