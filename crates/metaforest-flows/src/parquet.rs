//! Parquet input (cargo feature `parquet`): the same schema-driven reading as [`read_csv`](crate::read_csv),
//! from a Parquet file, one row group at a time.
//!
//! Column names are matched exactly as CSV header names are (trimmed, schema aliases applied), so one
//! schema describes a flow export whether it was written as CSV or Parquet. Numeric columns of any
//! Arrow numeric type are cast to `f64`; string columns in a numeric role are parsed as CSV fields are
//! (the schema's `missing` tokens become NaN). Nulls are missing values (NaN) in numeric columns and
//! empty strings elsewhere, as an empty CSV field would be. In errors, `line` is the 1-based data row
//! plus one: the line the row would have in a CSV export with a header.

use std::fs::File;
use std::path::Path;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use ndarray::{Array2, ShapeBuilder};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::error::{FlowsError, Result};
use crate::header::{Action, HeaderPlan};
use crate::reader::{NonFinitePolicy, ReadOptions, UNLABELLED_CLASS};
use crate::schema::{Encoders, Schema};
use crate::table::{ColumnKind, FlowTable, ATTACK, BENIGN, UNKNOWN_CODE};

pub use crate::parquet_rows::ParquetRowReader;

/// Rows per Arrow batch; a row group larger than this arrives in several batches.
const BATCH_ROWS: usize = 64 * 1024;

/// Reads a Parquet flow file described by `schema`, encoding categorical values and class names with
/// `encoders`, like [`read_csv`](crate::read_csv) does for CSV.
pub fn read_parquet(
    path: impl AsRef<Path>,
    schema: &Schema,
    encoders: &mut Encoders,
    options: &ReadOptions,
) -> Result<FlowTable> {
    let path = path.as_ref();
    let builder = open(path)?;
    let names = column_names(&builder);
    let plan = HeaderPlan::new(path, schema, &names, options.allow_unlabelled)?;
    // Only the columns the schema reads are decoded.
    let read: Vec<usize> = (0..names.len())
        .filter(|&i| !matches!(plan.actions[i], Action::Skip))
        .collect();
    let reader = projected(path, builder, &read, BATCH_ROWS)?;
    let mut state = State::new(path, schema, plan, encoders, options.non_finite);
    let max_rows = options.max_rows.unwrap_or(usize::MAX);
    let mut reader = reader;
    loop {
        if state.rows >= max_rows {
            break;
        }
        let Some(batch) = guarded(path, || Ok(reader.next()))? else {
            break;
        };
        let batch = batch.map_err(|e| invalid(path, e))?;
        let take = batch.num_rows().min(max_rows - state.rows);
        if state.rows + take > options.row_cap {
            return Err(FlowsError::TooLarge {
                path: path.to_owned(),
                // Rows are numbered as in a CSV export with a header: the first over the cap.
                line: options.row_cap as u64 + 2,
                what: "number of data rows",
                limit: options.row_cap as u64,
            });
        }
        state.push_batch(&batch.slice(0, take), &read, encoders)?;
    }
    state.finish(path, options, encoders)
}

/// Opens a Parquet file and reads its footer.
pub(crate) fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = crate::error::open_file(path)?;
    guarded(path, || {
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| invalid(path, e))
    })
}

/// Runs a call into the Parquet decoder, turning a panic on a malformed file (the decoder has some, e.g.
/// in its footer parsing) into an error naming the file. The panic's message goes into the error, not
/// through the panic hook to standard error.
pub(crate) fn guarded<T>(path: &Path, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::cell::Cell;
    use std::sync::Once;
    thread_local! {
        static DECODING: Cell<bool> = const { Cell::new(false) };
    }
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = DECODING.with(|d| d.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    DECODING.with(|d| d.set(was));
    result.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(invalid(
            path,
            format!("malformed file (the decoder failed: {why})"),
        ))
    })
}

/// The file's column names, trimmed (matched as CSV header names are).
pub(crate) fn column_names(builder: &ParquetRecordBatchReaderBuilder<File>) -> Vec<String> {
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().trim().to_owned())
        .collect()
}

/// A reader of `builder`'s file that decodes only the columns `read` (in file order), `batch_rows` rows at a time.
pub(crate) fn projected(
    path: &Path,
    builder: ParquetRecordBatchReaderBuilder<File>,
    read: &[usize],
    batch_rows: usize,
) -> Result<ParquetRecordBatchReader> {
    let mask = ProjectionMask::roots(builder.parquet_schema(), read.iter().copied());
    guarded(path, || {
        builder
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| invalid(path, e))
    })
}

pub(crate) fn invalid(path: &Path, e: impl std::fmt::Display) -> FlowsError {
    FlowsError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("parquet: {e}")),
    }
}

/// Columns being filled, row group after row group.
struct State<'a> {
    path: &'a Path,
    schema: &'a Schema,
    plan: HeaderPlan,
    data: Vec<Vec<f64>>,
    label: Vec<u8>,
    class: Vec<u16>,
    rows: usize,
    frozen: bool,
    policy: NonFinitePolicy,
}

impl<'a> State<'a> {
    fn new(
        path: &'a Path,
        schema: &'a Schema,
        plan: HeaderPlan,
        encoders: &Encoders,
        policy: NonFinitePolicy,
    ) -> Self {
        let n_features = plan.columns.len();
        Self {
            path,
            schema,
            plan,
            data: vec![Vec::new(); n_features],
            label: Vec::new(),
            class: Vec::new(),
            rows: 0,
            frozen: encoders.is_frozen(),
            policy,
        }
    }

    fn line(&self, row_in_batch: usize) -> u64 {
        (self.rows + row_in_batch) as u64 + 2
    }

    /// `read[k]` is the file column of the batch's column `k`.
    fn push_batch(
        &mut self,
        batch: &RecordBatch,
        read: &[usize],
        encoders: &mut Encoders,
    ) -> Result<()> {
        let n = batch.num_rows();
        let mut labels: Option<Vec<u8>> = None;
        let mut classes: Option<Vec<u16>> = None;
        for (k, &i) in read.iter().enumerate() {
            let column = batch.column(k);
            match self.plan.actions[i] {
                Action::Skip => {}
                Action::Numeric(j) => {
                    let values = self.numbers(column, i)?;
                    self.data[j].extend(values);
                }
                Action::Categorical(j) => {
                    let text = self.strings(column)?;
                    let dict = encoders.column_mut(&self.plan.columns[j].name);
                    for r in 0..n {
                        let s = text_at(&text, r);
                        let v = if self.frozen {
                            dict.code(s).map_or(UNKNOWN_CODE, f64::from)
                        } else {
                            f64::from(dict.get_or_insert(s))
                        };
                        self.data[j].push(v);
                    }
                }
                Action::Label => {
                    let text = self.strings(column)?;
                    let benign = &self.schema.benign_labels;
                    labels = Some(
                        (0..n)
                            .map(|r| {
                                let t = text_at(&text, r);
                                if benign.iter().any(|b| b.trim() == t) {
                                    BENIGN
                                } else {
                                    ATTACK
                                }
                            })
                            .collect(),
                    );
                }
                Action::Class => {
                    let text = self.strings(column)?;
                    let dict = encoders.classes_mut();
                    let mut codes = Vec::with_capacity(n);
                    for r in 0..n {
                        let code = dict.get_or_insert(text_at(&text, r));
                        if code > u32::from(u16::MAX) {
                            return Err(FlowsError::Csv {
                                path: self.path.to_owned(),
                                line: self.line(r),
                                message: format!(
                                    "more than 65536 distinct classes in column {}",
                                    i + 1
                                ),
                            });
                        }
                        codes.push(code as u16);
                    }
                    classes = Some(codes);
                }
            }
        }
        // The label and the class complete each other exactly as in the CSV reader.
        let classes_dict = encoders.classes_mut();
        match (labels, classes) {
            (Some(l), Some(c)) => {
                self.label.extend(l);
                self.class.extend(c);
            }
            (Some(l), None) => {
                let fixed = [
                    classes_dict.get_or_insert("Benign") as u16,
                    classes_dict.get_or_insert("Attack") as u16,
                ];
                self.class.extend(l.iter().map(|&v| fixed[v as usize]));
                self.label.extend(l);
            }
            (None, Some(c)) => {
                let names = classes_dict.values();
                let benign = &self.schema.benign_classes;
                self.label.extend(c.iter().map(|&code| {
                    if benign.iter().any(|b| *b == names[code as usize]) {
                        BENIGN
                    } else {
                        ATTACK
                    }
                }));
                self.class.extend(c);
            }
            (None, None) => {
                let u = classes_dict.get_or_insert(UNLABELLED_CLASS) as u16;
                self.label.resize(self.label.len() + n, BENIGN);
                self.class.resize(self.class.len() + n, u);
            }
        }
        self.rows += n;
        Ok(())
    }

    /// A numeric column as `f64`, nulls and (by policy) non-finite values as NaN.
    fn numbers(&self, column: &ArrayRef, i: usize) -> Result<Vec<f64>> {
        if is_text(column.data_type()) {
            let text = self.strings(column)?;
            let missing = &self.schema.missing;
            return (0..column.len())
                .map(|r| {
                    let t = text_at(&text, r);
                    if column.is_null(r) || missing.iter().any(|m| m == t) {
                        return Ok(f64::NAN);
                    }
                    let v = t.parse::<f64>().map_err(|_| FlowsError::NotANumber {
                        path: self.path.to_owned(),
                        line: self.line(r),
                        column: i + 1,
                        column_name: self.plan.header[i].clone(),
                        value: t.chars().take(80).collect(),
                    })?;
                    self.finite(v, r, i)
                })
                .collect();
        }
        let cast = arrow_cast::cast(column, &DataType::Float64)
            .map_err(|e| invalid(self.path, format!("column `{}`: {e}", self.plan.header[i])))?;
        let values = cast
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64 gives a Float64Array");
        (0..values.len())
            .map(|r| {
                if values.is_null(r) {
                    Ok(f64::NAN)
                } else {
                    self.finite(values.value(r), r, i)
                }
            })
            .collect()
    }

    fn finite(&self, v: f64, r: usize, i: usize) -> Result<f64> {
        if v.is_finite() {
            return Ok(v);
        }
        match self.policy {
            NonFinitePolicy::Missing => Ok(f64::NAN),
            NonFinitePolicy::Error => Err(FlowsError::NonFinite {
                path: self.path.to_owned(),
                line: self.line(r),
                column: i + 1,
                column_name: self.plan.header[i].clone(),
                value: v.to_string(),
            }),
        }
    }

    /// Any column as UTF-8 text (numbers printed as Arrow prints them).
    fn strings(&self, column: &ArrayRef) -> Result<StringArray> {
        let cast = arrow_cast::cast(column, &DataType::Utf8).map_err(|e| invalid(self.path, e))?;
        Ok(cast
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8 gives a StringArray")
            .clone())
    }

    fn finish(
        self,
        path: &Path,
        options: &ReadOptions,
        encoders: &mut Encoders,
    ) -> Result<FlowTable> {
        let rows = self.rows;
        let n_features = self.plan.columns.len();
        let mut flat = Vec::with_capacity(rows * n_features);
        for col in self.data {
            flat.extend_from_slice(&col);
        }
        let features = Array2::from_shape_vec((rows, n_features).f(), flat)
            .map_err(|e| FlowsError::InvalidArgument(e.to_string()))?;
        let mut columns = self.plan.columns;
        for spec in &mut columns {
            if let ColumnKind::Categorical(d) = &mut spec.kind {
                *d = encoders.column_mut(&spec.name).clone();
            }
        }
        let domain = options.domain.clone().unwrap_or_else(|| {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            name.strip_suffix(".parquet").unwrap_or(&name).to_owned()
        });
        tracing::debug!(path = %path.display(), rows, features = n_features, "read parquet flow table");
        FlowTable::new(
            features,
            columns,
            self.label,
            self.class,
            encoders.classes().values().to_vec(),
            vec![0; rows],
            vec![domain],
        )
    }
}

pub(crate) fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_text(v))
}

/// The trimmed text of row `r`; a null is the empty string, as an empty CSV field.
pub(crate) fn text_at(text: &StringArray, r: usize) -> &str {
    if text.is_null(r) {
        ""
    } else {
        text.value(r).trim()
    }
}
