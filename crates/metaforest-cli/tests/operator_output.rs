//! What an operator's tools consume, through the built binary: `adapt --max-far` refuses a budget its flows
//! cannot resolve; `detect` output carries kept input columns (Zeek's flow key by default), the detector id and
//! the threshold.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use metaforest_flows::datasets::NF_V2_FEATURES;
use metaforest_flows::synthetic::generate;
use metaforest_flows::SyntheticConfig;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_metaforest"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("binary runs")
}

fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Fixture {
    dir: tempfile::TempDir,
    model: PathBuf,
    /// 20 benign and 20 attack flows of the fourth synthetic network, as NF-v2 CSV.
    support: PathBuf,
    detector: PathBuf,
}

/// A small meta-model on three synthetic networks and a detector adapted to the fourth (built once).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.mf");
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
        let t = generate(&SyntheticConfig {
            n_networks: 4,
            rows_per_network: 6_000,
            ..SyntheticConfig::default()
        })
        .unwrap();
        let (x, labels, domains) = (t.features(), t.labels(), t.domain_codes());
        let of =
            |class: u8| (0..t.n_rows()).filter(move |&r| domains[r] == 3 && labels[r] == class);
        let mut s = NF_V2_FEATURES.join(",") + ",Label,Attack\n";
        for r in of(0).take(20).chain(of(1).take(20)) {
            let row: Vec<String> = x.row(r).iter().map(|v| v.to_string()).collect();
            s += &format!(
                "{},{},{}\n",
                row.join(","),
                labels[r],
                if labels[r] == 0 { "Benign" } else { "attack" }
            );
        }
        let support = dir.path().join("support.csv");
        std::fs::write(&support, s).unwrap();
        let detector = dir.path().join("detector.mfd");
        ok(bin()
            .arg("adapt")
            .arg(&model)
            .arg("--support")
            .arg(&support)
            .arg("-o")
            .arg(&detector));
        Fixture {
            dir,
            model,
            support,
            detector,
        }
    })
}

fn adapt_max_far(budget: &str, out: &Path) -> Output {
    let f = fixture();
    run(bin()
        .arg("adapt")
        .arg(&f.model)
        .arg("--support")
        .arg(&f.support)
        .args(["--max-far", budget, "-o"])
        .arg(out))
}

#[test]
fn max_far_refuses_a_budget_the_support_cannot_resolve_and_meets_one_it_can() {
    let dir = &fixture().dir;
    let refused = dir.path().join("refused.mfd");
    let out = adapt_max_far("0.01", &refused);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !refused.exists(), "{err}");
    assert!(
        err.contains("needs at least 100 benign support flows") && err.contains("has 20 benign"),
        "{err}"
    );
    let out = adapt_max_far("0.05", &dir.path().join("calibrated.mfd"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("false-alarm budget 0.05 on leave-one-out scores of 20 benign support flows"),
        "{text}"
    );
    let threshold: f64 = text
        .split("threshold ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(threshold >= 0.5, "{text}");
}

fn detect(input: &str, name: &str, extra: &[&str]) -> Output {
    let f = fixture();
    let path = f.dir.path().join(name);
    std::fs::write(&path, input).unwrap();
    run(bin().arg("detect").arg(&f.detector).arg(&path).args(extra))
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const ZEEK_TSV: &str = "#separator \\x09
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\thistory\torig_pkts\tresp_pkts
1331901000.000000\tCHhAvVGS1DHFjwGM9\t192.168.1.2\t49285\t10.0.0.1\t80\ttcp\t0.5\t100\t2000\tShADadFf\t5\t6
1331901001.250000\tC4J4Th3PJpwUYZZ6gc\t192.168.1.3\t5353\t224.0.0.251\t5353\tudp\t-\t-\t-\tD\t1\t0
";

#[test]
fn zeek_json_lines_carry_the_flow_key_detector_id_and_threshold() {
    let rows = json_lines(&detect(
        ZEEK_TSV,
        "conn.log",
        &["--format", "zeek", "--output", "jsonl"],
    ));
    assert_eq!(rows.len(), 2);
    let id = rows[0]["detector"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    for (row, (uid, orig_p)) in rows.iter().zip([
        ("CHhAvVGS1DHFjwGM9", "49285"),
        ("C4J4Th3PJpwUYZZ6gc", "5353"),
    ]) {
        assert_eq!(row["uid"], uid);
        assert_eq!(row["id.orig_p"], orig_p);
        for key in [
            "ts",
            "id.orig_h",
            "id.resp_h",
            "id.resp_p",
            "proto",
            "score",
            "verdict",
        ] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
        assert_eq!(row["detector"], id.as_str());
        assert_eq!(row["threshold"], 0.5);
    }
    // The same detector loaded again has the same id; CSV puts the kept columns after the line number.
    let out = detect(
        ZEEK_TSV,
        "conn2.log",
        &["--format", "zeek", "--keep", "uid,proto"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,uid,proto,score,verdict"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("3,CHhAvVGS1DHFjwGM9,tcp,"),
        "{text}"
    );
    let again = json_lines(&detect(
        ZEEK_TSV,
        "conn3.log",
        &["--format", "zeek", "--output", "jsonl", "--keep", "none"],
    ));
    assert_eq!(again[0]["detector"], id.as_str());
    assert!(again[0].get("uid").is_none());
}

#[test]
fn csv_input_keeps_the_named_columns_and_refuses_a_missing_one() {
    let f = fixture();
    let support = std::fs::read_to_string(&f.support).unwrap();
    let rows = json_lines(&detect(
        &support,
        "flows.csv",
        &["--output", "jsonl", "--keep", "Attack,L4_DST_PORT"],
    ));
    assert_eq!(rows.len(), 40);
    assert_eq!(rows[0]["Attack"], "Benign");
    assert_eq!(rows[39]["Attack"], "attack");
    assert!(rows.iter().all(|r| r["L4_DST_PORT"].is_string()));
    let out = detect(&support, "flows2.csv", &["--keep", "uid"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("no column `uid` to keep") && err.contains("L4_SRC_PORT"),
        "{err}"
    );
}
