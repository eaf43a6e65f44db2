//! `metaforest._native`: the Rust side of the Python package. The Python modules in `metaforest/`
//! wrap it in scikit-learn and pandas idioms; this file only moves arrays and bytes across.

mod meta;

use std::path::{Path, PathBuf};

use linfa::ParamGuard;
use metaforest_flows::{Encoders, FlowTable, ReadOptions, Schema};
use metaforest_forest::{ClassWeight, Forest, ForestParams, MaxFeatures, SplitCriterion};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyIOError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Runs `work` on a rayon pool of `n_jobs` threads (`None`, 0 or negative: the global pool).
/// Results never depend on the thread count: the forest seeds every tree from `(seed, index)`.
fn with_threads<T: Send>(n_jobs: Option<i64>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    match n_jobs {
        Some(n) if n > 0 => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n as usize)
                .build()
                .map_err(value_error)?;
            Ok(pool.install(work))
        }
        _ => Ok(work()),
    }
}

fn max_features(value: &Bound<'_, PyAny>) -> PyResult<MaxFeatures> {
    if value.is_none() {
        return Ok(MaxFeatures::All);
    }
    if let Ok(s) = value.extract::<String>() {
        return match s.as_str() {
            "sqrt" => Ok(MaxFeatures::Sqrt),
            "log2" => Ok(MaxFeatures::Log2),
            "all" => Ok(MaxFeatures::All),
            other => Err(value_error(format!(
                "max_features must be 'sqrt', 'log2', None, an int or a float in (0, 1], got '{other}'"
            ))),
        };
    }
    // An int before a float: Python's `True`/`3` extract as both.
    if value.is_instance_of::<pyo3::types::PyInt>() {
        return Ok(MaxFeatures::Count(value.extract::<usize>()?));
    }
    Ok(MaxFeatures::Fraction(value.extract::<f64>()?))
}

fn criterion(name: &str) -> PyResult<SplitCriterion> {
    match name {
        "gini" => Ok(SplitCriterion::Gini),
        "entropy" | "log_loss" => Ok(SplitCriterion::Entropy),
        other => Err(value_error(format!(
            "criterion must be 'gini', 'entropy' or 'log_loss', got '{other}'"
        ))),
    }
}

/// Builds forest parameters from the keyword arguments the Python estimator passes.
fn params_from(kw: &Bound<'_, PyDict>) -> PyResult<ForestParams> {
    let mut p = ForestParams::new();
    for (key, value) in kw.iter() {
        let key: String = key.extract()?;
        p = match key.as_str() {
            "n_trees" => p.n_trees(value.extract()?),
            "max_depth" => p.max_depth(value.extract()?),
            "min_samples_leaf" => p.min_samples_leaf(value.extract()?),
            "min_samples_split" => p.min_samples_split(value.extract()?),
            "max_features" => p.max_features(max_features(&value)?),
            "bootstrap" => p.bootstrap(value.extract()?),
            "sample_fraction" => p.sample_fraction(value.extract()?),
            "class_weight" => p.class_weight(match value.extract::<Option<Vec<f64>>>() {
                Ok(Some(w)) => ClassWeight::Explicit(w),
                Ok(None) => ClassWeight::None,
                Err(_) if value.extract::<String>().is_ok_and(|s| s == "balanced") => {
                    ClassWeight::Balanced
                }
                Err(e) => return Err(e),
            }),
            "feature_prior" => p.feature_prior(value.extract()?),
            "criterion" => p.criterion(criterion(&value.extract::<String>()?)?),
            "n_bins" => p.n_bins(value.extract()?),
            "seed" => p.seed(value.extract()?),
            "n_classes" => p.n_classes(value.extract()?),
            other => return Err(value_error(format!("unknown forest parameter `{other}`"))),
        };
    }
    Ok(p)
}

/// A fitted metaforest random forest.
#[pyclass(module = "metaforest._native", name = "Forest", frozen)]
struct PyForest {
    inner: Forest,
}

#[pymethods]
impl PyForest {
    /// Fits a forest on `x` (float64, any memory layout, read in place; NaN = missing) and class
    /// indices `y` (uint32). Keyword arguments are the forest's parameters (`n_trees`, `seed`, ...).
    #[staticmethod]
    #[pyo3(signature = (x, y, sample_weight=None, n_jobs=None, **params))]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, u32>,
        sample_weight: Option<PyReadonlyArray1<'_, f64>>,
        n_jobs: Option<i64>,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let params = match params {
            Some(kw) => params_from(kw)?,
            None => ForestParams::new(),
        };
        let params = params.check().map_err(value_error)?;
        let x = x.as_array();
        let y = y.as_slice().map_err(value_error)?;
        let w = match &sample_weight {
            Some(w) => Some(w.as_slice().map_err(value_error)?),
            None => None,
        };
        let fitted = py.allow_threads(|| {
            with_threads(n_jobs, || match w {
                Some(w) => params.fit_weighted(x, y, w),
                None => params.fit(x, y),
            })
        })?;
        Ok(Self {
            inner: fitted.map_err(value_error)?,
        })
    }

    /// Class probabilities, rows × classes (float64).
    #[pyo3(signature = (x, n_jobs=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        n_jobs: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = x.as_array();
        let forest = &self.inner;
        let proba = py.allow_threads(|| with_threads(n_jobs, || forest.predict_proba(x)))?;
        Ok(proba.map_err(value_error)?.into_pyarray(py))
    }

    /// Impurity-based feature importances (sum to 1).
    fn feature_importances<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.feature_importances().into_pyarray(py)
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    #[getter]
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }

    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.n_trees()
    }

    /// The forest in the library's file format (what `save` writes and the CLI reads).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Parses bytes in the library's file format.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py
            .allow_threads(|| Forest::from_bytes(data, Path::new("<bytes>")))
            .map_err(value_error)?;
        Ok(Self { inner })
    }

    /// Saves to a file (atomically: a temporary file renamed over `path`).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner
            .save(&path)
            .map_err(|e| PyIOError::new_err(e.to_string()))
    }

    /// Loads a file written by `save`, the Rust library or the CLI.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let inner = Forest::load(&path).map_err(|e| PyIOError::new_err(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Pickles through the file format.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(PyObject, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.get_type::<Self>().getattr("from_bytes")?.unbind();
        Ok((from_bytes, (slf.get().to_bytes(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Forest(n_trees={}, n_features={}, n_classes={})",
            self.inner.n_trees(),
            self.inner.n_features(),
            self.inner.n_classes()
        )
    }
}

/// A flow table as plain parts: `(features F-ordered float64, names, categorical dictionaries,
/// labels uint8, class codes uint16, class names, domain codes uint16, domain names)`.
type TableParts<'py> = (
    Bound<'py, PyArray2<f64>>,
    Vec<String>,
    Vec<Option<Vec<String>>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u16>>,
    Vec<String>,
    Bound<'py, PyArray1<u16>>,
    Vec<String>,
);

fn table_parts(py: Python<'_>, table: FlowTable) -> TableParts<'_> {
    let names = table
        .feature_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let dictionaries = table
        .columns()
        .iter()
        .map(|c| match &c.kind {
            metaforest_flows::ColumnKind::Categorical(d) => Some(d.values().to_vec()),
            _ => None,
        })
        .collect();
    // The table stores its features column-major; `to_owned` keeps that layout, so numpy gets an
    // F-ordered array without a transposing copy.
    let features = table.features().to_owned().into_pyarray(py);
    (
        features,
        names,
        dictionaries,
        table.labels().to_vec().into_pyarray(py),
        table.class_codes().to_vec().into_pyarray(py),
        table.class_names().to_vec(),
        table.domain_codes().to_vec().into_pyarray(py),
        table.domain_names().to_vec(),
    )
}

/// Reads a flow file through the flows readers. `format` is `csv` or `parquet`; `schema` is a
/// built-in schema name (`nf-v2`, `nsl-kdd`, ...) or a path to a TOML schema file.
#[pyfunction]
#[pyo3(signature = (path, format, schema, allow_unlabelled=false, max_rows=None))]
fn read_flows<'py>(
    py: Python<'py>,
    path: PathBuf,
    format: &str,
    schema: &str,
    allow_unlabelled: bool,
    max_rows: Option<usize>,
) -> PyResult<TableParts<'py>> {
    let schema = if Path::new(schema).is_file() {
        Schema::from_path(schema)
    } else {
        Schema::builtin(schema)
    }
    .map_err(value_error)?;
    let options = ReadOptions {
        allow_unlabelled,
        max_rows,
        ..ReadOptions::default()
    };
    let format = format.to_ascii_lowercase();
    let table = py.allow_threads(|| {
        let mut encoders = Encoders::new();
        match format.as_str() {
            "csv" => metaforest_flows::read_csv(&path, &schema, &mut encoders, &options),
            "parquet" => {
                metaforest_flows::parquet::read_parquet(&path, &schema, &mut encoders, &options)
            }
            other => Err(metaforest_flows::FlowsError::InvalidArgument(format!(
                "format must be 'csv' or 'parquet', got '{other}'"
            ))),
        }
    });
    Ok(table_parts(py, table.map_err(value_error)?))
}

/// The seed of sub-stream `index` of `seed`: the library's own derivation (flows' `derive_seed`), so
/// Python never re-implements it.
#[pyfunction]
fn derive_seed(seed: u64, index: u64) -> u64 {
    metaforest_flows::rng::derive_seed(seed, index)
}

/// `metaforest_meta::train_task_learners` in one process: `[(name, bytes)]`, one forest per
/// `(name, X, y)` domain, in domain order, in the library's file format.
#[pyfunction]
fn train_task_learners<'py>(
    py: Python<'py>,
    domains: Vec<(String, PyReadonlyArray2<'py, f64>, Vec<u32>)>,
    n_trees: usize,
    seed: u64,
) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let data: Vec<metaforest_meta::DomainData> = domains
        .into_iter()
        .map(|(name, x, y)| metaforest_meta::DomainData {
            name,
            x: x.as_array().to_owned(),
            class: vec![0; y.len()],
            y,
        })
        .collect();
    let learners = py
        .allow_threads(|| metaforest_meta::train_task_learners(&data, n_trees, seed))
        .map_err(value_error)?;
    learners
        .iter()
        .map(|l| {
            let bytes = l.forest.to_bytes().map_err(value_error)?;
            Ok((l.name.clone(), PyBytes::new(py, &bytes)))
        })
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyForest>()?;
    m.add_class::<meta::PyMetaModel>()?;
    m.add_class::<meta::PyDetector>()?;
    m.add_function(wrap_pyfunction!(read_flows, m)?)?;
    m.add_function(wrap_pyfunction!(derive_seed, m)?)?;
    m.add_function(wrap_pyfunction!(train_task_learners, m)?)?;
    m.add("FORMAT_VERSION", metaforest_forest::FORMAT_VERSION)?;
    Ok(())
}
