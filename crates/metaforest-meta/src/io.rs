//! Model files: `MFMETA\0\0` magic, format version, payload length, CRC-32, then a bincode payload. The dfdx heads
//! are stored as safetensors bytes. Files are written to a temporary file in the target folder and renamed, so a
//! crash never leaves a half-written model behind.

use std::io::Write;
use std::path::Path;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::detector::Detector;
use crate::error::{MetaError, Result};
use crate::model::MetaModel;
use crate::network::{from_safetensors, to_safetensors, MlpMetaLearner};

/// Current format version of meta-model (`.mf`) and detector (`.mfd`) files.
/// Version 2: the learned threshold rule joined the meta-model and the detector.
pub const FORMAT_VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 8 + 4;
/// Refuse payloads larger than this (a corrupted length must not allocate the machine away).
const MAX_PAYLOAD: u64 = 8 << 30;

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> MetaError + '_ {
    move |source| MetaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` under `magic` atomically (temporary file + rename).
pub fn write_file<T: Serialize>(path: &Path, magic: &[u8; 8], value: &T) -> Result<()> {
    let payload = bincode::serialize(value).map_err(|e| MetaError::Decode {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(path))?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(magic);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    tmp.write_all(&header).map_err(io_err(path))?;
    tmp.write_all(&payload).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| MetaError::Io {
        path: path.into(),
        source: e.error,
    })?;
    Ok(())
}

/// Reads a file written by [`write_file`], rejecting a wrong magic, a newer version, truncation and corruption.
pub fn read_file<T: DeserializeOwned>(path: &Path, magic: &[u8; 8]) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() < HEADER || &bytes[..8] != magic {
        return Err(MetaError::BadMagic { path: path.into() });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(MetaError::NewerVersion {
            path: path.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version < FORMAT_VERSION {
        return Err(MetaError::OlderVersion {
            path: path.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    let found = (bytes.len() - HEADER) as u64;
    if len > MAX_PAYLOAD || found < len {
        return Err(MetaError::Truncated {
            path: path.into(),
            expected: len,
            found,
        });
    }
    let payload = &bytes[HEADER..HEADER + len as usize];
    if crc32fast::hash(payload) != crc {
        return Err(MetaError::Checksum { path: path.into() });
    }
    bincode::deserialize(payload).map_err(|e| MetaError::Decode {
        path: path.into(),
        reason: e.to_string(),
    })
}

const META_MAGIC: &[u8; 8] = b"MFMETA\0\0";
const DETECTOR_MAGIC: &[u8; 8] = b"MFDETECT";

/// On disk the heads travel as dfdx safetensors bytes; everything else as it is.
#[derive(Deserialize)]
struct Stored<T> {
    body: T,
    heads_safetensors: Vec<Vec<u8>>,
}

/// The stored form of a meta-model: its body with empty heads, then the heads as safetensors.
struct StoredModel<'a> {
    model: &'a MetaModel,
    heads_safetensors: Vec<Vec<u8>>,
}

impl Serialize for StoredModel<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Body<'a>(&'a MetaModel);
        impl Serialize for Body<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let no_heads = MlpMetaLearner {
                    weight: None,
                    config: None,
                    prior: None,
                };
                self.0.serialize_with_heads(&no_heads, s)
            }
        }
        let mut st = s.serialize_struct("Stored", 2)?;
        st.serialize_field("body", &Body(self.model))?;
        st.serialize_field("heads_safetensors", &self.heads_safetensors)?;
        st.end()
    }
}

impl MetaModel {
    /// Saves the whole meta-model: known forests, heads (safetensors), normalisation, parameters.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let stored = StoredModel {
            model: self,
            heads_safetensors: to_safetensors(self.heads())?,
        };
        write_file(path.as_ref(), META_MAGIC, &stored)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let stored: Stored<MetaModel> = read_file(path.as_ref(), META_MAGIC)?;
        let heads = from_safetensors(&stored.heads_safetensors)?;
        Ok(stored.body.with_heads(heads))
    }
}

impl Detector {
    /// Saves the adapted detector (`.mfd`): it carries its known forests, so it scores flows on its own.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), DETECTOR_MAGIC, self)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        read_file(path.as_ref(), DETECTOR_MAGIC)
    }
}
