//! The meta-model and its detectors: `metaforest_meta::MetaModel` and `Detector` as Python classes. Files and
//! bytes are the library's own, so they are the CLI's `train` and `adapt` files.

use std::path::{Path, PathBuf};

use linfa::ParamGuard;
use metaforest_flows::{ColumnKind, ColumnSpec, Dictionary, FlowsError, RowFormat, Schema};
use metaforest_meta::rules::{detector_rules, RuleParams};
use metaforest_meta::{
    Detector, DomainData, FeatureSpace, Heads, MetaError, MetaModel, MetaParams,
};
use ndarray::ArrayView2;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyIOError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

/// File problems are `OSError`s; everything else (bad parameters, shapes, supports) `ValueError`s.
fn meta_error(e: MetaError) -> PyErr {
    match e {
        MetaError::Io { .. }
        | MetaError::BadMagic { .. }
        | MetaError::NewerVersion { .. }
        | MetaError::OlderFormat { .. }
        | MetaError::Truncated { .. }
        | MetaError::Checksum { .. }
        | MetaError::Decode { .. }
        | MetaError::Invalid { .. } => PyIOError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

fn heads(name: &str) -> PyResult<Heads> {
    match name {
        "both" => Ok(Heads::Both),
        "weights-only" => Ok(Heads::WeightsOnly),
        "init-only" => Ok(Heads::InitOnly),
        other => Err(PyValueError::new_err(format!(
            "heads must be 'both', 'weights-only' or 'init-only', got '{other}'"
        ))),
    }
}

/// Meta-training parameters from the keyword arguments of `MetaModel.fit`.
fn meta_params(kw: Option<&Bound<'_, PyDict>>) -> PyResult<MetaParams> {
    let mut p = MetaParams::default();
    let Some(kw) = kw else { return Ok(p) };
    // The seed first: it also seeds the schedule and the local forests, whatever the argument order.
    if let Some(seed) = kw.get_item("seed")? {
        p = p.seed(seed.extract()?);
    }
    for (key, value) in kw.iter() {
        let key: String = key.extract()?;
        p = match key.as_str() {
            "seed" => p,
            "n_episodes" => p.n_episodes(value.extract()?),
            "ks" => p.ks(value.extract()?),
            "query_size" => p.query_size(value.extract()?),
            "task_learner_trees" => p.task_learner_trees(value.extract()?),
            "val_fraction" => p.val_fraction(value.extract()?),
            "class_task_share" => p.class_task_share(value.extract()?),
            "heads" => p.heads(heads(&value.extract::<String>()?)?),
            "local_trees" => p.local_trees(value.extract()?),
            "max_epochs" => p.max_epochs(value.extract()?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown meta-training parameter `{other}`"
                )))
            }
        };
    }
    Ok(p)
}

/// The feature space of a model fitted from Python: named columns (categorical when a dictionary is given).
fn feature_space(
    names: Vec<String>,
    dictionaries: Option<Vec<Option<Vec<String>>>>,
    source: String,
) -> PyResult<FeatureSpace> {
    let dictionaries = dictionaries.unwrap_or_else(|| vec![None; names.len()]);
    if dictionaries.len() != names.len() {
        return Err(PyValueError::new_err(format!(
            "{} dictionaries for {} feature names",
            dictionaries.len(),
            names.len()
        )));
    }
    let columns = names
        .into_iter()
        .zip(dictionaries)
        .map(|(name, dict)| match dict {
            Some(values) => ColumnSpec {
                name,
                kind: ColumnKind::Categorical(Dictionary::from_values(values)),
            },
            None => ColumnSpec::numeric(name),
        })
        .collect();
    Ok(FeatureSpace::new(columns, source))
}

/// A trained meta-model (`metaforest train` writes the same files).
#[pyclass(module = "metaforest._native", name = "MetaModel", frozen)]
pub struct PyMetaModel {
    inner: MetaModel,
}

/// One known domain as Python passes it: name, features, 0/1 targets, attack-class codes (0 = benign).
type PyDomain<'py> = (
    String,
    PyReadonlyArray2<'py, f64>,
    Vec<u32>,
    Option<Vec<u16>>,
);

#[pymethods]
impl PyMetaModel {
    /// Meta-trains on the known domains `[(name, X, y, classes or None)]`; keyword arguments are the
    /// meta-training parameters (`n_episodes`, `ks`, `task_learner_trees`, `seed`, ...).
    #[staticmethod]
    #[pyo3(signature = (domains, feature_names=None, dictionaries=None, source=String::new(), **params))]
    fn fit(
        py: Python<'_>,
        domains: Vec<PyDomain<'_>>,
        feature_names: Option<Vec<String>>,
        dictionaries: Option<Vec<Option<Vec<String>>>>,
        source: String,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let params = meta_params(params)?.check().map_err(meta_error)?;
        let data: Vec<DomainData> = domains
            .into_iter()
            .map(|(name, x, y, class)| DomainData {
                name,
                x: x.as_array().to_owned(),
                class: class.unwrap_or_else(|| y.iter().map(|&v| v as u16).collect()),
                y,
            })
            .collect();
        let space = match feature_names {
            Some(names) => Some(feature_space(names, dictionaries, source)?),
            None => None,
        };
        let model = py.allow_threads(|| {
            let model = MetaModel::fit(&data, &params)?;
            match space {
                Some(space) => model.with_feature_space(space),
                None => Ok(model),
            }
        });
        Ok(Self {
            inner: model.map_err(meta_error)?,
        })
    }

    /// Adapts to a new domain from a labelled support (0 benign, 1 attack) and, when given, a sample of
    /// the domain's unlabelled flows.
    #[pyo3(signature = (x, y, unlabelled=None))]
    fn adapt(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: Vec<u32>,
        unlabelled: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<PyDetector> {
        let x = x.as_array();
        let u = unlabelled.as_ref().map(|u| u.as_array());
        let model = &self.inner;
        let detector = py.allow_threads(|| match u {
            Some(u) => model.adapt_with_unlabelled(x, &y, u),
            None => model.adapt(x, &y),
        });
        Ok(PyDetector {
            inner: detector.map_err(meta_error)?,
        })
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_space().names()
    }

    /// Where the training data came from.
    #[getter]
    fn source(&self) -> String {
        self.inner.feature_space().source().to_owned()
    }

    /// Names of the known domains, in training order.
    #[getter]
    fn known_domains(&self) -> Vec<String> {
        self.inner.known().iter().map(|t| t.name.clone()).collect()
    }

    /// The training summary.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self.inner.report();
        let d = PyDict::new(py);
        d.set_item("episodes_train", r.episodes_train)?;
        d.set_item("episodes_val", r.episodes_val)?;
        d.set_item("weight_val_loss", r.weight_val_loss)?;
        d.set_item("equal_weight_val_loss", r.equal_weight_val_loss)?;
        d.set_item("weight_epochs", r.weight_epochs)?;
        // With the weighting head not trained, the local forest's fixed share of the weight (else None).
        d.set_item(
            "fixed_local_share",
            r.weight_head_anchored.then_some(r.fixed_local_share),
        )?;
        d.set_item("config_head_kept", r.config_head_kept)?;
        d.set_item("prior_head_kept", r.prior_head_kept)?;
        Ok(d)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().map_err(meta_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py
            .allow_threads(|| MetaModel::from_bytes(data, Path::new("<bytes>")))
            .map_err(meta_error)?;
        Ok(Self { inner })
    }

    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.save(&path).map_err(meta_error)
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py
            .allow_threads(|| MetaModel::load(&path))
            .map_err(meta_error)?;
        Ok(Self { inner })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(PyObject, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.get_type::<Self>().getattr("from_bytes")?.unbind();
        Ok((from_bytes, (slf.get().to_bytes(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "MetaModel(known_domains={:?}, n_features={})",
            self.known_domains(),
            self.inner.n_features()
        )
    }
}

/// `(lines, attack probabilities)` of a scored file.
type LinesAndScores<'py> = (Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<f64>>);

/// A detector adapted to one domain (`metaforest adapt` writes the same files).
#[pyclass(module = "metaforest._native", name = "Detector")]
pub struct PyDetector {
    inner: Detector,
}

#[pymethods]
impl PyDetector {
    /// Attack probability of each row.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = x.as_array();
        self.check_width(x.ncols())?;
        let detector = &self.inner;
        Ok(py
            .allow_threads(|| detector.predict_proba(x))
            .into_pyarray(py))
    }

    /// 0/1 decisions at the detector's threshold.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let x = x.as_array();
        self.check_width(x.ncols())?;
        let detector = &self.inner;
        Ok(py.allow_threads(|| detector.predict(x)).into_pyarray(py))
    }

    /// Which forests and features drove the decision on one row.
    fn explain<'py>(&self, py: Python<'py>, row: Vec<f64>) -> PyResult<Bound<'py, PyDict>> {
        let e = self.inner.explain(&row).map_err(meta_error)?;
        let names = self.inner.feature_space().names();
        let d = PyDict::new(py);
        d.set_item("score", e.score)?;
        d.set_item("attack", e.attack)?;
        let forests = PyList::empty(py);
        for f in &e.forests {
            let item = PyDict::new(py);
            item.set_item("forest", &f.forest)?;
            item.set_item("weight", f.weight)?;
            item.set_item("attack_probability", f.attack_probability)?;
            forests.append(item)?;
        }
        d.set_item("forests", forests)?;
        let top: Vec<(String, f64)> = e
            .top_features
            .iter()
            .map(|&(j, share)| (names[j].clone(), share))
            .collect();
        d.set_item("top_features", top)?;
        Ok(d)
    }

    /// Ranked if-then rules, as `metaforest rules --json` gives them.
    #[pyo3(signature = (top=20, verdict="attack", min_precision=0.5, max_conditions=6))]
    fn rules<'py>(
        &self,
        py: Python<'py>,
        top: usize,
        verdict: &str,
        min_precision: f64,
        max_conditions: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let (attack, benign) = match verdict {
            "attack" => (true, false),
            "benign" => (false, true),
            "both" => (true, true),
            other => {
                return Err(PyValueError::new_err(format!(
                    "verdict must be 'attack', 'benign' or 'both', got '{other}'"
                )))
            }
        };
        let params = RuleParams {
            max_rules: top,
            attack,
            benign,
            min_precision,
            max_conditions: max_conditions.max(1),
        };
        let detector = &self.inner;
        let rules = py.allow_threads(|| detector_rules(detector, &params));
        let names = self.inner.feature_space().names();
        let out = PyList::empty(py);
        for (i, r) in rules.iter().enumerate() {
            let d = PyDict::new(py);
            d.set_item("rank", i + 1)?;
            d.set_item("rule", r.display(&names))?;
            d.set_item("verdict", if r.attack { "attack" } else { "benign" })?;
            let conditions = PyList::empty(py);
            for c in &r.conditions {
                let cd = PyDict::new(py);
                cd.set_item("feature", &names[c.feature])?;
                cd.set_item("greater_than", c.lower)?;
                cd.set_item("at_most", c.upper)?;
                conditions.append(cd)?;
            }
            d.set_item("conditions", conditions)?;
            d.set_item("precision", r.precision)?;
            d.set_item("coverage", r.coverage)?;
            d.set_item("covered", r.covered)?;
            d.set_item("correct", r.correct)?;
            d.set_item("forest", &r.forest)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// Scores every flow of a file read through the library's row readers onto the detector's columns:
    /// `(lines, attack probabilities)`. `format`: a built-in format name (`parquet`, `nf-v2`, `zeek`, ...);
    /// `schema`: a TOML schema file for CSV or Parquet columns. A malformed row is an error naming its line.
    #[pyo3(signature = (path, format="parquet", schema=None))]
    fn score_file<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        format: &str,
        schema: Option<PathBuf>,
    ) -> PyResult<LinesAndScores<'py>> {
        let format = row_format(format, schema.as_deref())?;
        let detector = &self.inner;
        let (lines, scores) = py
            .allow_threads(|| score_rows(detector, &format, &path))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((lines.into_pyarray(py), scores.into_pyarray(py)))
    }

    /// Adapts again with more labelled flows (the support grows; the known forests are reused).
    fn adapt_more(
        &mut self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: Vec<u32>,
    ) -> PyResult<()> {
        let x = x.as_array();
        let detector = &mut self.inner;
        py.allow_threads(|| detector.adapt_more(x, &y))
            .map_err(meta_error)
    }

    /// Attack-probability threshold of `predict`.
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold()
    }

    #[setter]
    fn set_threshold(&mut self, value: f64) -> PyResult<()> {
        if !(0.0..=1.0).contains(&value) {
            return Err(PyValueError::new_err(format!(
                "threshold {value} is not in [0, 1]"
            )));
        }
        self.inner.set_threshold(value);
        Ok(())
    }

    /// How the threshold was chosen.
    #[getter]
    fn threshold_basis(&self) -> String {
        self.inner.threshold_basis().to_string()
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_space().names()
    }

    /// The known domains' forests, then `local`.
    #[getter]
    fn forest_names(&self) -> Vec<String> {
        self.inner.forest_names()
    }

    /// Mean weight of each forest over the support flows (same order as `forest_names`).
    fn task_weights(&self) -> Vec<f64> {
        self.inner.task_weights()
    }

    /// Number of labelled flows adapted on.
    #[getter]
    fn n_support(&self) -> usize {
        self.inner.support().1.len()
    }

    #[getter]
    fn uses_unlabelled(&self) -> bool {
        self.inner.uses_unlabelled()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().map_err(meta_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py
            .allow_threads(|| Detector::from_bytes(data, Path::new("<bytes>")))
            .map_err(meta_error)?;
        Ok(Self { inner })
    }

    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.save(&path).map_err(meta_error)
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py
            .allow_threads(|| Detector::load(&path))
            .map_err(meta_error)?;
        Ok(Self { inner })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(PyObject, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.get_type::<Self>().getattr("from_bytes")?.unbind();
        Ok((from_bytes, (slf.borrow().to_bytes(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Detector(forests={:?}, n_features={}, threshold={:.4})",
            self.inner.forest_names(),
            self.inner.n_features(),
            self.inner.threshold()
        )
    }
}

impl PyDetector {
    fn check_width(&self, got: usize) -> PyResult<()> {
        let expected = self.inner.n_features();
        if got != expected {
            return Err(meta_error(MetaError::FeatureMismatch { expected, got }));
        }
        Ok(())
    }
}

/// A row format by name, or a schema file read as CSV (or as Parquet when `format` is `parquet`).
fn row_format(format: &str, schema: Option<&Path>) -> PyResult<RowFormat> {
    let error = |e: FlowsError| PyValueError::new_err(e.to_string());
    match schema {
        Some(path) => {
            let schema = Schema::from_path(path).map_err(error)?;
            Ok(match format {
                "parquet" => RowFormat::Parquet(schema),
                _ => RowFormat::Schema(schema),
            })
        }
        None => RowFormat::from_name(format).map_err(error),
    }
}

/// Flows scored per batch: bounded memory, whole-batch forest evaluation.
const SCORE_BATCH: usize = 4096;

/// Every flow of `path` scored by `detector`, batch by batch; the first malformed row is an error.
fn score_rows(
    detector: &Detector,
    format: &RowFormat,
    path: &Path,
) -> Result<(Vec<u64>, Vec<f64>), FlowsError> {
    let space = detector.feature_space().columns();
    let width = space.len();
    let mut rows = format.open(path, space)?;
    let mut row = vec![0.0; width];
    let (mut lines, mut scores) = (Vec::new(), Vec::new());
    let mut batch = Vec::with_capacity(SCORE_BATCH * width);
    let flush = |batch: &mut Vec<f64>, scores: &mut Vec<f64>| {
        let x = ArrayView2::from_shape((batch.len() / width, width), batch).expect("whole rows");
        scores.extend(detector.predict_proba(x));
        batch.clear();
    };
    while let Some(mapped) = rows.next_row(&mut row) {
        lines.push(mapped?.line);
        batch.extend_from_slice(&row);
        if batch.len() == SCORE_BATCH * width {
            flush(&mut batch, &mut scores);
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut scores);
    }
    Ok((lines, scores))
}
