//! linfa's `PredictInplace` for [`Detector`], so an adapted detector composes where linfa models do
//! (`detector.predict(&x)` through `linfa::traits::Predict`): the verdict of each flow, 0 benign or 1 attack,
//! at the detector's threshold.

use linfa::traits::PredictInplace;
use ndarray::{Array1, ArrayBase, Data, Ix2};

use crate::Detector;

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for Detector {
    /// linfa's trait cannot return an error: a feature count or target length mismatch panics here with a
    /// clear message, as linfa's own models do.
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(
            x.nrows(),
            y.len(),
            "the number of data points must match the number of output targets"
        );
        assert_eq!(
            x.ncols(),
            self.n_features(),
            "the detector reads {} features, the data has {}",
            self.n_features(),
            x.ncols()
        );
        for (out, verdict) in y.iter_mut().zip(Detector::predict(self, x.view())) {
            *out = usize::from(verdict);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
