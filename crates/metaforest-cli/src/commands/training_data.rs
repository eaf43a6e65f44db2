//! Where training data comes from for `train` and `forest fit`: a public data set by name, labelled files
//! in any format the readers know, or (only when asked) the synthetic networks. Never a silent fallback.

use std::path::{Path, PathBuf};

use metaforest_flows::training_set::{load_data_set, read_labelled_files, DataSet, TrainingSet};
use metaforest_flows::FlowsError;

use super::common::{row_format, InputArgs};

/// Labelled files read whole in the format `input` names (domain = file name).
pub fn read_files(input: &InputArgs, paths: &[PathBuf]) -> Result<TrainingSet, FlowsError> {
    let first = paths
        .first()
        .ok_or_else(|| FlowsError::InvalidArgument("no input file given".into()))?;
    let table = read_labelled_files(&row_format(input, first)?, paths)?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok(TrainingSet {
        table,
        families: None,
        source: names.join(", "),
    })
}

/// A public data set under the data root; when missing, the error says where it was looked for and
/// how to train on synthetic networks instead.
pub fn read_data_set(dir: &Path, set: DataSet) -> Result<TrainingSet, Box<dyn std::error::Error>> {
    load_data_set(dir, set).map_err(|e| {
        if set.is_present(dir) {
            e.into()
        } else {
            format!("{e} (give --data DIR or set METAFOREST_DATA; --synthetic trains on simulated networks)")
                .into()
        }
    })
}
