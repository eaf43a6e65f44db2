//! Golden-file tests of the Zeek and CICFlowMeter readers: small fixtures written here, mapped onto the
//! NF-v2 feature space (and onto their own fields), compared value by value with hand-computed rows.

use std::io::Cursor;

use metaforest_flows::cicflowmeter::{canonical_header, read_mapped_csv, CsvRowReader, Dialect};
use metaforest_flows::zeek::{
    history_flags, nf_v2_space, read_conn_log, ConnLogReader, ZeekFormat,
};
use metaforest_flows::{ColumnSpec, FlowsError};

const ZEEK_TSV: &str = "#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]   string   string
1525879831.0\tCx1\t192.168.1.5\t52100\t10.0.0.1\t80\ttcp\thttp\t1.5\t300\t4000\tSF\t-\t-\t0\tShADadFf\t6\t620\t5\t4260\t-   Benign   -
1525879832.0\tCx2\t192.168.1.5\t41000\t10.0.0.9\t23\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t40\t0\t0\t-   Malicious   PartOfAHorizontalPortScan
1525879833.0\tCx3\t192.168.1.5\t5353\t224.0.0.251\t5353\tudp\tdns\t0.25\t60\t0\tS0\t-\t-\t0\tD\t1\t88\t0\t0\t(empty)   Benign   -
#close\t2018-05-09-16-00-00
";

const ZEEK_JSON: &str = r#"{"ts":1525879831.0,"uid":"Cx1","id.orig_h":"192.168.1.5","id.orig_p":52100,"id.resp_h":"10.0.0.1","id.resp_p":80,"proto":"tcp","service":"http","duration":1.5,"orig_bytes":300,"resp_bytes":4000,"conn_state":"SF","history":"ShADadFf","orig_pkts":6,"orig_ip_bytes":620,"resp_pkts":5,"resp_ip_bytes":4260,"label":"Benign"}
{"ts":1525879832.0,"uid":"Cx2","id":{"orig_h":"192.168.1.5","orig_p":41000,"resp_h":"10.0.0.9","resp_p":23},"proto":"tcp","conn_state":"S0","history":"S","orig_pkts":1,"orig_ip_bytes":40,"resp_pkts":0,"resp_ip_bytes":0,"label":"Malicious","detailed-label":"PartOfAHorizontalPortScan"}
not json
{"ts":1525879833.0,"id.orig_p":5353,"id.resp_p":5353,"proto":"udp","duration":0.25,"orig_pkts":1,"orig_ip_bytes":88,"resp_pkts":0,"resp_ip_bytes":0,"history":"D","label":"Benign"}
"#;

fn nf(row: &[f64], name: &str) -> f64 {
    let j = metaforest_flows::datasets::NF_V2_FEATURES
        .iter()
        .position(|n| *n == name)
        .unwrap();
    row[j]
}

/// Expected NF-v2 values of the three Zeek flows:
/// (src port, dst port, proto, in bytes, out bytes, in pkts, out pkts, duration ms, tcp flags, client, server).
const ZEEK_GOLDEN: [[f64; 11]; 3] = [
    [52100., 80., 6., 620., 4260., 6., 5., 1500., 27., 27., 27.],
    [41000., 23., 6., 40., 0., 1., 0., f64::NAN, 2., 2., 0.],
    [5353., 5353., 17., 88., 0., 1., 0., 250., 8., 8., 0.],
];
const ZEEK_NAMES: [&str; 11] = [
    "L4_SRC_PORT",
    "L4_DST_PORT",
    "PROTOCOL",
    "IN_BYTES",
    "OUT_BYTES",
    "IN_PKTS",
    "OUT_PKTS",
    "FLOW_DURATION_MILLISECONDS",
    "TCP_FLAGS",
    "CLIENT_TCP_FLAGS",
    "SERVER_TCP_FLAGS",
];

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-9
}

fn check_zeek_row(row: &[f64], golden: &[f64; 11], line: u64) {
    for (name, &want) in ZEEK_NAMES.iter().zip(golden) {
        let got = nf(row, name);
        assert!(
            same(got, want),
            "line {line}: {name} = {got}, expected {want}"
        );
    }
    // Features Zeek cannot provide are missing, not zero.
    assert!(nf(row, "MIN_TTL").is_nan());
}

#[test]
fn zeek_history_flags() {
    // S SYN(2), h SYN|ACK(18), A ACK(16), D PSH(8), a, d, F FIN(1), f.
    assert_eq!(history_flags("ShADadFf", true, false), 2. + 16. + 8. + 1.);
    assert_eq!(history_flags("ShADadFf", false, true), 18. + 8. + 1.);
    assert_eq!(history_flags("ShADadFf", true, true), 27.);
    assert_eq!(history_flags("", true, true), 0.);
}

#[test]
fn zeek_tsv_golden() {
    let space = nf_v2_space();
    let mut r = ConnLogReader::new(Cursor::new(ZEEK_TSV), "conn.log", &space).unwrap();
    assert_eq!(r.format(), ZeekFormat::Tsv);
    let mut row = vec![0.0; space.len()];
    let mut seen = Vec::new();
    while let Some(m) = r.next_row(&mut row) {
        let m = m.unwrap();
        seen.push((m.line, m.label, m.class.clone(), row.clone()));
    }
    assert_eq!(seen.len(), 3);
    let lines: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(lines, vec![8, 9, 10]);
    for (s, golden) in seen.iter().zip(&ZEEK_GOLDEN) {
        check_zeek_row(&s.3, golden, s.0);
    }
    assert_eq!(seen[0].1, Some(0));
    assert_eq!(seen[1].1, Some(1));
    assert_eq!(seen[1].2.as_deref(), Some("PartOfAHorizontalPortScan"));

    // The same file through the whole-table reader, gzip-compressed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conn.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, ZEEK_TSV.as_bytes()).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let t = read_conn_log(&path, &space).unwrap();
    assert_eq!(t.n_rows(), 3);
    assert_eq!(t.labels(), &[0, 1, 0]);
    assert_eq!(t.features()[[0, 4]], 620.0); // IN_BYTES
}

#[test]
fn zeek_json_golden_and_bad_line() {
    let space = nf_v2_space();
    let mut r = ConnLogReader::new(Cursor::new(ZEEK_JSON), "conn.json", &space).unwrap();
    assert_eq!(r.format(), ZeekFormat::Json);
    let mut row = vec![0.0; space.len()];
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    while let Some(m) = r.next_row(&mut row) {
        match m {
            Ok(m) => rows.push((m.line, row.clone())),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(rows.len(), 3);
    assert_eq!(errors.len(), 1);
    let e = errors[0].to_string();
    assert!(e.contains("line 3") && e.contains("invalid JSON"), "{e}");
    // JSON omits unset fields: the second flow has no duration, like the TSV's `-`.
    for ((line, row), golden) in rows.iter().zip(&ZEEK_GOLDEN) {
        check_zeek_row(row, golden, *line);
    }
}

#[test]
fn zeek_native_space_and_errors() {
    // A model trained on Zeek's own fields: read directly, `proto` as its protocol number.
    let space = vec![
        ColumnSpec::numeric("duration"),
        ColumnSpec::numeric("orig_bytes"),
        ColumnSpec::numeric("proto"),
    ];
    let mut r = ConnLogReader::new(Cursor::new(ZEEK_TSV), "conn.log", &space).unwrap();
    let mut row = vec![0.0; 3];
    r.next_row(&mut row).unwrap().unwrap();
    assert_eq!(row, vec![1.5, 300.0, 6.0]);
    // A bad number names line and column; the next record still reads.
    let bad = ZEEK_TSV.replace("\t1.5\t300\t", "\t1.5\t3x0\t");
    let mut r = ConnLogReader::new(Cursor::new(bad), "conn.log", &space).unwrap();
    let e = r.next_row(&mut row).unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            FlowsError::NotANumber {
                line: 8,
                column: 10,
                ..
            }
        ),
        "{e}"
    );
    assert!(r.next_row(&mut row).unwrap().is_ok());
    // Not a Zeek log at all.
    let e = ConnLogReader::new(Cursor::new("a,b\n1,2\n"), "x.csv", &space)
        .err()
        .unwrap();
    assert!(e.to_string().contains("#fields"), "{e}");
}

/// CIC-IDS2017 spelling (leading spaces, long names), `Infinity` in Flow Bytes/s.
const CIC_2017: &str = "Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, Max Packet Length, Min Packet Length,Flow Bytes/s,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count,Init_Win_bytes_forward, Init_Win_bytes_backward, Label
80,2500000,4,3,200,3000,1460,0,Infinity,1,1,0,1,1,29200,65535,BENIGN
22,1000,1,0,0,0,0,0,0,0,1,0,0,0,1024,-1,SSH-Patator
";

/// CSE-CIC-IDS2018 / CICFlowMeter-V3 spelling of the same flows, with identifiers and another column order.
const CIC_2018: &str = "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,Pkt Len Max,Pkt Len Min,Flow Byts/s,FIN Flag Cnt,SYN Flag Cnt,RST Flag Cnt,PSH Flag Cnt,ACK Flag Cnt,Init Fwd Win Byts,Init Bwd Win Byts,Label
a,10.0.0.2,51000,10.0.0.1,80,6,01/01/2018,2500000,4,3,200,3000,1460,0,1,1,1,0,1,1,29200,65535,Benign
b,10.0.0.3,40000,10.0.0.1,22,6,01/01/2018,1000,1,0,0,0,0,0,0,0,1,0,0,0,1024,-1,SSH-Bruteforce
";

/// Python `cicflowmeter` spelling.
const CIC_PY: &str = "src_port,dst_port,protocol,flow_duration,tot_fwd_pkts,tot_bwd_pkts,totlen_fwd_pkts,totlen_bwd_pkts,pkt_len_max,pkt_len_min,fin_flag_cnt,syn_flag_cnt,rst_flag_cnt,psh_flag_cnt,ack_flag_cnt,init_fwd_win_byts,init_bwd_win_byts,Label
51000,80,6,2500000,4,3,200,3000,1460,0,1,1,0,1,1,29200,65535,benign
40000,22,6,1000,1,0,0,0,0,0,0,1,0,0,0,1024,-1,ssh
";

#[test]
fn cicflowmeter_header_aliases() {
    assert_eq!(canonical_header(" Total Fwd Packets"), "Tot Fwd Pkts");
    assert_eq!(canonical_header("tot_fwd_pkts"), "Tot Fwd Pkts");
    assert_eq!(
        canonical_header("Init_Win_bytes_forward"),
        "Init Fwd Win Byts"
    );
    assert_eq!(canonical_header("Destination Port"), "Dst Port");
    assert_eq!(canonical_header(" Something New "), "Something New");
}

#[test]
fn cicflowmeter_versions_map_to_the_same_nf_v2_rows() {
    let space = nf_v2_space();
    // Expected: (dst port, in bytes, out bytes, in pkts, out pkts, duration ms, longest, shortest, flags,
    // win in, win out), then the label.
    let golden: [([f64; 11], u8); 2] = [
        (
            [
                80., 200., 3000., 4., 3., 2500., 1460., 0., 27., 29200., 65535.,
            ],
            0,
        ),
        ([22., 0., 0., 1., 0., 1., 0., 0., 2., 1024., -1.], 1),
    ];
    let names = [
        "L4_DST_PORT",
        "IN_BYTES",
        "OUT_BYTES",
        "IN_PKTS",
        "OUT_PKTS",
        "FLOW_DURATION_MILLISECONDS",
        "LONGEST_FLOW_PKT",
        "SHORTEST_FLOW_PKT",
        "TCP_FLAGS",
        "TCP_WIN_MAX_IN",
        "TCP_WIN_MAX_OUT",
    ];
    for (text, version) in [(CIC_2017, "2017"), (CIC_2018, "2018"), (CIC_PY, "python")] {
        let mut r =
            CsvRowReader::new(Cursor::new(text), version, &Dialect::CicFlowMeter, &space).unwrap();
        let mut row = vec![0.0; space.len()];
        for (want, label) in &golden {
            let m = r.next_row(&mut row).unwrap().unwrap();
            assert_eq!(m.label, Some(*label), "{version} line {}", m.line);
            for (n, &w) in names.iter().zip(want) {
                assert!(
                    same(nf(&row, n), w),
                    "{version}: {n} = {}, expected {w}",
                    nf(&row, n)
                );
            }
        }
        assert!(r.next_row(&mut row).is_none());
        // Source port is absent in 2017 files: missing, not zero.
        let src = nf(&row, "L4_SRC_PORT");
        assert_eq!(src.is_nan(), version == "2017", "{version}");
    }
}

#[test]
fn cicflowmeter_malformed_rows_and_whole_file() {
    let space = nf_v2_space();
    let text = CIC_2018.replace(",4,3,200,", ",4,x,200,") + "c,1,2\n";
    let mut r = CsvRowReader::new(
        Cursor::new(text.clone()),
        "f.csv",
        &Dialect::CicFlowMeter,
        &space,
    )
    .unwrap();
    let mut row = vec![0.0; space.len()];
    let e = r.next_row(&mut row).unwrap().unwrap_err();
    assert!(
        matches!(&e, FlowsError::NotANumber { line: 2, column_name, .. } if column_name == "Tot Bwd Pkts"),
        "{e}"
    );
    assert!(r.next_row(&mut row).unwrap().is_ok());
    let e = r.next_row(&mut row).unwrap().unwrap_err();
    assert!(matches!(e, FlowsError::FieldCount { line: 4, .. }), "{e}");
    // The whole-file reader stops at the first bad row, naming it.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    std::fs::write(&p, &text).unwrap();
    let e = read_mapped_csv(&p, &Dialect::CicFlowMeter, &space).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let p = dir.path().join("good.csv");
    std::fs::write(&p, CIC_2018).unwrap();
    let t = read_mapped_csv(&p, &Dialect::CicFlowMeter, &space).unwrap();
    assert_eq!(t.labels(), &[0, 1]);
    assert_eq!(
        t.class_names()[t.class_codes()[1] as usize],
        "SSH-Bruteforce"
    );
}
