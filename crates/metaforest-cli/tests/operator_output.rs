//! What an operator's tools consume, through the built binary: `adapt --max-far` refuses a budget its flows
//! cannot resolve; `detect` output carries kept input columns (Zeek's flow key by default), the detector id and
//! the threshold.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use metaforest_flows::datasets::NF_V2_FEATURES;
use metaforest_flows::synthetic::generate;
use metaforest_flows::SyntheticConfig;

mod common;
use common::{bin, run as ok};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("binary runs")
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

fn rules(format: &str) -> String {
    let out = ok(bin()
        .arg("rules")
        .arg(&fixture().detector)
        .args(["--format", format, "--class", "both", "--top", "8"]));
    String::from_utf8(out.stdout).unwrap()
}

/// `any`, a port, or `[lo:hi]`.
fn is_port_spec(s: &str) -> bool {
    let port = |p: &str| p.parse::<u16>().is_ok();
    s == "any"
        || port(s)
        || s.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(a, b)| {
                port(a) && port(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok()
            })
}

/// `action proto src port -> dst port (key:value; …)` with a quoted msg and a numeric sid.
fn check_suricata_rule(line: &str) {
    let (header, options) = line
        .split_once(" (")
        .unwrap_or_else(|| panic!("no options: {line}"));
    let h: Vec<&str> = header.split(' ').collect();
    assert_eq!(h.len(), 7, "{line}");
    assert!(["alert", "pass"].contains(&h[0]), "{line}");
    assert!(["ip", "tcp", "udp", "icmp"].contains(&h[1]), "{line}");
    assert!(h[2] == "any" && h[5] == "any" && h[4] == "->", "{line}");
    assert!(is_port_spec(h[3]) && is_port_spec(h[6]), "{line}");
    let body = options
        .strip_suffix(')')
        .unwrap_or_else(|| panic!("unclosed: {line}"));
    // Options end at a `;` that is not escaped.
    let mut opts = Vec::new();
    let (mut cur, mut escaped) = (String::new(), false);
    for ch in body.chars() {
        match ch {
            ';' if !escaped => opts.push(std::mem::take(&mut cur).trim().to_owned()),
            '\\' if !escaped => {
                escaped = true;
                cur.push(ch);
                continue;
            }
            _ => cur.push(ch),
        }
        escaped = false;
    }
    assert!(cur.trim().is_empty(), "text after the last `;`: {line}");
    let msg = opts
        .iter()
        .find_map(|o| o.strip_prefix("msg:"))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        msg.starts_with('"') && msg.ends_with('"') && msg.len() > 2,
        "{line}"
    );
    let sid = opts
        .iter()
        .find_map(|o| o.strip_prefix("sid:"))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(sid.parse::<u64>().is_ok(), "{line}");
    assert!(
        opts.iter()
            .any(|o| o.starts_with("metadata:metaforest_precision ")),
        "{line}"
    );
}

#[test]
fn suricata_rules_follow_the_rule_grammar_and_carry_precision_and_coverage() {
    let text = rules("suricata");
    let (comments, lines): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    assert!(!lines.is_empty(), "{text}");
    assert_eq!(comments.len(), lines.len(), "one comment per rule: {text}");
    for c in &comments {
        assert!(c.contains("precision") && c.contains("coverage"), "{c}");
    }
    for l in &lines {
        check_suricata_rule(l);
    }
    let sids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("sid:").nth(1))
        .collect();
    assert!(sids[0].starts_with("9100001;"), "{}", lines[0]);
}

#[test]
fn sigma_rules_are_yaml_documents_with_title_logsource_detection_and_condition() {
    let text = rules("sigma");
    let docs: Vec<&str> = text.split("---\n").collect();
    assert!(!docs.is_empty() && !docs[0].is_empty(), "{text}");
    for doc in docs {
        let top: Vec<&str> = doc
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        for key in [
            "title",
            "status",
            "description",
            "logsource",
            "detection",
            "level",
        ] {
            assert!(top.contains(&key), "no `{key}` in\n{doc}");
        }
        assert!(doc.contains("logsource:\n  product: netflow\n"), "{doc}");
        for l in doc.lines() {
            let indent = l.len() - l.trim_start().len();
            let item = l.trim_start();
            assert!(indent % 2 == 0, "odd indentation: {l}");
            assert!(
                item.starts_with("- ") || item.contains(':'),
                "neither key nor list item: {l}"
            );
            if let Some(v) = item
                .split_once(": ")
                .map(|(_, v)| v)
                .filter(|v| v.starts_with('"'))
            {
                assert!(v.len() >= 2 && v.ends_with('"'), "unclosed string: {l}");
            }
        }
        // Every selection the condition names is defined under `detection`.
        let condition = doc
            .lines()
            .find_map(|l| l.strip_prefix("  condition: "))
            .unwrap_or_else(|| panic!("no condition in\n{doc}"));
        for term in condition.split(" and ") {
            let name = term.trim_start_matches("not ");
            assert!(
                doc.contains(&format!("\n  {name}:\n")),
                "`{name}` undefined in\n{doc}"
            );
        }
        assert!(
            doc.contains("  precision: ") && doc.contains("  coverage: "),
            "{doc}"
        );
    }
}

#[test]
fn json_rules_name_the_detector_and_measure_every_rule() {
    let v: serde_json::Value = serde_json::from_str(&rules("json")).unwrap();
    assert_eq!(v["support_flows"], 40);
    assert_eq!(v["detector"].as_str().map(str::len), Some(16));
    let rules = v["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for r in rules {
        assert!(r["precision"].is_f64() && r["coverage"].is_f64(), "{r}");
        assert!(r["rule"].as_str().unwrap().starts_with("IF "), "{r}");
    }
}
