//! The streaming side of the readers: one flow at a time, mapped onto a target feature space, so that
//! one malformed record does not stop the rest. [`RowFormat`](crate::RowFormat) opens one by format name.

use std::path::Path;

use crate::error::{FlowsError, Result};

/// One flow read and mapped onto the target space (the values are written into the caller's buffer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappedRow {
    /// 1-based line number in the input.
    pub line: u64,
    /// 0 benign, 1 attack, `None` when the input carries no label.
    pub label: Option<u8>,
    /// Attack class name when the input carries one (`Benign` for benign rows).
    pub class: Option<String>,
}

/// A stream of flows mapped onto a target feature space: the schema CSV and CICFlowMeter reader
/// ([`CsvRowReader`](crate::cicflowmeter::CsvRowReader)) and the Zeek reader
/// ([`ConnLogReader`](crate::zeek::ConnLogReader)).
pub trait RowReader {
    /// Reads the next flow into `out` (one value per target column); `None` at the end of the input.
    /// A malformed record is an `Err` naming its line, and reading may continue with the next call;
    /// after an I/O or gzip error it cannot.
    fn next_row(&mut self, out: &mut [f64]) -> Option<Result<MappedRow>>;

    /// `(target feature, source)` for every target column read from the input.
    fn mapping(&self) -> Vec<(String, String)>;

    /// The input's own column names, in file order (a JSON-lines log: the first record's keys).
    fn input_columns(&self) -> Vec<String>;

    /// Columns worth passing through when none are named (Zeek: the flow's uid, time and 5-tuple).
    fn default_keep(&self) -> &'static [&'static str] {
        &[]
    }

    /// Passes the input columns `names` through: from the next row on, [`RowReader::kept`] holds their raw
    /// text. A name that is not an input column is an error naming it and the input's columns.
    fn keep(&mut self, names: &[String]) -> Result<()>;

    /// Raw text of the kept columns (in [`RowReader::keep`]'s order) in the row [`RowReader::next_row`] last
    /// returned; a field a row lacks is empty. Nothing is copied while no column is kept.
    fn kept(&self) -> &[String];
}

/// Kept input columns: their names, their positions in the input and their text in the current row (buffers
/// reused from row to row).
#[derive(Debug, Clone, Default)]
pub(crate) struct Kept {
    pub(crate) names: Vec<String>,
    pub(crate) at: Vec<usize>,
    pub(crate) values: Vec<String>,
}

impl Kept {
    /// Keeps `names`, found among the input's `columns`.
    pub(crate) fn new(origin: &Path, names: &[String], columns: &[String]) -> Result<Self> {
        let mut kept = Kept {
            names: names.to_vec(),
            at: Vec::new(),
            values: vec![String::new(); names.len()],
        };
        kept.locate(origin, columns)?;
        Ok(kept)
    }

    /// Finds the kept columns among `columns` (again after a repeated header).
    pub(crate) fn locate(&mut self, origin: &Path, columns: &[String]) -> Result<()> {
        self.at =
            self.names
                .iter()
                .map(|n| {
                    columns.iter().position(|c| c == n).ok_or_else(|| {
                        FlowsError::UnknownKeptColumn {
                            path: origin.to_path_buf(),
                            column: n.clone(),
                            available: columns.join(", "),
                        }
                    })
                })
                .collect::<Result<_>>()?;
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Refills the values: `write(position, name, value)` appends the text of the kept column at `position`
    /// (named `name`) to the cleared `value`.
    pub(crate) fn fill(&mut self, mut write: impl FnMut(usize, &str, &mut String)) {
        let Kept { names, at, values } = self;
        for ((v, &i), name) in values.iter_mut().zip(at.iter()).zip(names.iter()) {
            v.clear();
            write(i, name, v);
        }
    }
}
