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
    Domain, FlowTable, FlowsError, RowFormat, RowReader, Schema, Sniffed, Stratify, SyntheticConfig,
};
use metaforest_meta::{Detector, FeatureSpace, UNLABELLED_SAMPLE};
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
    /// Input format (with --schema: CSV unless this is parquet). Default: recognised from the first line (a
    /// Zeek log, Zeek JSON lines, CICFlowMeter column names), else NF-v2 CSV.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A TOML schema describing a CSV export (see data/schemas/).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// A longer line (record) is malformed: a scored stream reports it and goes on; a table `data` or `train`
    /// loads stops with an error.
    #[arg(long, value_name = "BYTES", default_value_t = metaforest_flows::DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
}

/// Opens `path` (`-` or `None`: standard input) as a stream of flows mapped onto `space`, in the format
/// the flags name or the one its first line shows; says on standard error how many of the model's
/// features it found (a warning below half).
pub fn open_rows(
    path: Option<&Path>,
    input: &InputArgs,
    space: &FeatureSpace,
) -> Result<Box<dyn RowReader + Send>, Box<dyn std::error::Error>> {
    let (mut reader, origin): (Box<dyn BufRead + Send>, PathBuf) = match path {
        Some(p) if p != Path::new("-") => (open_maybe_gzip(p)?, p.to_path_buf()),
        _ => (
            wrap_maybe_gzip(std::io::stdin(), Path::new("<stdin>"))?,
            "<stdin>".into(),
        ),
    };
    let sniffed = if input.schema.is_none() && input.format.is_none() {
        RowFormat::sniff_reader(&mut reader).map_err(|source| FlowsError::Io {
            path: origin.clone(),
            source,
        })?
    } else {
        None
    };
    let (format, how) = chosen_format(input, sniffed)?;
    if let RowFormat::Parquet(_) = format {
        // Parquet is read by row group from a file (its footer comes last).
        let p = path
            .filter(|p| *p != Path::new("-"))
            .ok_or("Parquet is read from a file, not from standard input")?;
        let rows = format
            .open(p, space.columns())
            .map_err(|e| name_the_space(e, space, &how))?;
        report_features(p, &how, rows.mapping().len(), space);
        return Ok(rows);
    }
    let rows = format
        .reader_with_max_record_bytes(
            reader,
            origin.clone(),
            space.columns(),
            input.max_record_bytes,
        )
        .map_err(|e| name_the_space(e, space, &how))?;
    report_features(&origin, &how, rows.mapping().len(), space);
    Ok(rows)
}

/// The format `--schema`/`--format` name, else the sniffed one, else NF-v2; and how it was chosen, in words.
fn chosen_format(
    input: &InputArgs,
    sniffed: Option<Sniffed>,
) -> Result<(RowFormat, String), FlowsError> {
    if let Some(s) = &input.schema {
        let schema = Schema::from_path(s)?;
        return Ok((
            if input.format == Some(Format::Parquet) {
                RowFormat::Parquet(schema)
            } else {
                RowFormat::Schema(schema)
            },
            format!("schema {}", s.display()),
        ));
    }
    if let Some(f) = input.format {
        let name = f.to_possible_value().expect("every format has a name");
        return Ok((
            RowFormat::from_name(name.get_name())?,
            format!("--format {}", name.get_name()),
        ));
    }
    Ok(match sniffed {
        Some(s) => {
            let how = format!("{} (recognised by {})", format_name(&s.format), s.sign);
            (s.format, how)
        }
        None => (
            RowFormat::from_name("nf-v2")?,
            "nf-v2 (the default: no other format recognised; give --format or --schema)".into(),
        ),
    })
}

fn format_name(f: &RowFormat) -> &str {
    match f {
        RowFormat::Zeek => "zeek",
        RowFormat::CicFlowMeter => "cicflowmeter",
        RowFormat::Schema(s) => &s.name,
        RowFormat::Parquet(_) => "parquet",
    }
}

/// The reader `--format`/`--schema` name for `path`, or the format its first line shows.
pub fn row_format(input: &InputArgs, path: &Path) -> Result<RowFormat, FlowsError> {
    let sniffed = if input.schema.is_none() && input.format.is_none() {
        RowFormat::sniff_path(path)?
    } else {
        None
    };
    Ok(chosen_format(input, sniffed)?.0)
}

/// A reader error that concerns the mapping gets the model's feature space and the format used.
fn name_the_space(e: FlowsError, space: &FeatureSpace, how: &str) -> Box<dyn std::error::Error> {
    if !matches!(e, FlowsError::Incompatible(_)) {
        return e.into();
    }
    let mut names = space.names();
    let more = names.len().saturating_sub(6);
    names.truncate(6);
    format!(
        "{e}. Read as {how}; the model reads {} features{} ({}{})",
        space.width(),
        if space.source().is_empty() {
            String::new()
        } else {
            format!(" of {}", space.source())
        },
        names.join(", "),
        if more > 0 {
            format!(", … {more} more")
        } else {
            String::new()
        }
    )
    .into()
}

/// `read 13 of the model's 41 features from FILE (cicflowmeter …)`, a warning below half.
fn report_features(origin: &Path, how: &str, found: usize, space: &FeatureSpace) {
    let n = space.width();
    let line = format!(
        "read {found} of the model's {n} features from {} as {how}",
        origin.display()
    );
    if 2 * found < n {
        eprintln!("warning: {line}; fewer than half, so scores rest on few features");
    } else {
        eprintln!("{line}");
    }
}

/// Errors after which the stream cannot continue.
pub fn is_fatal(e: &FlowsError) -> bool {
    e.ends_stream()
}

/// A labelled file read whole (supports are small): features, 0/1 labels.
pub fn read_labelled(
    path: &Path,
    input: &InputArgs,
    space: &FeatureSpace,
) -> Result<(Array2<f64>, Vec<u32>), Box<dyn std::error::Error>> {
    let mut src = open_rows(Some(path), input, space)?;
    let f = space.width();
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

/// An evenly spread sample of the flows in `path` (labels, if any, ignored), at most twice the library's
/// [`UNLABELLED_SAMPLE`]: every k-th flow, k doubling as the file goes on, so memory stays bounded; and
/// how many flows the file held.
pub fn read_unlabelled_sample(
    path: &Path,
    input: &InputArgs,
    space: &FeatureSpace,
) -> Result<(Array2<f64>, usize), Box<dyn std::error::Error>> {
    let mut src = open_rows(Some(path), input, space)?;
    let f = space.width();
    let cap = 2 * UNLABELLED_SAMPLE;
    let mut row = vec![0.0; f];
    let (mut kept, mut stride, mut seen) = (Vec::new(), 1usize, 0usize);
    while let Some(r) = src.next_row(&mut row) {
        r?;
        if seen % stride == 0 {
            kept.extend_from_slice(&row);
            if kept.len() == cap * f {
                kept = kept.chunks(f).step_by(2).flatten().copied().collect();
                stride *= 2;
            }
        }
        seen += 1;
    }
    if seen == 0 {
        return Err(format!("{}: no flows in the unlabelled sample", path.display()).into());
    }
    let n = kept.len() / f;
    Ok((Array2::from_shape_vec((n, f), kept)?, seen))
}

/// `META+U` for a detector adapted with a sample of its network's unlabelled flows, else `META`.
pub fn method_name(det: &Detector) -> &'static str {
    if det.uses_unlabelled() {
        "META+U"
    } else {
        "META"
    }
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

/// The NF-v2 data when present (and not `synthetic`), else the synthetic networks, labelled as such in
/// `source`. Only the demo falls back like this; `train` needs `--synthetic` for them.
pub fn load_data(data_dir: &Path, synthetic: bool) -> Result<Loaded, Box<dyn std::error::Error>> {
    if !synthetic && has_nf_v2(data_dir) {
        let table = load_nf_v2_all(data_dir)?;
        return Ok(Loaded {
            table,
            source: format!("real NF-v2 data at {}", data_dir.display()),
        });
    }
    let why = if synthetic {
        "requested".to_string()
    } else {
        format!("no NF-v2 data at {}", data_dir.display())
    };
    synthetic_networks(&why)
}

/// The built-in synthetic networks; `why` says why they are used.
pub fn synthetic_networks(why: &str) -> Result<Loaded, Box<dyn std::error::Error>> {
    let cfg = SyntheticConfig {
        n_networks: 4,
        rows_per_network: 6_000,
        ..SyntheticConfig::default()
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
    cap_domains(table, domains_by_dataset(table), cap, seed)
}

/// The rows of each domain, capped per domain by a class-stratified sample.
pub fn cap_domains(
    table: &FlowTable,
    domains: Vec<Domain>,
    cap: usize,
    seed: u64,
) -> Result<DomainRows, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for d in domains {
        let rows = if cap > 0 && d.rows.len() > cap {
            stratified_split(table, &d.rows, 1.0, Some(cap), Stratify::Class, seed)?.test
        } else {
            d.rows
        };
        out.push((d.name, rows));
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
