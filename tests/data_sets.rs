//! Loads every shared data set through the facade and checks its exact row and class counts against
//! `../shared/data/README.md`. Without the data it prints `1 real-data test skipped (no data at …)` per test and passes, unless
//! `METAFOREST_REQUIRE_DATA=1`. Run it in release: `cargo test --release --test data_sets`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use metaforest::flows::datasets::{self, NslKddFile};
use metaforest::flows::{self, domains, EpisodeSampler, FlowTable, QuerySize, Stratify};

fn data_dir() -> Option<PathBuf> {
    let dir = flows::data_dir_relative_to(Path::new(env!("CARGO_MANIFEST_DIR")));
    let present =
        datasets::has_nf_v2(&dir) && datasets::has_nsl_kdd(&dir) && datasets::has_unsw_nb15(&dir);
    if present {
        return Some(dir);
    }
    flows::skip_real_data(&dir, "");
    None
}

fn counts(t: &FlowTable) -> BTreeMap<String, usize> {
    t.class_counts_named().into_iter().collect()
}

fn expect(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|&(c, n)| (c.to_owned(), n)).collect()
}

/// Class counts of one domain of a pooled table.
fn domain_counts(t: &FlowTable, domain: &str) -> BTreeMap<String, usize> {
    let d = t
        .domain_names()
        .iter()
        .position(|n| n == domain)
        .unwrap_or_else(|| panic!("no domain {domain}")) as u16;
    let mut m = BTreeMap::new();
    for (r, &dc) in t.domain_codes().iter().enumerate() {
        if dc == d {
            *m.entry(t.class_names()[t.class_codes()[r] as usize].clone())
                .or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn nf_v2_four_domains_exact_counts() {
    let Some(dir) = data_dir() else { return };
    let t = datasets::load_nf_v2_all(&dir).unwrap();
    assert_eq!(t.n_rows(), 71_709 + 50_822 + 37_788 + 226_581);
    assert_eq!(t.n_features(), 41);
    assert_eq!(t.feature_names()[0], "L4_SRC_PORT");
    assert_eq!(t.feature_names()[40], "FTP_COMMAND_RET_CODE");
    assert_eq!(
        t.domain_names(),
        &[
            "NF-UNSW-NB15-v2",
            "NF-ToN-IoT-v2",
            "NF-CSE-CIC-IDS2018-v2",
            "NF-BoT-IoT-v2"
        ]
    );
    assert_eq!(t.domain_counts(), vec![71_709, 50_822, 37_788, 226_581]);

    assert_eq!(
        domain_counts(&t, "NF-UNSW-NB15-v2"),
        expect(&[
            ("Benign", 68_857),
            ("Exploits", 947),
            ("Fuzzers", 669),
            ("Generic", 497),
            ("Reconnaissance", 383),
            ("DoS", 174),
            ("Analysis", 69),
            ("Backdoor", 65),
            ("Shellcode", 43),
            ("Worms", 5),
        ])
    );
    assert_eq!(
        domain_counts(&t, "NF-ToN-IoT-v2"),
        expect(&[
            ("Benign", 18_299),
            ("scanning", 11_344),
            ("xss", 7_365),
            ("ddos", 6_079),
            ("password", 3_460),
            ("dos", 2_138),
            ("injection", 2_054),
            ("backdoor", 50),
            ("mitm", 23),
            ("ransomware", 10),
        ])
    );
    assert_eq!(
        domain_counts(&t, "NF-CSE-CIC-IDS2018-v2"),
        expect(&[
            ("Benign", 33_272),
            ("DDOS attack-HOIC", 2_162),
            ("DoS attacks-Hulk", 865),
            ("DDoS attacks-LOIC-HTTP", 615),
            ("Bot", 286),
            ("Infilteration", 233),
            ("SSH-Bruteforce", 190),
            ("DoS attacks-GoldenEye", 55),
            ("FTP-BruteForce", 52),
            ("DoS attacks-SlowHTTPTest", 28),
            ("DoS attacks-Slowloris", 19),
            ("Brute Force -Web", 4),
            ("DDOS attack-LOIC-UDP", 4),
            ("Brute Force -XSS", 2),
            ("SQL Injection", 1),
        ])
    );
    assert_eq!(
        domain_counts(&t, "NF-BoT-IoT-v2"),
        expect(&[
            ("DDoS", 109_991),
            ("DoS", 100_039),
            ("Reconnaissance", 15_726),
            ("Benign", 810),
            ("Theft", 15),
        ])
    );
    // Label 1 / 0 per domain.
    let by_domain = domains::domains_by_dataset(&t);
    let labels: Vec<[usize; 2]> = by_domain.iter().map(|d| d.label_counts(&t)).collect();
    assert_eq!(
        labels,
        vec![
            [68_857, 2_852],
            [18_299, 32_523],
            [33_272, 4_516],
            [810, 225_771]
        ]
    );
    // "No row is duplicated in any of the four files."
    for d in &by_domain {
        let sub = t.select_rows(&d.rows);
        assert_eq!(sub.duplicates().duplicate_rows, 0, "{}", d.name);
    }
    // All values are finite and non-negative.
    assert!(t.features().iter().all(|v| v.is_finite() && *v >= 0.0));
    // Extreme values (up to 2.8e47 in the *_SECOND_BYTES columns) survive as f64.
    let max = ["SRC_TO_DST_SECOND_BYTES", "DST_TO_SRC_SECOND_BYTES"]
        .iter()
        .map(|c| t.column_index(c).unwrap())
        .flat_map(|j| t.feature_column(j).to_vec())
        .fold(0.0, f64::max);
    assert!(max > 2.7e47 && max < 2.9e47, "max {max}");

    // Cross-domain episodes draw from every domain.
    let s = EpisodeSampler::new(10, QuerySize::Rest { cap: 1000 }, 3);
    for d in &by_domain {
        let e = s.sample_domain(&t, d, 0).unwrap();
        assert_eq!(e.support.len(), 20, "{}", d.name);
        assert!(e.query.iter().all(|r| !e.support.contains(r)));
    }
}

#[test]
fn nsl_kdd_exact_counts_and_stable_encoding() {
    let Some(dir) = data_dir() else { return };
    let kdd = datasets::load_nsl_kdd_all(&dir).unwrap();
    let rows: Vec<usize> = NslKddFile::ALL
        .iter()
        .map(|&f| kdd.table(f).n_rows())
        .collect();
    assert_eq!(rows, vec![125_973, 22_544, 25_192, 11_850]);
    for f in NslKddFile::ALL {
        assert_eq!(kdd.table(f).n_features(), 41, "{f:?}");
        assert_eq!(kdd.table(f).domain_names(), &[f.name()]);
        assert_eq!(kdd.table(f).duplicates().duplicate_rows, 0, "{f:?}");
    }
    assert_eq!(
        counts(&kdd.train),
        expect(&[
            ("normal", 67_343),
            ("neptune", 41_214),
            ("satan", 3_633),
            ("ipsweep", 3_599),
            ("portsweep", 2_931),
            ("smurf", 2_646),
            ("nmap", 1_493),
            ("back", 956),
            ("teardrop", 892),
            ("warezclient", 890),
            ("pod", 201),
            ("guess_passwd", 53),
            ("buffer_overflow", 30),
            ("warezmaster", 20),
            ("land", 18),
            ("imap", 11),
            ("rootkit", 10),
            ("loadmodule", 9),
            ("ftp_write", 8),
            ("multihop", 7),
            ("phf", 4),
            ("perl", 3),
            ("spy", 2),
        ])
    );
    assert_eq!(
        counts(&kdd.test),
        expect(&[
            ("normal", 9_711),
            ("neptune", 4_657),
            ("guess_passwd", 1_231),
            ("mscan", 996),
            ("warezmaster", 944),
            ("apache2", 737),
            ("satan", 735),
            ("processtable", 685),
            ("smurf", 665),
            ("back", 359),
            ("snmpguess", 331),
            ("saint", 319),
            ("mailbomb", 293),
            ("snmpgetattack", 178),
            ("portsweep", 157),
            ("ipsweep", 141),
            ("httptunnel", 133),
            ("nmap", 73),
            ("pod", 41),
            ("buffer_overflow", 20),
            ("multihop", 18),
            ("named", 17),
            ("ps", 15),
            ("sendmail", 14),
            ("xterm", 13),
            ("rootkit", 13),
            ("teardrop", 12),
            ("xlock", 9),
            ("land", 7),
            ("xsnoop", 4),
            ("ftp_write", 3),
            ("worm", 2),
            ("udpstorm", 2),
            ("sqlattack", 2),
            ("phf", 2),
            ("perl", 2),
            ("loadmodule", 2),
            ("imap", 1),
        ])
    );
    assert_eq!(kdd.train.label_counts(), [67_343, 125_973 - 67_343]);
    assert_eq!(kdd.test.label_counts(), [9_711, 22_544 - 9_711]);

    // Families per file (README table).
    let fam_counts = |t: &FlowTable| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for (c, n) in t.class_counts_named() {
            let f = kdd
                .families
                .family_of(&c)
                .expect("every class has a family");
            *m.entry(f.to_owned()).or_insert(0) += n;
        }
        m
    };
    let fam = |n: [usize; 5]| {
        expect(&[
            ("normal", n[0]),
            ("DoS", n[1]),
            ("Probe", n[2]),
            ("R2L", n[3]),
            ("U2R", n[4]),
        ])
    };
    assert_eq!(
        fam_counts(&kdd.train),
        fam([67_343, 45_927, 11_656, 995, 52])
    );
    assert_eq!(fam_counts(&kdd.test), fam([9_711, 7_460, 2_421, 2_885, 67]));
    assert_eq!(
        fam_counts(&kdd.train_20),
        fam([13_449, 9_234, 2_289, 209, 11])
    );
    assert_eq!(
        fam_counts(&kdd.test_21),
        fam([2_152, 4_344, 2_402, 2_885, 67])
    );

    // 40 mapping rows; 17 attack types of KDDTest+ never occur in KDDTrain+ (3,750 rows).
    assert_eq!(kdd.families.entries.len(), 40);
    let unseen = kdd.families.unseen_in_train();
    assert_eq!(unseen.len(), 17);
    let unseen_rows: usize = counts(&kdd.test)
        .iter()
        .filter(|(c, _)| unseen.contains(&c.as_str()))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(unseen_rows, 3_750);

    // Stable encoding: the same strings map to the same codes in train and test.
    let train_enc = metaforest::flows::Encoders::from_table(&kdd.train).frozen();
    for name in ["protocol_type", "service", "flag"] {
        let j = kdd.train.column_index(name).unwrap();
        assert_eq!(
            train_enc.column(name).map(|d| d.values()),
            match &kdd.test.columns()[j].kind {
                metaforest::flows::ColumnKind::Categorical(d) => Some(d.values()),
                _ => None,
            },
            "{name}"
        );
    }
    let tcp = train_enc.column("protocol_type").unwrap().encode("tcp");
    let j = kdd.train.column_index("protocol_type").unwrap();
    assert_eq!(kdd.train.features()[[0, j]], tcp); // first KDDTrain+ row is tcp
    assert_eq!(
        kdd.test.class_code("neptune"),
        kdd.train.class_code("neptune")
    );
    // KDDTrain+_20Percent is the first 25,192 rows of KDDTrain+.
    let first = kdd.train.select_rows(&(0..25_192).collect::<Vec<_>>());
    assert_eq!(
        first
            .features()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        kdd.train_20
            .features()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );

    // Intrinsic-mode domains: one per family (benign rows included).
    let doms = domains::domains_by_class_family(
        &kdd.train,
        |c| kdd.families.family_of(c).map(str::to_owned),
        true,
    );
    let names: Vec<&str> = doms.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "KDDTrain+/DoS",
            "KDDTrain+/Probe",
            "KDDTrain+/R2L",
            "KDDTrain+/U2R"
        ]
    );
    assert_eq!(doms[3].label_counts(&kdd.train), [67_343, 52]);
}

#[test]
fn unsw_nb15_exact_counts() {
    let Some(dir) = data_dir() else { return };
    let t = datasets::load_unsw_nb15(&dir).unwrap();
    assert_eq!(t.n_rows(), 82_332);
    assert_eq!(t.n_features(), 42);
    assert!(t.column_index("id").is_none());
    assert_eq!(
        counts(&t),
        expect(&[
            ("Normal", 37_000),
            ("Generic", 18_871),
            ("Exploits", 11_132),
            ("Fuzzers", 6_062),
            ("DoS", 4_089),
            ("Reconnaissance", 3_496),
            ("Analysis", 677),
            ("Backdoor", 583),
            ("Shellcode", 378),
            ("Worms", 44),
        ])
    );
    assert_eq!(t.label_counts(), [37_000, 45_332]);
    let cats: Vec<usize> = ["proto", "service", "state"]
        .iter()
        .map(|c| match &t.columns()[t.column_index(c).unwrap()].kind {
            metaforest::flows::ColumnKind::Categorical(d) => d.len(),
            _ => panic!("{c} must be categorical"),
        })
        .collect();
    assert_eq!(cats, vec![131, 13, 7]);
    // One family domain per attack_cat (9 attack families), each with the benign rows.
    let doms = domains::domains_by_class_family(&t, |c| Some(c.to_owned()), true);
    assert_eq!(doms.len(), 9);
    let worms = doms.iter().find(|d| d.name == "UNSW-NB15/Worms").unwrap();
    assert_eq!(worms.label_counts(&t), [37_000, 44]);
    assert_eq!(domains::binary_tasks(&t, 1).len(), 9);
    // Worms has 44 rows: a 50-shot class episode must fail clearly.
    let err = EpisodeSampler::new(50, QuerySize::PerClass(0), 1)
        .with_stratify(Stratify::Class)
        .sample_domain(&t, worms, 0)
        .unwrap_err();
    assert_eq!(err.to_string(), "class `Worms` has 44 rows, 50 wanted");
}
