//! A plain random forest with the feature space it reads: the support-only baseline a detector is compared
//! against, saved in the same container as the meta-model files (`.mff`, magic `MFPLAINF`), so any input
//! format can be mapped onto its columns later.

use std::io::Read;
use std::path::Path;

use metaforest_forest::Forest;
use serde::{Deserialize, Serialize};

use crate::error::{MetaError, Result};
use crate::io::{decode_checked, encode, open, save_bytes, Kind};
use crate::space::FeatureSpace;

/// A benign-vs-attack forest and the columns it was fitted on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlainForest {
    space: FeatureSpace,
    forest: Forest,
}

impl PlainForest {
    /// Pairs a two-class `forest` with the feature `space` it was fitted on.
    pub fn new(forest: Forest, space: FeatureSpace) -> Result<Self> {
        let plain = PlainForest { space, forest };
        plain.check().map_err(|reason| MetaError::InvalidParam {
            name: "forest",
            reason,
        })?;
        Ok(plain)
    }

    /// The forest.
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    /// The columns it reads and where its training data came from.
    pub fn feature_space(&self) -> &FeatureSpace {
        &self.space
    }

    fn check(&self) -> std::result::Result<(), String> {
        self.forest.validate()?;
        if self.forest.n_classes() != 2 {
            return Err(format!(
                "a plain forest scores benign vs attack, so it needs 2 classes, not {}",
                self.forest.n_classes()
            ));
        }
        if self.forest.n_features() != self.space.width() {
            return Err(format!(
                "the forest reads {} features but its feature space has {} columns",
                self.forest.n_features(),
                self.space.width()
            ));
        }
        Ok(())
    }

    /// The forest and its feature space in the file format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(Kind::PlainForest, self, "<plain forest>")
    }

    /// Saves to `path` (see [`PlainForest::to_bytes`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_bytes(path.as_ref(), &self.to_bytes()?)
    }

    /// Parses and checks bytes in the file format; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        Self::read_from(&mut &bytes[..], origin)
    }

    /// Loads a file saved with [`PlainForest::save`]; a damaged or foreign file gives an error.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::read_from(&mut open(path)?, path)
    }

    fn read_from(r: &mut impl Read, origin: &Path) -> Result<Self> {
        decode_checked(Kind::PlainForest, r, origin, PlainForest::check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::ParamGuard;
    use metaforest_forest::ForestParams;
    use ndarray::array;

    fn fitted() -> PlainForest {
        let x = array![[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.2]];
        let forest = ForestParams::new()
            .n_trees(5)
            .seed(1)
            .n_classes(Some(2))
            .check()
            .unwrap()
            .fit(x.view(), &[0, 0, 1, 1])
            .unwrap();
        PlainForest::new(forest, FeatureSpace::unnamed(2)).unwrap()
    }

    #[test]
    fn round_trips_and_refuses_other_files() {
        let plain = fitted();
        let bytes = plain.to_bytes().unwrap();
        let back = PlainForest::from_bytes(&bytes, Path::new("f.mff")).unwrap();
        assert_eq!(back.feature_space(), plain.feature_space());
        assert_eq!(back.forest().n_trees(), 5);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        assert!(PlainForest::from_bytes(&damaged, Path::new("f.mff")).is_err());
        let err = PlainForest::from_bytes(b"MFDETECT and more", Path::new("d.mfd"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a metaforest plain forest"), "{err}");
    }

    #[test]
    fn a_space_of_another_width_is_refused() {
        let plain = fitted();
        let err = PlainForest::new(plain.forest().clone(), FeatureSpace::unnamed(3)).unwrap_err();
        assert!(err.to_string().contains("3 columns"), "{err}");
    }
}
