//! Reports: per-draw records (JSON), summary tables (Markdown, CSV), paired differences, worst-decile
//! tables and SVG plots. Every file is written to a temporary file in the output folder and renamed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::Metrics;
use crate::standard_figure::StandardFigure;
use crate::stats::{paired_difference, worst_decile_mean, Summary};

/// Name of the pseudo-domain that averages the held-out domains draw by draw.
pub const MEAN_DOMAIN: &str = "mean";

/// One method scored on one draw of one held-out domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `P1`, `P2`, `P3` or `SYN` (the synthetic generator).
    pub protocol: String,
    /// Protocol variant, e.g. `ports` / `no-ports` for P1; empty when the protocol has none.
    pub variant: String,
    /// The held-out domain (data set, attack type or family).
    pub domain: String,
    /// `B0`…`B6`, `ORACLE`, later `META`.
    pub method: String,
    /// Labelled flows per class in the support.
    pub k: usize,
    /// Draw index `0..draws` (the same index means the same support for every method).
    pub draw: usize,
    /// Seed of the draw (support sampling and every forest of the draw derive from it).
    pub seed: u64,
    /// Test flows scored.
    pub n_test: usize,
    /// True when the method used the held-out domain's unlabelled flows (B6).
    pub uses_unlabelled: bool,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Serialises records as a JSON array, one record per line.
pub fn records_to_json(records: &[Record]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in records.iter().enumerate() {
        // A Record is plain data; serialising it cannot fail.
        s.push_str(&serde_json::to_string(r).expect("record serialises"));
        s.push_str(if i + 1 < records.len() { ",\n" } else { "\n" });
    }
    s.push_str("]\n");
    s
}

/// Writes the JSON records file atomically.
pub fn write_records_json(path: &Path, records: &[Record]) -> Result<()> {
    write_atomic(path, records_to_json(records).as_bytes())
}

/// Reads a JSON records file; a parse error names the file, line and column.
pub fn read_records_json(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| EvalError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Records of one protocol variant, indexed for tables: values per (domain, method, k), keyed by draw.
#[derive(Debug, Clone)]
pub struct Grid {
    pub protocol: String,
    pub variant: String,
    /// Held-out domains in order of first appearance.
    pub domains: Vec<String>,
    /// Methods in order of first appearance.
    pub methods: Vec<String>,
    pub ks: Vec<usize>,
    cells: BTreeMap<(String, String, usize), BTreeMap<usize, Metrics>>,
}

impl Grid {
    /// Groups records by (protocol, variant), in order of first appearance.
    pub fn group(records: &[Record]) -> Vec<Grid> {
        let mut grids: Vec<Grid> = Vec::new();
        for r in records {
            let idx = match grids
                .iter()
                .position(|g| g.protocol == r.protocol && g.variant == r.variant)
            {
                Some(i) => i,
                None => {
                    grids.push(Grid {
                        protocol: r.protocol.clone(),
                        variant: r.variant.clone(),
                        domains: Vec::new(),
                        methods: Vec::new(),
                        ks: Vec::new(),
                        cells: BTreeMap::new(),
                    });
                    grids.len() - 1
                }
            };
            let g = &mut grids[idx];
            if !g.domains.contains(&r.domain) {
                g.domains.push(r.domain.clone());
            }
            if !g.methods.contains(&r.method) {
                g.methods.push(r.method.clone());
            }
            if !g.ks.contains(&r.k) {
                g.ks.push(r.k);
            }
            g.cells
                .entry((r.domain.clone(), r.method.clone(), r.k))
                .or_default()
                .insert(r.draw, r.metrics);
        }
        for g in &mut grids {
            g.ks.sort_unstable();
        }
        grids
    }

    /// Title such as `P1 (no-ports)`.
    pub fn title(&self) -> String {
        if self.variant.is_empty() {
            self.protocol.clone()
        } else {
            format!("{} ({})", self.protocol, self.variant)
        }
    }

    /// File-name stem such as `p1_no-ports`.
    pub fn stem(&self) -> String {
        let mut s = self.protocol.to_lowercase();
        if !self.variant.is_empty() {
            s.push('_');
            s.push_str(&self.variant);
        }
        sanitize(&s)
    }

    /// Per-draw values of `metric`. For [`MEAN_DOMAIN`] a draw's value is the mean over all held-out domains,
    /// and only draws that every domain has are kept (a domain that skipped a K leaves that K empty).
    pub fn values(
        &self,
        domain: &str,
        method: &str,
        k: usize,
        metric: &str,
    ) -> BTreeMap<usize, f64> {
        let get = |d: &str| -> Option<BTreeMap<usize, f64>> {
            self.cells
                .get(&(d.to_string(), method.to_string(), k))
                .map(|m| {
                    m.iter()
                        .map(|(&draw, v)| (draw, v.get(metric).unwrap_or(f64::NAN)))
                        .collect()
                })
        };
        if domain != MEAN_DOMAIN {
            return get(domain).unwrap_or_default();
        }
        let per_domain: Option<Vec<BTreeMap<usize, f64>>> =
            self.domains.iter().map(|d| get(d)).collect();
        let Some(per_domain) = per_domain else {
            return BTreeMap::new();
        };
        let Some(first) = per_domain.first() else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for &draw in first.keys() {
            let vals: Option<Vec<f64>> = per_domain.iter().map(|m| m.get(&draw).copied()).collect();
            if let Some(vals) = vals {
                // A NaN in one domain makes the draw's mean NaN, which the summary then skips and counts.
                out.insert(draw, vals.iter().sum::<f64>() / vals.len() as f64);
            }
        }
        out
    }

    /// Mean and interval of a cell.
    pub fn summary(&self, domain: &str, method: &str, k: usize, metric: &str) -> Option<Summary> {
        let v = self.values(domain, method, k, metric);
        (!v.is_empty()).then(|| Summary::of(&v.into_values().collect::<Vec<_>>()))
    }

    /// Paired difference `method − reference` over the draws both have.
    pub fn paired(
        &self,
        domain: &str,
        method: &str,
        reference: &str,
        k: usize,
        metric: &str,
    ) -> Option<Summary> {
        let a = self.values(domain, method, k, metric);
        let b = self.values(domain, reference, k, metric);
        let (x, y): (Vec<f64>, Vec<f64>) = a
            .iter()
            .filter_map(|(d, va)| b.get(d).map(|vb| (*va, *vb)))
            .unzip();
        if x.is_empty() {
            return None;
        }
        paired_difference(&x, &y)
    }

    /// Worst-decile mean of a cell.
    pub fn worst_decile(&self, domain: &str, method: &str, k: usize, metric: &str) -> Option<f64> {
        let v = self.values(domain, method, k, metric);
        (!v.is_empty()).then(|| worst_decile_mean(&v.into_values().collect::<Vec<_>>()))
    }

    /// The baseline (`B…`, not ORACLE/META) with the highest mean `metric` at this domain and K.
    pub fn best_baseline(&self, domain: &str, k: usize, metric: &str) -> Option<String> {
        self.methods
            .iter()
            .filter(|m| is_baseline(m))
            .filter_map(|m| {
                let s = self.summary(domain, m, k, metric)?;
                (!s.mean.is_nan()).then(|| (m.clone(), s.mean))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(m, _)| m)
    }

    /// The domains of the report: the mean first (when there is more than one domain), then each domain.
    pub fn report_domains(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.domains.len() > 1 {
            v.push(MEAN_DOMAIN.to_string());
        }
        v.extend(self.domains.iter().cloned());
        v
    }

    /// Number of draws per cell (largest over cells).
    pub fn max_draws(&self) -> usize {
        self.cells.values().map(|m| m.len()).max().unwrap_or(0)
    }
}

/// True for the baselines B0…B9 (not ORACLE, not META).
pub fn is_baseline(method: &str) -> bool {
    method.len() >= 2 && method.starts_with('B') && method[1..].chars().all(|c| c.is_ascii_digit())
}

fn fmt_summary(s: Option<Summary>, signed: bool) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.mean.is_nan() => "n/a".into(),
        Some(s) => {
            let mut c = if signed {
                format!("{:+.3}", s.mean)
            } else {
                format!("{:.3}", s.mean)
            };
            if !s.half_width.is_nan() {
                let _ = write!(c, " ± {:.3}", s.half_width);
            }
            if signed && !s.half_width.is_nan() && (s.lo() > 0.0 || s.hi() < 0.0) {
                c.push_str(" *");
            }
            if s.n_nan > 0 {
                let _ = write!(c, " ({} NaN)", s.n_nan);
            }
            c
        }
    }
}

/// Human names of the metrics used in headings.
pub fn metric_title(metric: &str) -> &str {
    match metric {
        "macro_f1" => "macro-F1",
        "detection_rate" => "detection rate (attack recall)",
        "false_alarm_rate" => "false-alarm rate",
        "precision" => "precision",
        "accuracy" => "accuracy",
        "roc_auc" => "ROC-AUC",
        "pr_auc" => "PR-AUC (average precision)",
        "dr_at_1pct_far" => "detection rate at 1 % false alarms",
        "ece" => "expected calibration error (10 bins)",
        "log_loss" => "log-loss",
        other => other,
    }
}

fn table_header(out: &mut String, ks: &[usize]) {
    out.push_str("| method |");
    for k in ks {
        let _ = write!(out, " K={k} |");
    }
    out.push_str("\n|---|");
    for _ in ks {
        out.push_str("---:|");
    }
    out.push('\n');
}

/// Markdown table: rows = methods, columns = K, cells = mean ± 95 % half-interval of `metric`.
pub fn markdown_metric_table(g: &Grid, domain: &str, metric: &str) -> String {
    let mut out = String::new();
    table_header(&mut out, &g.ks);
    for m in &g.methods {
        let _ = write!(out, "| {m} |");
        for &k in &g.ks {
            let _ = write!(
                out,
                " {} |",
                fmt_summary(g.summary(domain, m, k, metric), false)
            );
        }
        out.push('\n');
    }
    out
}

/// Markdown table of paired differences to `reference` (a method name) or, with `None`, to the best
/// baseline of each column (named in the last row).
pub fn markdown_paired_table(
    g: &Grid,
    domain: &str,
    reference: Option<&str>,
    metric: &str,
) -> String {
    let mut out = String::new();
    table_header(&mut out, &g.ks);
    let refs: Vec<Option<String>> =
        g.ks.iter()
            .map(|&k| match reference {
                Some(r) => Some(r.to_string()),
                None => g.best_baseline(domain, k, metric),
            })
            .collect();
    for m in &g.methods {
        let _ = write!(out, "| {m} |");
        for (&k, r) in g.ks.iter().zip(&refs) {
            let cell = r
                .as_deref()
                .map(|r| fmt_summary(g.paired(domain, m, r, k, metric), true))
                .unwrap_or_else(|| "—".into());
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    if reference.is_none() {
        out.push_str("| *best baseline* |");
        for r in &refs {
            let _ = write!(out, " {} |", r.as_deref().unwrap_or("—"));
        }
        out.push('\n');
    }
    out
}

/// Markdown table of worst-decile means.
pub fn markdown_worst_decile_table(g: &Grid, domain: &str, metric: &str) -> String {
    let mut out = String::new();
    table_header(&mut out, &g.ks);
    for m in &g.methods {
        let _ = write!(out, "| {m} |");
        for &k in &g.ks {
            let cell = match g.worst_decile(domain, m, k, metric) {
                None => "—".to_string(),
                Some(v) if v.is_nan() => "n/a".to_string(),
                Some(v) => format!("{v:.3}"),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// Metrics shown for the mean over domains besides macro-F1.
pub const SECONDARY_METRICS: [&str; 6] = [
    "detection_rate",
    "false_alarm_rate",
    "roc_auc",
    "pr_auc",
    "dr_at_1pct_far",
    "ece",
];

/// The Markdown section of one protocol variant.
pub fn markdown_grid(g: &Grid) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", g.title());
    let _ = writeln!(
        out,
        "Held-out domains: {}. Cells: mean ± half-width of the 95 % t-interval over {} draws; \
         `(n NaN)` counts draws where the metric is undefined and was skipped. Paired differences marked `*` \
         have an interval that excludes 0. The interval measures the spread over support draws on a fixed \
         test set, so methods that ignore the support (B1, ORACLE) have zero width.\n",
        g.domains.join(", "),
        g.max_draws()
    );
    for d in g.report_domains() {
        let heading = if d == MEAN_DOMAIN {
            format!(
                "mean over the {} held-out domains (per draw)",
                g.domains.len()
            )
        } else {
            format!("held-out domain {d}")
        };
        let _ = writeln!(out, "### {} — {heading}\n", g.title());
        let _ = writeln!(
            out,
            "**macro-F1**\n\n{}",
            markdown_metric_table(g, &d, "macro_f1")
        );
        let _ = writeln!(
            out,
            "**macro-F1, paired difference to B0**\n\n{}",
            markdown_paired_table(g, &d, Some("B0"), "macro_f1")
        );
        let _ = writeln!(
            out,
            "**macro-F1, paired difference to the best baseline of each K**\n\n{}",
            markdown_paired_table(g, &d, None, "macro_f1")
        );
        let _ = writeln!(
            out,
            "**macro-F1, worst-decile mean**\n\n{}",
            markdown_worst_decile_table(g, &d, "macro_f1")
        );
        for metric in SECONDARY_METRICS {
            let _ = writeln!(
                out,
                "**{}**\n\n{}",
                metric_title(metric),
                markdown_metric_table(g, &d, metric)
            );
        }
    }
    out
}

/// P2's standard figure as a Markdown section.
pub fn standard_figure_markdown(f: &StandardFigure) -> String {
    let m = &f.metrics;
    let c = &f.confusion;
    let mut s = String::new();
    let _ = writeln!(s, "## P2 standard figure: NSL-KDD KDDTrain+ → KDDTest+\n");
    let _ = writeln!(
        s,
        "One forest ({} trees, default hyperparameters, seed-derived) on all {} KDDTrain+ rows, benign vs attack, \
         scored on all {} KDDTest+ rows (threshold 0.5).\n",
        f.trees, f.train_rows, f.test_rows
    );
    let _ = writeln!(s, "| metric | value |\n|---|---:|");
    let _ = writeln!(s, "| accuracy | {:.4} |", m.accuracy);
    let _ = writeln!(s, "| macro-F1 | {:.4} |", m.macro_f1);
    let _ = writeln!(
        s,
        "| detection rate (all attacks) | {:.4} |",
        m.detection_rate
    );
    let _ = writeln!(s, "| false-alarm rate | {:.4} |", m.false_alarm_rate);
    let _ = writeln!(s, "| ROC-AUC | {:.4} |", m.roc_auc);
    let _ = writeln!(
        s,
        "| detection rate, attack types seen in KDDTrain+ ({} rows) | {:.4} |",
        f.seen.rows,
        f.seen.rate()
    );
    let _ = writeln!(
        s,
        "| detection rate, the novel attack types ({} rows) | {:.4} |",
        f.novel.rows,
        f.novel.rate()
    );
    let _ = writeln!(
        s,
        "| confusion (tp, fp, tn, fn) | {}, {}, {}, {} |\n",
        c.tp, c.fp, c.tn, c.fn_
    );
    let _ = writeln!(s, "Detection rate per novel attack type:\n\n| type | rows | detected | rate |\n|---|---:|---:|---:|");
    for (t, d) in &f.novel_types {
        let _ = writeln!(s, "| {t} | {} | {} | {:.3} |", d.rows, d.detected, d.rate());
    }
    s.push('\n');
    s
}

/// Long-format CSV of every cell: protocol, variant, domain, method, k, metric, mean, ci95 half-width,
/// n, n_nan, worst-decile mean, paired difference to B0 (mean, half-width).
pub fn summary_csv(grids: &[Grid]) -> String {
    let mut out = String::from(
        "protocol,variant,domain,method,k,metric,mean,ci95_half_width,n,n_nan,worst_decile_mean,diff_vs_b0_mean,diff_vs_b0_ci95_half_width\n",
    );
    for g in grids {
        for d in g.report_domains() {
            for m in &g.methods {
                for &k in &g.ks {
                    for metric in Metrics::NAMES {
                        let Some(s) = g.summary(&d, m, k, metric) else {
                            continue;
                        };
                        let wd = g.worst_decile(&d, m, k, metric).unwrap_or(f64::NAN);
                        let p = g.paired(&d, m, "B0", k, metric);
                        let _ = writeln!(
                            out,
                            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                            csv_field(&g.protocol),
                            csv_field(&g.variant),
                            csv_field(&d),
                            csv_field(m),
                            k,
                            metric,
                            num(s.mean),
                            num(s.half_width),
                            s.n,
                            s.n_nan,
                            num(wd),
                            num(p.map_or(f64::NAN, |p| p.mean)),
                            num(p.map_or(f64::NAN, |p| p.half_width)),
                        );
                    }
                }
            }
        }
    }
    out
}

/// Wide CSV of the macro-F1 table of one domain (or the mean): rows = methods, two columns per K.
pub fn wide_csv(g: &Grid, domain: &str, metric: &str) -> String {
    let mut out = String::from("method");
    for k in &g.ks {
        let _ = write!(out, ",k{k}_mean,k{k}_ci95_half_width");
    }
    out.push('\n');
    for m in &g.methods {
        out.push_str(&csv_field(m));
        for &k in &g.ks {
            let s = g.summary(domain, m, k, metric);
            let _ = write!(
                out,
                ",{},{}",
                num(s.map_or(f64::NAN, |s| s.mean)),
                num(s.map_or(f64::NAN, |s| s.half_width))
            );
        }
        out.push('\n');
    }
    out
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.6}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// File-name-safe version of a name.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// SVG plot of `metric` against K (log axis) for one domain of a grid: one line per method, with its
/// 95 % interval as a translucent band.
pub fn svg_plot(g: &Grid, domain: &str, metric: &str, path_for_errors: &Path) -> Result<String> {
    use plotters::prelude::*;
    let plot_err = |e: String| EvalError::Plot {
        path: path_for_errors.to_path_buf(),
        message: e,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
        let kmin = g.ks.first().copied().unwrap_or(1).max(1) as f64;
        let kmax = g.ks.last().copied().unwrap_or(1).max(1) as f64;
        // A log axis needs a non-empty range.
        let (x0, x1) = if kmax > kmin {
            (kmin / 1.2, kmax * 1.2)
        } else {
            (kmin / 2.0, kmin * 2.0)
        };
        let mut series = Vec::new();
        let (mut ylo, mut yhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for m in &g.methods {
            let pts: Vec<(f64, Summary)> =
                g.ks.iter()
                    .filter_map(|&k| {
                        let s = g.summary(domain, m, k, metric)?;
                        (!s.mean.is_nan()).then_some((k as f64, s))
                    })
                    .collect();
            for (_, s) in &pts {
                let hw = if s.half_width.is_nan() {
                    0.0
                } else {
                    s.half_width
                };
                ylo = ylo.min(s.mean - hw);
                yhi = yhi.max(s.mean + hw);
            }
            series.push((m.clone(), pts));
        }
        if !ylo.is_finite() {
            (ylo, yhi) = (0.0, 1.0);
        }
        let pad = ((yhi - ylo) * 0.05).max(0.01);
        let (ylo, yhi) = ((ylo - pad).max(0.0), yhi + pad);
        let caption = format!("{} — {} — {}", g.title(), domain, metric_title(metric));
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale(), ylo..yhi)
            .map_err(|e| plot_err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("K (labelled flows per class, log scale)")
            .y_desc(metric_title(metric))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .draw()
            .map_err(|e| plot_err(e.to_string()))?;
        for (i, (m, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            if pts.len() > 1 {
                let mut band: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|(k, s)| (*k, s.mean - nan0(s.half_width)))
                    .collect();
                band.extend(
                    pts.iter()
                        .rev()
                        .map(|(k, s)| (*k, s.mean + nan0(s.half_width))),
                );
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band,
                        color.mix(0.15).filled(),
                    )))
                    .map_err(|e| plot_err(e.to_string()))?;
            }
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(k, s)| (*k, s.mean)),
                    color.stroke_width(2),
                ))
                .map_err(|e| plot_err(e.to_string()))?
                .label(m.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    pts.iter()
                        .map(|(k, s)| Circle::new((*k, s.mean), 3, color.filled())),
                )
                .map_err(|e| plot_err(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| plot_err(e.to_string()))?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    Ok(svg)
}

fn nan0(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Everything a bench run hands to the report writer.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// The command line that produced the run (shown in the report).
    pub command: String,
    /// Free-form Markdown sections placed before the tables (e.g. P2's standard figure).
    pub sections: Vec<String>,
    /// Notes (skipped Ks, synthetic fallback, which methods used unlabelled flows...).
    pub notes: Vec<String>,
    pub records: Vec<Record>,
    /// Wall time of the run in seconds (shown in the report when set).
    pub wall_seconds: Option<f64>,
}

/// Writes `report.md`, `summary.csv`, one wide macro-F1 CSV per protocol variant, `records.json` and one
/// SVG per protocol variant and domain into `out_dir`; also the JSON records to `json` when given.
/// Returns the paths written.
pub fn write_reports(
    out_dir: &Path,
    input: &ReportInput,
    json: Option<&Path>,
) -> Result<Vec<PathBuf>> {
    let grids = Grid::group(&input.records);
    let mut written = Vec::new();

    let mut md = String::from("# metaforest bench report\n\n");
    if !input.command.is_empty() {
        let _ = writeln!(md, "Command: `{}`\n", input.command);
    }
    if let Some(s) = input.wall_seconds {
        let _ = writeln!(md, "Wall time: {s:.1} s\n");
    }
    if !input.notes.is_empty() {
        md.push_str("Notes:\n\n");
        for n in &input.notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }
    for s in &input.sections {
        md.push_str(s);
        md.push('\n');
    }
    for g in &grids {
        md.push_str(&markdown_grid(g));
    }
    let p = out_dir.join("report.md");
    write_atomic(&p, md.as_bytes())?;
    written.push(p);

    let p = out_dir.join("summary.csv");
    write_atomic(&p, summary_csv(&grids).as_bytes())?;
    written.push(p);

    for g in &grids {
        let stem = g.stem();
        let domains: BTreeSet<String> = g.report_domains().into_iter().collect();
        let p = out_dir.join(format!("{stem}_macro_f1.csv"));
        let table_domain = if domains.contains(MEAN_DOMAIN) {
            MEAN_DOMAIN.to_string()
        } else {
            g.domains.first().cloned().unwrap_or_default()
        };
        write_atomic(&p, wide_csv(g, &table_domain, "macro_f1").as_bytes())?;
        written.push(p);
        for d in g.report_domains() {
            let p = out_dir
                .join("plots")
                .join(format!("{stem}_{}_macro_f1.svg", sanitize(&d)));
            let svg = svg_plot(g, &d, "macro_f1", &p)?;
            write_atomic(&p, svg.as_bytes())?;
            written.push(p);
        }
    }

    let p = out_dir.join("records.json");
    write_records_json(&p, &input.records)?;
    written.push(p);
    if let Some(j) = json {
        write_records_json(j, &input.records)?;
        written.push(j.to_path_buf());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(f1: f64) -> Metrics {
        Metrics {
            macro_f1: f1,
            detection_rate: 0.9,
            false_alarm_rate: f64::NAN,
            precision: 0.8,
            accuracy: 0.85,
            roc_auc: 0.95,
            pr_auc: 0.97,
            dr_at_1pct_far: 0.5,
            ece: 0.05,
            log_loss: 0.3,
        }
    }

    fn rec(domain: &str, method: &str, k: usize, draw: usize, f1: f64) -> Record {
        Record {
            protocol: "P1".into(),
            variant: "ports".into(),
            domain: domain.into(),
            method: method.into(),
            k,
            draw,
            seed: 42 + draw as u64,
            n_test: 100,
            uses_unlabelled: method == "B6",
            metrics: metrics(f1),
        }
    }

    fn sample() -> Vec<Record> {
        let mut v = Vec::new();
        for d in ["A", "B"] {
            for m in ["B0", "B1", "ORACLE"] {
                for k in [1, 5] {
                    for draw in 0..4 {
                        let base = match m {
                            "B0" => 0.6,
                            "B1" => 0.5,
                            _ => 0.95,
                        };
                        let f1 = base + 0.01 * draw as f64 + if d == "B" { 0.1 } else { 0.0 };
                        v.push(rec(d, m, k, draw, f1));
                    }
                }
            }
        }
        v
    }

    #[test]
    fn json_round_trip_keeps_nan_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let records = sample();
        write_records_json(&path, &records).unwrap();
        let back = read_records_json(&path).unwrap();
        assert_eq!(back.len(), records.len());
        for (a, b) in records.iter().zip(&back) {
            assert_eq!(a.protocol, b.protocol);
            assert_eq!((a.k, a.draw, a.seed), (b.k, b.draw, b.seed));
            for (x, y) in a.metrics.values().iter().zip(b.metrics.values()) {
                assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
            }
        }
        // The required fields are plain top-level keys.
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let first = &v[0];
        for key in [
            "protocol",
            "domain",
            "method",
            "k",
            "draw",
            "macro_f1",
            "detection_rate",
            "false_alarm_rate",
            "roc_auc",
            "pr_auc",
        ] {
            assert!(first.get(key).is_some(), "missing {key}");
        }
        assert!(first["false_alarm_rate"].is_null());
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "[\n{\"protocol\": 3}\n]").unwrap();
        match read_records_json(&path) {
            Err(EvalError::Json { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn grid_mean_paired_and_best() {
        let grids = Grid::group(&sample());
        assert_eq!(grids.len(), 1);
        let g = &grids[0];
        assert_eq!(g.domains, ["A", "B"]);
        assert_eq!(g.ks, [1, 5]);
        // Mean over domains per draw: B0 draw 0 = (0.6 + 0.7) / 2.
        let v = g.values(MEAN_DOMAIN, "B0", 1, "macro_f1");
        assert!((v[&0] - 0.65).abs() < 1e-12);
        let s = g.summary("A", "B0", 1, "macro_f1").unwrap();
        assert!((s.mean - 0.615).abs() < 1e-12);
        // B1 − B0 is exactly −0.1 on every draw: zero-width interval.
        let d = g.paired("A", "B1", "B0", 1, "macro_f1").unwrap();
        assert!((d.mean + 0.1).abs() < 1e-12 && d.half_width.abs() < 1e-9);
        assert_eq!(g.best_baseline("A", 5, "macro_f1").as_deref(), Some("B0"));
        assert!((g.worst_decile("A", "B0", 1, "macro_f1").unwrap() - 0.6).abs() < 1e-12);
        // FAR is NaN on every draw: reported as n/a with the NaN count.
        let far = g.summary("A", "B0", 1, "false_alarm_rate").unwrap();
        assert_eq!((far.n, far.n_nan), (0, 4));
        let md = markdown_grid(g);
        assert!(md.contains("| B0 | 0.615 ± "), "{md}");
        assert!(md.contains("| *best baseline* | B0 | B0 |"), "{md}");
    }

    #[test]
    fn write_reports_writes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = ReportInput {
            command: "metaforest bench p1".into(),
            records: sample(),
            notes: vec!["a note".into()],
            ..Default::default()
        };
        let json = dir.path().join("extra").join("out.json");
        let written = write_reports(dir.path(), &input, Some(&json)).unwrap();
        for p in &written {
            assert!(p.exists(), "{}", p.display());
        }
        let svg =
            std::fs::read_to_string(dir.path().join("plots/p1_ports_mean_macro_f1.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("ORACLE"));
        let csv = std::fs::read_to_string(dir.path().join("p1_ports_macro_f1.csv")).unwrap();
        assert!(csv.starts_with("method,k1_mean,k1_ci95_half_width,k5_mean"));
        assert_eq!(read_records_json(&json).unwrap().len(), input.records.len());
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
