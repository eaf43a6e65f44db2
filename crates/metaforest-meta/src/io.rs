//! Model files, in the [`metaforest_forest::container`] (magic | format version | payload length | CRC-32 |
//! bincode payload): meta-models (`.mf`, magic `MFMETA\0\0`), detectors (`.mfd`, magic `MFDETECT`) and plain
//! forests (`.mff`, magic `MFPLAINF`). All carry their [`FeatureSpace`](crate::FeatureSpace). A meta-model stores its dfdx heads as safetensors bytes. Files are written to a temporary
//! file in the target folder and renamed, so a crash never leaves a half-written model behind.
//!
//! Loading checks everything before it is used (see [`crate::validate`]): a damaged or crafted file gives a
//! [`MetaError`] naming the file and what is wrong.

use std::io::Read;
use std::path::Path;

use metaforest_forest::container::{write_atomic, Container, ContainerError, HEADER_LEN};
use serde::{Deserialize, Serialize};

use crate::coverage::CoverageState;
use crate::detector::Detector;
use crate::error::{MetaError, Result};
use crate::model::MetaModel;
use crate::network::{from_safetensors, to_safetensors, MlpMetaLearner};
use crate::validate;

/// Current format version of meta-model (`.mf`) and detector (`.mfd`) files. Version 3: both carry their feature
/// space; a detector also how its threshold was chosen. Version 4: the episode augmentation parameters, whether the
/// weighting head was left anchored, the pooled member; a detector's threshold basis may be a false-alarm budget with
/// its evidence ([`crate::ThresholdBasis::FalseAlarmBudget`]).
/// Version 5: version 4 followed by the coverage setting's outcome ([`crate::coverage::CoverageState`]); written
/// only for models trained with [`crate::MetaParams::coverage_shift`], so every other file is still written, byte
/// for byte, at version 4 ([`FORMAT_VERSION_WITHOUT_COVERAGE`]). Both are read.
pub const FORMAT_VERSION: u32 = 5;
/// The version of meta-model and detector files without a coverage state.
pub const FORMAT_VERSION_WITHOUT_COVERAGE: u32 = 4;
/// First bytes of a meta-model file.
pub const META_MAGIC: &[u8; 8] = b"MFMETA\0\0";
/// First bytes of a detector file.
pub const DETECTOR_MAGIC: &[u8; 8] = b"MFDETECT";
/// First bytes of a plain-forest file.
pub const PLAIN_FOREST_MAGIC: &[u8; 8] = b"MFPLAINF";
/// Format version of plain-forest (`.mff`) files.
pub const PLAIN_FOREST_VERSION: u32 = 1;
/// Magics of the command-line tool's former model formats (meta-model, detector), recognised to say how to
/// re-create such a file.
const OLD_CLI_META_MAGIC: &[u8; 8] = b"MFCLIMOD";
const OLD_CLI_DETECTOR_MAGIC: &[u8; 8] = b"MFCLIDET";

/// The two kinds of model file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    MetaModel,
    Detector,
    PlainForest,
}

impl Kind {
    pub(crate) fn container(self) -> Container {
        match self {
            Kind::MetaModel => Container::new(META_MAGIC, FORMAT_VERSION)
                .oldest_version(FORMAT_VERSION_WITHOUT_COVERAGE),
            Kind::Detector => Container::new(DETECTOR_MAGIC, FORMAT_VERSION)
                .oldest_version(FORMAT_VERSION_WITHOUT_COVERAGE),
            Kind::PlainForest => Container::new(PLAIN_FOREST_MAGIC, PLAIN_FOREST_VERSION),
        }
    }

    /// The container a file is written in: version 4 unless it carries a coverage state.
    pub(crate) fn writer(self, with_coverage: bool) -> Container {
        let c = self.container();
        match self {
            Kind::MetaModel | Kind::Detector if !with_coverage => {
                Container::new(c.magic(), FORMAT_VERSION_WITHOUT_COVERAGE)
            }
            _ => c,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::MetaModel => "meta-model (.mf)",
            Kind::Detector => "detector (.mfd)",
            Kind::PlainForest => "plain forest (.mff)",
        }
    }

    /// The command that writes this kind of file.
    fn recreate(self) -> &'static str {
        match self {
            Kind::MetaModel => "`metaforest train …`",
            Kind::Detector => "`metaforest adapt …`",
            Kind::PlainForest => "`metaforest forest fit …`",
        }
    }
}

/// A file that is not `kind`: the CLI's former formats are named with the command that re-creates them, and the
/// other kind of model file gets a hint.
fn bad_magic(path: &Path, kind: Kind, found: &[u8]) -> MetaError {
    let path = path.to_path_buf();
    let old = |was: Kind, magic: &[u8; 8]| MetaError::OlderFormat {
        path: path.clone(),
        what: was.what(),
        found: format!("magic {}", String::from_utf8_lossy(magic)),
        recreate: was.recreate(),
    };
    match found {
        f if f == OLD_CLI_META_MAGIC => old(Kind::MetaModel, OLD_CLI_META_MAGIC),
        f if f == OLD_CLI_DETECTOR_MAGIC => old(Kind::Detector, OLD_CLI_DETECTOR_MAGIC),
        f => {
            let hint = match kind {
                Kind::MetaModel if f == DETECTOR_MAGIC => {
                    " (it is a detector, .mfd: use it with detect, explain or rules, or adapt it further)"
                }
                Kind::Detector if f == META_MAGIC => {
                    " (it is a meta-model, .mf: adapt it first with `metaforest adapt`)"
                }
                _ => "",
            };
            MetaError::BadMagic {
                path,
                what: kind.what(),
                hint: hint.into(),
            }
        }
    }
}

pub(crate) fn file_error(path: &Path, kind: Kind, e: ContainerError) -> MetaError {
    let what = kind.what();
    let path_buf = path.to_path_buf();
    match e {
        ContainerError::Io(source) => MetaError::Io {
            path: path_buf,
            source,
        },
        ContainerError::BadMagic { found, .. } => bad_magic(path, kind, &found),
        ContainerError::Truncated { expected, found } => MetaError::Truncated {
            path: path_buf,
            expected,
            found,
        },
        ContainerError::NewerVersion { found, newest } => MetaError::NewerVersion {
            path: path_buf,
            what,
            found,
            supported: newest,
        },
        ContainerError::OlderVersion { found, oldest } => MetaError::OlderFormat {
            path: path_buf,
            what,
            found: format!("format version {found}; this build reads version {oldest}"),
            recreate: kind.recreate(),
        },
        ContainerError::Checksum { .. } => MetaError::Checksum { path: path_buf },
        ContainerError::Decode(reason) | ContainerError::Encode(reason) => MetaError::Decode {
            path: path_buf,
            what,
            reason,
        },
        other @ (ContainerError::TooLarge { .. } | ContainerError::TrailingBytes { .. }) => {
            invalid(path, kind, other.to_string())
        }
    }
}

pub(crate) fn invalid(path: &Path, kind: Kind, reason: String) -> MetaError {
    MetaError::Invalid {
        path: path.to_path_buf(),
        what: kind.what(),
        reason,
    }
}

/// `value` in `kind`'s container (file bytes); `what` names it in an encoding error.
pub(crate) fn encode<T: Serialize>(kind: Kind, value: &T, what: &str) -> Result<Vec<u8>> {
    kind.writer(false)
        .encode(value)
        .map_err(|e| file_error(Path::new(what), kind, e))
}

/// Decodes a `kind` file from `r` and runs `check` on it before anything uses it; `origin` names the source.
pub(crate) fn decode_checked<T: serde::de::DeserializeOwned>(
    kind: Kind,
    r: &mut impl Read,
    origin: &Path,
    check: impl FnOnce(&T) -> std::result::Result<(), String>,
) -> Result<T> {
    let value: T = kind
        .container()
        .decode(r)
        .map_err(|e| file_error(origin, kind, e))?;
    check(&value).map_err(|reason| invalid(origin, kind, reason))?;
    Ok(value)
}

pub(crate) fn save_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes).map_err(|source| MetaError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| MetaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(std::io::BufReader::new(file))
}

/// Whether the file at `path` starts with the detector magic (so a command taking either kind can tell them
/// apart before loading).
pub fn is_detector_file(path: impl AsRef<Path>) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == DETECTOR_MAGIC
}

/// FNV-1a, 64 bits: stable across builds and platforms, which is all an identifier needs (it is no defence
/// against a forged file).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Settings the file format does not carry: a model or detector trained with one is refused, never written
/// without it.
fn refuse_unsaved(params: &crate::params::ValidMetaParams, what: &'static str) -> Result<()> {
    if params.self_trained_member() {
        return Err(MetaError::NotSaved {
            what,
            setting: "MetaParams::self_trained_member",
        });
    }
    Ok(())
}

/// On disk the heads travel as dfdx safetensors bytes; everything else as it is.
#[derive(Deserialize)]
struct Stored<T> {
    body: T,
    heads_safetensors: Vec<Vec<u8>>,
}

/// Format version 5 of a meta-model: version 4's layout, then the coverage state.
#[derive(Deserialize)]
struct StoredWithCoverage<T> {
    body: T,
    heads_safetensors: Vec<Vec<u8>>,
    coverage: CoverageState,
}

/// Reads a file's first 12 bytes (magic and version) and gives them back in front of the rest, so the container
/// still checks everything; the version is 0 when the file is shorter.
fn peek_version<'a>(r: &'a mut impl Read, origin: &Path) -> Result<(u32, impl Read + 'a)> {
    let mut head = Vec::with_capacity(12);
    r.by_ref()
        .take(12)
        .read_to_end(&mut head)
        .map_err(|source| MetaError::Io {
            path: origin.to_path_buf(),
            source,
        })?;
    let version = head
        .get(8..12)
        .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    Ok((version, std::io::Cursor::new(head).chain(r)))
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
        let coverage = &self.model.adapter.coverage;
        let mut st = s.serialize_struct("Stored", 2 + coverage.is_some() as usize)?;
        st.serialize_field("body", &Body(self.model))?;
        st.serialize_field("heads_safetensors", &self.heads_safetensors)?;
        if let Some(c) = coverage {
            st.serialize_field("coverage", c)?;
        }
        st.end()
    }
}

impl MetaModel {
    /// The whole meta-model in the file format: known forests, heads (safetensors), normalisation, parameters,
    /// feature space.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        refuse_unsaved(self.params(), "meta-model")?;
        let stored = StoredModel {
            model: self,
            heads_safetensors: to_safetensors(self.heads())?,
        };
        Kind::MetaModel
            .writer(self.adapter.coverage.is_some())
            .encode(&stored)
            .map_err(|e| file_error(Path::new("<meta-model>"), Kind::MetaModel, e))
    }

    /// Saves the meta-model to `path` (see [`MetaModel::to_bytes`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_bytes(path.as_ref(), &self.to_bytes()?)
    }

    /// Parses and checks bytes in the file format; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        Self::read_from(&mut &bytes[..], origin)
    }

    /// Loads a meta-model saved with [`MetaModel::save`]; a damaged, foreign or older file gives an error.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::read_from(&mut open(path)?, path)
    }

    fn read_from(r: &mut impl Read, origin: &Path) -> Result<Self> {
        let kind = Kind::MetaModel;
        let (version, mut r) = peek_version(r, origin)?;
        let container = kind.container();
        let (body, heads_safetensors, coverage) = if version >= FORMAT_VERSION {
            let s: StoredWithCoverage<MetaModel> = container
                .decode(&mut r)
                .map_err(|e| file_error(origin, kind, e))?;
            (s.body, s.heads_safetensors, Some(s.coverage))
        } else {
            let s: Stored<MetaModel> = container
                .decode(&mut r)
                .map_err(|e| file_error(origin, kind, e))?;
            (s.body, s.heads_safetensors, None)
        };
        let heads = from_safetensors(&heads_safetensors)
            .map_err(|e| invalid(origin, kind, e.to_string()))?;
        let model = body.with_heads(heads).with_coverage(coverage);
        validate::adapter(&model.adapter).map_err(|reason| invalid(origin, kind, reason))?;
        Ok(model)
    }
}

impl Detector {
    /// The adapted detector in the file format: it carries its known forests and feature space, so it scores
    /// flows on its own.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        refuse_unsaved(&self.adapter().params, "detector")?;
        let kind = Kind::Detector;
        match &self.adapter().coverage {
            // Version 5: the detector, then the coverage state.
            Some(c) => kind
                .writer(true)
                .encode(&(self, c))
                .map_err(|e| file_error(Path::new("<detector>"), kind, e)),
            None => encode(kind, self, "<detector>"),
        }
    }

    /// A stable identifier for output a SIEM joins on: the 64-bit FNV-1a hash of the detector's file payload,
    /// as 16 hex digits. It is the same for a detector and the file it was saved to or loaded from, and
    /// changes with anything stored (forests, support, threshold).
    pub fn id(&self) -> Result<String> {
        let bytes = self.to_bytes()?;
        Ok(format!("{:016x}", fnv1a64(&bytes[HEADER_LEN..])))
    }

    /// Saves the detector to `path` (see [`Detector::to_bytes`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_bytes(path.as_ref(), &self.to_bytes()?)
    }

    /// Parses and checks bytes in the file format; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        Self::read_from(&mut &bytes[..], origin)
    }

    /// Loads a detector saved with [`Detector::save`]; a damaged, foreign or older file gives an error.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::read_from(&mut open(path)?, path)
    }

    fn read_from(r: &mut impl Read, origin: &Path) -> Result<Self> {
        let (version, mut r) = peek_version(r, origin)?;
        if version < FORMAT_VERSION {
            return decode_checked(Kind::Detector, &mut r, origin, Detector::validate);
        }
        let kind = Kind::Detector;
        let (detector, coverage): (Detector, CoverageState) = kind
            .container()
            .decode(&mut r)
            .map_err(|e| file_error(origin, kind, e))?;
        let detector = detector.with_coverage(Some(coverage));
        detector
            .validate()
            .map_err(|reason| invalid(origin, kind, reason))?;
        Ok(detector)
    }
}
