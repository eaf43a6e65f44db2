//! [`ParquetRowReader`]: a Parquet flow file as a stream of rows mapped onto a target feature space, read
//! one row group (Arrow batch) at a time. The Parquet side of [`RowFormat`](crate::RowFormat).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{FlowsError, Result};
use crate::parquet::{column_names, guarded, invalid, is_text, open, projected, text_at};
use crate::row_reader::{Kept, MappedRow, RowReader};
use crate::schema::{ColumnRole, Schema};
use crate::table::{ColumnKind, ColumnSpec, UNKNOWN_CODE};

/// Rows per Arrow batch: a row group larger than this arrives in several batches, so memory stays bounded.
const BATCH_ROWS: usize = 8 * 1024;

/// One decoded column of the current batch.
enum Cells {
    Numbers(Float64Array),
    Text(StringArray),
}

/// Streams a Parquet flow file described by a schema: target columns are matched by canonical column
/// name (the schema's aliases applied, as for a CSV header); a target column the file lacks is missing
/// (`NaN`). Rows are numbered as in a CSV export with a header: the first data row is line 2.
pub struct ParquetRowReader {
    origin: PathBuf,
    schema: Schema,
    /// The file's column names as written, and their canonical names.
    names: Vec<String>,
    header: Vec<String>,
    target: Vec<ColumnSpec>,
    /// Per target column, the file column it reads.
    sources: Vec<Option<usize>>,
    label_at: Option<usize>,
    class_at: Option<usize>,
    /// File columns decoded, in file order; `slot[i]` is file column `i`'s place among them.
    slot: Vec<Option<usize>>,
    batches: ParquetRecordBatchReader,
    cells: Vec<Cells>,
    batch_rows: usize,
    /// Next row in the current batch, and rows of earlier batches.
    at: usize,
    done: u64,
    ended: bool,
    kept: Kept,
}

impl ParquetRowReader {
    /// Opens `path`, reads its footer and plans the mapping onto `target`.
    pub fn open(path: &Path, schema: &Schema, target: &[ColumnSpec]) -> Result<Self> {
        let builder = open(path)?;
        let names = column_names(&builder);
        let header: Vec<String> = names
            .iter()
            .map(|n| schema.canonical_name(n).to_owned())
            .collect();
        let find = |name: &str| header.iter().position(|h| h == name);
        let sources: Vec<Option<usize>> = target
            .iter()
            .map(|t| {
                find(&t.name).filter(|_| {
                    matches!(
                        schema.role_of(&t.name),
                        Some(ColumnRole::Numeric | ColumnRole::Categorical)
                    )
                })
            })
            .collect();
        if !target.is_empty() && sources.iter().all(Option::is_none) {
            return Err(FlowsError::Incompatible(format!(
                "{}: no column of this file maps onto the {} target features (schema `{}`)",
                path.display(),
                target.len(),
                schema.name
            )));
        }
        let label_at = schema.label_column().and_then(find);
        let class_at = schema.class_column().and_then(find);
        let (slot, batches) = plan(
            builder,
            path,
            &sources,
            label_at,
            class_at,
            &[],
            header.len(),
        )?;
        Ok(Self {
            origin: path.to_owned(),
            schema: schema.clone(),
            names,
            header,
            target: target.to_vec(),
            sources,
            label_at,
            class_at,
            slot,
            batches,
            cells: Vec::new(),
            batch_rows: 0,
            at: 0,
            done: 0,
            ended: false,
            kept: Kept::default(),
        })
    }

    /// Whether the file has a label or attack-class column.
    pub fn is_labelled(&self) -> bool {
        self.label_at.is_some() || self.class_at.is_some()
    }

    /// Decodes the next batch: numeric target columns as `f64` (or text, when stored as text), the
    /// rest as text.
    fn load(&mut self, batch: RecordBatch) -> Result<()> {
        let numeric: Vec<bool> = (0..self.header.len())
            .map(|i| {
                self.sources
                    .iter()
                    .zip(&self.target)
                    .any(|(s, t)| *s == Some(i) && !t.is_categorical())
            })
            .collect();
        let mut cells = Vec::with_capacity(batch.num_columns());
        let mut k = 0;
        for (i, is_numeric) in numeric.iter().enumerate() {
            if self.slot[i].is_none() {
                continue;
            }
            let column: &ArrayRef = batch.column(k);
            k += 1;
            let cast = |to: &DataType| {
                arrow_cast::cast(column, to)
                    .map_err(|e| invalid(&self.origin, format!("column `{}`: {e}", self.header[i])))
            };
            cells.push(if *is_numeric && !is_text(column.data_type()) {
                let values = cast(&DataType::Float64)?;
                Cells::Numbers(
                    values
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .expect("cast to Float64 gives a Float64Array")
                        .clone(),
                )
            } else {
                let values = cast(&DataType::Utf8)?;
                Cells::Text(
                    values
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .expect("cast to Utf8 gives a StringArray")
                        .clone(),
                )
            });
        }
        self.done += self.batch_rows as u64;
        self.batch_rows = batch.num_rows();
        self.at = 0;
        self.cells = cells;
        Ok(())
    }

    fn cells(&self, i: usize) -> &Cells {
        &self.cells[self.slot[i].expect("every planned column is decoded")]
    }

    /// The trimmed text of file column `i` in the current row (a null is empty, as an empty CSV field).
    fn text(&self, i: usize) -> &str {
        match self.cells(i) {
            Cells::Text(t) => text_at(t, self.at),
            Cells::Numbers(_) => unreachable!("text columns are decoded as text"),
        }
    }

    fn number(&self, i: usize, line: u64) -> Result<f64> {
        let v = match self.cells(i) {
            Cells::Numbers(v) if v.is_null(self.at) => return Ok(f64::NAN),
            Cells::Numbers(v) => v.value(self.at),
            Cells::Text(t) => {
                let t = text_at(t, self.at);
                if t.is_empty() || self.schema.missing.iter().any(|m| m == t) {
                    return Ok(f64::NAN);
                }
                t.parse::<f64>().map_err(|_| FlowsError::NotANumber {
                    path: self.origin.clone(),
                    line,
                    column: i + 1,
                    column_name: self.header[i].clone(),
                    value: t.chars().take(40).collect(),
                })?
            }
        };
        // Infinity is missing, as in the CSV row reader.
        Ok(if v.is_finite() { v } else { f64::NAN })
    }

    fn map_row(&self, out: &mut [f64]) -> Result<MappedRow> {
        let line = self.done + self.at as u64 + 2;
        if out.len() != self.target.len() {
            return Err(FlowsError::InvalidArgument(format!(
                "row buffer of {} values for {} target features",
                out.len(),
                self.target.len()
            )));
        }
        for ((slot, source), target) in out.iter_mut().zip(&self.sources).zip(&self.target) {
            *slot = match (source, &target.kind) {
                (None, _) => f64::NAN,
                (Some(i), ColumnKind::Categorical(d)) => {
                    d.code(self.text(*i)).map_or(UNKNOWN_CODE, f64::from)
                }
                (Some(i), ColumnKind::Numeric) => self.number(*i, line)?,
            };
        }
        let class = self.class_at.map(|i| self.text(i).to_owned());
        let label = match (self.label_at, &class) {
            (Some(i), _) => {
                let t = self.text(i);
                Some(u8::from(
                    !self.schema.benign_labels.iter().any(|b| b.trim() == t),
                ))
            }
            (None, Some(c)) => Some(u8::from(!self.schema.benign_classes.iter().any(|b| b == c))),
            (None, None) => None,
        };
        Ok(MappedRow { line, label, class })
    }

    /// Reads the next flow into `out`; `None` at the end. A malformed value is an `Err` naming its line
    /// and column, and reading goes on; after a Parquet decoding error, the stream ends.
    pub fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        if self.ended {
            return None;
        }
        while self.at >= self.batch_rows {
            let next = match guarded(&self.origin, || Ok(self.batches.next())) {
                Ok(next) => next,
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            };
            match next? {
                Ok(batch) => {
                    if let Err(e) = self.load(batch) {
                        self.ended = true;
                        return Some(Err(e));
                    }
                }
                Err(e) => {
                    self.ended = true;
                    return Some(Err(invalid(&self.origin, e)));
                }
            }
        }
        let row = self.map_row(out);
        if row.is_ok() && !self.kept.is_empty() {
            let mut kept = std::mem::take(&mut self.kept);
            kept.fill(|i, _, v| self.kept_text(i, v));
            self.kept = kept;
        }
        self.at += 1;
        Some(row)
    }

    /// The text of file column `i` in the current row, as a CSV field would hold it.
    fn kept_text(&self, i: usize, v: &mut String) {
        use std::fmt::Write;
        match self.cells(i) {
            Cells::Text(t) => v.push_str(text_at(t, self.at)),
            Cells::Numbers(n) if n.is_null(self.at) => {}
            Cells::Numbers(n) => {
                let _ = write!(v, "{}", n.value(self.at));
            }
        }
    }

    /// `(target feature, source column)` for every target column read from the file.
    pub fn mapping(&self) -> Vec<(String, String)> {
        self.target
            .iter()
            .zip(&self.sources)
            .filter_map(|(t, s)| s.map(|i| (t.name.clone(), self.header[i].clone())))
            .collect()
    }
}

impl RowReader for ParquetRowReader {
    fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>> {
        ParquetRowReader::next_row(self, out)
    }

    fn mapping(&self) -> Vec<(String, String)> {
        ParquetRowReader::mapping(self)
    }

    fn input_columns(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Decodes the kept columns too; only before the first row is read (the projection is planned anew).
    fn keep(&mut self, names: &[String]) -> Result<()> {
        if self.done > 0 || self.batch_rows > 0 || self.ended {
            return Err(FlowsError::InvalidArgument(
                "columns to keep are chosen before the first row is read".into(),
            ));
        }
        let kept = Kept::new(&self.origin, names, &self.names)?;
        let (slot, batches) = plan(
            open(&self.origin)?,
            &self.origin,
            &self.sources,
            self.label_at,
            self.class_at,
            &kept.at,
            self.header.len(),
        )?;
        self.slot = slot;
        self.batches = batches;
        self.kept = kept;
        Ok(())
    }

    fn kept(&self) -> &[String] {
        &self.kept.values
    }
}

/// The file columns to decode (target sources, label, class and `extra`) and a batch reader of `builder`'s file
/// projecting them; `slot[i]` is file column `i`'s place among the decoded ones.
fn plan(
    builder: ParquetRecordBatchReaderBuilder<File>,
    path: &Path,
    sources: &[Option<usize>],
    label_at: Option<usize>,
    class_at: Option<usize>,
    extra: &[usize],
    n_columns: usize,
) -> Result<(Vec<Option<usize>>, ParquetRecordBatchReader)> {
    let mut read: Vec<usize> = sources.iter().flatten().copied().collect();
    read.extend(label_at.iter().chain(&class_at).chain(extra));
    read.sort_unstable();
    read.dedup();
    let mut slot = vec![None; n_columns];
    for (k, &i) in read.iter().enumerate() {
        slot[i] = Some(k);
    }
    let batches = projected(path, builder, &read, BATCH_ROWS)?;
    Ok((slot, batches))
}
