//! The streaming side of the readers: one flow at a time, mapped onto a target feature space, so that
//! one malformed record does not stop the rest. [`RowFormat`](crate::RowFormat) opens one by format name.

use crate::error::Result;

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
}
