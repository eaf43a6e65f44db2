//! Shared by train/adapt/detect/explain/rules/demo: input formats, reading labelled files, loading the known
//! domains. Model files are the library's ([`MetaModel::save`](metaforest_meta::MetaModel::save),
//! [`Detector::save`](metaforest_meta::Detector::save)); they carry their feature space.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use metaforest_flows::datasets::{has_nf_v2, load_nf_v2_all};
use metaforest_flows::domains::domains_by_dataset;
use metaforest_flows::episode::stratified_split;
use metaforest_flows::synthetic::generate;
use metaforest_flows::zeek::{open_maybe_gzip, wrap_maybe_gzip};
use metaforest_flows::{
    ColumnSpec, FlowTable, FlowsError, RowFormat, RowReader, Schema, Stratify, SyntheticConfig,
};
use ndarray::Array2;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// NetFlow v2 CSV (NF-*-v2 data sets, nProbe exports).
    NfV2,
    /// CICFlowMeter CSV (CIC-IDS2017, CSE-CIC-IDS2018, the tool, Python cicflowmeter).
    Cicflowmeter,
    /// Zeek conn.log, TSV or JSON lines.
    Zeek,
    /// UNSW-NB15 CSV.
    UnswNb15,
    /// NSL-KDD CSV (with header).
    NslKdd,
    /// Parquet with NF-v2 column names (or the columns of --schema); a file, not standard input.
    Parquet,
}

/// How to read a flow file.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input format (with --schema: CSV unless this is parquet).
    #[arg(long, value_enum, default_value = "nf-v2")]
    pub format: Format,
    /// A TOML schema describing a CSV export (see data/schemas/).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// A longer line (record) is a malformed row, and reading goes on.
    #[arg(long, value_name = "BYTES", default_value_t = metaforest_flows::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
}

/// Opens `path` (`-` or `None`: standard input) in the given format, as a stream of flows mapped onto
/// `space`.
pub fn open_rows(
    path: Option<&Path>,
    input: &InputArgs,
    space: &[ColumnSpec],
) -> Result<Box<dyn RowReader + Send>, FlowsError> {
    let format = match &input.schema {
        Some(s) if input.format == Format::Parquet => RowFormat::Parquet(Schema::from_path(s)?),
        Some(s) => RowFormat::Schema(Schema::from_path(s)?),
        None => RowFormat::from_name(
            input
                .format
                .to_possible_value()
                .expect("every format has a name")
                .get_name(),
        )?,
    };
    let (reader, origin): (Box<dyn BufRead + Send>, PathBuf) = match path {
        Some(p) if matches!(format, RowFormat::Parquet(_)) => return format.open(p, space),
        Some(p) if p != Path::new("-") => (open_maybe_gzip(p)?, p.to_path_buf()),
        _ => (
            wrap_maybe_gzip(std::io::stdin(), Path::new("<stdin>"))?,
            "<stdin>".into(),
        ),
    };
    format.reader_with_max_record_bytes(reader, origin, space, input.max_record_bytes)
}

/// Errors after which the stream cannot continue.
pub fn is_fatal(e: &FlowsError) -> bool {
    e.ends_stream()
}

/// A labelled file read whole (supports are small): features, 0/1 labels.
pub fn read_labelled(
    path: &Path,
    input: &InputArgs,
    space: &[ColumnSpec],
) -> Result<(Array2<f64>, Vec<u32>), Box<dyn std::error::Error>> {
    let mut src = open_rows(Some(path), input, space)?;
    let f = space.len();
    let mut row = vec![0.0; f];
    let mut flat = Vec::new();
    let mut y = Vec::new();
    while let Some(r) = src.next_row(&mut row) {
        let r = r?;
        let label = r.label.ok_or_else(|| {
            format!(
                "{}: line {}: no label (the support must be labelled: a Label/Attack column)",
                path.display(),
                r.line
            )
        })?;
        flat.extend_from_slice(&row);
        y.push(u32::from(label));
    }
    let n = y.len();
    Ok((Array2::from_shape_vec((n, f), flat)?, y))
}

/// `1.2 MB`-style size.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} kB", n as f64 / 1024.0)
    }
}

/// Named row sets of a table (one per domain).
pub type DomainRows = Vec<(String, Vec<usize>)>;

/// Loaded known/candidate domains.
pub struct Loaded {
    pub table: FlowTable,
    /// `real data at …` or `synthetic …`.
    pub source: String,
}

/// The NF-v2 data when present (and not `synthetic`), else the synthetic networks.
pub fn load_data(data_dir: &Path, synthetic: bool) -> Result<Loaded, Box<dyn std::error::Error>> {
    if !synthetic && has_nf_v2(data_dir) {
        let table = load_nf_v2_all(data_dir)?;
        return Ok(Loaded {
            table,
            source: format!("real NF-v2 data at {}", data_dir.display()),
        });
    }
    let cfg = SyntheticConfig {
        n_networks: 4,
        rows_per_network: 6_000,
        ..SyntheticConfig::default()
    };
    let why = if synthetic {
        "requested".to_string()
    } else {
        format!("no NF-v2 data at {}", data_dir.display())
    };
    Ok(Loaded {
        table: generate(&cfg)?,
        source: format!(
            "synthetic networks ({} × {} flows; {why})",
            cfg.n_networks, cfg.rows_per_network
        ),
    })
}

/// Rows of each domain (by data set), capped per domain by a class-stratified sample.
pub fn domain_rows(
    table: &FlowTable,
    cap: usize,
    seed: u64,
) -> Result<DomainRows, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for d in domains_by_dataset(table) {
        let rows = if cap > 0 && d.rows.len() > cap {
            stratified_split(table, &d.rows, 1.0, Some(cap), Stratify::Class, seed)?.test
        } else {
            d.rows.clone()
        };
        out.push((d.name.clone(), rows));
    }
    Ok(out)
}

/// Keeps the domains whose names contain one of the fragments (case-insensitive).
pub fn select_domains(
    all: DomainRows,
    wanted: Option<&[String]>,
) -> Result<DomainRows, Box<dyn std::error::Error>> {
    let Some(wanted) = wanted else {
        return Ok(all);
    };
    let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    let mut out = Vec::new();
    for w in wanted {
        let w = w.trim().to_lowercase();
        let hits: Vec<&(String, Vec<usize>)> = all
            .iter()
            .filter(|(n, _)| n.to_lowercase().contains(&w))
            .collect();
        match hits.as_slice() {
            [one] => {
                if !out.iter().any(|(n, _): &(String, Vec<usize>)| n == &one.0) {
                    out.push((*one).clone());
                }
            }
            [] => {
                return Err(format!("no domain matches `{w}`; known: {}", names.join(", ")).into())
            }
            _ => {
                return Err(format!(
                    "`{w}` matches several domains ({}); be more specific",
                    hits.iter()
                        .map(|h| h.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into())
            }
        }
    }
    Ok(out)
}
