//! End to end through the built binary: train on three domains, adapt to the fourth from a small labelled
//! CSV, stream the rest of it through `detect` on standard input (with malformed rows injected), read the
//! rules and an explanation, and check that damaged model files give clear errors.
//! Real NF-v2 data when present (`METAFOREST_REQUIRE_DATA=1` makes it mandatory), synthetic otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use metaforest_flows::datasets::{has_nf_v2, load_nf_v2, NF_V2_FEATURES};
use metaforest_flows::synthetic::generate;
use metaforest_flows::{FlowTable, SyntheticConfig};

mod common;
use common::{bin, run};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The held-out domain's table and the flags that train on the other three.
fn setup(data: &Path) -> (FlowTable, Vec<String>) {
    if has_nf_v2(data) {
        let held = load_nf_v2(data, "NF-ToN-IoT-v2").unwrap();
        let args = ["--domains", "UNSW,CSE,BoT", "--data"]
            .iter()
            .map(|s| s.to_string())
            .chain([data.display().to_string()])
            .collect();
        return (held, args);
    }
    metaforest_flows::skip_real_data(data, "ran on the synthetic networks instead");
    // Same configuration as `train --synthetic` (4 networks × 6000 flows, seed 7).
    let all = generate(&SyntheticConfig {
        n_networks: 4,
        rows_per_network: 6_000,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let rows: Vec<usize> = (0..all.n_rows())
        .filter(|&r| all.domain_codes()[r] == 3)
        .collect();
    let args = ["--synthetic", "--domains", "net-0,net-1,net-2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    (all.select_rows(&rows), args)
}

fn csv_line(t: &FlowTable, r: usize) -> String {
    let x = t.features();
    let mut s: Vec<String> = (0..t.n_features())
        .map(|j| format!("{}", x[[r, j]]))
        .collect();
    let label = t.labels()[r];
    s.push(label.to_string());
    s.push(t.class_names()[t.class_codes()[r] as usize].clone());
    s.join(",")
}

fn header() -> String {
    let mut h: Vec<&str> = NF_V2_FEATURES.to_vec();
    h.extend(["Label", "Attack"]);
    h.join(",")
}

#[test]
fn train_adapt_detect_stream_rules_explain() {
    let data = metaforest_flows::data_dir_relative_to(&root());
    let (held, train_flags) = setup(&data);
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.mf");
    let detector = dir.path().join("detector.mfd");

    run(bin()
        .arg("train")
        .args(&train_flags)
        .args([
            "--episodes",
            "30",
            "--trees",
            "10",
            "--max-rows",
            "3000",
            "--max-epochs",
            "4",
        ])
        .args(["--local-trees", "20", "--no-progress", "-o"])
        .arg(&model));
    assert!(model.is_file());

    // Support: the first 20 benign and 20 attack flows of the held-out domain.
    let labels = held.labels();
    let benign: Vec<usize> = (0..held.n_rows())
        .filter(|&r| labels[r] == 0)
        .take(20)
        .collect();
    let attack: Vec<usize> = (0..held.n_rows())
        .filter(|&r| labels[r] == 1)
        .take(20)
        .collect();
    let support = dir.path().join("support.csv");
    let mut s = header() + "\n";
    for &r in benign.iter().chain(&attack) {
        s += &(csv_line(&held, r) + "\n");
    }
    std::fs::write(&support, s).unwrap();
    let out = run(bin()
        .arg("adapt")
        .arg(&model)
        .arg("--support")
        .arg(&support)
        .arg("-o")
        .arg(&detector));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("40 support flows"), "{text}");
    // No budget asked: the default threshold. (A 5 % budget on 20 benign flows sets the threshold above the
    // highest leave-one-out benign score, which is what the thread-count check below uses.)
    assert!(text.contains("threshold 0.5000 (default 0.5)"), "{text}");

    // The rest: 600 flows not in the support, with two malformed rows injected.
    let used: std::collections::HashSet<usize> = benign.iter().chain(&attack).copied().collect();
    let rest: Vec<usize> = (0..held.n_rows())
        .filter(|r| !used.contains(r))
        .take(600)
        .collect();
    let mut input = header() + "\n";
    for (i, &r) in rest.iter().enumerate() {
        if i == 100 {
            input += "1,2,not-a-number\n"; // too few fields (line 102)
        }
        if i == 300 {
            let mut bad = csv_line(&held, r);
            bad = bad.replacen(',', ",abc,", 1); // one field too many
            input += &(bad + "\n"); // line 303
            let mut bad2: Vec<String> = csv_line(&held, r).split(',').map(String::from).collect();
            bad2[4] = "12x".into();
            input += &(bad2.join(",") + "\n"); // not a number (line 304)
        }
        input += &(csv_line(&held, r) + "\n");
    }
    let mut child = bin()
        .arg("detect")
        .arg(&detector)
        .arg("-")
        .args(["--batch", "64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input_file = dir.path().join("rest.csv");
    std::fs::write(&input_file, &input).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "detect failed: {stderr}");
    // The same bytes whatever the batch: one row at a time, a few rows (narrow tiles), batches scored while the
    // next is read, and one batch for the whole input.
    for batch in ["1", "5", "256", "1000"] {
        let again = run(bin()
            .arg("detect")
            .arg(&detector)
            .arg(&input_file)
            .args(["--batch", batch]));
        assert!(again.stdout == out.stdout, "--batch {batch}");
    }
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "line,score,verdict,label");
    // Every well-formed input row gives exactly one output row, in order.
    assert_eq!(lines.len() - 1, rest.len(), "{stderr}");
    let line_numbers: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(line_numbers.windows(2).all(|w| w[0] < w[1]));
    assert!(!line_numbers.contains(&102) && !line_numbers.contains(&303));
    assert!(stderr.contains("line 102"), "{stderr}");
    assert!(stderr.contains("line 303"), "{stderr}");
    assert!(
        stderr.contains("line 304") && stderr.contains("12x"),
        "{stderr}"
    );
    assert!(stderr.contains("3 malformed"), "{stderr}");
    // Scores are probabilities and the detector beats chance on the held-out domain.
    let mut correct = 0;
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let score: f64 = f[1].parse().unwrap();
        assert!((0.0..=1.0).contains(&score));
        correct += usize::from((f[2] == "attack") == (f[3] == "1"));
    }
    assert!(
        correct * 10 > rest.len() * 6,
        "accuracy {correct}/{}",
        rest.len()
    );

    // Rules as JSON: ranked, measured on the 40 support flows.
    let out = run(bin().arg("rules").arg(&detector).arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["support_flows"], 40);
    let rules = v["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for r in rules {
        let p = r["precision"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&p));
        assert!(r["rule"].as_str().unwrap().starts_with("IF "));
    }

    // Explain a streamed row by its line number.
    let stream_file = dir.path().join("stream.csv");
    let mut s = header() + "\n";
    for &r in rest.iter().take(5) {
        s += &(csv_line(&held, r) + "\n");
    }
    std::fs::write(&stream_file, s).unwrap();
    let out = run(bin()
        .arg("explain")
        .arg(&detector)
        .arg("--input")
        .arg(&stream_file)
        .args(["--line", "3", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let weights: f64 = v["forests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["weight"].as_f64().unwrap())
        .sum();
    assert!((weights - 1.0).abs() < 1e-6);

    // `adapt --max-far` (leave-one-out scores: the most work) writes the same bytes run twice and at 1, 2 and
    // 8 worker threads.
    let far = dir.path().join("far.mfd");
    run(bin()
        .arg("adapt")
        .arg(&model)
        .arg("--support")
        .arg(&support)
        .args(["--max-far", "0.05", "-o"])
        .arg(&far));
    let reference = std::fs::read(&far).unwrap();
    for (threads, name) in [
        ("1", "t1.mfd"),
        ("1", "t1b.mfd"),
        ("2", "t2.mfd"),
        ("8", "t8.mfd"),
    ] {
        let path = dir.path().join(name);
        run(bin()
            .args(["--threads", threads, "adapt"])
            .arg(&model)
            .arg("--support")
            .arg(&support)
            .args(["--max-far", "0.05", "-o"])
            .arg(&path));
        assert!(
            std::fs::read(&path).unwrap() == reference,
            "adapt at {threads} threads ({name}) wrote other bytes"
        );
    }

    // Adapting the detector again extends its support and re-derives the rules.
    let detector2 = dir.path().join("detector2.mfd");
    run(bin()
        .arg("adapt")
        .arg(&detector)
        .arg("--support")
        .arg(&support)
        .arg("-o")
        .arg(&detector2));
    let out = run(bin().arg("rules").arg(&detector2).arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["support_flows"], 80);

    // Model-file errors are clear.
    let fail = |args: &[&std::ffi::OsStr]| -> String {
        let out = bin().args(args).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fail(&["detect".as_ref(), model.as_os_str()]);
    assert!(e.contains("it is a meta-model"), "{e}");
    let mut bytes = std::fs::read(&detector).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    let damaged = dir.path().join("damaged.mfd");
    std::fs::write(&damaged, &bytes).unwrap();
    let e = fail(&["rules".as_ref(), damaged.as_os_str()]);
    assert!(e.contains("checksum"), "{e}");
    let mut bytes = std::fs::read(&detector).unwrap();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let newer = dir.path().join("newer.mfd");
    std::fs::write(&newer, &bytes).unwrap();
    let e = fail(&["rules".as_ref(), newer.as_os_str()]);
    assert!(e.contains("version 99"), "{e}");
    // A file in the command-line tool's former format names the command that re-creates it.
    let mut bytes = std::fs::read(&detector).unwrap();
    bytes[..8].copy_from_slice(b"MFCLIDET");
    let old = dir.path().join("old.mfd");
    std::fs::write(&old, &bytes).unwrap();
    let e = fail(&["detect".as_ref(), old.as_os_str()]);
    assert!(
        e.contains("older format") && e.contains("metaforest adapt"),
        "{e}"
    );
    let truncated = dir.path().join("truncated.mfd");
    std::fs::write(&truncated, &std::fs::read(&detector).unwrap()[..100]).unwrap();
    let e = fail(&["rules".as_ref(), truncated.as_os_str()]);
    assert!(e.contains("truncated"), "{e}");
}
