//! linfa interop: fit on a `DatasetBase` with `usize` class targets, predict into `Array1<usize>`.

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix2};

use crate::error::ForestError;
use crate::forest::{argmax, Forest};
use crate::params::ValidForestParams;

impl<D, T> Fit<ArrayBase<D, Ix2>, T, ForestError> for ValidForestParams
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = Forest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Forest, ForestError> {
        let targets = dataset.as_single_targets();
        let mut y = Vec::with_capacity(targets.len());
        for (row, t) in targets.iter().enumerate() {
            let v = u32::try_from(*t).map_err(|_| ForestError::ClassOutOfRange {
                row,
                class: *t as u64,
                n_classes: u32::MAX as usize,
            })?;
            y.push(v);
        }
        let x = dataset.records.view();
        match &dataset.weights {
            w if w.len() == x.nrows() && x.nrows() > 0 => {
                let w: Vec<f64> = w.iter().map(|v| *v as f64).collect();
                self.fit_weighted(x, &y, &w)
            }
            _ => ValidForestParams::fit(self, x, &y),
        }
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for Forest {
    /// Writes the most probable class of each row. linfa's trait cannot return an error: a feature
    /// count mismatch or a wrong-length target panics here with a clear message, as linfa's own models do.
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(
            x.nrows(),
            y.len(),
            "the number of data points must match the number of output targets"
        );
        let p = self
            .predict_proba(x.view())
            .unwrap_or_else(|e| panic!("metaforest predict through linfa: {e}"));
        for (out, row) in y.iter_mut().zip(p.rows()) {
            *out = argmax(row.as_slice().expect("standard layout")) as usize;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
