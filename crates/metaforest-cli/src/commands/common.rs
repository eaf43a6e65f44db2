//! Shared by train/adapt/detect/explain/rules/demo: the CLI's model files (a meta-model or detector plus
//! the feature space it reads), input formats, and threshold calibration.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use metaforest_flows::zeek::{open_maybe_gzip, wrap_maybe_gzip};
use metaforest_flows::{ColumnSpec, FlowsError, RowFormat, RowReader, Schema};
use metaforest_forest::Forest;
use metaforest_meta::io::{read_file, write_file};
use metaforest_meta::rules::{extract_rules, heaviest_known, Rule, RuleParams};
use metaforest_meta::{Detector, MetaError, MetaModel};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Magic of `metaforest train` output (`.mf`).
pub const MODEL_MAGIC: &[u8; 8] = b"MFCLIMOD";
/// Magic of `metaforest adapt` output (`.mfd`).
pub const DETECTOR_MAGIC: &[u8; 8] = b"MFCLIDET";

/// A meta-model with the feature space its forests read (names and categorical dictionaries), so that
/// later files in any supported format can be mapped onto it.
#[derive(Serialize, Deserialize)]
pub struct ModelFile {
    pub space: Vec<ColumnSpec>,
    /// Where the training data came from (e.g. `NF-v2: NF-UNSW-NB15-v2, …`).
    pub source: String,
    pub model: MetaModel,
}

/// An adapted detector, its feature space, and the known forest its rules are read from (the most heavily
/// weighted one at adaptation time; kept here because the detector does not expose its known forests).
#[derive(Serialize, Deserialize)]
pub struct DetectorFile {
    pub space: Vec<ColumnSpec>,
    pub source: String,
    pub detector: Detector,
    pub rule_forest: Option<(String, Forest)>,
    /// How the threshold was chosen (printed by `detect`).
    pub threshold_note: String,
}

/// A model-file problem, with a hint when the file is the other kind.
fn check_kind(path: &Path, want: &[u8; 8], what: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if f.read_exact(&mut head).is_err() {
        return Err(format!(
            "{}: not a metaforest {what} file (too short)",
            path.display()
        )
        .into());
    }
    if &head != want {
        let hint = match &head {
            h if h == MODEL_MAGIC => {
                " (it is a meta-model, .mf: adapt it first with `metaforest adapt`)"
            }
            h if h == DETECTOR_MAGIC => {
                " (it is a detector, .mfd: use it with detect/explain/rules)"
            }
            _ => "",
        };
        return Err(format!("{}: not a metaforest {what} file{hint}", path.display()).into());
    }
    Ok(())
}

impl ModelFile {
    pub fn save(&self, path: &Path) -> Result<(), MetaError> {
        write_file(path, MODEL_MAGIC, self)
    }
    pub fn load(path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        check_kind(path, MODEL_MAGIC, "meta-model (.mf)")?;
        Ok(read_file(path, MODEL_MAGIC)?)
    }
}

impl DetectorFile {
    pub fn save(&self, path: &Path) -> Result<(), MetaError> {
        write_file(path, DETECTOR_MAGIC, self)
    }
    pub fn load(path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        check_kind(path, DETECTOR_MAGIC, "detector (.mfd)")?;
        Ok(read_file(path, DETECTOR_MAGIC)?)
    }
    /// Whether a file starts with the detector magic.
    pub fn is_detector(path: &Path) -> bool {
        let mut head = [0u8; 8];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && &head == DETECTOR_MAGIC
    }
    pub fn names(&self) -> Vec<String> {
        self.space.iter().map(|c| c.name.clone()).collect()
    }
    /// The detector's ranked rules (re-derived from its current state).
    pub fn rules(&self, params: &RuleParams) -> Vec<Rule> {
        extract_rules(
            &self.detector,
            self.rule_forest.as_ref().map(|(n, f)| (n.as_str(), f)),
            params,
        )
    }
}

/// The known forest rules are read from: the heaviest by the detector's task weights.
pub fn rule_forest(detector: &Detector, model: &MetaModel) -> Option<(String, Forest)> {
    let (k, name) = heaviest_known(detector)?;
    Some((name, model.known.get(k)?.forest.clone()))
}

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
}

/// How to read a flow file.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input format (ignored with --schema).
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
    let (reader, origin): (Box<dyn BufRead + Send>, PathBuf) = match path {
        Some(p) if p != Path::new("-") => (open_maybe_gzip(p)?, p.to_path_buf()),
        _ => (
            wrap_maybe_gzip(std::io::stdin(), Path::new("<stdin>"))?,
            "<stdin>".into(),
        ),
    };
    let format = match &input.schema {
        Some(s) => RowFormat::Schema(Schema::from_path(s)?),
        None => RowFormat::from_name(
            input
                .format
                .to_possible_value()
                .expect("every format has a name")
                .get_name(),
        )?,
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

/// The lowest threshold at which at most `max_far` of the support's benign flows raise an alarm, never
/// below `floor`. In-sample support scores are optimistic, so this is a lower bound on the false-alarm
/// rate a new flow will see, not a guarantee.
pub fn calibrate_far(detector: &Detector, max_far: f64, floor: f64) -> f64 {
    let (x, y) = detector.support();
    let scores = detector.predict_proba(x);
    let mut benign: Vec<f64> = scores
        .iter()
        .zip(y)
        .filter(|(_, &l)| l == 0)
        .map(|(s, _)| *s)
        .collect();
    if benign.is_empty() {
        return floor;
    }
    benign.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_far * benign.len() as f64).floor() as usize;
    let t = if allowed >= benign.len() {
        0.0
    } else {
        // Just above the (allowed+1)-th highest benign score: verdict is `score >= threshold`.
        next_up(benign[allowed])
    };
    t.max(floor).min(1.0)
}

/// Like [`calibrate_far`], but each benign support flow is scored by a detector adapted *without* it
/// (leave-one-out, at most `max_held` benign flows, evenly spaced), so the scores are out-of-sample. Needs
/// the meta-model; no floor. Returns the threshold and how many flows it was estimated from.
pub fn calibrate_far_loo(
    model: &MetaModel,
    x: ndarray::ArrayView2<f64>,
    y: &[u32],
    max_far: f64,
    max_held: usize,
) -> Result<(f64, usize), MetaError> {
    let benign: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 0).collect();
    let step = benign.len().div_ceil(max_held.max(1)).max(1);
    let held: Vec<usize> = benign.iter().step_by(step).copied().collect();
    let mut scores = Vec::with_capacity(held.len());
    for &i in &held {
        let keep: Vec<usize> = (0..y.len()).filter(|&r| r != i).collect();
        if !keep.iter().any(|&r| y[r] == 0) {
            continue; // a support with one benign flow cannot spare it
        }
        let sx = x.select(ndarray::Axis(0), &keep);
        let sy: Vec<u32> = keep.iter().map(|&r| y[r]).collect();
        let det = model.adapt(sx.view(), &sy)?;
        let row = x.select(ndarray::Axis(0), &[i]);
        scores.push(det.predict_proba(row.view())[0]);
    }
    if scores.is_empty() {
        return Ok((0.5, 0));
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_far * scores.len() as f64).floor() as usize;
    let t = if allowed >= scores.len() {
        0.0
    } else {
        next_up(scores[allowed])
    };
    Ok((t.min(1.0), scores.len()))
}

fn next_up(v: f64) -> f64 {
    if v >= 1.0 {
        1.0
    } else {
        f64::from_bits(v.to_bits() + 1).max(v + 1e-9)
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
