//! `metaforest detect`: scores flows from a file or standard input as a stream. Memory stays constant:
//! rows are read, scored in batches (for throughput) and written in input order; nothing else is kept.
//! Malformed rows are reported on stderr with their line and reason, counted, and skipped; a run with
//! more of them than `--max-malformed` allows fails. When the input cannot be read further (a cut gzip
//! stream, an I/O error), every row read so far is still scored and written, the summary names the line
//! reached, and the run fails.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc::TrySendError;
use std::time::Instant;

use clap::{Args, ValueEnum};
use metaforest_eval::metrics::Confusion;
use metaforest_flows::{MappedRow, RowReader};
use metaforest_meta::Detector;
use ndarray::ArrayView2;
use rayon::prelude::*;

use super::common::{is_fatal, method_name, open_rows, InputArgs};
use super::{CmdResult, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Csv,
    Jsonl,
}

/// `metaforest detect detector.mfd [FILE|-]`
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The detector (.mfd).
    pub detector: PathBuf,
    /// Flows to score; `-` or nothing reads standard input (plain or gzip).
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub format: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub output: OutputFormat,
    /// Input columns to pass through to the output, comma-separated, as raw text (`none`: none). Default for
    /// Zeek logs: uid,ts,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto (those present); otherwise none.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub keep: Option<Vec<String>>,
    /// Alarm threshold on the attack probability (default: the detector's).
    #[arg(long, conflicts_with = "max_far")]
    pub threshold: Option<f64>,
    /// Threshold for this false-alarm budget, calibrated as `adapt --max-far` does (refused when the
    /// detector's flows cannot resolve it; never below 0.5 unless --allow-threshold-below-half).
    #[arg(long)]
    pub max_far: Option<f64>,
    /// Let --max-far set a threshold below 0.5.
    #[arg(long, requires = "max_far")]
    pub allow_threshold_below_half: bool,
    /// Add the N features that drove each decision (slower: one explanation per row).
    #[arg(long, value_name = "N")]
    pub reasons: Option<usize>,
    /// Rows scored together; 1 gives the lowest latency per flow. From 64 rows on, input is read ahead while
    /// batches are scored, and while scoring is behind, up to four batches are scored together.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Only write rows whose verdict is attack.
    #[arg(long)]
    pub alerts_only: bool,
    /// Stop reporting malformed rows individually after this many (they are still counted).
    #[arg(long, default_value_t = 20)]
    pub max_reported: usize,
    /// Fail the run when more rows than this are malformed: a count (`N`, checked as rows come) or a
    /// share of the rows read (`P%`, checked at the end).
    #[arg(long, value_name = "N|P%", default_value = "50%")]
    pub max_malformed: MalformedLimit,
}

/// How many malformed rows a run tolerates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MalformedLimit {
    Count(u64),
    Percent(f64),
}

impl MalformedLimit {
    /// Whether `malformed` of `read` rows exceed the limit (a share only at the end of the input).
    fn exceeded(self, malformed: u64, read: u64, at_end: bool) -> bool {
        match self {
            MalformedLimit::Count(n) => malformed > n,
            MalformedLimit::Percent(p) => {
                at_end && read > 0 && malformed as f64 > p / 100.0 * read as f64
            }
        }
    }
}

impl std::fmt::Display for MalformedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MalformedLimit::Count(n) => write!(f, "{n}"),
            MalformedLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for MalformedLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is neither a row count N nor a share P% (0 to 100)");
        match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(MalformedLimit::Percent(p)),
                _ => Err(bad()),
            },
            None => s
                .trim()
                .parse()
                .map(MalformedLimit::Count)
                .map_err(|_| bad()),
        }
    }
}

/// Chunks per pool thread a batch is scored in: enough that a thread that starts late (reading) or finishes early
/// takes over work.
const CHUNKS_PER_THREAD: usize = 8;

/// Rows' scores and each row's reasons (empty unless asked for).
type Scored = Result<(Vec<f64>, Vec<Vec<String>>), Box<dyn std::error::Error + Send + Sync>>;

/// Scores `n` rows (row-major in `buf`) in chunks on the rayon pool, each with the `reasons` features that drove
/// its decision (`name=value`, none when 0); chunks are concatenated in order, so the output does not depend on the
/// thread count.
fn score_parallel(
    det: &Detector,
    buf: &[f64],
    n: usize,
    names: &[String],
    reasons: usize,
) -> Scored {
    let nf = names.len();
    let chunk = (n / (CHUNKS_PER_THREAD * rayon::current_num_threads())).max(32);
    let starts: Vec<usize> = (0..n).step_by(chunk).collect();
    let parts: Vec<Scored> = starts
        .par_iter()
        .map(|&a| {
            let b = (a + chunk).min(n);
            let x = ArrayView2::from_shape((b - a, nf), &buf[a * nf..b * nf])?;
            if reasons == 0 {
                return Ok((det.predict_proba(x), Vec::new()));
            }
            let explained = det.explain_rows(x)?;
            let why = explained
                .iter()
                .zip(x.rows())
                .map(|(e, row)| {
                    e.top_features
                        .iter()
                        .take(reasons)
                        .map(|&(j, _)| format!("{}={}", names[j], row[j]))
                        .collect()
                })
                .collect();
            Ok((explained.iter().map(|e| e.score).collect(), why))
        })
        .collect();
    let (mut scores, mut why) = (Vec::with_capacity(n), Vec::new());
    for p in parts {
        let (s, w) = p?;
        scores.extend(s);
        why.extend(w);
    }
    Ok((scores, why))
}

/// Fields every output row may carry; a kept input column must not take one of their names.
const OUTPUT_FIELDS: &[&str] = &[
    "line",
    "score",
    "verdict",
    "threshold",
    "detector",
    "label",
    "class",
    "reasons",
];

/// The input columns to pass through: `--keep` as given (`none`: none), else the reader's defaults that the
/// input has (a note names those it lacks).
fn kept_columns(
    src: &mut (dyn RowReader + Send),
    asked: Option<&[String]>,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let keep: Vec<String> = match asked {
        Some([none]) if none == "none" => Vec::new(),
        Some(cols) => cols.iter().map(|c| c.trim().to_owned()).collect(),
        None => {
            let have = src.input_columns();
            let (present, absent): (Vec<&str>, Vec<&str>) = src
                .default_keep()
                .iter()
                .partition(|c| have.iter().any(|h| h == *c));
            if !absent.is_empty() {
                eprintln!(
                    "note: the input has no {} column to pass through",
                    absent.join(", ")
                );
            }
            present.into_iter().map(String::from).collect()
        }
    };
    if let Some(c) = keep.iter().find(|c| OUTPUT_FIELDS.contains(&c.as_str())) {
        return Err(format!(
            "--keep {c}: the output already has a `{c}` field (reserved: {})",
            OUTPUT_FIELDS.join(", ")
        )
        .into());
    }
    src.keep(&keep)?;
    Ok(keep)
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn csv_field(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

/// Rows read and waiting to be scored: values row-major, each row's line and label, and the text of the kept
/// columns (`nk` per row). Buffers are reused from batch to batch.
struct Batch {
    values: Vec<f64>,
    metas: Vec<MappedRow>,
    kept: Vec<String>,
    /// Kept columns per row.
    nk: usize,
}

impl Batch {
    fn new(rows: usize, nf: usize, nk: usize) -> Self {
        Batch {
            values: Vec::with_capacity(rows * nf),
            metas: Vec::with_capacity(rows),
            kept: vec![String::new(); rows * nk],
            nk,
        }
    }

    fn clear(&mut self) {
        self.values.clear();
        self.metas.clear();
    }
}

/// The input half of a run: fills batches and counts what it read.
struct Input<'a> {
    src: Box<dyn RowReader + Send>,
    args: &'a DetectArgs,
    row: Vec<f64>,
    read: u64,
    malformed: u64,
    line_reached: u64,
    /// Why the run stops early, if it does; rows read before are still scored and written.
    failure: Option<String>,
    ended: bool,
}

impl Input<'_> {
    /// Reads rows into `batch` until it holds `rows` of them or the input ends.
    fn fill(&mut self, batch: &mut Batch, rows: usize) {
        let nk = batch.nk;
        while !self.ended && batch.metas.len() < rows {
            match self.src.next_row(&mut self.row) {
                None => self.ended = true,
                Some(Ok(meta)) => {
                    self.read += 1;
                    self.line_reached = meta.line;
                    let at = batch.metas.len() * nk;
                    if batch.kept.len() < at + nk {
                        batch.kept.resize(at + nk, String::new());
                    }
                    for (slot, v) in batch.kept[at..at + nk].iter_mut().zip(self.src.kept()) {
                        slot.clone_from(v);
                    }
                    batch.values.extend_from_slice(&self.row);
                    batch.metas.push(meta);
                }
                Some(Err(e)) if is_fatal(&e) => {
                    self.failure = Some(e.to_string());
                    self.ended = true;
                }
                Some(Err(e)) => {
                    self.read += 1;
                    self.malformed += 1;
                    self.line_reached = e.line().unwrap_or(self.line_reached);
                    let limit = self.args.max_malformed;
                    if limit.exceeded(self.malformed, self.read, false) {
                        self.failure = Some(format!(
                            "more than {limit} malformed rows (--max-malformed)"
                        ));
                        self.ended = true;
                    }
                    let listed = self.args.max_reported as u64;
                    if self.malformed <= listed {
                        eprintln!("skipped malformed row: {e}");
                    } else if self.malformed == listed + 1 {
                        eprintln!("(further malformed rows are counted, not listed)");
                    }
                }
            }
        }
    }
}

/// The output half of a run: scores batches, writes their verdicts and counts the alerts.
struct Output<'a> {
    det: &'a Detector,
    args: &'a DetectArgs,
    names: Vec<String>,
    keep: Vec<String>,
    threshold: f64,
    detector_id: String,
    out: BufWriter<std::io::Stdout>,
    header_written: bool,
    labelled: Option<bool>,
    alerts: u64,
    /// Confusion counts when the input is labelled.
    confusion: Confusion,
    with_label: u64,
}

impl Output<'_> {
    fn score_and_write(&mut self, batch: &Batch) -> CmdResult {
        if batch.metas.is_empty() {
            return Ok(());
        }
        let (args, nk) = (self.args, self.keep.len());
        let n_reasons = args.reasons.unwrap_or(0);
        let (scores, explained) = score_parallel(
            self.det,
            &batch.values,
            batch.metas.len(),
            &self.names,
            n_reasons,
        )
        .map_err(|e| e.to_string())?;
        let labelled = *self.labelled.get_or_insert(batch.metas[0].label.is_some());
        let out = &mut self.out;
        if !self.header_written {
            if args.output == OutputFormat::Csv {
                let mut h = String::from("line");
                for k in &self.keep {
                    h.push(',');
                    h.push_str(&csv_field(k));
                }
                h.push_str(",score,verdict");
                if labelled {
                    h.push_str(",label");
                }
                if args.reasons.is_some() {
                    h.push_str(",reasons");
                }
                writeln!(out, "{h}")?;
            }
            self.header_written = true;
        }
        for (i, (meta, &score)) in batch.metas.iter().zip(&scores).enumerate() {
            let attack = score >= self.threshold;
            self.alerts += u64::from(attack);
            if let Some(l) = meta.label {
                self.with_label += 1;
                let c = &mut self.confusion;
                match (attack, l == 1) {
                    (true, true) => c.tp += 1,
                    (true, false) => c.fp += 1,
                    (false, false) => c.tn += 1,
                    (false, true) => c.fn_ += 1,
                }
            }
            if args.alerts_only && !attack {
                continue;
            }
            let reasons: &[String] = explained.get(i).map_or(&[], |r| r.as_slice());
            let kept = &batch.kept[i * nk..(i + 1) * nk];
            let verdict = if attack { "attack" } else { "benign" };
            match args.output {
                OutputFormat::Csv => {
                    write!(out, "{}", meta.line)?;
                    for v in kept {
                        write!(out, ",{}", csv_field(v))?;
                    }
                    write!(out, ",{score:.6},{verdict}")?;
                    if labelled {
                        match meta.label {
                            Some(l) => write!(out, ",{l}")?,
                            None => write!(out, ",")?,
                        }
                    }
                    if args.reasons.is_some() {
                        write!(out, ",\"{}\"", reasons.join(";"))?;
                    }
                    writeln!(out)?;
                }
                OutputFormat::Jsonl => {
                    let mut v = serde_json::json!({
                        "line": meta.line,
                        "score": score,
                        "verdict": verdict,
                        "threshold": self.threshold,
                        "detector": self.detector_id,
                    });
                    for (k, value) in self.keep.iter().zip(kept) {
                        v[k] = value.as_str().into();
                    }
                    if let Some(l) = meta.label {
                        v["label"] = l.into();
                    }
                    if let Some(c) = &meta.class {
                        v["class"] = c.clone().into();
                    }
                    if args.reasons.is_some() {
                        v["reasons"] = reasons.into();
                    }
                    v["method"] = method_name(self.det).into();
                    writeln!(out, "{v}")?;
                }
            }
        }
        // Flush per batch so a downstream reader sees verdicts as they are made.
        out.flush()?;
        Ok(())
    }
}

/// Batches at least this large are read ahead on a thread of their own; smaller ones (low-latency runs) are read,
/// scored and written one after the other, where handing them between threads would cost more than it gains.
const OVERLAP_MIN_BATCH: usize = 64;
/// Filled batches waiting to be scored, at most (bounds the memory a fast reader can take).
const READ_AHEAD: usize = 2;
/// Most batches scored together when scoring falls behind the input.
const COALESCE: usize = 4;

/// Reads batches on a thread of its own while this one scores and writes them, in input order: verdicts never
/// wait for later rows, and reading never waits for a batch to be scored. Returns the input half when the input
/// ends (or the output fails: its error).
fn read_ahead<'a>(
    mut input: Input<'a>,
    output: &mut Output<'_>,
    batch: usize,
    nf: usize,
    nk: usize,
) -> Result<Input<'a>, String> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(READ_AHEAD);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
        let reader = scope.spawn(move || {
            'read: loop {
                let mut next = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Batch::new(batch, nf, nk));
                next.clear();
                input.fill(&mut next, batch);
                // An empty batch: the input has ended.
                if next.metas.is_empty() {
                    break;
                }
                // While the writer is busy, the batch grows (up to COALESCE batches): scoring falls behind less
                // when it scores more rows at once.
                loop {
                    match full_tx.try_send(next) {
                        Ok(()) => continue 'read,
                        Err(TrySendError::Full(b)) => next = b,
                        // The writer has stopped.
                        Err(TrySendError::Disconnected(_)) => break 'read,
                    }
                    if input.ended || next.metas.len() >= COALESCE * batch {
                        if full_tx.send(next).is_err() {
                            break 'read;
                        }
                        continue 'read;
                    }
                    let more = next.metas.len() + batch;
                    input.fill(&mut next, more);
                }
            }
            input
        });
        let mut written = Ok(());
        for done in &full_rx {
            written = output.score_and_write(&done).map_err(|e| e.to_string());
            if written.is_err() {
                break;
            }
            // The reader may have finished already; the buffers are then dropped.
            let _ = empty_tx.send(done);
        }
        drop(full_rx);
        let input = reader.join().expect("the reader thread does not panic");
        written.map(|()| input)
    })
}

pub fn run(_ctx: &Context, args: DetectArgs) -> CmdResult {
    let start = Instant::now();
    let det = &Detector::load(&args.detector)?;
    let threshold = match (args.threshold, args.max_far) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            let (t, basis) = det
                .far_calibration(f, args.allow_threshold_below_half)
                .map_err(|e| format!("--max-far: {e}"))?;
            eprintln!("threshold {t:.4} ({basis})");
            t
        }
        (None, None) => det.threshold(),
    };
    if !(0.0..=1.0).contains(&threshold) {
        return Err(format!("threshold {threshold} is not in [0, 1]").into());
    }
    let names = det.feature_space().names();
    let nf = names.len();
    let mut src = open_rows(args.input.as_deref(), &args.format, det.feature_space())?;
    let keep = kept_columns(src.as_mut(), args.keep.as_deref())?;
    let nk = keep.len();
    // Only JSON lines carry the id; hashing the detector is skipped otherwise.
    let detector_id = match args.output {
        OutputFormat::Jsonl => det.id()?,
        OutputFormat::Csv => String::new(),
    };
    let batch = args.batch.max(1);
    let mut output = Output {
        det,
        args: &args,
        names: names.to_vec(),
        keep,
        threshold,
        detector_id,
        out: BufWriter::with_capacity(1 << 16, std::io::stdout()),
        header_written: false,
        labelled: None,
        alerts: 0,
        confusion: Confusion::default(),
        with_label: 0,
    };
    let mut input = Input {
        src,
        args: &args,
        row: vec![0.0; nf],
        read: 0,
        malformed: 0,
        line_reached: 0,
        failure: None,
        ended: false,
    };
    let input = if batch >= OVERLAP_MIN_BATCH {
        read_ahead(input, &mut output, batch, nf, nk)?
    } else {
        let mut current = Batch::new(batch, nf, nk);
        loop {
            input.fill(&mut current, batch);
            if current.metas.is_empty() {
                break input;
            }
            output.score_and_write(&current)?;
            current.clear();
        }
    };
    output.out.flush()?;
    let Input {
        read,
        malformed,
        line_reached,
        mut failure,
        ..
    } = input;
    if failure.is_none() && args.max_malformed.exceeded(malformed, read, true) {
        failure = Some(format!(
            "{malformed} of {read} rows are malformed, more than --max-malformed {} allows",
            args.max_malformed
        ));
    }
    let secs = start.elapsed().as_secs_f64();
    let scored = read - malformed;
    eprintln!(
        "detect: {} rows read up to line {line_reached}, {} scored, {} malformed (skipped), {} alerts at threshold {:.4} ({}); {:.2} s, {:.0} rows/s",
        read,
        scored,
        malformed,
        output.alerts,
        threshold,
        method_name(det),
        secs,
        scored as f64 / secs.max(1e-9)
    );
    if output.with_label > 0 {
        let c = &output.confusion;
        eprintln!(
            "  on the input's labels: macro-F1 {:.3}, detection rate {:.3}, false-alarm rate {:.4} (tp {}, fp {}, tn {}, fn {})",
            c.macro_f1(),
            c.detection_rate(),
            c.false_alarm_rate(),
            c.tp,
            c.fp,
            c.tn,
            c.fn_,
        );
    }
    match failure {
        Some(why) => Err(format!("detect stopped: {why}").into()),
        None => Ok(()),
    }
}
