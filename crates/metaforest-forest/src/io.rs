//! Forest files: the [`container`](crate::container) under the `MFFOREST` magic, a bincode payload
//! that is validated before use.

use std::io::Read;
use std::path::Path;

use crate::container::{write_atomic, Container, ContainerError};
use crate::error::{ForestError, Result};
use crate::forest::Forest;

/// First bytes of every forest file.
pub const MAGIC: &[u8; 8] = b"MFFOREST";
/// Format version written by this build (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;

/// No length limit: the payload is read as it arrives, so a forged length cannot allocate ahead of
/// the bytes present and shows up as a truncation.
const FOREST_FILE: Container = Container::new(MAGIC, FORMAT_VERSION)
    .oldest_version(1)
    .max_payload(u64::MAX);

fn forest_error(path: &Path, e: ContainerError) -> ForestError {
    let path = path.to_path_buf();
    match e {
        ContainerError::Io(source) => ForestError::Io { path, source },
        ContainerError::BadMagic { .. } => ForestError::BadMagic { path },
        ContainerError::Truncated { expected, found } => ForestError::Truncated {
            path,
            expected,
            found,
        },
        ContainerError::NewerVersion { found, newest } => ForestError::NewerVersion {
            path,
            found,
            supported: newest,
        },
        ContainerError::Checksum { stored, found } => ForestError::Corrupted {
            path,
            stored,
            found,
        },
        ContainerError::Encode(message) => {
            ForestError::Inconsistent(format!("cannot encode forest: {message}"))
        }
        ContainerError::Decode(message) => ForestError::Decode { path, message },
        other @ (ContainerError::OlderVersion { .. }
        | ContainerError::TooLarge { .. }
        | ContainerError::TrailingBytes { .. }) => ForestError::Decode {
            path,
            message: other.to_string(),
        },
    }
}

impl Forest {
    /// Serialises the forest to bytes in the file format (header + payload).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        FOREST_FILE
            .encode(self)
            .map_err(|e| forest_error(Path::new(""), e))
    }

    /// Parses bytes in the file format; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Forest> {
        Forest::read_from(&mut &bytes[..], origin)
    }

    fn read_from(r: &mut impl Read, origin: &Path) -> Result<Forest> {
        let forest: Forest = FOREST_FILE.decode(r).map_err(|e| forest_error(origin, e))?;
        forest.validate().map_err(|message| ForestError::Decode {
            path: origin.to_path_buf(),
            message,
        })?;
        // A loaded model is about to predict: build its prediction plan now (NF-v2, 100 trees:
        // about 20 ms), not in its first caller's request.
        forest.prediction_plan_bytes();
        Ok(forest)
    }

    /// Saves to `path`: writes a temporary file in the same folder, syncs it, then renames it over
    /// `path`, so a crash never leaves a half-written model behind.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|source| ForestError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads a forest saved with [`save`](Self::save). Truncated, corrupted, foreign and newer-version
    /// files give an error, never a panic.
    pub fn load(path: impl AsRef<Path>) -> Result<Forest> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| ForestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Forest::read_from(&mut std::io::BufReader::new(file), path)
    }
}
