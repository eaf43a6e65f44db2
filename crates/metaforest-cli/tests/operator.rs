//! The operator's path end to end through the built binary, on fixtures the tests generate: a plain
//! forest (`forest fit|predict`), training on a schema file's column values, and no silent synthetic
//! fallback when data is missing.

use std::io::Write;
use std::path::Path;

use metaforest_flows::datasets::NF_V2_FEATURES;
use metaforest_flows::synthetic::generate;
use metaforest_flows::{FlowTable, SyntheticConfig};

mod common;
use common::{bin, fails, run};

/// Synthetic flows in the NF-v2 feature space (`networks` simulated networks).
fn flows(networks: usize, rows: usize) -> FlowTable {
    generate(&SyntheticConfig {
        n_networks: networks,
        rows_per_network: rows,
        ..SyntheticConfig::default()
    })
    .unwrap()
}

/// Writes `rows` of `t` as an NF-v2 CSV, with `extra` (header, value per row) columns after the features.
fn write_csv(
    path: &Path,
    t: &FlowTable,
    rows: &[usize],
    extra: Option<(&str, &dyn Fn(usize) -> String)>,
) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut header: Vec<&str> = NF_V2_FEATURES.to_vec();
    if let Some((name, _)) = extra {
        header.push(name);
    }
    header.extend(["Label", "Attack"]);
    writeln!(f, "{}", header.join(",")).unwrap();
    let x = t.features();
    for &r in rows {
        let mut s: Vec<String> = (0..t.n_features())
            .map(|j| format!("{}", x[[r, j]]))
            .collect();
        if let Some((_, value)) = extra {
            s.push(value(r));
        }
        s.push(t.labels()[r].to_string());
        s.push(t.class_names()[t.class_codes()[r] as usize].clone());
        writeln!(f, "{}", s.join(",")).unwrap();
    }
}

#[test]
fn forest_fit_then_predict_scores_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let t = flows(1, 600);
    let all: Vec<usize> = (0..t.n_rows()).collect();
    let train = dir.path().join("train.csv");
    let test = dir.path().join("test.csv");
    write_csv(&train, &t, &all[..400], None);
    write_csv(&test, &t, &all[400..], None);
    let model = dir.path().join("forest.mff");
    let out = run(bin()
        .args(["forest", "fit", "--trees", "20", "-o"])
        .arg(&model)
        .arg(&train));
    assert!(String::from_utf8_lossy(&out.stdout).contains("20 trees on 400 flows"));

    let out = run(bin().args(["forest", "predict"]).arg(&model).arg(&test));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line,score,verdict,label");
    assert_eq!(lines.len(), 201);
    let right = lines[1..]
        .iter()
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2] == "attack") == (f[3] == "1")
        })
        .count();
    assert!(right > 150, "{right} of 200 right");

    let out = run(bin()
        .args(["forest", "predict", "--output", "jsonl"])
        .arg(&model)
        .arg(&test));
    let first = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(v["score"].as_f64().is_some() && v["verdict"].is_string());

    let err = fails(bin().args(["forest", "predict"]).arg(&train).arg(&test));
    assert!(err.contains("not a metaforest plain forest"), "{err}");
}

#[test]
fn no_silent_synthetic_fallback_when_data_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-data-here");
    let err = fails(
        bin()
            .arg("--data")
            .arg(&empty)
            .args(["train", "--no-progress", "-o"])
            .arg(dir.path().join("m.mf")),
    );
    assert!(err.contains("no nf-v2 data found: looked in"), "{err}");
    assert!(err.contains("no-data-here"), "{err}");
    assert!(err.contains("--synthetic"), "{err}");
    assert!(!dir.path().join("m.mf").exists());
}

/// A small meta-model on three synthetic networks (asked for with `--synthetic`), written to `dir/model.mf`.
fn train_synthetic(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("model.mf");
    let out = run(bin()
        .args(["train", "--synthetic", "--domains", "net-0,net-1,net-2"])
        .args(["--episodes", "30", "--trees", "10", "--max-rows", "2000"])
        .args([
            "--max-epochs",
            "4",
            "--local-trees",
            "20",
            "--no-progress",
            "-o",
        ])
        .arg(&model));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("synthetic networks"), "{err}");
    model
}

/// `n` benign and `n` attack flows of synthetic network 3 as an NF-v2 CSV at `path`.
fn write_support(path: &Path, n: usize) {
    let t = flows(4, 1500);
    let net3 = |r: &usize| t.domain_codes()[*r] == 3;
    let pick = |label: u8| {
        (0..t.n_rows())
            .filter(net3)
            .filter(|&r| t.labels()[r] == label)
            .take(n)
            .collect::<Vec<_>>()
    };
    let rows: Vec<usize> = pick(0).into_iter().chain(pick(1)).collect();
    write_csv(path, &t, &rows, None);
}

#[test]
fn adapt_and_detect_fail_on_missing_files_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_synthetic(dir.path());
    let detector = dir.path().join("d.mfd");
    let missing = dir.path().join("no-such-support.csv");
    let err = fails(
        bin()
            .arg("adapt")
            .arg(&model)
            .arg("--support")
            .arg(&missing)
            .arg("-o")
            .arg(&detector),
    );
    assert!(err.contains("no-such-support.csv"), "{err}");
    assert!(!detector.exists());

    let support = dir.path().join("support.csv");
    write_support(&support, 10);
    run(bin()
        .arg("adapt")
        .arg(&model)
        .arg("--support")
        .arg(&support)
        .arg("-o")
        .arg(&detector));
    let err = fails(
        bin()
            .arg("detect")
            .arg(&detector)
            .arg(dir.path().join("no-such-flows.csv")),
    );
    assert!(err.contains("no-such-flows.csv"), "{err}");
    let err = fails(bin().arg("detect").arg(dir.path().join("no-such.mfd")));
    assert!(err.contains("no-such.mfd"), "{err}");
}

#[test]
fn formats_are_sniffed_and_every_read_reports_the_features_found() {
    let dir = tempfile::tempdir().unwrap();
    let t = flows(1, 300);
    let all: Vec<usize> = (0..t.n_rows()).collect();
    let train = dir.path().join("train.csv");
    write_csv(&train, &t, &all, None);
    let model = dir.path().join("forest.mff");
    run(bin()
        .args(["forest", "fit", "--trees", "10", "-o"])
        .arg(&model)
        .arg(&train));

    let zeek = dir.path().join("conn.log");
    let mut log = String::from(
        "#separator \\x09\n#fields\tts\tuid\tid.orig_p\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\thistory\torig_pkts\tresp_pkts\n",
    );
    for i in 0..5 {
        log += &format!(
            "{i}.5\tC{i}\t{}\t80\ttcp\t0.25\t300\t900\tShADadFf\t6\t5\n",
            40000 + i
        );
    }
    std::fs::write(&zeek, log).unwrap();
    let out = run(bin().args(["forest", "predict"]).arg(&model).arg(&zeek));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("as zeek (recognised by a Zeek #separator/#fields header)"),
        "{err}"
    );
    assert!(
        err.contains("warning: read 11 of the model's 41 features"),
        "{err}"
    );

    // The same log named as NF-v2 maps nothing: the error names the model's feature space.
    let err = fails(
        bin()
            .args(["forest", "predict", "--format", "nf-v2"])
            .arg(&model)
            .arg(&zeek),
    );
    assert!(err.contains("the model reads 41 features"), "{err}");
    assert!(err.contains("L4_SRC_PORT"), "{err}");

    // An NF-v2 file reads all features, without a warning.
    let out = run(bin().args(["forest", "predict"]).arg(&model).arg(&train));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("read 41 of the model's 41 features"), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn data_summarises_a_schema_file() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("site.toml");
    std::fs::write(
        &schema,
        "name = 'site-flows'\ndefault = 'numeric'\nbenign_labels = ['0']\n[columns]\nsite = 'categorical'\nlabel = 'label'\nattack = 'attack_class'\n",
    )
    .unwrap();
    let csv = dir.path().join("flows.csv");
    std::fs::write(
        &csv,
        "bytes,site,label,attack\n1,north,0,Benign\n2,south,1,scan\n3,north,1,flood\n",
    )
    .unwrap();
    let out = run(bin().arg("data").arg("--schema").arg(&schema).arg(&csv));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 features (1 categorical): bytes, site"),
        "{text}"
    );
    assert!(
        text.contains("3 rows; label 1 / 0: 2 / 1; 3 classes"),
        "{text}"
    );
    assert!(text.contains("label `label`"), "{text}");
}

/// `rows` of synthetic network 3's flows as an NF-v2 CSV without label columns (unlabelled traffic).
fn write_unlabelled(path: &Path, rows: usize) {
    let t = flows(4, 1500);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "{}", NF_V2_FEATURES.join(",")).unwrap();
    let x = t.features();
    for r in (0..t.n_rows())
        .filter(|&r| t.domain_codes()[r] == 3)
        .take(rows)
    {
        let s: Vec<String> = (0..t.n_features())
            .map(|j| format!("{}", x[[r, j]]))
            .collect();
        writeln!(f, "{}", s.join(",")).unwrap();
    }
}

#[test]
fn adapt_unlabelled_is_meta_u_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_synthetic(dir.path());
    let support = dir.path().join("support.csv");
    write_support(&support, 10);
    let traffic = dir.path().join("traffic.csv");
    write_unlabelled(&traffic, 1200);
    let meta_u = dir.path().join("u.mfd");
    let out = run(bin()
        .arg("adapt")
        .arg(&model)
        .arg("--support")
        .arg(&support)
        .arg("--unlabelled")
        .arg(&traffic)
        .arg("-o")
        .arg(&meta_u));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("method: META+U"), "{text}");
    assert!(
        text.contains("learned rule on the domain's unlabelled flows"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unlabelled: 1200 flows in"), "{err}");

    let out = run(bin()
        .args(["detect", "--output", "jsonl"])
        .arg(&meta_u)
        .arg(&support));
    let first = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(v["method"], "META+U");
    assert!(String::from_utf8_lossy(&out.stderr).contains("(META+U); "));
    let out = run(bin()
        .args(["explain", "--json", "--line", "2", "--input"])
        .arg(&support)
        .arg(&meta_u));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "META+U");

    // Without unlabelled flows it is META, and a detector cannot take them afterwards.
    let meta = dir.path().join("m.mfd");
    let out = run(bin()
        .arg("adapt")
        .arg(&model)
        .arg("--support")
        .arg(&support)
        .arg("-o")
        .arg(&meta));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("method: META (the labelled support only)")
    );
    let out = run(bin()
        .args(["detect", "--output", "jsonl"])
        .arg(&meta)
        .arg(&support));
    let first = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(v["method"], "META");
    let err = fails(
        bin()
            .arg("adapt")
            .arg(&meta)
            .arg("--support")
            .arg(&support)
            .arg("--unlabelled")
            .arg(&traffic)
            .arg("-o")
            .arg(dir.path().join("x.mfd")),
    );
    assert!(
        err.contains("--unlabelled adapts from a meta-model"),
        "{err}"
    );
}

#[test]
fn verbose_and_quiet_set_the_log_level_unless_rust_log_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let train = |global: &[&str], rust_log: Option<&str>| {
        let mut cmd = bin();
        cmd.env_remove("RUST_LOG");
        if let Some(level) = rust_log {
            cmd.env("RUST_LOG", level);
        }
        let out = run(cmd
            .args(global)
            .args(["train", "--synthetic", "--domains", "net-0,net-1"])
            .args(["--episodes", "10", "--trees", "5", "--max-rows", "500"])
            .args(["--max-epochs", "2", "--no-progress", "-o"])
            .arg(dir.path().join("m.mf")));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(train(&["-v"], None).contains("INFO"));
    assert!(!train(&[], None).contains("INFO"));
    assert!(!train(&["-v"], Some("error")).contains("INFO"));
    assert!(train(&["-q"], Some("info")).contains("INFO"));
    let err = fails(bin().args(["-q", "-v", "data"]));
    assert!(err.contains("cannot be used with"), "{err}");
}
