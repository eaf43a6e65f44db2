//! Loaders for the public data sets laid out as in `../shared/data` (see `data/README.md`).
//!
//! `dir` is the data root (`…/data`, holding `nf-v2/`, `nsl-kdd/`, `unsw-nb15/`); each loader also
//! accepts the files directly in `dir`, and an uncompressed `.csv` where the `.csv.gz` is absent.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{FlowsError, Result};
use crate::reader::{read_csv, ReadOptions};
use crate::schema::{Encoders, Schema};
use crate::table::FlowTable;

/// Sub-folder of the NF-v2 files.
pub const NF_V2_DIR: &str = "nf-v2";
/// Sub-folder of the NSL-KDD files.
pub const NSL_KDD_DIR: &str = "nsl-kdd";
/// Sub-folder of the UNSW-NB15 file.
pub const UNSW_NB15_DIR: &str = "unsw-nb15";

/// The four NF-v2 data sets: `(domain name, file name)`, in the order of their domain codes.
pub const NF_V2_FILES: [(&str, &str); 4] = [
    ("NF-UNSW-NB15-v2", "NF-UNSW-NB15-v2.sample.csv.gz"),
    ("NF-ToN-IoT-v2", "NF-ToN-IoT-v2.sample.csv.gz"),
    (
        "NF-CSE-CIC-IDS2018-v2",
        "NF-CSE-CIC-IDS2018-v2.sample.csv.gz",
    ),
    ("NF-BoT-IoT-v2", "NF-BoT-IoT-v2.sample.csv.gz"),
];

/// The 41 NF-v2 feature names, in file order (the two IPv4 address columns excluded).
pub const NF_V2_FEATURES: [&str; 41] = [
    "L4_SRC_PORT",
    "L4_DST_PORT",
    "PROTOCOL",
    "L7_PROTO",
    "IN_BYTES",
    "IN_PKTS",
    "OUT_BYTES",
    "OUT_PKTS",
    "TCP_FLAGS",
    "CLIENT_TCP_FLAGS",
    "SERVER_TCP_FLAGS",
    "FLOW_DURATION_MILLISECONDS",
    "DURATION_IN",
    "DURATION_OUT",
    "MIN_TTL",
    "MAX_TTL",
    "LONGEST_FLOW_PKT",
    "SHORTEST_FLOW_PKT",
    "MIN_IP_PKT_LEN",
    "MAX_IP_PKT_LEN",
    "SRC_TO_DST_SECOND_BYTES",
    "DST_TO_SRC_SECOND_BYTES",
    "RETRANSMITTED_IN_BYTES",
    "RETRANSMITTED_IN_PKTS",
    "RETRANSMITTED_OUT_BYTES",
    "RETRANSMITTED_OUT_PKTS",
    "SRC_TO_DST_AVG_THROUGHPUT",
    "DST_TO_SRC_AVG_THROUGHPUT",
    "NUM_PKTS_UP_TO_128_BYTES",
    "NUM_PKTS_128_TO_256_BYTES",
    "NUM_PKTS_256_TO_512_BYTES",
    "NUM_PKTS_512_TO_1024_BYTES",
    "NUM_PKTS_1024_TO_1514_BYTES",
    "TCP_WIN_MAX_IN",
    "TCP_WIN_MAX_OUT",
    "ICMP_TYPE",
    "ICMP_IPV4_TYPE",
    "DNS_QUERY_ID",
    "DNS_QUERY_TYPE",
    "DNS_TTL_ANSWER",
    "FTP_COMMAND_RET_CODE",
];

/// The UNSW-NB15 testing set file name.
pub const UNSW_NB15_FILE: &str = "UNSW_NB15_testing-set.csv.gz";
/// Domain name of the UNSW-NB15 table.
pub const UNSW_NB15_DOMAIN: &str = "UNSW-NB15";
/// The NSL-KDD family mapping file.
pub const NSL_KDD_FAMILIES_FILE: &str = "attack_families.csv";

/// Finds `file` under `dir/sub/` or `dir/`, also trying it without `.gz`.
pub fn locate(dir: &Path, sub: &str, file: &str) -> Option<PathBuf> {
    let plain = file.strip_suffix(".gz");
    [Some(file), plain]
        .into_iter()
        .flatten()
        .flat_map(|f| [dir.join(sub).join(f), dir.join(f)])
        .find(|p| p.is_file())
}

fn require(dir: &Path, sub: &str, file: &str) -> Result<PathBuf> {
    locate(dir, sub, file).ok_or_else(|| FlowsError::FileNotFound {
        path: dir.join(sub).join(file),
    })
}

/// `base` (its caps) with every row in domain `domain`.
fn opts(base: &ReadOptions, domain: &str) -> ReadOptions {
    ReadOptions {
        domain: Some(domain.to_owned()),
        ..base.clone()
    }
}

/// Whether all four NF-v2 files are present.
pub fn has_nf_v2(dir: &Path) -> bool {
    NF_V2_FILES
        .iter()
        .all(|(_, f)| locate(dir, NF_V2_DIR, f).is_some())
}

/// One NF-v2 data set by domain name (e.g. `"NF-ToN-IoT-v2"`).
pub fn load_nf_v2(dir: impl AsRef<Path>, domain: &str) -> Result<FlowTable> {
    load_nf_v2_with_options(dir, domain, &ReadOptions::default())
}

/// [`load_nf_v2`] with the caps (row, byte, record length) of `options`; its `domain` is replaced.
pub fn load_nf_v2_with_options(
    dir: impl AsRef<Path>,
    domain: &str,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let dir = dir.as_ref();
    let (name, file) = NF_V2_FILES
        .iter()
        .find(|(n, _)| *n == domain)
        .ok_or_else(|| {
            FlowsError::InvalidArgument(format!(
                "unknown NF-v2 data set `{domain}`; known: {}",
                NF_V2_FILES.map(|(n, _)| n).join(", ")
            ))
        })?;
    let schema = Schema::builtin("nf-v2")?;
    read_csv(
        require(dir, NF_V2_DIR, file)?,
        &schema,
        &mut Encoders::new(),
        &opts(options, name),
    )
}

/// The four NF-v2 data sets pooled into one table; domain = data set, codes in [`NF_V2_FILES`] order.
/// Class names are the files' own (`ddos` in ToN, `DDoS` in BoT stay distinct classes). The files
/// are read in parallel; the result does not depend on the thread count.
pub fn load_nf_v2_all(dir: impl AsRef<Path>) -> Result<FlowTable> {
    load_nf_v2_all_with_options(dir, &ReadOptions::default())
}

/// [`load_nf_v2_all`] with the caps of `options` (per file).
pub fn load_nf_v2_all_with_options(
    dir: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let dir = dir.as_ref();
    let tables: Vec<FlowTable> = NF_V2_FILES
        .par_iter()
        .map(|(name, _)| load_nf_v2_with_options(dir, name, options))
        .collect::<Result<_>>()?;
    FlowTable::concat(&tables)
}

/// The four NSL-KDD files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NslKddFile {
    /// `KDDTrain+` (125,973 rows).
    Train,
    /// `KDDTest+` (22,544 rows).
    Test,
    /// `KDDTrain+_20Percent` (25,192 rows).
    Train20,
    /// `KDDTest-21` (11,850 rows).
    Test21,
}

impl NslKddFile {
    /// All four, training file first.
    pub const ALL: [NslKddFile; 4] = [Self::Train, Self::Test, Self::Train20, Self::Test21];

    /// The name of the file without extension, also used as the domain name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "KDDTrain+",
            Self::Test => "KDDTest+",
            Self::Train20 => "KDDTrain+_20Percent",
            Self::Test21 => "KDDTest-21",
        }
    }

    /// The file name.
    pub fn file_name(self) -> String {
        format!("{}.csv.gz", self.name())
    }
}

/// Whether all four NSL-KDD files and the family mapping are present.
pub fn has_nsl_kdd(dir: &Path) -> bool {
    NslKddFile::ALL
        .iter()
        .all(|f| locate(dir, NSL_KDD_DIR, &f.file_name()).is_some())
        && locate(dir, NSL_KDD_DIR, NSL_KDD_FAMILIES_FILE).is_some()
}

/// One NSL-KDD file with fresh encoders. To read a test file with the training file's codes, use
/// [`load_nsl_kdd_with`] or [`load_nsl_kdd_all`].
pub fn load_nsl_kdd(dir: impl AsRef<Path>, file: NslKddFile) -> Result<FlowTable> {
    load_nsl_kdd_with(dir, file, &mut Encoders::new())
}

/// One NSL-KDD file read with `encoders` (freeze them after the training file so unseen services or
/// flags become [`crate::UNKNOWN_CODE`]).
pub fn load_nsl_kdd_with(
    dir: impl AsRef<Path>,
    file: NslKddFile,
    encoders: &mut Encoders,
) -> Result<FlowTable> {
    load_nsl_kdd_capped(dir.as_ref(), file, encoders, &ReadOptions::default())
}

fn load_nsl_kdd_capped(
    dir: &Path,
    file: NslKddFile,
    encoders: &mut Encoders,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let schema = Schema::builtin("nsl-kdd")?;
    read_csv(
        require(dir, NSL_KDD_DIR, &file.file_name())?,
        &schema,
        encoders,
        &opts(options, file.name()),
    )
}

/// All of NSL-KDD with one encoding: the categorical dictionaries come from `KDDTrain+` and are
/// frozen before the other files are read; class codes are shared by all four tables.
#[derive(Debug, Clone)]
pub struct NslKdd {
    pub train: FlowTable,
    pub test: FlowTable,
    pub train_20: FlowTable,
    pub test_21: FlowTable,
    pub families: AttackFamilies,
    /// The encoders after reading all four files (frozen).
    pub encoders: Encoders,
}

impl NslKdd {
    /// The table of `file`.
    pub fn table(&self, file: NslKddFile) -> &FlowTable {
        match file {
            NslKddFile::Train => &self.train,
            NslKddFile::Test => &self.test,
            NslKddFile::Train20 => &self.train_20,
            NslKddFile::Test21 => &self.test_21,
        }
    }
}

/// Loads the four NSL-KDD files and `attack_families.csv` (see [`NslKdd`]).
pub fn load_nsl_kdd_all(dir: impl AsRef<Path>) -> Result<NslKdd> {
    load_nsl_kdd_all_with_options(dir, &ReadOptions::default())
}

/// [`load_nsl_kdd_all`] with the caps of `options` (per file).
pub fn load_nsl_kdd_all_with_options(
    dir: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<NslKdd> {
    let dir = dir.as_ref();
    let families = load_attack_families(dir)?;
    let mut enc = Encoders::new();
    let train = load_nsl_kdd_capped(dir, NslKddFile::Train, &mut enc, options)?;
    enc.freeze();
    // Sequential on purpose: the class dictionary grows file by file, in a fixed order.
    let test = load_nsl_kdd_capped(dir, NslKddFile::Test, &mut enc, options)?;
    let train_20 = load_nsl_kdd_capped(dir, NslKddFile::Train20, &mut enc, options)?;
    let test_21 = load_nsl_kdd_capped(dir, NslKddFile::Test21, &mut enc, options)?;
    Ok(NslKdd {
        train,
        test,
        train_20,
        test_21,
        families,
        encoders: enc,
    })
}

/// One row of `attack_families.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackFamily {
    /// Attack (class) name, `normal` for benign.
    pub attack: String,
    /// `DoS`, `Probe`, `R2L`, `U2R` or `normal`.
    pub family: String,
    /// Rows in KDDTrain+.
    pub count_train: usize,
    /// Rows in KDDTest+.
    pub count_test: usize,
    /// Whether the attack occurs in KDDTrain+.
    pub seen_in_train: bool,
}

/// The NSL-KDD class → family mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttackFamilies {
    pub entries: Vec<AttackFamily>,
}

impl AttackFamilies {
    /// The family of attack class `attack`.
    pub fn family_of(&self, attack: &str) -> Option<&str> {
        self.get(attack).map(|e| e.family.as_str())
    }

    /// Whether `attack` occurs in KDDTrain+.
    pub fn seen_in_train(&self, attack: &str) -> Option<bool> {
        self.get(attack).map(|e| e.seen_in_train)
    }

    /// Attack classes that never occur in KDDTrain+ (the novel attacks of protocol P2), sorted.
    pub fn unseen_in_train(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| !e.seen_in_train)
            .map(|e| e.attack.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// The distinct family names, sorted.
    pub fn families(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.entries.iter().map(|e| e.family.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn get(&self, attack: &str) -> Option<&AttackFamily> {
        self.entries.iter().find(|e| e.attack == attack)
    }
}

/// Reads `attack_families.csv` (`attack,family,count_KDDTrain_plus,count_KDDTest_plus,in_KDDTrain_plus`).
pub fn load_attack_families(dir: impl AsRef<Path>) -> Result<AttackFamilies> {
    let path = require(dir.as_ref(), NSL_KDD_DIR, NSL_KDD_FAMILIES_FILE)?;
    read_attack_families(&path)
}

/// Reads a family mapping file at `path`.
pub fn read_attack_families(path: &Path) -> Result<AttackFamilies> {
    const HEADER: [&str; 5] = [
        "attack",
        "family",
        "count_KDDTrain_plus",
        "count_KDDTest_plus",
        "in_KDDTrain_plus",
    ];
    let file = std::fs::File::open(path).map_err(|source| FlowsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let csv_err = |e: csv::Error| FlowsError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(0, csv::Position::line),
        message: e.to_string(),
    };
    let mut records = rdr.records();
    let header = records
        .next()
        .ok_or_else(|| FlowsError::EmptyFile {
            path: path.to_owned(),
        })?
        .map_err(csv_err)?;
    for (i, want) in HEADER.iter().enumerate() {
        if header.get(i).map(str::trim) != Some(*want) {
            return Err(FlowsError::MissingColumn {
                path: path.to_owned(),
                column: (*want).to_owned(),
                role: "family-mapping",
            });
        }
    }
    let mut entries = Vec::new();
    for rec in records {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map_or(0, csv::Position::line);
        if rec.len() != HEADER.len() {
            return Err(FlowsError::FieldCount {
                path: path.to_owned(),
                line,
                column: rec.len().min(HEADER.len()) + 1,
                expected: HEADER.len(),
                found: rec.len(),
            });
        }
        let num = |i: usize| -> Result<usize> {
            rec[i].trim().parse().map_err(|_| FlowsError::NotANumber {
                path: path.to_owned(),
                line,
                column: i + 1,
                column_name: HEADER[i].to_owned(),
                value: rec[i].to_owned(),
            })
        };
        entries.push(AttackFamily {
            attack: rec[0].trim().to_owned(),
            family: rec[1].trim().to_owned(),
            count_train: num(2)?,
            count_test: num(3)?,
            seen_in_train: num(4)? != 0,
        });
    }
    Ok(AttackFamilies { entries })
}

/// Whether the UNSW-NB15 testing set is present.
pub fn has_unsw_nb15(dir: &Path) -> bool {
    locate(dir, UNSW_NB15_DIR, UNSW_NB15_FILE).is_some()
}

/// The UNSW-NB15 testing set (82,332 rows; `id` dropped; `proto`, `service`, `state` categorical).
pub fn load_unsw_nb15(dir: impl AsRef<Path>) -> Result<FlowTable> {
    load_unsw_nb15_with_options(dir, &ReadOptions::default())
}

/// [`load_unsw_nb15`] with the caps of `options`.
pub fn load_unsw_nb15_with_options(
    dir: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let schema = Schema::builtin("unsw-nb15")?;
    read_csv(
        require(dir.as_ref(), UNSW_NB15_DIR, UNSW_NB15_FILE)?,
        &schema,
        &mut Encoders::new(),
        &opts(options, UNSW_NB15_DOMAIN),
    )
}
