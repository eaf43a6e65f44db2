//! Zeek `conn.log` reader: the native TSV format (`#separator`, `#fields`, … header lines) and JSON lines
//! (`LogAscii::use_json`), plain or gzip, streamed one record at a time and mapped onto a *target feature
//! space* (a list of [`ColumnSpec`]s, e.g. the NF-v2 space a model was trained in).
//!
//! Mapping, per target column (first match wins):
//! 1. a Zeek field of the same name (so a model trained on Zeek's own fields reads them directly);
//!    categorical targets are encoded with the target's dictionary (unseen values → [`UNKNOWN_CODE`]);
//! 2. the built-in NetFlow-v2 mapping [`NF_V2_MAP`] (ports, protocol, IP-level bytes and packets per
//!    direction, duration in milliseconds, TCP flags rebuilt from the `history` string);
//! 3. otherwise the value is missing (`NaN`; the forest has a bin of its own for missing values).
//!
//! Zeek's unset (`-`) and empty (`(empty)`) markers are missing values. IoT-23 style labels (`label` =
//! `Benign`/`Malicious`, `detailed-label` = attack class, `-` for benign) are read when present; IoT-23's
//! TSV files join the last three fields with three spaces instead of a tab, which is undone here.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ndarray::{Array2, ShapeBuilder};

use crate::error::{FlowsError, Result};
use crate::gzip::starts_with_gzip;
use crate::lines::{LineReader, Next, DEFAULT_MAX_RECORD_BYTES};
pub use crate::row_reader::MappedRow;
use crate::row_reader::{Kept, RowReader};
use crate::table::{ColumnKind, ColumnSpec, FlowTable, UNKNOWN_CODE};

/// The fields that identify a connection, passed through by default (`--keep`): a SIEM joins on them.
pub const FLOW_KEY: &[&str] = &[
    "uid",
    "ts",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
];

/// The two encodings Zeek writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeekFormat {
    /// Tab-separated with `#`-prefixed header lines.
    Tsv,
    /// One JSON object per line.
    Json,
}

/// How a Zeek field becomes an NF-v2 feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeekTransform {
    /// The number, multiplied by a factor (seconds → milliseconds: 1000).
    Scale(u32),
    /// `tcp`/`udp`/`icmp`/… → IANA protocol number.
    Protocol,
    /// TCP flags seen from both sides, rebuilt from `history` (`S` SYN, `H` SYN-ACK, `A` ACK, `D` data →
    /// PSH, `F` FIN, `R` RST; upper case = originator).
    FlagsBoth,
    /// Originator's flags from `history`.
    FlagsClient,
    /// Responder's flags from `history`.
    FlagsServer,
}

/// The built-in Zeek → NF-v2 mapping: `(NF-v2 feature, Zeek field(s) in order of preference, transform)`.
/// NF-v2's `IN_*` counters are source → destination, i.e. Zeek's originator side.
pub const NF_V2_MAP: &[(&str, &[&str], ZeekTransform)] = &[
    ("L4_SRC_PORT", &["id.orig_p"], ZeekTransform::Scale(1)),
    ("L4_DST_PORT", &["id.resp_p"], ZeekTransform::Scale(1)),
    ("PROTOCOL", &["proto"], ZeekTransform::Protocol),
    (
        "IN_BYTES",
        &["orig_ip_bytes", "orig_bytes"],
        ZeekTransform::Scale(1),
    ),
    (
        "OUT_BYTES",
        &["resp_ip_bytes", "resp_bytes"],
        ZeekTransform::Scale(1),
    ),
    ("IN_PKTS", &["orig_pkts"], ZeekTransform::Scale(1)),
    ("OUT_PKTS", &["resp_pkts"], ZeekTransform::Scale(1)),
    (
        "FLOW_DURATION_MILLISECONDS",
        &["duration"],
        ZeekTransform::Scale(1000),
    ),
    ("TCP_FLAGS", &["history"], ZeekTransform::FlagsBoth),
    ("CLIENT_TCP_FLAGS", &["history"], ZeekTransform::FlagsClient),
    ("SERVER_TCP_FLAGS", &["history"], ZeekTransform::FlagsServer),
];

/// IANA number of a protocol name as Zeek spells it (`None` for names it does not know).
pub fn protocol_number(name: &str) -> Option<f64> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "icmp" => 1.0,
        "igmp" => 2.0,
        "tcp" => 6.0,
        "udp" => 17.0,
        "gre" => 47.0,
        "esp" => 50.0,
        "icmp6" | "ipv6-icmp" => 58.0,
        "sctp" => 132.0,
        other => return other.parse().ok(),
    })
}

/// TCP flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16) implied by a Zeek `history` string, for the
/// originator (`client`), the responder, or both.
pub fn history_flags(history: &str, client: bool, server: bool) -> f64 {
    let mut bits = 0u32;
    for c in history.chars() {
        let upper = c.is_ascii_uppercase();
        if (upper && !client) || (!upper && !server) {
            continue;
        }
        bits |= match c.to_ascii_lowercase() {
            's' => 2,
            'h' => 2 | 16,
            'a' => 16,
            'd' => 8,
            'f' => 1,
            'r' => 4,
            _ => 0,
        };
    }
    f64::from(bits)
}

/// Where a target column's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Missing,
    /// Same-named field; categorical targets carry their column index for the dictionary.
    Direct {
        field: String,
        categorical: Option<usize>,
    },
    Nf {
        fields: &'static [&'static str],
        transform: ZeekTransform,
    },
}

/// A raw field value.
enum Raw<'a> {
    Missing,
    Num(f64),
    Text(&'a str),
}

/// Streams a Zeek `conn.log` (see the module documentation). Lines are numbered physically; a line
/// longer than the bound, or one that is not UTF-8, is a malformed row.
pub struct ConnLogReader<R> {
    lines: LineReader<R>,
    max_record_bytes: usize,
    /// Set after an error that ends the stream.
    ended: bool,
    origin: PathBuf,
    format: ZeekFormat,
    line: u64,
    separator: char,
    unset: String,
    empty: String,
    /// TSV field names and their positions.
    fields: Vec<String>,
    index: HashMap<String, usize>,
    /// IoT-23 joins fields with three spaces: split those too.
    split_spaces: bool,
    target: Vec<ColumnSpec>,
    plan: Vec<Source>,
    /// First data line, read while detecting the format.
    pending: Option<Vec<u8>>,
    /// JSON lines: the first record's keys (nested objects one level deep as `a.b`).
    json_keys: Vec<String>,
    kept: Kept,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> FlowsError + '_ {
    move |source| FlowsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens a file for reading, decompressing gzip (detected by its magic bytes).
pub fn open_maybe_gzip(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = crate::error::open_file(path)?;
    wrap_maybe_gzip(file, path)
}

/// Wraps any reader, decompressing gzip (detected by its magic bytes); `path` names it in errors.
pub fn wrap_maybe_gzip<R: Read + Send + 'static>(
    reader: R,
    path: &Path,
) -> Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    if starts_with_gzip(&mut buffered).map_err(io_error(path))? {
        Ok(Box::new(BufReader::new(
            flate2::bufread::MultiGzDecoder::new(buffered),
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

impl<R: BufRead> RowReader for ConnLogReader<R> {
    fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        ConnLogReader::next_row(self, out)
    }

    fn mapping(&self) -> Vec<(String, String)> {
        ConnLogReader::mapping(self)
    }

    fn input_columns(&self) -> Vec<String> {
        match self.format {
            ZeekFormat::Tsv => self.fields.clone(),
            ZeekFormat::Json => self.json_keys.clone(),
        }
    }

    fn default_keep(&self) -> &'static [&'static str] {
        FLOW_KEY
    }

    fn keep(&mut self, names: &[String]) -> Result<()> {
        self.kept = Kept::new(&self.origin, names, &self.input_columns())?;
        Ok(())
    }

    fn kept(&self) -> &[String] {
        &self.kept.values
    }
}

/// A JSON record's field: a flat key (`id.orig_p`) as Zeek writes it, or one level of nesting
/// (`{"id": {"orig_p": …}}`).
fn json_field<'m>(
    map: &'m serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'m serde_json::Value> {
    map.get(name).or_else(|| {
        let (a, b) = name.split_once('.')?;
        map.get(a)?.get(b)
    })
}

/// A JSON record's keys, nested objects one level deep as `a.b`; empty when the line is not an object.
fn json_keys(line: &[u8]) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(line) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (k, v) in &map {
        match v {
            serde_json::Value::Object(inner) => {
                keys.extend(inner.keys().map(|b| format!("{k}.{b}")))
            }
            _ => keys.push(k.clone()),
        }
    }
    keys
}

impl<R: BufRead> ConnLogReader<R> {
    /// Reads the header (TSV) or the first record (JSON) and plans the mapping onto `target`; lines
    /// are bounded by [`DEFAULT_MAX_RECORD_BYTES`].
    pub fn new(input: R, origin: impl Into<PathBuf>, target: &[ColumnSpec]) -> Result<Self> {
        Self::with_max_record_bytes(input, origin, target, DEFAULT_MAX_RECORD_BYTES)
    }

    /// Like [`new`](Self::new), with lines bounded by `max_record_bytes`.
    pub fn with_max_record_bytes(
        input: R,
        origin: impl Into<PathBuf>,
        target: &[ColumnSpec],
        max_record_bytes: usize,
    ) -> Result<Self> {
        let mut r = Self {
            lines: LineReader::new(input, max_record_bytes),
            max_record_bytes,
            ended: false,
            origin: origin.into(),
            format: ZeekFormat::Tsv,
            line: 0,
            separator: '\t',
            unset: "-".into(),
            empty: "(empty)".into(),
            fields: Vec::new(),
            index: HashMap::new(),
            split_spaces: false,
            target: target.to_vec(),
            plan: Vec::new(),
            pending: None,
            json_keys: Vec::new(),
            kept: Kept::default(),
        };
        loop {
            if !r.read_line()? {
                if r.fields.is_empty() {
                    return Err(FlowsError::EmptyFile { path: r.origin });
                }
                break;
            }
            let line = String::from_utf8_lossy(r.lines.bytes()).into_owned();
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                r.header_line(rest)?;
                continue;
            }
            if line.trim_start().starts_with('{') && r.fields.is_empty() {
                r.format = ZeekFormat::Json;
            } else if r.fields.is_empty() {
                return Err(FlowsError::Csv {
                    path: r.origin.clone(),
                    line: r.line,
                    message: "not a Zeek log: data before the `#fields` header line".into(),
                });
            }
            r.pending = Some(r.lines.bytes().to_vec());
            break;
        }
        r.plan = r.make_plan();
        if let (ZeekFormat::Json, Some(first)) = (r.format, &r.pending) {
            r.json_keys = json_keys(first);
        }
        if r.format == ZeekFormat::Tsv && r.plan.iter().all(|s| matches!(s, Source::Missing)) {
            return Err(FlowsError::Incompatible(format!(
                "{}: no field of this Zeek log maps onto the {} target features",
                r.origin.display(),
                r.target.len()
            )));
        }
        Ok(r)
    }

    /// TSV or JSON.
    pub fn format(&self) -> ZeekFormat {
        self.format
    }

    /// `(target feature, source)` for every target column that is not missing (for TSV; JSON fields
    /// are looked up per record, so every planned source is listed).
    pub fn mapping(&self) -> Vec<(String, String)> {
        self.target
            .iter()
            .zip(&self.plan)
            .filter_map(|(t, s)| match s {
                Source::Missing => None,
                Source::Direct { field, .. } => Some((t.name.clone(), field.clone())),
                Source::Nf { fields, transform } => {
                    let f = fields.iter().find(|f| {
                        self.format == ZeekFormat::Json || self.index.contains_key(**f)
                    })?;
                    Some((t.name.clone(), format!("{f} ({transform:?})")))
                }
            })
            .collect()
    }

    /// Reads the next line (its bytes in `self.lines`); `false` at the end.
    fn read_line(&mut self) -> Result<bool> {
        let next = self.lines.next_line();
        self.line = self.lines.line();
        match next {
            Ok(Next::Line) => Ok(true),
            Ok(Next::End) => Ok(false),
            Ok(Next::TooLong) => Err(FlowsError::RecordTooLong {
                path: self.origin.clone(),
                line: self.line,
                limit: self.max_record_bytes,
            }),
            Err(source) => {
                self.ended = true;
                Err(FlowsError::ReadFailed {
                    path: self.origin.clone(),
                    line: self.line + 1,
                    source,
                })
            }
        }
    }

    /// The text of a data line; a line that is not UTF-8 is a malformed row naming its first bad field.
    fn text_of(&self, bytes: Vec<u8>) -> Result<String> {
        String::from_utf8(bytes).map_err(|e| {
            let bytes = e.as_bytes();
            let bad_at = e.utf8_error().valid_up_to();
            let column = match self.format {
                ZeekFormat::Tsv => {
                    let sep = u8::try_from(self.separator).unwrap_or(b'\t');
                    bytes[..bad_at].iter().filter(|b| **b == sep).count()
                }
                ZeekFormat::Json => 0,
            };
            FlowsError::InvalidUtf8 {
                path: self.origin.clone(),
                line: self.line,
                column: column + 1,
                column_name: self.fields.get(column).cloned().unwrap_or_default(),
            }
        })
    }

    fn header_line(&mut self, rest: &str) -> Result<()> {
        let (key, value) = match rest.split_once([' ', '\t']) {
            Some((k, v)) => (k, v),
            None => (rest, ""),
        };
        match key {
            "separator" => {
                let v = value.trim();
                self.separator = if let Some(hex) = v.strip_prefix("\\x") {
                    u8::from_str_radix(hex, 16)
                        .map(char::from)
                        .map_err(|_| FlowsError::Csv {
                            path: self.origin.clone(),
                            line: self.line,
                            message: format!("bad #separator `{v}`"),
                        })?
                } else {
                    v.chars().next().unwrap_or('\t')
                };
            }
            "unset_field" => self.unset = value.trim().to_owned(),
            "empty_field" => self.empty = value.trim().to_owned(),
            "fields" => {
                let sep = self.separator;
                let raw: Vec<&str> = value.split(sep).collect();
                self.split_spaces = raw.iter().any(|f| f.contains("   "));
                self.fields = raw
                    .iter()
                    .flat_map(|f| {
                        if self.split_spaces {
                            f.split("   ").map(str::trim).collect::<Vec<_>>()
                        } else {
                            vec![f.trim()]
                        }
                    })
                    .map(str::to_owned)
                    .collect();
                self.index = self
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), i))
                    .collect();
                if !self.kept.is_empty() {
                    self.kept.locate(&self.origin, &self.fields)?;
                }
            }
            _ => {} // #set_separator, #path, #open, #types, #close: not needed
        }
        Ok(())
    }

    fn make_plan(&self) -> Vec<Source> {
        let json = self.format == ZeekFormat::Json;
        self.target
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let categorical = t.is_categorical().then_some(j);
                if json || self.index.contains_key(&t.name) {
                    // For JSON the direct field may be absent from the first record; try it first anyway.
                    if !json || is_conn_field(&t.name) || nf_entry(&t.name).is_none() {
                        return Source::Direct {
                            field: t.name.clone(),
                            categorical,
                        };
                    }
                }
                match nf_entry(&t.name) {
                    Some((fields, transform))
                        if json || fields.iter().any(|f| self.index.contains_key(*f)) =>
                    {
                        Source::Nf { fields, transform }
                    }
                    _ => Source::Missing,
                }
            })
            .collect()
    }

    /// Reads the next flow into `out` (one value per target column). `None` at the end of the input.
    /// A malformed record is an `Err` naming its line; reading may continue with the next call.
    /// After an error that [ends the stream](FlowsError::ends_stream), `None`.
    pub fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        loop {
            if self.ended {
                return None;
            }
            let bytes = match self.pending.take() {
                Some(l) => l,
                None => match self.read_line() {
                    Ok(false) => return None,
                    Ok(true) => self.lines.bytes().to_vec(),
                    Err(e) => return Some(Err(e)),
                },
            };
            let line = match self.text_of(bytes) {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                // A concatenated log repeats its header; #close ends one part.
                if let Err(e) = self.header_line(rest) {
                    return Some(Err(e));
                }
                continue;
            }
            return Some(match self.format {
                ZeekFormat::Tsv => self.tsv_row(&line, out),
                ZeekFormat::Json => self.json_row(&line, out),
            });
        }
    }

    fn tsv_row(&mut self, line: &str, out: &mut [f64]) -> Result<MappedRow> {
        let mut values: Vec<&str> = Vec::with_capacity(self.fields.len());
        for f in line.split(self.separator) {
            if self.split_spaces && f.contains("   ") {
                values.extend(f.split("   ").map(str::trim));
            } else {
                values.push(f);
            }
        }
        if values.len() != self.fields.len() {
            return Err(FlowsError::FieldCount {
                path: self.origin.clone(),
                line: self.line,
                column: values.len().min(self.fields.len()) + 1,
                expected: self.fields.len(),
                found: values.len(),
            });
        }
        let get = |name: &str| -> Option<(usize, Raw<'_>)> {
            let i = *self.index.get(name)?;
            let v = values[i].trim();
            Some((i + 1, self.raw_text(v)))
        };
        let row = self.fill(out, &get)?;
        if !self.kept.is_empty() {
            self.kept.fill(|i, _, v| v.push_str(values[i].trim()));
        }
        Ok(row)
    }

    fn raw_text<'a>(&self, v: &'a str) -> Raw<'a> {
        if v.is_empty() || v == self.unset || v == self.empty {
            Raw::Missing
        } else {
            Raw::Text(v)
        }
    }

    fn json_row(&mut self, line: &str, out: &mut [f64]) -> Result<MappedRow> {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| FlowsError::Csv {
            path: self.origin.clone(),
            line: self.line,
            message: format!("invalid JSON: {e}"),
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(FlowsError::Csv {
                path: self.origin.clone(),
                line: self.line,
                message: "a JSON log record must be an object".into(),
            });
        };
        let get = |name: &str| -> Option<(usize, Raw<'_>)> {
            let v = json_field(&map, name)?;
            Some((
                0,
                match v {
                    serde_json::Value::Number(n) => n.as_f64().map_or(Raw::Missing, Raw::Num),
                    serde_json::Value::String(s) => self.raw_text(s.trim()),
                    serde_json::Value::Bool(b) => Raw::Num(f64::from(u8::from(*b))),
                    _ => Raw::Missing,
                },
            ))
        };
        let row = self.fill(out, &get)?;
        if !self.kept.is_empty() {
            self.kept.fill(|_, name, v| {
                use std::fmt::Write;
                match json_field(&map, name) {
                    Some(serde_json::Value::String(s)) => v.push_str(s),
                    Some(serde_json::Value::Null) | None => {}
                    Some(other) => write!(v, "{other}").expect("writing to a String"),
                }
            });
        }
        Ok(row)
    }

    fn fill<'a>(
        &self,
        out: &mut [f64],
        get: &dyn Fn(&str) -> Option<(usize, Raw<'a>)>,
    ) -> Result<MappedRow> {
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
                Source::Direct { field, categorical } => match get(field) {
                    None | Some((_, Raw::Missing)) => f64::NAN,
                    Some((_, Raw::Num(v))) => v,
                    Some((col, Raw::Text(t))) => match categorical {
                        Some(c) => match &self.target[*c].kind {
                            ColumnKind::Categorical(d) => d.code(t).map_or(UNKNOWN_CODE, f64::from),
                            ColumnKind::Numeric => UNKNOWN_CODE,
                        },
                        None if field == "proto" => protocol_number(t).unwrap_or(f64::NAN),
                        None => self.number(t, col, field)?,
                    },
                },
                Source::Nf { fields, transform } => {
                    let found = fields.iter().find_map(|f| get(f).map(|v| (*f, v)));
                    match found {
                        None | Some((_, (_, Raw::Missing))) => f64::NAN,
                        Some((f, (col, raw))) => self.transform(raw, *transform, col, f)?,
                    }
                }
            };
        }
        let label_raw = get("label").and_then(|(_, r)| match r {
            Raw::Text(t) => Some(t.to_owned()),
            Raw::Num(v) => Some(format!("{v}")),
            Raw::Missing => None,
        });
        let class_raw = get("detailed-label").and_then(|(_, r)| match r {
            Raw::Text(t) => Some(t.to_owned()),
            _ => None,
        });
        let label = label_raw.as_deref().map(|l| {
            let l = l.trim();
            u8::from(!(l.eq_ignore_ascii_case("benign") || l == "0"))
        });
        let class = match (label, class_raw) {
            (Some(0), _) => Some("Benign".to_owned()),
            (Some(_), Some(c)) => Some(c),
            (Some(_), None) => Some("Malicious".to_owned()),
            (None, c) => c,
        };
        Ok(MappedRow {
            line: self.line,
            label,
            class,
        })
    }

    fn number(&self, t: &str, column: usize, name: &str) -> Result<f64> {
        t.parse::<f64>().map_err(|_| FlowsError::NotANumber {
            path: self.origin.clone(),
            line: self.line,
            column,
            column_name: name.to_owned(),
            value: t.chars().take(40).collect(),
        })
    }

    fn transform(&self, raw: Raw<'_>, t: ZeekTransform, col: usize, name: &str) -> Result<f64> {
        Ok(match (t, raw) {
            (_, Raw::Missing) => f64::NAN,
            (ZeekTransform::Scale(k), Raw::Num(v)) => v * f64::from(k),
            (ZeekTransform::Scale(k), Raw::Text(s)) => self.number(s, col, name)? * f64::from(k),
            (ZeekTransform::Protocol, Raw::Num(v)) => v,
            (ZeekTransform::Protocol, Raw::Text(s)) => protocol_number(s).unwrap_or(f64::NAN),
            (_, Raw::Num(_)) => f64::NAN, // a numeric `history` is not a history
            (ZeekTransform::FlagsBoth, Raw::Text(s)) => history_flags(s, true, true),
            (ZeekTransform::FlagsClient, Raw::Text(s)) => history_flags(s, true, false),
            (ZeekTransform::FlagsServer, Raw::Text(s)) => history_flags(s, false, true),
        })
    }
}

fn nf_entry(name: &str) -> Option<(&'static [&'static str], ZeekTransform)> {
    NF_V2_MAP
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, t)| (*f, *t))
}

/// Field names of a Zeek `conn.log` (used to prefer same-named fields in JSON, where the header is absent).
const CONN_FIELDS: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
];

fn is_conn_field(name: &str) -> bool {
    CONN_FIELDS.contains(&name)
}

/// Collects mapped rows into a [`FlowTable`] (shared by the Zeek and CICFlowMeter readers).
pub(crate) struct TableBuilder {
    columns: Vec<ColumnSpec>,
    data: Vec<Vec<f64>>,
    label: Vec<u8>,
    class: Vec<u16>,
    class_names: Vec<String>,
}

impl TableBuilder {
    pub(crate) fn new(target: &[ColumnSpec]) -> Self {
        Self {
            columns: target.to_vec(),
            data: vec![Vec::new(); target.len()],
            label: Vec::new(),
            class: Vec::new(),
            class_names: vec!["Benign".to_owned()],
        }
    }

    pub(crate) fn push(&mut self, row: &[f64], label: u8, class: Option<&str>) {
        for (c, &v) in self.data.iter_mut().zip(row) {
            c.push(v);
        }
        let name = match (label, class) {
            (0, _) => "Benign",
            (_, Some(c)) => c,
            (_, None) => "Attack",
        };
        let code = match self.class_names.iter().position(|n| n == name) {
            Some(c) => c,
            None => {
                self.class_names.push(name.to_owned());
                self.class_names.len() - 1
            }
        };
        self.label.push(label);
        self.class.push(code.min(u16::MAX as usize) as u16);
    }

    pub(crate) fn finish(self, domain: &str) -> Result<FlowTable> {
        let rows = self.label.len();
        let mut flat = Vec::with_capacity(rows * self.columns.len());
        for c in &self.data {
            flat.extend_from_slice(c);
        }
        let features = Array2::from_shape_vec((rows, self.columns.len()).f(), flat)
            .map_err(|e| FlowsError::InvalidArgument(e.to_string()))?;
        FlowTable::new(
            features,
            self.columns,
            self.label,
            self.class,
            self.class_names,
            vec![0; rows],
            vec![domain.to_owned()],
        )
    }
}

/// Reads a whole labelled `conn.log` (TSV or JSON, plain or gzip) into a table in the `target` space; the
/// first malformed record or unlabelled row is an error naming its line.
pub fn read_conn_log(path: impl AsRef<Path>, target: &[ColumnSpec]) -> Result<FlowTable> {
    let path = path.as_ref();
    let mut reader = ConnLogReader::new(open_maybe_gzip(path)?, path, target)?;
    let mut table = TableBuilder::new(target);
    let mut row = vec![0.0; target.len()];
    let mut rows = 0usize;
    while let Some(r) = reader.next_row(&mut row) {
        let r = r?;
        crate::reader::check_row_cap(path, r.line, &mut rows)?;
        let label = r.label.ok_or_else(|| FlowsError::MissingColumn {
            path: path.to_owned(),
            column: "label".into(),
            role: "label",
        })?;
        table.push(&row, label, r.class.as_deref());
    }
    let domain = path
        .file_name()
        .map_or_else(|| "zeek".to_owned(), |n| n.to_string_lossy().into_owned());
    table.finish(&domain)
}

/// The NF-v2 feature space as numeric column specs (the usual target of these readers).
pub fn nf_v2_space() -> Vec<ColumnSpec> {
    crate::datasets::NF_V2_FEATURES
        .iter()
        .map(|&n| ColumnSpec::numeric(n))
        .collect()
}
