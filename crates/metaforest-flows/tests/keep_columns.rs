//! Input columns passed through unchanged (`detect --keep`): raw text per row, for CSV, Zeek TSV and Zeek JSON
//! lines; a column the input lacks is an error naming it and the input's columns.

use std::io::BufRead;

use metaforest_flows::zeek::{nf_v2_space, FLOW_KEY};
use metaforest_flows::{RowFormat, RowReader};

const ZEEK_TSV: &str = "#separator \\x09
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\thistory\torig_pkts\tresp_pkts
1331901000.000000\tCHhAvVGS1DHFjwGM9\t192.168.1.2\t49285\t10.0.0.1\t80\ttcp\t0.5\t100\t2000\tShADadFf\t5\t6
1331901001.250000\tC4J4Th3PJpwUYZZ6gc\t192.168.1.3\t5353\t224.0.0.251\t5353\tudp\t-\t-\t-\tD\t1\t0
";

const ZEEK_JSON: &str = r#"{"ts":1331901000.5,"uid":"CxyZ","id":{"orig_h":"10.0.0.2","orig_p":443,"resp_h":"10.0.0.9","resp_p":8443},"proto":"tcp","duration":1.5}
{"ts":1331901002.0,"uid":"CabC","id.orig_h":"10.0.0.3","id.orig_p":53,"id.resp_h":"10.0.0.1","id.resp_p":53,"proto":"udp"}
"#;

fn reader(format: &str, text: &'static str) -> Box<dyn RowReader + Send> {
    let input: Box<dyn BufRead + Send> = Box::new(text.as_bytes());
    RowFormat::from_name(format)
        .unwrap()
        .reader(input, "flows.log", &nf_v2_space())
        .unwrap()
}

/// The kept text of every row.
fn kept_rows(r: &mut dyn RowReader, names: &[&str]) -> Vec<Vec<String>> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    r.keep(&names).unwrap();
    let mut out = vec![0.0; nf_v2_space().len()];
    let mut rows = Vec::new();
    while let Some(row) = r.next_row(&mut out) {
        row.unwrap();
        rows.push(r.kept().to_vec());
    }
    rows
}

#[test]
fn zeek_tsv_passes_the_flow_key_through() {
    let mut r = reader("zeek", ZEEK_TSV);
    assert_eq!(r.default_keep(), FLOW_KEY);
    let rows = kept_rows(r.as_mut(), FLOW_KEY);
    assert_eq!(
        rows,
        [
            [
                "CHhAvVGS1DHFjwGM9",
                "1331901000.000000",
                "192.168.1.2",
                "49285",
                "10.0.0.1",
                "80",
                "tcp"
            ],
            [
                "C4J4Th3PJpwUYZZ6gc",
                "1331901001.250000",
                "192.168.1.3",
                "5353",
                "224.0.0.251",
                "5353",
                "udp"
            ],
        ]
    );
}

#[test]
fn zeek_json_lines_keep_flat_and_nested_keys() {
    let mut r = reader("zeek", ZEEK_JSON);
    assert!(r.input_columns().contains(&"id.orig_h".to_string()));
    let rows = kept_rows(
        r.as_mut(),
        &["uid", "id.orig_h", "id.resp_p", "ts", "duration"],
    );
    assert_eq!(
        rows,
        [
            ["CxyZ", "10.0.0.2", "8443", "1331901000.5", "1.5"],
            ["CabC", "10.0.0.3", "53", "1331901002.0", ""],
        ]
    );
}

#[test]
fn csv_keeps_columns_by_their_header_name() {
    let csv = "\u{feff}L4_SRC_PORT, IPV4_SRC_ADDR ,L4_DST_PORT,PROTOCOL,Label,Attack\n5,\"10.1.1.1\",80,6,1,scan\n7,10.1.1.2,53,17,0,Benign\n";
    let mut r = reader("nf-v2", csv);
    let rows = kept_rows(r.as_mut(), &["IPV4_SRC_ADDR", "Attack", "L4_SRC_PORT"]);
    assert_eq!(
        rows,
        [["10.1.1.1", "scan", "5"], ["10.1.1.2", "Benign", "7"]]
    );
}

#[test]
fn a_missing_kept_column_is_named_with_the_input_columns() {
    let mut r = reader("zeek", ZEEK_TSV);
    let e = r.keep(&["community_id".into()]).unwrap_err().to_string();
    assert!(
        e.contains("flows.log") && e.contains("`community_id`") && e.contains("uid, id.orig_h"),
        "{e}"
    );
}

#[test]
fn nothing_is_kept_unless_asked() {
    let mut r = reader("zeek", ZEEK_TSV);
    let mut out = vec![0.0; nf_v2_space().len()];
    r.next_row(&mut out).unwrap().unwrap();
    assert!(r.kept().is_empty());
}
