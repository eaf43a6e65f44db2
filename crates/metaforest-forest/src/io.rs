//! Versioned, checksummed model files.
//!
//! Layout: `MAGIC` (8 bytes) | format version (u32 LE) | payload length (u64 LE) | CRC-32 of the
//! payload (u32 LE) | payload (bincode, fixed-width little-endian integers).

use std::io::Write;
use std::path::{Path, PathBuf};

use bincode::Options;

use crate::error::{ForestError, Result};
use crate::forest::Forest;

/// First bytes of every forest file.
pub const MAGIC: &[u8; 8] = b"MFFOREST";
/// Format version written by this build (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

fn io_err(path: &Path, source: std::io::Error) -> ForestError {
    ForestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Forest {
    /// Serialises the forest to bytes in the file format (header + payload).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = codec()
            .serialize(self)
            .map_err(|e| ForestError::Inconsistent(format!("cannot encode forest: {e}")))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Parses bytes in the file format; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Forest> {
        let path = || origin.to_path_buf();
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                return Err(ForestError::Truncated {
                    path: path(),
                    expected: HEADER_LEN as u64,
                    found: bytes.len() as u64,
                });
            }
            return Err(ForestError::BadMagic { path: path() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(ForestError::Truncated {
                path: path(),
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(ForestError::NewerVersion {
                path: path(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version == 0 {
            return Err(ForestError::Decode {
                path: path(),
                message: "format version 0 does not exist".into(),
            });
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let stored = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
        let expected = (HEADER_LEN as u64).saturating_add(len);
        if (bytes.len() as u64) < expected {
            return Err(ForestError::Truncated {
                path: path(),
                expected,
                found: bytes.len() as u64,
            });
        }
        if (bytes.len() as u64) > expected {
            return Err(ForestError::Decode {
                path: path(),
                message: format!(
                    "{} trailing bytes after the payload",
                    bytes.len() as u64 - expected
                ),
            });
        }
        let payload = &bytes[HEADER_LEN..];
        let found = crc32fast::hash(payload);
        if found != stored {
            return Err(ForestError::Corrupted {
                path: path(),
                stored,
                found,
            });
        }
        // The limit stops a forged length field from making bincode allocate without bound.
        let forest: Forest =
            codec()
                .with_limit(len)
                .deserialize(payload)
                .map_err(|e| ForestError::Decode {
                    path: path(),
                    message: e.to_string(),
                })?;
        forest.validate().map_err(|message| ForestError::Decode {
            path: path(),
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
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "forest".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(path, e));
        }
        Ok(())
    }

    /// Loads a forest saved with [`save`](Self::save). Truncated, corrupted, foreign and newer-version
    /// files give an error, never a panic.
    pub fn load(path: impl AsRef<Path>) -> Result<Forest> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
        Forest::from_bytes(&bytes, path)
    }
}
