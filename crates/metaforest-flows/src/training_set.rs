//! Training sets from any data the project reads: a public data set by name, or labelled files in any
//! format; and the domains to meta-train on (by data set, attack family, attack class or a column's
//! values). The command line's `train` and `forest fit` load through here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::cicflowmeter::{read_mapped_csv, Dialect};
use crate::datasets::{
    has_nf_v2, has_nsl_kdd, has_unsw_nb15, load_nf_v2_all, load_nsl_kdd_all, load_unsw_nb15,
    AttackFamilies, AttackFamily, NF_V2_DIR, NSL_KDD_DIR, UNSW_NB15_DIR,
};
use crate::domains::{binary_tasks, domains_by_class_family, domains_by_dataset, Domain};
use crate::error::{FlowsError, Result};
use crate::reader::{read_csv, ReadOptions};
use crate::row_format::RowFormat;
use crate::schema::Encoders;
use crate::table::{ColumnKind, FlowTable};
use crate::zeek::{nf_v2_space, read_conn_log};

/// A public data set the project has a loader for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSet {
    /// The four NF-v2 data sets pooled (domain = data set).
    NfV2,
    /// NSL-KDD's KDDTrain+ with its attack-family mapping.
    NslKdd,
    /// UNSW-NB15's testing set (its classes are attack families).
    UnswNb15,
}

impl DataSet {
    /// Every data set, in the order the command line lists them.
    pub const ALL: [DataSet; 3] = [DataSet::NfV2, DataSet::NslKdd, DataSet::UnswNb15];

    /// `nf-v2`, `nsl-kdd`, `unsw-nb15`.
    pub fn name(self) -> &'static str {
        match self {
            DataSet::NfV2 => "nf-v2",
            DataSet::NslKdd => "nsl-kdd",
            DataSet::UnswNb15 => "unsw-nb15",
        }
    }

    /// Whether its files are under the data root `dir`.
    pub fn is_present(self, dir: &Path) -> bool {
        match self {
            DataSet::NfV2 => has_nf_v2(dir),
            DataSet::NslKdd => has_nsl_kdd(dir),
            DataSet::UnswNb15 => has_unsw_nb15(dir),
        }
    }

    /// The folder its files are looked for in (they may also lie directly in `dir`).
    pub fn folder(self, dir: &Path) -> PathBuf {
        dir.join(match self {
            DataSet::NfV2 => NF_V2_DIR,
            DataSet::NslKdd => NSL_KDD_DIR,
            DataSet::UnswNb15 => UNSW_NB15_DIR,
        })
    }
}

impl fmt::Display for DataSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DataSet {
    type Err = FlowsError;
    fn from_str(s: &str) -> Result<Self> {
        DataSet::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                FlowsError::InvalidArgument(format!(
                    "unknown data set `{s}`; known: nf-v2, nsl-kdd, unsw-nb15"
                ))
            })
    }
}

/// A labelled table to train on, with the class → family mapping when the data has one.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub table: FlowTable,
    pub families: Option<AttackFamilies>,
    /// Where it came from, in words (`NSL-KDD KDDTrain+ under data`).
    pub source: String,
}

/// Loads a public data set from the data root `dir`; when its files are missing the error says where
/// they were looked for.
pub fn load_data_set(dir: &Path, set: DataSet) -> Result<TrainingSet> {
    if !set.is_present(dir) {
        return Err(FlowsError::InvalidArgument(format!(
            "no {set} data found: looked in {} and {}",
            set.folder(dir).display(),
            dir.display()
        )));
    }
    let (table, families, what) = match set {
        DataSet::NfV2 => (load_nf_v2_all(dir)?, None, "NF-v2 (four data sets)"),
        DataSet::NslKdd => {
            let nsl = load_nsl_kdd_all(dir)?;
            (nsl.train, Some(nsl.families), "NSL-KDD KDDTrain+")
        }
        DataSet::UnswNb15 => (load_unsw_nb15(dir)?, None, "UNSW-NB15 testing set"),
    };
    Ok(TrainingSet {
        table,
        families,
        source: format!("{what} under {}", dir.display()),
    })
}

/// Reads labelled files in one format into one table (domain = file name). Schema CSVs share one
/// encoding of categorical values (so do Parquet files, read by the schema's column names); Zeek and CICFlowMeter files are mapped onto the NF-v2 features.
pub fn read_labelled_files(format: &RowFormat, paths: &[PathBuf]) -> Result<FlowTable> {
    if paths.is_empty() {
        return Err(FlowsError::InvalidArgument("no input file given".into()));
    }
    let mut encoders = Encoders::new();
    let mut tables = Vec::with_capacity(paths.len());
    for path in paths {
        let table = match format {
            RowFormat::Schema(schema) => {
                read_csv(path, schema, &mut encoders, &ReadOptions::default())?
            }
            RowFormat::CicFlowMeter => {
                read_mapped_csv(path, &Dialect::CicFlowMeter, &nf_v2_space())?
            }
            RowFormat::Zeek => read_conn_log(path, &nf_v2_space())?,
            #[cfg(feature = "parquet")]
            RowFormat::Parquet(schema) => {
                crate::parquet::read_parquet(path, schema, &mut encoders, &ReadOptions::default())?
            }
        };
        tables.push(table);
    }
    FlowTable::concat(&tables)
}

/// Reads a class → family file: a header line, then `class,family` per line (further columns, such
/// as those of NSL-KDD's `attack_families.csv`, are ignored).
pub fn read_family_map(path: &Path) -> Result<AttackFamilies> {
    let text = std::fs::read_to_string(path).map_err(|source| FlowsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let (Some(class), Some(family)) = (fields.next(), fields.next()) else {
            return Err(FlowsError::FieldCount {
                path: path.to_owned(),
                line: i as u64 + 1,
                column: 2,
                expected: 2,
                found: 1,
            });
        };
        entries.push(AttackFamily {
            attack: class.to_owned(),
            family: family.to_owned(),
            count_train: 0,
            count_test: 0,
            seen_in_train: true,
        });
    }
    Ok(AttackFamilies { entries })
}

/// How the rows of a training set are split into known domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainsBy {
    /// One domain per data set or input file.
    Dataset,
    /// One "benign vs family" domain per attack family (of a data set's mapping, a families file, or
    /// the class itself when there is neither).
    Family,
    /// One "benign vs class" domain per attack class.
    Class,
    /// One domain per value of a column (a day, site or sensor); the column is then not a feature.
    Column(String),
}

impl FromStr for DomainsBy {
    type Err = FlowsError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "dataset" => Ok(DomainsBy::Dataset),
            "family" => Ok(DomainsBy::Family),
            "class" => Ok(DomainsBy::Class),
            other => match other.strip_prefix("column:") {
                Some(name) if !name.is_empty() => Ok(DomainsBy::Column(name.to_owned())),
                _ => Err(FlowsError::InvalidArgument(format!(
                    "unknown domain split `{s}`; use dataset, family, class or column:NAME"
                ))),
            },
        }
    }
}

/// The known domains of `table` split as `by` says (`families`: the class → family mapping, if any).
pub fn build_domains(
    table: &FlowTable,
    by: &DomainsBy,
    families: Option<&AttackFamilies>,
) -> Result<Vec<Domain>> {
    Ok(match by {
        DomainsBy::Dataset => domains_by_dataset(table),
        DomainsBy::Family => domains_by_class_family(
            table,
            |class| match families {
                Some(f) => f.family_of(class).map(str::to_owned),
                None => Some(class.to_owned()),
            },
            true,
        ),
        DomainsBy::Class => binary_tasks(table, 1),
        DomainsBy::Column(name) => domains_by_column(table, name)?,
    })
}

/// One domain per distinct value of feature column `name` (categorical values by name, numbers as
/// written), named `"<name>=<value>"`, in value order.
pub fn domains_by_column(table: &FlowTable, name: &str) -> Result<Vec<Domain>> {
    let j = table
        .column_index(name)
        .ok_or_else(|| FlowsError::UnknownColumn(name.to_owned()))?;
    let column = table.feature_column(j);
    let kind = &table.columns()[j].kind;
    let mut rows: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (r, &v) in column.iter().enumerate() {
        let value = match kind {
            ColumnKind::Categorical(d) => d.decode(v).unwrap_or("unknown").to_owned(),
            ColumnKind::Numeric if v.is_nan() => "missing".to_owned(),
            ColumnKind::Numeric => format!("{v}"),
        };
        rows.entry(value).or_default().push(r);
    }
    Ok(rows
        .into_iter()
        .map(|(value, rows)| Domain {
            name: format!("{name}={value}"),
            rows,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    const SCHEMA: &str = r#"
name = "site-flows"
default = "numeric"
benign_labels = ["0"]
[columns]
site = "categorical"
label = "label"
attack = "attack_class"
"#;

    #[test]
    fn a_schema_file_and_a_column_give_one_domain_per_value() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Schema::from_toml_str(SCHEMA, "test").unwrap();
        let csv = "bytes,site,label,attack\n1,north,0,Benign\n2,south,1,scan\n3,north,1,scan\n";
        let path = write(dir.path(), "flows.csv", csv);
        let table = read_labelled_files(&RowFormat::Schema(schema), &[path]).unwrap();
        assert_eq!(table.n_rows(), 3);
        let by: DomainsBy = "column:site".parse().unwrap();
        let domains = build_domains(&table, &by, None).unwrap();
        let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["site=north", "site=south"]);
        assert_eq!(domains[0].rows, [0, 2]);
        assert!(domains_by_column(&table, "nope").is_err());
    }

    #[test]
    fn families_come_from_a_file_when_the_data_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Schema::from_toml_str(SCHEMA, "test").unwrap();
        let csv =
            "bytes,site,label,attack\n1,a,0,Benign\n2,a,1,smurf\n3,a,1,neptune\n4,a,1,satan\n";
        let path = write(dir.path(), "flows.csv", csv);
        let table = read_labelled_files(&RowFormat::Schema(schema), &[path]).unwrap();
        let map = write(
            dir.path(),
            "families.csv",
            "class,family\nsmurf,DoS\nneptune,DoS\nsatan,Probe\n",
        );
        let families = read_family_map(&map).unwrap();
        let domains = build_domains(&table, &DomainsBy::Family, Some(&families)).unwrap();
        let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["flows/DoS", "flows/Probe"]);
        assert_eq!(domains[0].rows, [0, 1, 2]);
        let classes = build_domains(&table, &DomainsBy::Class, None).unwrap();
        assert_eq!(classes.len(), 3);
    }

    #[test]
    fn names_parse_and_a_missing_data_set_says_where_it_looked() {
        assert_eq!("NSL-KDD".parse::<DataSet>().unwrap(), DataSet::NslKdd);
        assert!("kdd".parse::<DataSet>().is_err());
        assert!("column:".parse::<DomainsBy>().is_err());
        let dir = tempfile::tempdir().unwrap();
        let err = load_data_set(dir.path(), DataSet::UnswNb15)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsw-nb15") && err.contains("looked in"),
            "{err}"
        );
    }
}
