//! Input formats by name, and the [`RowReader`] each one opens.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::cicflowmeter::{CsvRowReader, Dialect};
use crate::error::Result;
use crate::lines::DEFAULT_MAX_RECORD_BYTES;
use crate::row_reader::RowReader;
use crate::schema::Schema;
use crate::table::ColumnSpec;
use crate::zeek::{open_maybe_gzip, ConnLogReader};

/// How a flow file is written.
#[derive(Debug, Clone)]
pub enum RowFormat {
    /// A CSV export described by a schema (built-in or from a TOML file).
    Schema(Schema),
    /// CICFlowMeter CSV, any of its header spellings, mapped onto NF-v2 where names differ.
    CicFlowMeter,
    /// Zeek `conn.log`, TSV or JSON lines.
    Zeek,
    /// A Parquet file whose column names a schema describes as it would a CSV header (cargo feature
    /// `parquet`); read from a file only, not from a stream.
    #[cfg(feature = "parquet")]
    Parquet(Schema),
}

impl RowFormat {
    /// `zeek`, `cicflowmeter`, `parquet` (NF-v2 column names; with the `parquet` feature), or the name
    /// of a built-in schema (`nf-v2`, `unsw-nb15`, `nsl-kdd`, …; see
    /// [`BUILTIN_SCHEMAS`](crate::BUILTIN_SCHEMAS)).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "zeek" => Ok(RowFormat::Zeek),
            "cicflowmeter" => Ok(RowFormat::CicFlowMeter),
            #[cfg(feature = "parquet")]
            "parquet" => Ok(RowFormat::Parquet(Schema::builtin("nf-v2")?)),
            _ => Ok(RowFormat::Schema(Schema::builtin(name)?)),
        }
    }

    /// Opens `path` (plain or gzip; Parquet by its footer) and reads its header.
    pub fn open(&self, path: &Path, target: &[ColumnSpec]) -> Result<Box<dyn RowReader + Send>> {
        #[cfg(feature = "parquet")]
        if let RowFormat::Parquet(schema) = self {
            return Ok(Box::new(crate::parquet::ParquetRowReader::open(
                path, schema, target,
            )?));
        }
        self.reader(open_maybe_gzip(path)?, path, target)
    }

    /// Reads an already opened input (see [`wrap_maybe_gzip`](crate::zeek::wrap_maybe_gzip) for
    /// standard input); `origin` names it in errors. Records are bounded by
    /// [`DEFAULT_MAX_RECORD_BYTES`].
    pub fn reader(
        &self,
        input: Box<dyn BufRead + Send>,
        origin: impl Into<PathBuf>,
        target: &[ColumnSpec],
    ) -> Result<Box<dyn RowReader + Send>> {
        self.reader_with_max_record_bytes(input, origin, target, DEFAULT_MAX_RECORD_BYTES)
    }

    /// Like [`reader`](Self::reader); a record (line) longer than `max_record_bytes` is a malformed row.
    pub fn reader_with_max_record_bytes(
        &self,
        input: Box<dyn BufRead + Send>,
        origin: impl Into<PathBuf>,
        target: &[ColumnSpec],
        max_record_bytes: usize,
    ) -> Result<Box<dyn RowReader + Send>> {
        let dialect = match self {
            RowFormat::Zeek => {
                return Ok(Box::new(ConnLogReader::with_max_record_bytes(
                    input,
                    origin,
                    target,
                    max_record_bytes,
                )?))
            }
            RowFormat::CicFlowMeter => Dialect::CicFlowMeter,
            RowFormat::Schema(schema) => Dialect::Schema(schema.clone()),
            #[cfg(feature = "parquet")]
            RowFormat::Parquet(_) => {
                return Err(crate::FlowsError::InvalidArgument(format!(
                    "{}: Parquet is read from a file (its footer comes last), not from a stream",
                    origin.into().display()
                )))
            }
        };
        Ok(Box::new(CsvRowReader::with_max_record_bytes(
            input,
            origin,
            &dialect,
            target,
            max_record_bytes,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zeek::nf_v2_space;

    fn read_all(format: &RowFormat, text: &'static str) -> Vec<(u64, Option<u8>)> {
        let space = nf_v2_space();
        let input: Box<dyn BufRead + Send> = Box::new(text.as_bytes());
        let mut rows = format.reader(input, "flows", &space).unwrap();
        let mut out = vec![0.0; space.len()];
        let mut seen = Vec::new();
        while let Some(row) = rows.next_row(&mut out) {
            let row = row.unwrap();
            seen.push((row.line, row.label));
        }
        assert!(!rows.mapping().is_empty());
        seen
    }

    #[test]
    fn every_format_reads_through_the_trait_object() {
        let zeek = "{\"id.orig_p\": 5, \"id.resp_p\": 80, \"proto\": \"tcp\"}\n";
        assert_eq!(read_all(&RowFormat::Zeek, zeek), [(1, None)]);
        let nf = "L4_SRC_PORT,L4_DST_PORT,PROTOCOL,Label,Attack\n5,80,6,1,scan\n7,53,17,0,Benign\n";
        let nf_v2 = RowFormat::from_name("nf-v2").unwrap();
        assert_eq!(read_all(&nf_v2, nf), [(2, Some(1)), (3, Some(0))]);
        let cic = "Src Port,Dst Port,Protocol,Label\n5,80,6,BENIGN\n";
        let cic_format = RowFormat::from_name("cicflowmeter").unwrap();
        assert_eq!(read_all(&cic_format, cic), [(2, Some(0))]);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = RowFormat::from_name("netflow-v9").unwrap_err().to_string();
        assert!(err.contains("nf-v2"), "{err}");
    }
}
