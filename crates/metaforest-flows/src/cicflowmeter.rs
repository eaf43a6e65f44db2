//! CICFlowMeter CSV and, more generally, any schema-described CSV flow export, streamed one record at a
//! time and mapped onto a *target feature space* (a list of [`ColumnSpec`]s, e.g. the NF-v2 space a model
//! was trained in). [`read_csv`](crate::read_csv) loads whole tables for training; this reader is for
//! scoring streams, where one bad record must not stop the rest.
//!
//! CICFlowMeter has spelled its headers differently across versions: CIC-IDS2017 (`Total Fwd Packets`,
//! ` Destination Port` with a leading space), CSE-CIC-IDS2018 / CICFlowMeter-V3 (`Tot Fwd Pkts`,
//! `Dst Port`) and the Python `cicflowmeter` package (`tot_fwd_pkts`, `dst_port`). [`canonical_header`]
//! maps all of them onto the 2018 spelling.
//!
//! Mapping, per target column (first match wins): a header column of the same canonical name (categorical
//! targets use the target's dictionary; unseen values → [`UNKNOWN_CODE`]); the built-in NetFlow-v2 mapping
//! [`NF_V2_MAP`] on CICFlowMeter-named columns (under a user's schema too); otherwise missing (`NaN`).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::{FlowsError, Result};
use crate::lines::{Next, RecordReader, DEFAULT_MAX_RECORD_BYTES};
use crate::number::plain_decimal;
use crate::row_reader::{Kept, MappedRow, RowReader};
use crate::schema::{ColumnRole, Schema};
use crate::table::{ColumnKind, ColumnSpec, FlowTable, UNKNOWN_CODE};
use crate::zeek::{open_maybe_gzip, TableBuilder};

/// Canonical (CSE-CIC-IDS2018 / CICFlowMeter-V3) header names and their other spellings. Matching ignores
/// case, spaces, `_`, `/` and other punctuation, so `tot_fwd_pkts` already equals `Tot Fwd Pkts`; the
/// aliases cover the renamed ones.
pub const HEADER_ALIASES: &[(&str, &[&str])] = &[
    ("Src Port", &["Source Port"]),
    ("Dst Port", &["Destination Port"]),
    ("Src IP", &["Source IP"]),
    ("Dst IP", &["Destination IP"]),
    ("Protocol", &[]),
    ("Timestamp", &[]),
    ("Flow Duration", &[]),
    ("Tot Fwd Pkts", &["Total Fwd Packets", "Total Fwd Packet"]),
    (
        "Tot Bwd Pkts",
        &[
            "Total Backward Packets",
            "Total Bwd Packets",
            "Total Bwd packets",
        ],
    ),
    (
        "TotLen Fwd Pkts",
        &[
            "Total Length of Fwd Packets",
            "Total Length of Fwd Packet",
            "Fwd Packets Length Total",
        ],
    ),
    (
        "TotLen Bwd Pkts",
        &[
            "Total Length of Bwd Packets",
            "Total Length of Bwd Packet",
            "Bwd Packets Length Total",
        ],
    ),
    ("Fwd Pkt Len Max", &["Fwd Packet Length Max"]),
    ("Fwd Pkt Len Min", &["Fwd Packet Length Min"]),
    ("Fwd Pkt Len Mean", &["Fwd Packet Length Mean"]),
    ("Bwd Pkt Len Max", &["Bwd Packet Length Max"]),
    ("Bwd Pkt Len Min", &["Bwd Packet Length Min"]),
    ("Bwd Pkt Len Mean", &["Bwd Packet Length Mean"]),
    ("Flow Byts/s", &["Flow Bytes/s"]),
    ("Flow Pkts/s", &["Flow Packets/s"]),
    ("Pkt Len Min", &["Min Packet Length", "Packet Length Min"]),
    ("Pkt Len Max", &["Max Packet Length", "Packet Length Max"]),
    ("Pkt Len Mean", &["Packet Length Mean"]),
    (
        "Init Fwd Win Byts",
        &[
            "Init_Win_bytes_forward",
            "FWD Init Win Bytes",
            "Init Fwd Win Bytes",
        ],
    ),
    (
        "Init Bwd Win Byts",
        &[
            "Init_Win_bytes_backward",
            "Bwd Init Win Bytes",
            "Init Bwd Win Bytes",
        ],
    ),
    ("FIN Flag Cnt", &["FIN Flag Count"]),
    ("SYN Flag Cnt", &["SYN Flag Count"]),
    ("RST Flag Cnt", &["RST Flag Count"]),
    ("PSH Flag Cnt", &["PSH Flag Count"]),
    ("ACK Flag Cnt", &["ACK Flag Count"]),
    ("URG Flag Cnt", &["URG Flag Count"]),
    ("ECE Flag Cnt", &["ECE Flag Count"]),
    ("CWE Flag Count", &["CWR Flag Count", "CWR Flag Cnt"]),
    ("Label", &[]),
];

/// How CICFlowMeter columns become an NF-v2 feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CicTransform {
    /// One column times a factor (CICFlowMeter durations are µs; NF-v2's are ms: 0.001).
    Scale(&'static str, f64),
    /// TCP flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128) of the flag counters
    /// that are non-zero.
    Flags,
}

/// The built-in CICFlowMeter → NF-v2 mapping. Approximations worth knowing: CICFlowMeter counts
/// payload-level packet lengths where nProbe counts IP lengths, and the initial TCP window stands in for
/// the maximum one.
pub const NF_V2_MAP: &[(&str, CicTransform)] = &[
    ("L4_SRC_PORT", CicTransform::Scale("Src Port", 1.0)),
    ("L4_DST_PORT", CicTransform::Scale("Dst Port", 1.0)),
    ("PROTOCOL", CicTransform::Scale("Protocol", 1.0)),
    ("IN_BYTES", CicTransform::Scale("TotLen Fwd Pkts", 1.0)),
    ("OUT_BYTES", CicTransform::Scale("TotLen Bwd Pkts", 1.0)),
    ("IN_PKTS", CicTransform::Scale("Tot Fwd Pkts", 1.0)),
    ("OUT_PKTS", CicTransform::Scale("Tot Bwd Pkts", 1.0)),
    (
        "FLOW_DURATION_MILLISECONDS",
        CicTransform::Scale("Flow Duration", 0.001),
    ),
    ("LONGEST_FLOW_PKT", CicTransform::Scale("Pkt Len Max", 1.0)),
    ("SHORTEST_FLOW_PKT", CicTransform::Scale("Pkt Len Min", 1.0)),
    (
        "TCP_WIN_MAX_IN",
        CicTransform::Scale("Init Fwd Win Byts", 1.0),
    ),
    (
        "TCP_WIN_MAX_OUT",
        CicTransform::Scale("Init Bwd Win Byts", 1.0),
    ),
    ("TCP_FLAGS", CicTransform::Flags),
];

const FLAG_BITS: [(&str, u32); 8] = [
    ("FIN Flag Cnt", 1),
    ("SYN Flag Cnt", 2),
    ("RST Flag Cnt", 4),
    ("PSH Flag Cnt", 8),
    ("ACK Flag Cnt", 16),
    ("URG Flag Cnt", 32),
    ("ECE Flag Cnt", 64),
    ("CWE Flag Count", 128),
];

fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The canonical CICFlowMeter name of a header in any known spelling; other headers come back trimmed.
pub fn canonical_header(header: &str) -> String {
    let key = squash(header);
    for (canonical, aliases) in HEADER_ALIASES {
        if squash(canonical) == key || aliases.iter().any(|a| squash(a) == key) {
            return (*canonical).to_owned();
        }
    }
    header.trim().to_owned()
}

/// Which header conventions a [`CsvRowReader`] applies.
#[derive(Debug, Clone)]
pub enum Dialect {
    /// The schema's own aliases; target columns are matched by name, then (for NF-v2 targets) through
    /// the NF-v2 mapping on columns named as CICFlowMeter names them.
    Schema(Schema),
    /// The built-in `cicflowmeter` schema, the version aliases of [`HEADER_ALIASES`] and the NF-v2 mapping.
    CicFlowMeter,
}

#[derive(Debug, Clone)]
enum Source {
    Missing,
    Column(usize, f64),
    Categorical(usize, usize),
    Flags(Vec<(usize, u32)>),
}

/// Streams a CSV flow export (see the module documentation). Lines are numbered physically (blank
/// lines, comments and CRLF endings count), a record is one line, and a record longer than the bound is
/// a malformed row.
pub struct CsvRowReader<R: BufRead> {
    records: RecordReader<R>,
    max_record_bytes: usize,
    /// Set after an error that ends the stream.
    ended: bool,
    origin: PathBuf,
    schema: Schema,
    header: Vec<String>,
    /// The header as written (trimmed), for passing columns through.
    input_names: Vec<String>,
    kept: Kept,
    target: Vec<ColumnSpec>,
    plan: Vec<Source>,
    label_at: Option<usize>,
    class_at: Option<usize>,
    record: csv::ByteRecord,
    last_line: u64,
    /// A missing-value token reads as a plain decimal, so every field is checked against the tokens first.
    missing_looks_numeric: bool,
}

impl<R: BufRead> RowReader for CsvRowReader<R> {
    fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        CsvRowReader::next_row(self, out)
    }

    fn mapping(&self) -> Vec<(String, String)> {
        CsvRowReader::mapping(self)
    }

    fn input_columns(&self) -> Vec<String> {
        self.input_names.clone()
    }

    fn keep(&mut self, names: &[String]) -> Result<()> {
        self.kept = Kept::new(&self.origin, names, &self.input_names)?;
        Ok(())
    }

    fn kept(&self) -> &[String] {
        &self.kept.values
    }
}

impl<R: BufRead> CsvRowReader<R> {
    /// Reads the header and plans the mapping onto `target`; records are bounded by
    /// [`DEFAULT_MAX_RECORD_BYTES`].
    pub fn new(
        input: R,
        origin: impl Into<PathBuf>,
        dialect: &Dialect,
        target: &[ColumnSpec],
    ) -> Result<Self> {
        Self::with_max_record_bytes(input, origin, dialect, target, DEFAULT_MAX_RECORD_BYTES)
    }

    /// Like [`new`](Self::new), with records (lines) bounded by `max_record_bytes`.
    pub fn with_max_record_bytes(
        input: R,
        origin: impl Into<PathBuf>,
        dialect: &Dialect,
        target: &[ColumnSpec],
        max_record_bytes: usize,
    ) -> Result<Self> {
        let origin = origin.into();
        let (schema, cic) = match dialect {
            Dialect::Schema(s) => (s.clone(), false),
            Dialect::CicFlowMeter => (Schema::builtin("cicflowmeter")?, true),
        };
        let mut records =
            RecordReader::new(input, schema.delimiter, schema.comment, max_record_bytes);
        let mut record = csv::ByteRecord::new();
        match records.next_record(&mut record) {
            Ok(Next::Line) => {}
            Ok(Next::End) => return Err(FlowsError::EmptyFile { path: origin }),
            Ok(Next::TooLong) => {
                return Err(FlowsError::RecordTooLong {
                    path: origin,
                    line: records.line(),
                    limit: max_record_bytes,
                })
            }
            Err(source) => {
                return Err(FlowsError::ReadFailed {
                    path: origin,
                    line: records.line() + 1,
                    source,
                })
            }
        }
        let input_names: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = String::from_utf8_lossy(raw);
                let raw = if i == 0 {
                    raw.trim_start_matches('\u{feff}')
                } else {
                    &raw
                };
                raw.trim().to_owned()
            })
            .collect();
        let header: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = String::from_utf8_lossy(raw);
                let raw = if i == 0 {
                    raw.trim_start_matches('\u{feff}').to_owned()
                } else {
                    raw.into_owned()
                };
                let name = schema.canonical_name(&raw).to_owned();
                if cic {
                    canonical_header(&name)
                } else {
                    name
                }
            })
            .collect();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            index.entry(h.as_str()).or_insert(i);
        }
        let usable = |name: &str| -> Option<usize> {
            let i = *index.get(name)?;
            matches!(
                schema.role_of(name),
                Some(ColumnRole::Numeric | ColumnRole::Categorical)
            )
            .then_some(i)
        };
        // The NF-v2 mapping also applies under a user's schema (its columns named as CICFlowMeter
        // names them, in any version's spelling), for the targets no column matches by name.
        let mut cic_index: HashMap<String, usize> = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            cic_index.entry(canonical_header(h)).or_insert(i);
        }
        let cic_source = |name: &str| -> Option<usize> {
            usable(name).or_else(|| {
                let i = *cic_index.get(name)?;
                matches!(
                    schema.role_of(&header[i]),
                    Some(ColumnRole::Numeric | ColumnRole::Categorical)
                )
                .then_some(i)
            })
        };
        let plan: Vec<Source> = target
            .iter()
            .enumerate()
            .map(|(j, t)| {
                if let Some(i) = usable(&t.name) {
                    return if t.is_categorical() {
                        Source::Categorical(i, j)
                    } else {
                        Source::Column(i, 1.0)
                    };
                }
                match NF_V2_MAP.iter().find(|(n, _)| *n == t.name) {
                    Some((_, CicTransform::Scale(col, k))) => {
                        cic_source(col).map_or(Source::Missing, |i| Source::Column(i, *k))
                    }
                    Some((_, CicTransform::Flags)) => {
                        let cols: Vec<(usize, u32)> = FLAG_BITS
                            .iter()
                            .filter_map(|(c, bit)| cic_source(c).map(|i| (i, *bit)))
                            .collect();
                        if cols.is_empty() {
                            Source::Missing
                        } else {
                            Source::Flags(cols)
                        }
                    }
                    None => Source::Missing,
                }
            })
            .collect();
        if !target.is_empty() && plan.iter().all(|s| matches!(s, Source::Missing)) {
            return Err(FlowsError::Incompatible(format!(
                "{}: no column of this file maps onto the {} target features (schema `{}`)",
                origin.display(),
                target.len(),
                schema.name
            )));
        }
        let label_at = schema.label_column().and_then(|c| index.get(c).copied());
        let class_at = schema.class_column().and_then(|c| index.get(c).copied());
        let last_line = records.line();
        let missing_looks_numeric = schema
            .missing
            .iter()
            .any(|m| plain_decimal(m.as_bytes()).is_some());
        Ok(Self {
            missing_looks_numeric,
            records,
            max_record_bytes,
            ended: false,
            origin,
            schema,
            header,
            input_names,
            kept: Kept::default(),
            target: target.to_vec(),
            plan,
            label_at,
            class_at,
            record,
            last_line,
        })
    }

    /// The canonical header names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// `(target feature, source column)` for every target column read from the file.
    pub fn mapping(&self) -> Vec<(String, String)> {
        self.target
            .iter()
            .zip(&self.plan)
            .filter_map(|(t, s)| {
                let src = match s {
                    Source::Missing => return None,
                    Source::Column(i, k) if *k != 1.0 => format!("{} ×{k}", self.header[*i]),
                    Source::Column(i, _) | Source::Categorical(i, _) => self.header[*i].clone(),
                    Source::Flags(c) => format!("{} flag counters", c.len()),
                };
                Some((t.name.clone(), src))
            })
            .collect()
    }

    /// Whether the file has a label or attack-class column.
    pub fn is_labelled(&self) -> bool {
        self.label_at.is_some() || self.class_at.is_some()
    }

    /// Reads the next flow into `out` (one value per target column). `None` at the end of the input.
    /// A malformed record is an `Err` naming its line (and column); reading may continue with the next call.
    /// After an error that [ends the stream](FlowsError::ends_stream), `None`.
    pub fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        if self.ended {
            return None;
        }
        let next = self.records.next_record(&mut self.record);
        self.last_line = self.records.line();
        match next {
            Ok(Next::End) => None,
            Ok(Next::Line) => {
                let row = self.map_record(out);
                if row.is_ok() && !self.kept.is_empty() {
                    let record = &self.record;
                    self.kept.fill(|i, _, v| {
                        v.push_str(&String::from_utf8_lossy(record[i].trim_ascii()))
                    });
                }
                Some(row)
            }
            Ok(Next::TooLong) => Some(Err(FlowsError::RecordTooLong {
                path: self.origin.clone(),
                line: self.last_line,
                limit: self.max_record_bytes,
            })),
            Err(source) => {
                self.ended = true;
                Some(Err(FlowsError::ReadFailed {
                    path: self.origin.clone(),
                    line: self.last_line + 1,
                    source,
                }))
            }
        }
    }

    fn field(&self, i: usize) -> Result<&str> {
        std::str::from_utf8(self.record[i].trim_ascii()).map_err(|_| FlowsError::InvalidUtf8 {
            path: self.origin.clone(),
            line: self.last_line,
            column: i + 1,
            column_name: self.header[i].clone(),
        })
    }

    fn number(&self, i: usize) -> Result<f64> {
        if !self.missing_looks_numeric {
            if let Some(v) = plain_decimal(self.record[i].trim_ascii()) {
                return Ok(v);
            }
        }
        let t = self.field(i)?;
        if self.schema.missing.iter().any(|m| m == t) || t.is_empty() {
            return Ok(f64::NAN);
        }
        match t.parse::<f64>() {
            // Infinity (CICFlowMeter's Flow Byts/s) is missing, as in the table reader's default policy.
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Ok(f64::NAN),
            Err(_) => Err(FlowsError::NotANumber {
                path: self.origin.clone(),
                line: self.last_line,
                column: i + 1,
                column_name: self.header[i].clone(),
                value: t.chars().take(40).collect(),
            }),
        }
    }

    fn map_record(&self, out: &mut [f64]) -> Result<MappedRow> {
        let n = self.header.len();
        if self.record.len() != n {
            return Err(FlowsError::FieldCount {
                path: self.origin.clone(),
                line: self.last_line,
                column: self.record.len().min(n) + 1,
                expected: n,
                found: self.record.len(),
            });
        }
        if out.len() != self.target.len() {
            return Err(FlowsError::InvalidArgument(format!(
                "row buffer of {} values for {} target features",
                out.len(),
                self.target.len()
            )));
        }
        for (slot, source) in out.iter_mut().zip(&self.plan) {
            *slot = match source {
                Source::Missing => f64::NAN,
                Source::Column(i, k) => self.number(*i)? * k,
                Source::Categorical(i, j) => {
                    let t = self.field(*i)?;
                    match &self.target[*j].kind {
                        ColumnKind::Categorical(d) => d.code(t).map_or(UNKNOWN_CODE, f64::from),
                        ColumnKind::Numeric => UNKNOWN_CODE,
                    }
                }
                Source::Flags(cols) => {
                    let mut bits = 0u32;
                    for &(i, bit) in cols {
                        let v = self.number(i)?;
                        if v > 0.0 {
                            bits |= bit;
                        }
                    }
                    f64::from(bits)
                }
            };
        }
        let class = match self.class_at {
            Some(i) => Some(self.field(i)?.to_owned()),
            None => None,
        };
        let label = match (self.label_at, &class) {
            (Some(i), _) => {
                let t = self.field(i)?;
                Some(self.schema.label_value(t).ok_or_else(|| {
                    self.schema.unreadable_label(
                        &self.origin,
                        self.last_line,
                        i,
                        &self.header[i],
                        t,
                    )
                })?)
            }
            (None, Some(c)) => Some(u8::from(!self.schema.benign_classes.iter().any(|b| b == c))),
            (None, None) => None,
        };
        Ok(MappedRow {
            line: self.last_line,
            label,
            class,
        })
    }
}

/// Reads a whole labelled CSV export (plain or gzip) into a table in the `target` space; the first
/// malformed record is an error naming its line and column.
pub fn read_mapped_csv(
    path: impl AsRef<Path>,
    dialect: &Dialect,
    target: &[ColumnSpec],
) -> Result<FlowTable> {
    let path = path.as_ref();
    let mut reader = CsvRowReader::new(open_maybe_gzip(path)?, path, dialect, target)?;
    if !reader.is_labelled() {
        return Err(FlowsError::MissingColumn {
            path: path.to_owned(),
            column: "Label".into(),
            role: "label",
        });
    }
    let mut table = TableBuilder::new(target);
    let mut row = vec![0.0; target.len()];
    let mut rows = 0usize;
    while let Some(r) = reader.next_row(&mut row) {
        let r = r?;
        crate::reader::check_row_cap(path, r.line, &mut rows)?;
        table.push(&row, r.label.unwrap_or(0), r.class.as_deref());
    }
    let domain = path
        .file_name()
        .map_or_else(|| "csv".to_owned(), |n| n.to_string_lossy().into_owned());
    table.finish(&domain)
}
