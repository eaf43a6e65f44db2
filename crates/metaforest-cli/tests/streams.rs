//! `detect` on damaged streams, through the built binary: a 200,000-line stream mixing valid rows,
//! CRLF, blank lines, a BOM, malformed rows and a stray quote; a cut gzip stream; a run where every
//! row is malformed. The streams are generated here, from the synthetic networks.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::OnceLock;

use metaforest_flows::datasets::NF_V2_FEATURES;
use metaforest_flows::synthetic::generate;
use metaforest_flows::{FlowTable, SyntheticConfig};

mod common;
use common::{bin, run as ok};

struct Fixture {
    _dir: tempfile::TempDir,
    detector: PathBuf,
    table: FlowTable,
}

fn csv_line(t: &FlowTable, r: usize) -> String {
    let x = t.features();
    let mut s: Vec<String> = (0..t.n_features())
        .map(|j| format!("{}", x[[r, j]]))
        .collect();
    s.push(t.labels()[r].to_string());
    s.push(t.class_names()[t.class_codes()[r] as usize].clone());
    s.join(",")
}

fn header() -> String {
    let mut h: Vec<&str> = NF_V2_FEATURES.to_vec();
    h.extend(["Label", "Attack"]);
    h.join(",")
}

/// A small detector adapted to the fourth synthetic network, trained once for all tests.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.mf");
        let detector = dir.path().join("detector.mfd");
        ok(bin()
            .args(["train", "--synthetic", "--domains", "net-0,net-1,net-2"])
            .args(["--episodes", "20", "--trees", "8", "--max-rows", "2000"])
            .args([
                "--max-epochs",
                "3",
                "--local-trees",
                "10",
                "--no-progress",
                "-o",
            ])
            .arg(&model));
        let all = generate(&SyntheticConfig {
            n_networks: 4,
            rows_per_network: 6_000,
            ..SyntheticConfig::default()
        })
        .unwrap();
        let rows: Vec<usize> = (0..all.n_rows())
            .filter(|&r| all.domain_codes()[r] == 3)
            .collect();
        let table = all.select_rows(&rows);
        let labels = table.labels();
        let support: Vec<usize> = (0..table.n_rows())
            .filter(|&r| labels[r] == 0)
            .take(20)
            .chain((0..table.n_rows()).filter(|&r| labels[r] == 1).take(20))
            .collect();
        let mut s = header() + "\n";
        for &r in &support {
            s += &(csv_line(&table, r) + "\n");
        }
        let support_path = dir.path().join("support.csv");
        std::fs::write(&support_path, s).unwrap();
        ok(bin()
            .arg("adapt")
            .arg(&model)
            .arg("--support")
            .arg(&support_path)
            .arg("-o")
            .arg(&detector));
        Fixture {
            _dir: dir,
            detector,
            table,
        }
    })
}

fn detect(input: Vec<u8>, extra: &[&str]) -> Output {
    let mut child = bin()
        .arg("detect")
        .arg(&fixture().detector)
        .arg("-")
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `(line, label)` of every output row.
fn scored(out: &Output) -> Vec<(u64, String)> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("line,score,verdict,label"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[3].to_owned())
        })
        .collect()
}

/// The number before `word` in the summary line.
fn count_before(stderr: &str, word: &str) -> u64 {
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("detect: "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let words: Vec<&str> = summary.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_end_matches(',') == word)
        .unwrap_or_else(|| panic!("no `{word}` in {summary}"));
    words[i - 1].parse().unwrap()
}

#[test]
fn a_200000_line_mixed_stream_scores_every_valid_row_once_in_order() {
    let f = fixture();
    let n = f.table.n_rows();
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(header().as_bytes());
    bytes.extend_from_slice(b"\r\n");
    let mut line = 1u64;
    let mut expected: Vec<(u64, String)> = Vec::new();
    let mut malformed = 0u64;
    let mut i = 0usize;
    while line < 200_000 {
        line += 1;
        let r = i % n;
        i += 1;
        let ending: &[u8] = if i % 5 == 0 { b"\r\n" } else { b"\n" };
        match i % 1000 {
            // Blank lines (just the line ending, LF or CRLF): not rows at all.
            15..=18 => {}
            // Malformed: too few fields, not a number, not UTF-8.
            100 => {
                bytes.extend_from_slice(b"1,2,3");
                malformed += 1;
            }
            200 => {
                bytes.extend_from_slice(csv_line(&f.table, r).replacen(',', ",x", 1).as_bytes());
                malformed += 1;
            }
            300 => {
                bytes.extend_from_slice(b"\xff\xfe,");
                bytes
                    .extend_from_slice(csv_line(&f.table, r).split_once(',').unwrap().1.as_bytes());
                malformed += 1;
            }
            _ if line == 1001 => {
                // The one stray quote: this row is malformed, the rest of the stream is not swallowed.
                bytes.push(b'"');
                bytes.extend_from_slice(csv_line(&f.table, r).as_bytes());
                malformed += 1;
            }
            _ => {
                bytes.extend_from_slice(csv_line(&f.table, r).as_bytes());
                expected.push((line, f.table.labels()[r].to_string()));
            }
        }
        bytes.extend_from_slice(ending);
    }
    let out = detect(bytes, &["--batch", "512"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got = scored(&out);
    assert_eq!(got.len(), expected.len(), "{stderr}");
    if let Some(k) = (0..got.len()).find(|&k| got[k] != expected[k]) {
        panic!(
            "output row {k} is {:?}, the valid input row is {:?}",
            got[k], expected[k]
        );
    }
    assert!(stderr.contains("line 1001"), "{stderr}");
    assert_eq!(count_before(&stderr, "scored"), expected.len() as u64);
    assert_eq!(count_before(&stderr, "malformed"), malformed);
    assert_eq!(
        count_before(&stderr, "rows"),
        expected.len() as u64 + malformed
    );
    assert!(stderr.contains("up to line 200000"), "{stderr}");
}

#[test]
fn a_cut_gzip_stream_writes_every_decoded_row_then_fails_with_the_line_reached() {
    let f = fixture();
    let mut text = header() + "\n";
    for r in 0..f.table.n_rows() {
        text += &(csv_line(&f.table, r) + "\n");
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    let full = e.finish().unwrap();
    let out = detect(full[..full.len() / 2].to_vec(), &["--batch", "256"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let got = scored(&out);
    assert!(got.len() > 100, "{stderr}");
    let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(lines, (2..2 + got.len() as u64).collect::<Vec<_>>());
    let last = *lines.last().unwrap();
    assert!(
        stderr.contains(&format!("up to line {last}")),
        "summary names the line reached: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "line {}: the input cannot be read further",
            last + 1
        )),
        "{stderr}"
    );
    assert_eq!(count_before(&stderr, "scored"), got.len() as u64);
}

#[test]
fn a_run_where_every_row_is_malformed_fails() {
    let mut text = header() + "\n";
    for i in 0..50 {
        text += &format!("{i},oops\n");
    }
    let out = detect(text.clone().into_bytes(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("50 of 50 rows are malformed") && stderr.contains("--max-malformed"),
        "{stderr}"
    );
    // A count limit stops the run as soon as it is passed; a generous share lets it through.
    let out = detect(text.clone().into_bytes(), &["--max-malformed", "5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(count_before(&stderr, "malformed"), 6, "{stderr}");
    let out = detect(text.into_bytes(), &["--max-malformed", "100%"]);
    assert!(out.status.success());
    let e = detect(Vec::new(), &["--max-malformed", "12x"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("neither a row count"));
}

#[test]
fn an_over_long_line_is_reported_and_the_stream_goes_on() {
    let f = fixture();
    let mut text = header() + "\n" + &csv_line(&f.table, 0) + "\n";
    text += &"7,".repeat(4000);
    text += "\n";
    text += &(csv_line(&f.table, 1) + "\n");
    let out = detect(text.into_bytes(), &["--max-record-bytes", "4096"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<u64> = scored(&out).iter().map(|g| g.0).collect();
    assert_eq!(lines, [2, 4]);
    assert!(
        stderr.contains("line 3: record longer than 4096 bytes"),
        "{stderr}"
    );
}
