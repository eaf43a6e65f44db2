//! Meta-training on your own network, end to end through the built binary, on fixtures the tests
//! generate (no data-set rows): NSL-KDD-shaped flows whose attack families are the domains, one family
//! held out and adapted to; and a schema CSV whose `site` column's values are the domains.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod common;
use common::{bin, run};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A small deterministic generator (64-bit LCG), so the fixtures need no random-number crate.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }

    /// An integer in [lo, hi), as text.
    fn int(&mut self, lo: f64, hi: f64) -> String {
        format!("{}", self.range(lo, hi).floor())
    }
}

/// The NSL-KDD header: 41 KDD'99 features, `attack` and `difficulty` (what the `nsl-kdd` schema reads).
const KDD_COLUMNS: [&str; 43] = [
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
    "attack",
    "difficulty",
];

/// One NSL-KDD-shaped record of `class`: every feature 0 unless the class's profile sets it.
fn kdd_row(class: &str, g: &mut Lcg) -> String {
    let mut v: Vec<String> = vec!["0".into(); KDD_COLUMNS.len()];
    let mut set = |name: &str, value: String| {
        let j = KDD_COLUMNS.iter().position(|c| *c == name).unwrap();
        v[j] = value;
    };
    let (protocol, service, flag) = match class {
        "normal" => ("tcp", "http", "SF"),
        "neptune" => ("tcp", "private", "S0"),
        "smurf" => ("icmp", "ecr_i", "SF"),
        "satan" => ("tcp", "private", "REJ"),
        "ipsweep" => ("icmp", "eco_i", "SF"),
        "guess_passwd" => ("tcp", "telnet", "RSTO"),
        "warezclient" => ("tcp", "ftp_data", "SF"),
        other => panic!("no profile for {other}"),
    };
    set("protocol_type", protocol.into());
    set("service", service.into());
    set("flag", flag.into());
    match class {
        "normal" => {
            set("src_bytes", g.int(150.0, 400.0));
            set("dst_bytes", g.int(800.0, 6000.0));
            set("logged_in", "1".into());
            set("count", g.int(1.0, 12.0));
            set("srv_count", g.int(1.0, 20.0));
            set("same_srv_rate", "1".into());
            set("dst_host_count", g.int(20.0, 255.0));
            set("dst_host_srv_count", g.int(100.0, 255.0));
            set(
                "dst_host_same_srv_rate",
                format!("{:.2}", g.range(0.8, 1.0)),
            );
        }
        "neptune" => {
            set("count", g.int(100.0, 260.0));
            set("srv_count", g.int(1.0, 20.0));
            set("serror_rate", "1".into());
            set("srv_serror_rate", "1".into());
            set("same_srv_rate", format!("{:.2}", g.range(0.0, 0.1)));
            set("dst_host_count", "255".into());
            set("dst_host_srv_count", g.int(1.0, 25.0));
            set("dst_host_serror_rate", "1".into());
        }
        "smurf" => {
            set("src_bytes", "1032".into());
            set("count", g.int(300.0, 512.0));
            set("srv_count", g.int(300.0, 512.0));
            set("same_srv_rate", "1".into());
            set("dst_host_count", "255".into());
            set("dst_host_srv_count", "255".into());
        }
        "satan" => {
            set("count", g.int(1.0, 10.0));
            set("rerror_rate", "1".into());
            set("srv_rerror_rate", "1".into());
            set("diff_srv_rate", format!("{:.2}", g.range(0.5, 1.0)));
            set("dst_host_count", "255".into());
            set(
                "dst_host_diff_srv_rate",
                format!("{:.2}", g.range(0.5, 1.0)),
            );
            set("dst_host_rerror_rate", format!("{:.2}", g.range(0.6, 1.0)));
        }
        "ipsweep" => {
            set("src_bytes", g.int(8.0, 20.0));
            set("count", g.int(1.0, 4.0));
            set("dst_host_count", g.int(1.0, 60.0));
            set(
                "dst_host_diff_srv_rate",
                format!("{:.2}", g.range(0.4, 1.0)),
            );
            set(
                "dst_host_srv_diff_host_rate",
                format!("{:.2}", g.range(0.3, 0.6)),
            );
        }
        "guess_passwd" => {
            set("src_bytes", "125".into());
            set("dst_bytes", "179".into());
            set("num_failed_logins", "1".into());
            set("count", "1".into());
            set("dst_host_count", g.int(1.0, 255.0));
            set("dst_host_srv_count", g.int(1.0, 10.0));
            set(
                "dst_host_srv_rerror_rate",
                format!("{:.2}", g.range(0.5, 1.0)),
            );
        }
        "warezclient" => {
            set("duration", g.int(100.0, 2000.0));
            set("src_bytes", g.int(50_000.0, 500_000.0));
            set("is_guest_login", "1".into());
            set("logged_in", "1".into());
            set("hot", g.int(1.0, 30.0));
            set("count", "1".into());
            set("dst_host_count", g.int(1.0, 60.0));
        }
        _ => unreachable!(),
    }
    set("attack", class.into());
    set("difficulty", g.int(15.0, 22.0));
    v.join(",")
}

/// An NSL-KDD-shaped CSV at `path` with `n` records of each `(class, n)`, interleaved.
fn write_kdd(path: &Path, classes: &[(&str, usize)], seed: u64) {
    let mut g = Lcg(seed);
    let mut left: Vec<(&str, usize)> = classes.to_vec();
    let mut out = KDD_COLUMNS.join(",") + "\n";
    while left.iter().any(|(_, n)| *n > 0) {
        for (class, n) in left.iter_mut().filter(|(_, n)| *n > 0) {
            *n -= 1;
            out += &kdd_row(class, &mut g);
            out.push('\n');
        }
    }
    std::fs::write(path, out).unwrap();
}

/// The lines of `text` that start with `prefix` (trimmed).
fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The forest names `adapt` lists under "forest weights on this domain" (the known ones, then `local`).
fn weighted_forests(adapt_stdout: &str) -> Vec<String> {
    adapt_stdout
        .lines()
        .skip_while(|l| !l.contains("forest weights on this domain"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// Small meta-training settings, so each test runs in seconds.
const SMALL: [&str; 10] = [
    "--episodes",
    "24",
    "--trees",
    "10",
    "--local-trees",
    "20",
    "--max-epochs",
    "4",
    "--max-rows",
    "2000",
];

#[test]
fn nsl_kdd_families_with_one_held_out_adapt_and_detect() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    write_kdd(
        &p("kdd.csv"),
        &[
            ("normal", 400),
            ("neptune", 80),
            ("smurf", 80),
            ("satan", 80),
            ("ipsweep", 80),
            ("guess_passwd", 60),
            ("warezclient", 60),
        ],
        1,
    );
    std::fs::write(
        p("families.csv"),
        "attack,family\nnormal,normal\nneptune,DoS\nsmurf,DoS\nsatan,Probe\nipsweep,Probe\n\
         guess_passwd,R2L\nwarezclient,R2L\n",
    )
    .unwrap();

    let train = |domains: &str| {
        let mut cmd = bin();
        cmd.args(["train", "--format", "nsl-kdd", "--input"])
            .arg(p("kdd.csv"))
            .args(["--domains-by", "family", "--families"])
            .arg(p("families.csv"))
            .args(["--domains", domains]);
        cmd
    };
    // The data holds three family domains (an unknown fragment lists them) ...
    let out = train("nope").output().unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no domain matches `nope`; known: kdd/DoS, kdd/Probe, kdd/R2L"),
        "{err}"
    );
    // ... and R2L is left out of meta-training with --domains.
    let out = run(train("dos,probe")
        .args(SMALL)
        .args(["--no-progress", "-o"])
        .arg(p("model.mf")));
    let err = text(&out.stderr);
    let known = lines_starting(&err, "known domain");
    assert_eq!(known.len(), 2, "{err}");
    assert!(
        known[0].contains("kdd/DoS") && known[0].contains("560 flows (400 benign, 160 attack"),
        "{err}"
    );
    assert!(known[0].contains("neptune 80, smurf 80"), "{err}");
    assert!(known[1].contains("kdd/Probe"), "{err}");
    assert!(!err.contains("R2L"), "{err}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 known domains, 41 features, 10 trees each"),
        "{stdout}"
    );
    assert!(stdout.contains("weighting head:"), "{stdout}");

    // A few labelled flows of the held-out family and benign ones: the support.
    write_kdd(
        &p("support.csv"),
        &[("normal", 10), ("guess_passwd", 5), ("warezclient", 5)],
        2,
    );
    let out = run(bin()
        .args(["adapt", "--format", "nsl-kdd"])
        .arg(p("model.mf"))
        .arg("--support")
        .arg(p("support.csv"))
        .arg("-o")
        .arg(p("r2l.mfd")));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(20 support flows: 10 benign, 10 attack;"),
        "{stdout}"
    );
    assert!(stdout.contains("method: META (the labelled support only)"));
    assert!(stdout.contains("  threshold 0."), "{stdout}");
    // The model's known forests are the two trained families; the held-out one is not among them.
    assert_eq!(
        weighted_forests(&stdout),
        ["kdd/DoS", "kdd/Probe", "local"],
        "{stdout}"
    );

    // More flows of the held-out family: every row is scored, and the labels give the rates.
    write_kdd(
        &p("test.csv"),
        &[("normal", 150), ("guess_passwd", 25), ("warezclient", 25)],
        3,
    );
    let out = run(bin()
        .args(["detect", "--format", "nsl-kdd"])
        .arg(p("r2l.mfd"))
        .arg(p("test.csv")));
    let scored = text(&out.stdout);
    assert_eq!(scored.lines().count(), 201, "a header and one line per row");
    let err = text(&out.stderr);
    assert!(
        err.contains("200 rows read up to line 201, 200 scored, 0 malformed"),
        "{err}"
    );
    let rates = lines_starting(&err, "on the input's labels: macro-F1");
    assert_eq!(rates.len(), 1, "{err}");
    assert!(rates[0].contains("fn "), "{err}");
}

/// Flows of a few sites: bytes, packets, duration, a port, a protocol; benign traffic differs by site
/// (`scale`), scans and floods look alike everywhere.
fn write_sites(path: &Path, sites: &[(&str, f64, usize, usize)], seed: u64) {
    let mut g = Lcg(seed);
    let mut out = String::from("site,bytes,packets,duration,dst_port,proto,label,attack\n");
    for &(site, scale, benign, attack) in sites {
        for i in 0..benign + attack {
            let row = if i < benign {
                let packets = g.range(4.0, 40.0).floor() * scale;
                format!(
                    "{},{},{},{:.3},{},tcp,0,benign",
                    site,
                    (packets * g.range(300.0, 1200.0)).floor(),
                    packets,
                    g.range(0.5, 30.0) * scale,
                    [80, 443, 53][i % 3]
                )
            } else if i % 2 == 0 {
                format!(
                    "{},{},1,{:.3},{},tcp,1,scan",
                    site,
                    g.int(40.0, 80.0),
                    g.range(0.0, 0.01),
                    g.int(1.0, 65535.0)
                )
            } else {
                let packets = g.range(200.0, 2000.0).floor();
                format!(
                    "{},{},{},{:.3},80,udp,1,flood",
                    site,
                    packets * 60.0,
                    packets,
                    g.range(0.1, 2.0)
                )
            };
            writeln!(out, "{row}").unwrap();
        }
    }
    std::fs::write(path, out).unwrap();
}

const SITE_SCHEMA: &str = "name = \"site-flows\"
description = \"flows exported per site\"
default = \"numeric\"
benign_labels = [\"0\"]

[columns]
site = \"categorical\"
proto = \"categorical\"
label = \"label\"
attack = \"attack_class\"
";

#[test]
fn a_site_column_gives_the_domains_and_a_new_site_adapts() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    std::fs::write(p("sites.toml"), SITE_SCHEMA).unwrap();
    write_sites(
        &p("flows.csv"),
        &[
            ("north", 1.0, 200, 80),
            ("south", 2.0, 200, 80),
            ("east", 0.5, 200, 80),
        ],
        7,
    );

    let out = run(bin()
        .arg("data")
        .arg("--schema")
        .arg(p("sites.toml"))
        .arg(p("flows.csv")));
    let summary = text(&out.stdout);
    assert!(summary.contains("840 rows"), "{summary}");

    let out = run(bin()
        .arg("train")
        .arg("--schema")
        .arg(p("sites.toml"))
        .arg("--input")
        .arg(p("flows.csv"))
        .args(["--domains-by", "column:site"])
        .args(SMALL)
        .args(["--no-progress", "-o"])
        .arg(p("model.mf")));
    let err = text(&out.stderr);
    let known = lines_starting(&err, "known domain");
    let names: Vec<&str> = known
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(names, ["site=east", "site=north", "site=south"], "{err}");
    assert!(
        known
            .iter()
            .all(|l| l.contains("280 flows (200 benign, 80 attack")),
        "{err}"
    );
    // The site column names the domains; it is not a feature.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 known domains, 5 features"), "{stdout}");

    // A new site: a small labelled support, then more of its flows.
    write_sites(&p("west-support.csv"), &[("west", 3.0, 12, 8)], 8);
    write_sites(&p("west.csv"), &[("west", 3.0, 150, 50)], 9);
    let out = run(bin()
        .arg("adapt")
        .arg("--schema")
        .arg(p("sites.toml"))
        .arg(p("model.mf"))
        .arg("--support")
        .arg(p("west-support.csv"))
        .arg("-o")
        .arg(p("west.mfd")));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(20 support flows: 12 benign, 8 attack;"),
        "{stdout}"
    );
    assert_eq!(
        weighted_forests(&stdout),
        ["site=east", "site=north", "site=south", "local"],
        "{stdout}"
    );

    let out = run(bin()
        .arg("detect")
        .arg("--schema")
        .arg(p("sites.toml"))
        .arg(p("west.mfd"))
        .arg(p("west.csv")));
    assert_eq!(text(&out.stdout).lines().count(), 201);
    let err = text(&out.stderr);
    assert!(
        err.contains("200 rows read up to line 201, 200 scored, 0 malformed"),
        "{err}"
    );
    assert!(err.contains("on the input's labels: macro-F1"), "{err}");
}
