//! The one streaming, schema-driven CSV reader.
//!
//! Records are read one at a time as raw bytes (`csv::ByteRecord`) straight into per-column `f64`
//! buffers; the file is never held as a string. Gzip is detected by its magic bytes (`1f 8b`), not by
//! the file name, and concatenated gzip members are read through.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ndarray::{Array2, ShapeBuilder};

use crate::error::{FlowsError, Result};
use crate::gzip::starts_with_gzip;
use crate::header::{Action, HeaderPlan};
use crate::lines::{Next, RecordReader, DEFAULT_MAX_RECORD_BYTES};
use crate::schema::{Encoders, Schema};
use crate::table::{ColumnKind, FlowTable, ATTACK, BENIGN, UNKNOWN_CODE};

/// What to do with NaN and ±infinity in numeric columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// NaN, `inf`, `-inf` (any spelling Rust parses, e.g. CICFlowMeter's `Infinity`) and the schema's
    /// `missing` tokens all become `NaN`, meaning *missing*; the forest puts missing values in a bin of
    /// their own. The default.
    #[default]
    Missing,
    /// Any NaN or infinite value is an error naming file, line and column ([`FlowsError::NonFinite`]).
    /// The schema's `missing` tokens still become `NaN`.
    Error,
}

/// Default [`ReadOptions::row_cap`].
pub const DEFAULT_ROW_CAP: usize = 20_000_000;
/// Default [`ReadOptions::byte_cap`] (decompressed bytes).
pub const DEFAULT_BYTE_CAP: u64 = 8 << 30;

/// Options of [`read_csv`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Non-finite value policy.
    pub non_finite: NonFinitePolicy,
    /// Name of the single domain every row gets; default: the file name without `.gz` / `.csv`.
    pub domain: Option<String>,
    /// Read files that have neither the label nor the attack-class column: every row gets label 0
    /// and class `unlabelled`. Off by default (a missing label column is an error).
    pub allow_unlabelled: bool,
    /// Stop after this many data rows.
    pub max_rows: Option<usize>,
    /// A file with more data rows than this is an error ([`FlowsError::TooLarge`]), so that a small
    /// compressed file cannot fill the memory. Default `DEFAULT_ROW_CAP` (20 million rows).
    pub row_cap: usize,
    /// Likewise for the bytes read (after decompression). Default `DEFAULT_BYTE_CAP` (8 GiB).
    pub byte_cap: u64,
    /// A longer line is an error ([`FlowsError::RecordTooLong`]). Default
    /// [`DEFAULT_MAX_RECORD_BYTES`].
    pub max_record_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            non_finite: NonFinitePolicy::default(),
            domain: None,
            allow_unlabelled: false,
            max_rows: None,
            row_cap: DEFAULT_ROW_CAP,
            byte_cap: DEFAULT_BYTE_CAP,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Class name given to rows of unlabelled files (see [`ReadOptions::allow_unlabelled`]).
pub const UNLABELLED_CLASS: &str = "unlabelled";

/// Reads a CSV flow file (plain or gzip) described by `schema`, encoding categorical values and class
/// names with `encoders` (which grow unless frozen: see [`Encoders`]).
pub fn read_csv(
    path: impl AsRef<Path>,
    schema: &Schema,
    encoders: &mut Encoders,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let path = path.as_ref();
    let file = crate::error::open_file(path)?;
    read_csv_from(file, path, schema, encoders, options)
}

/// Like [`read_csv`] but from any reader; `path` only names the source in errors and the default
/// domain name.
pub fn read_csv_from<R: Read>(
    reader: R,
    path: &Path,
    schema: &Schema,
    encoders: &mut Encoders,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let mut buffered = BufReader::with_capacity(1 << 20, reader);
    let gzip = starts_with_gzip(&mut buffered).map_err(|source| FlowsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let source: Box<dyn BufRead + '_> = if gzip {
        Box::new(BufReader::with_capacity(
            1 << 18,
            flate2::bufread::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    let mut parser = Parser::new(path, schema, gzip, options);
    parser.run(source, encoders)
}

/// The header row of a CSV file (plain or gzip), names trimmed, without reading further.
pub fn read_header(path: impl AsRef<Path>, delimiter: u8) -> Result<Vec<String>> {
    let path = path.as_ref();
    let io = |source| FlowsError::Io {
        path: path.to_owned(),
        source,
    };
    let mut buffered = BufReader::new(File::open(path).map_err(io)?);
    let gzip = starts_with_gzip(&mut buffered).map_err(io)?;
    let source: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(
            buffered,
        )))
    } else {
        Box::new(buffered)
    };
    let mut records = RecordReader::new(source, delimiter, None, DEFAULT_MAX_RECORD_BYTES);
    let mut rec = csv::ByteRecord::new();
    match records.next_record(&mut rec) {
        Ok(Next::Line) => {}
        Ok(Next::End) => {
            return Err(FlowsError::EmptyFile {
                path: path.to_owned(),
            })
        }
        Ok(Next::TooLong) => {
            return Err(FlowsError::RecordTooLong {
                path: path.to_owned(),
                line: records.line(),
                limit: DEFAULT_MAX_RECORD_BYTES,
            })
        }
        Err(source) => return Err(read_error(path, gzip, records.line(), source)),
    }
    Ok(rec
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let s = String::from_utf8_lossy(f);
            let s = if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                &s
            };
            s.trim().to_owned()
        })
        .collect())
}

/// Maps a read error to ours; decoding failures of a gzip stream surface as I/O errors. `last_line`
/// is the last line read whole.
fn read_error(path: &Path, gzip: bool, last_line: u64, source: std::io::Error) -> FlowsError {
    if gzip {
        FlowsError::Gzip {
            path: path.to_owned(),
            line: last_line + 1,
            source,
        }
    } else {
        FlowsError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

struct Parser<'a> {
    path: &'a Path,
    schema: &'a Schema,
    gzip: bool,
    options: &'a ReadOptions,
    header: Vec<String>,
    last_line: u64,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, schema: &'a Schema, gzip: bool, options: &'a ReadOptions) -> Self {
        Self {
            path,
            schema,
            gzip,
            options,
            header: Vec::new(),
            last_line: 0,
        }
    }

    fn path(&self) -> PathBuf {
        self.path.to_owned()
    }

    /// Reads the next record; `false` at the end.
    fn next_record<R: BufRead>(
        &mut self,
        records: &mut RecordReader<R>,
        rec: &mut csv::ByteRecord,
    ) -> Result<bool> {
        let next = records.next_record(rec);
        match next {
            Ok(Next::Line) => {}
            Ok(Next::End) => return Ok(false),
            Ok(Next::TooLong) => {
                return Err(FlowsError::RecordTooLong {
                    path: self.path(),
                    line: records.line(),
                    limit: self.options.max_record_bytes,
                })
            }
            Err(source) => return Err(read_error(self.path, self.gzip, records.line(), source)),
        }
        self.last_line = records.line();
        if records.consumed() > self.options.byte_cap {
            return Err(FlowsError::TooLarge {
                path: self.path(),
                line: self.last_line,
                what: "input size in bytes (decompressed)",
                limit: self.options.byte_cap,
            });
        }
        Ok(true)
    }

    fn run(&mut self, source: Box<dyn BufRead + '_>, encoders: &mut Encoders) -> Result<FlowTable> {
        let schema = self.schema;
        let mut records = RecordReader::new(
            source,
            schema.delimiter,
            schema.comment,
            self.options.max_record_bytes,
        );
        let mut rec = csv::ByteRecord::new();
        if !self.next_record(&mut records, &mut rec)? {
            return Err(FlowsError::EmptyFile { path: self.path() });
        }

        // ---- header → one action per field
        let names: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = String::from_utf8_lossy(raw);
                if i == 0 {
                    raw.trim_start_matches('\u{feff}').to_owned()
                } else {
                    raw.into_owned()
                }
            })
            .collect();
        let HeaderPlan {
            actions,
            header,
            mut columns,
            label_at,
            class_at,
        } = HeaderPlan::new(self.path, schema, &names, self.options.allow_unlabelled)?;
        self.header = header;
        let n_fields = actions.len();
        let n_features = columns.len();
        let frozen = encoders.is_frozen();

        // ---- per-column state
        let mut data: Vec<Vec<f64>> = (0..n_features).map(|_| Vec::new()).collect();
        let mut label: Vec<u8> = Vec::new();
        let mut class: Vec<u16> = Vec::new();
        let benign_labels: Vec<&[u8]> = schema
            .benign_labels
            .iter()
            .map(|s| s.trim().as_bytes())
            .collect();
        let missing: Vec<&[u8]> = schema.missing.iter().map(|s| s.as_bytes()).collect();
        // Label implied by each class code (used when there is no label column).
        let mut class_label: Vec<u8> = Vec::new();
        // Class code for rows without a class column.
        let fixed_class: Option<[u16; 2]> = if class_at.is_some() {
            None
        } else if label_at.is_some() {
            let c = encoders.classes_mut();
            Some([
                c.get_or_insert("Benign") as u16,
                c.get_or_insert("Attack") as u16,
            ])
        } else {
            let u = encoders.classes_mut().get_or_insert(UNLABELLED_CLASS) as u16;
            Some([u, u])
        };

        let max_rows = self.options.max_rows.unwrap_or(usize::MAX);
        let mut rows = 0usize;
        while rows < max_rows {
            if !self.next_record(&mut records, &mut rec)? {
                break;
            }
            let line = self.last_line;
            if rows == self.options.row_cap {
                return Err(FlowsError::TooLarge {
                    path: self.path(),
                    line,
                    what: "number of data rows",
                    limit: self.options.row_cap as u64,
                });
            }
            if rec.len() != n_fields {
                return Err(FlowsError::FieldCount {
                    path: self.path(),
                    line,
                    column: rec.len().min(n_fields) + 1,
                    expected: n_fields,
                    found: rec.len(),
                });
            }
            let mut row_label = BENIGN;
            let mut row_class = 0u16;
            for (i, (field, action)) in rec.iter().zip(&actions).enumerate() {
                match *action {
                    Action::Skip => {}
                    Action::Numeric(j) => {
                        let v = self.parse_number(field, &missing, line, i)?;
                        data[j].push(v);
                    }
                    Action::Categorical(j) => {
                        let s = self.text(field, line, i)?;
                        let dict = encoders.column_mut(&columns[j].name);
                        let v = if frozen {
                            dict.code(s).map_or(UNKNOWN_CODE, f64::from)
                        } else {
                            f64::from(dict.get_or_insert(s))
                        };
                        data[j].push(v);
                    }
                    Action::Label => {
                        let t = field.trim_ascii();
                        row_label = if benign_labels.contains(&t) {
                            BENIGN
                        } else {
                            let text = self.text(field, line, i)?;
                            match schema.label_value(text) {
                                Some(_) => ATTACK,
                                None => {
                                    return Err(schema.unreadable_label(
                                        self.path,
                                        line,
                                        i,
                                        &self.header[i],
                                        text,
                                    ))
                                }
                            }
                        };
                    }
                    Action::Class => {
                        let s = self.text(field, line, i)?;
                        let classes = encoders.classes_mut();
                        let code = classes.get_or_insert(s);
                        if code > u32::from(u16::MAX) {
                            return Err(FlowsError::Csv {
                                path: self.path(),
                                line,
                                message: format!(
                                    "more than 65536 distinct classes in column {}",
                                    i + 1
                                ),
                            });
                        }
                        while class_label.len() < classes.len() {
                            let name = classes.values()[class_label.len()].as_str();
                            let benign = schema.benign_classes.iter().any(|b| b == name);
                            class_label.push(if benign { BENIGN } else { ATTACK });
                        }
                        row_class = code as u16;
                    }
                }
            }
            match (label_at, fixed_class) {
                (Some(_), Some(fixed)) => row_class = fixed[row_label as usize],
                (None, None) => row_label = class_label[row_class as usize],
                (None, Some(fixed)) => row_class = fixed[0],
                (Some(_), None) => {}
            }
            label.push(row_label);
            class.push(row_class);
            rows += 1;
        }

        // ---- assemble: concatenating the columns gives the column-major buffer directly
        let mut flat = Vec::with_capacity(rows * n_features);
        for col in data {
            flat.extend_from_slice(&col);
        }
        let features = Array2::from_shape_vec((rows, n_features).f(), flat)
            .map_err(|e| FlowsError::InvalidArgument(e.to_string()))?;
        for spec in &mut columns {
            if let ColumnKind::Categorical(d) = &mut spec.kind {
                *d = encoders.column_mut(&spec.name).clone();
            }
        }
        let domain = self.options.domain.clone().unwrap_or_else(|| {
            let name = self
                .path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let name = name.strip_suffix(".gz").unwrap_or(&name);
            name.strip_suffix(".csv").unwrap_or(name).to_owned()
        });
        tracing::debug!(
            path = %self.path.display(),
            rows,
            features = n_features,
            "read flow table"
        );
        FlowTable::new(
            features,
            columns,
            label,
            class,
            encoders.classes().values().to_vec(),
            vec![0; rows],
            vec![domain],
        )
    }

    fn text<'r>(&self, field: &'r [u8], line: u64, i: usize) -> Result<&'r str> {
        std::str::from_utf8(field.trim_ascii()).map_err(|_| FlowsError::InvalidUtf8 {
            path: self.path(),
            line,
            column: i + 1,
            column_name: self.header[i].clone(),
        })
    }

    fn parse_number(&self, field: &[u8], missing: &[&[u8]], line: u64, i: usize) -> Result<f64> {
        let t = field.trim_ascii();
        if missing.contains(&t) {
            return Ok(f64::NAN);
        }
        let v = std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| FlowsError::NotANumber {
                path: self.path(),
                line,
                column: i + 1,
                column_name: self.header[i].clone(),
                value: String::from_utf8_lossy(field).chars().take(80).collect(),
            })?;
        if v.is_finite() {
            return Ok(v);
        }
        match self.options.non_finite {
            NonFinitePolicy::Missing => Ok(f64::NAN),
            NonFinitePolicy::Error => Err(FlowsError::NonFinite {
                path: self.path(),
                line,
                column: i + 1,
                column_name: self.header[i].clone(),
                value: String::from_utf8_lossy(field).into_owned(),
            }),
        }
    }
}

/// Counts one more row of a table read whole (Zeek, CICFlowMeter) and stops at [`DEFAULT_ROW_CAP`], so a
/// small compressed file cannot fill the memory.
pub(crate) fn check_row_cap(path: &Path, line: u64, rows: &mut usize) -> Result<()> {
    *rows += 1;
    if *rows > DEFAULT_ROW_CAP {
        return Err(FlowsError::TooLarge {
            path: path.to_owned(),
            line,
            what: "number of data rows",
            limit: DEFAULT_ROW_CAP as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnKind;
    use std::io::Write;

    const SCHEMA: &str = r#"
name = "test"
default = "numeric"
missing = ["-"]
benign_labels = ["0"]
benign_classes = ["normal"]
drop = ["id"]
[columns]
proto = "categorical"
label = "label"
attack = "attack_class"
[aliases]
"Protocol" = "proto"
"#;

    fn schema() -> Schema {
        Schema::from_toml_str(SCHEMA, "test").unwrap()
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn read(p: &Path) -> Result<FlowTable> {
        read_csv(p, &schema(), &mut Encoders::new(), &ReadOptions::default())
    }

    const GOOD: &str = "id,bytes,proto,dur,label,attack\n\
                        1,10,tcp,0.5,0,normal\n\
                        2,20,udp,-,1,scan\n\
                        3,1e300,tcp,inf,1,flood\n";

    #[test]
    fn reads_plain_and_gzip_alike() {
        let dir = tempfile::tempdir().unwrap();
        let a = read(&write(&dir, "a.csv", GOOD.as_bytes())).unwrap();
        // Gzip is found by magic bytes, not by name.
        let b = read(&write(&dir, "a.csv", &gz(GOOD.as_bytes()))).unwrap();
        // Debug output compares NaN cells too (NaN != NaN under PartialEq).
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a.n_rows(), 3);
        assert_eq!(a.feature_names(), vec!["bytes", "proto", "dur"]);
        assert_eq!(a.labels(), &[0, 1, 1]);
        assert_eq!(a.class_names(), &["normal", "scan", "flood"]);
        assert_eq!(a.class_codes(), &[0, 1, 2]);
        assert_eq!(a.domain_names(), &["a"]);
        let f = a.features();
        assert_eq!(f[[2, 0]], 1e300);
        assert_eq!(f[[1, 1]], 1.0); // udp
        assert!(f[[1, 2]].is_nan()); // missing token
        assert!(f[[2, 2]].is_nan()); // inf → missing
        assert!(f.t().is_standard_layout());
    }

    #[test]
    fn max_rows_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "m.csv.gz", &gz(GOOD.as_bytes()));
        let opts = ReadOptions {
            max_rows: Some(2),
            domain: Some("lab".into()),
            ..Default::default()
        };
        let t = read_csv(&p, &schema(), &mut Encoders::new(), &opts).unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.domain_names(), &["lab"]);
        let h = read_header(&p, b',').unwrap();
        assert_eq!(h, vec!["id", "bytes", "proto", "dur", "label", "attack"]);
        let e = read_header(write(&dir, "e.csv", b""), b',').unwrap_err();
        assert!(matches!(e, FlowsError::EmptyFile { .. }));
    }

    #[test]
    fn concatenated_gzip_members_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gz(b"id,bytes,proto,dur,label,attack\n1,10,tcp,0.5,0,normal\n");
        bytes.extend(gz(b"2,20,udp,1,1,scan\n"));
        assert_eq!(read(&write(&dir, "m.gz", &bytes)).unwrap().n_rows(), 2);
    }

    #[test]
    fn label_from_class_and_class_from_label() {
        let dir = tempfile::tempdir().unwrap();
        let only_class = "bytes,attack\n1,normal\n2,neptune\n";
        let t = read(&write(&dir, "c.csv", only_class.as_bytes()));
        // The schema names a label column too, so it is required.
        assert!(matches!(t, Err(FlowsError::MissingColumn { .. })));
        let s = Schema::from_toml_str(
            "name='c'\nbenign_classes=['normal']\n[columns]\nattack='attack_class'\n",
            "c",
        )
        .unwrap();
        let p = write(&dir, "c.csv", only_class.as_bytes());
        let t = read_csv(&p, &s, &mut Encoders::new(), &ReadOptions::default()).unwrap();
        assert_eq!(t.labels(), &[0, 1]);
        let s = Schema::from_toml_str(
            "name='l'\nbenign_labels=['BENIGN']\n[columns]\nLabel='label'\n",
            "l",
        )
        .unwrap();
        let p = write(&dir, "l.csv", b" x , Label \n1,BENIGN\n2,DDoS\n");
        let t = read_csv(&p, &s, &mut Encoders::new(), &ReadOptions::default()).unwrap();
        assert_eq!(t.labels(), &[0, 1]);
        assert_eq!(t.class_names(), &["Benign", "Attack"]);
        assert_eq!(t.class_codes(), &[0, 1]);
    }

    #[test]
    fn unseen_category_gets_unknown_code_with_frozen_encoders() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(&dir, "train.csv", GOOD.as_bytes());
        let test = write(
            &dir,
            "test.csv",
            b"id,bytes,Protocol,dur,label,attack\n1,1,icmp,1,1,mailbomb\n2,1,udp,1,0,normal\n3,1,tcp,1,1,scan\n",
        );
        let mut enc = Encoders::new();
        let tr = read_csv(&train, &schema(), &mut enc, &ReadOptions::default()).unwrap();
        enc.freeze();
        let te = read_csv(&test, &schema(), &mut enc, &ReadOptions::default()).unwrap();
        let p = te.column_index("proto").unwrap();
        // icmp never seen → unknown; udp and tcp keep the training codes.
        assert_eq!(te.features()[[0, p]], UNKNOWN_CODE);
        assert_eq!(te.features()[[1, p]], tr.features()[[1, p]]);
        assert_eq!(te.features()[[2, p]], tr.features()[[0, p]]);
        let ColumnKind::Categorical(d) = &te.columns()[p].kind else {
            panic!("proto is categorical")
        };
        assert_eq!(d.values(), &["tcp", "udp"]);
        // Class codes are stable and new classes are appended.
        assert_eq!(te.class_names(), &["normal", "scan", "flood", "mailbomb"]);
        assert_eq!(te.class_codes(), &[3, 0, 1]);
        // Growing encoders would have added icmp instead.
        let mut grow = Encoders::from_table(&tr);
        let g = read_csv(&test, &schema(), &mut grow, &ReadOptions::default()).unwrap();
        assert_eq!(g.features()[[0, p]], 2.0);
    }

    #[test]
    fn non_finite_policy_error_names_the_cell() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "nf.csv", GOOD.as_bytes());
        let opts = ReadOptions {
            non_finite: NonFinitePolicy::Error,
            ..Default::default()
        };
        let e = read_csv(&p, &schema(), &mut Encoders::new(), &opts).unwrap_err();
        match &e {
            FlowsError::NonFinite {
                line,
                column,
                column_name,
                ..
            } => {
                assert_eq!((*line, *column, column_name.as_str()), (4, 4, "dur"));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(e.to_string().contains("nf.csv"), "{e}");
        // NaN spelled out is also non-finite; CICFlowMeter's `Infinity` too.
        let p = write(
            &dir,
            "nan.csv",
            b"id,bytes,proto,dur,label,attack\n1,NaN,tcp,Infinity,0,normal\n",
        );
        let t = read(&p).unwrap();
        assert!(t.features()[[0, 0]].is_nan() && t.features()[[0, 2]].is_nan());
        assert!(read_csv(&p, &schema(), &mut Encoders::new(), &opts).is_err());
    }

    #[test]
    fn wrong_field_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "short.csv",
            b"id,bytes,proto,dur,label,attack\n1,10,tcp,0.5,0,normal\n2,20,udp,1\n",
        );
        let e = read(&p).unwrap_err();
        assert!(
            matches!(
                e,
                FlowsError::FieldCount {
                    line: 3,
                    column: 5,
                    expected: 6,
                    found: 4,
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("short.csv") && msg.contains("line 3") && msg.contains("column 5"),
            "{msg}"
        );
    }

    #[test]
    fn non_numeric_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "bad.csv.gz",
            &gz(b"id,bytes,proto,dur,label,attack\n1,10,tcp,0.5,0,normal\n2,twenty,udp,1,1,scan\n"),
        );
        let e = read(&p).unwrap_err();
        match &e {
            FlowsError::NotANumber {
                line,
                column,
                column_name,
                value,
                ..
            } => {
                assert_eq!((*line, *column), (3, 2));
                assert_eq!(column_name, "bytes");
                assert_eq!(value, "twenty");
            }
            other => panic!("unexpected {other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("bad.csv.gz") && msg.contains("line 3, column 2"),
            "{msg}"
        );
    }

    #[test]
    fn empty_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("empty.csv", Vec::new()), ("empty.csv.gz", gz(b""))] {
            let p = write(&dir, name, &bytes);
            let e = read(&p).unwrap_err();
            assert!(matches!(e, FlowsError::EmptyFile { .. }), "{e:?}");
            assert!(e.to_string().contains(name) && e.to_string().contains("line 1"));
        }
        // A header and no rows is a valid, empty table.
        let p = write(&dir, "header.csv", b"id,bytes,proto,dur,label,attack\n");
        assert_eq!(read(&p).unwrap().n_rows(), 0);
    }

    #[test]
    fn truncated_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("id,bytes,proto,dur,label,attack\n");
        for i in 0..20_000 {
            text.push_str(&format!(
                "{i},{},tcp,{}.5,{},x{}\n",
                i * 7,
                i % 13,
                i % 2,
                i % 5
            ));
        }
        let full = gz(text.as_bytes());
        let p = write(&dir, "cut.csv.gz", &full[..full.len() / 2]);
        let e = read(&p).unwrap_err();
        match &e {
            FlowsError::Gzip { line, .. } => assert!(*line > 1 && *line < 20_002, "line {line}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("cut.csv.gz"), "{e}");
        // Cut inside the trailer only (all data present, CRC/size missing): still an error.
        let p = write(&dir, "trailer.csv.gz", &full[..full.len() - 4]);
        assert!(matches!(read(&p), Err(FlowsError::Gzip { .. })));
    }

    #[test]
    fn missing_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "nolabel.csv",
            b"id,bytes,proto,dur,attack\n1,10,tcp,0.5,normal\n",
        );
        let e = read(&p).unwrap_err();
        match &e {
            FlowsError::MissingColumn { column, role, .. } => {
                assert_eq!((column.as_str(), *role), ("label", "label"));
            }
            other => panic!("unexpected {other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("nolabel.csv") && msg.contains("line 1") && msg.contains("`label`"),
            "{msg}"
        );
        // Unless unlabelled files are allowed explicitly.
        let p = write(&dir, "unlab.csv", b"id,bytes,proto,dur\n1,10,tcp,0.5\n");
        let opts = ReadOptions {
            allow_unlabelled: true,
            ..Default::default()
        };
        let t = read_csv(&p, &schema(), &mut Encoders::new(), &opts).unwrap();
        assert_eq!(t.class_names(), &[UNLABELLED_CLASS]);
    }

    #[test]
    fn strict_schema_and_duplicate_headers() {
        let dir = tempfile::tempdir().unwrap();
        let strict = Schema::from_toml_str(
            "name='s'\ndefault='error'\nbenign_labels=['0']\n[columns]\nlabel='label'\na='numeric'\n",
            "s",
        )
        .unwrap();
        let p = write(&dir, "s.csv", b"a,b,label\n1,2,0\n");
        let e = read_csv(&p, &strict, &mut Encoders::new(), &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(e, FlowsError::UnknownHeaderColumn { column: 2, .. }),
            "{e:?}"
        );
        // A repeated feature header is kept under a suffixed name (CIC-IDS2017 does this).
        let loose = Schema::from_toml_str(
            "name='l'\nbenign_labels=['0']\n[columns]\nlabel='label'\n",
            "l",
        )
        .unwrap();
        let p = write(&dir, "d.csv", b"x,x,label\n1,2,0\n");
        let t = read_csv(&p, &loose, &mut Encoders::new(), &ReadOptions::default()).unwrap();
        assert_eq!(t.feature_names(), vec!["x", "x.1"]);
        let p = write(&dir, "dl.csv", b"x,label,label\n1,0,0\n");
        assert!(matches!(
            read_csv(&p, &loose, &mut Encoders::new(), &ReadOptions::default()),
            Err(FlowsError::DuplicateColumn { column: 3, .. })
        ));
    }

    #[test]
    fn invalid_utf8_in_text_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "u.csv",
            b"id,bytes,proto,dur,label,attack\n1,1,\xff\xfe,1,0,normal\n",
        );
        assert!(matches!(
            read(&p),
            Err(FlowsError::InvalidUtf8 {
                line: 2,
                column: 3,
                ..
            })
        ));
        assert!(matches!(
            read(&dir.path().join("absent.csv")),
            Err(FlowsError::FileNotFound { .. })
        ));
    }
}
