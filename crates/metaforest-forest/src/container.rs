//! The file container every metaforest model file uses.
//!
//! Layout: magic (8 bytes) | format version (u32 LE) | payload length (u64 LE) | CRC-32 of the
//! payload (u32 LE) | payload. Payloads are bincode with fixed-width little-endian integers (the
//! bytes `bincode::serialize` writes).
//!
//! ```
//! use metaforest_forest::container::Container;
//! const NOTES: Container = Container::new(b"MFNOTES\0", 1);
//! let bytes = NOTES.encode(&vec![1u32, 2, 3])?;
//! let back: Vec<u32> = NOTES.decode(&mut bytes.as_slice())?;
//! assert_eq!(back, [1, 2, 3]);
//! # Ok::<(), metaforest_forest::container::ContainerError>(())
//! ```

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

/// Bytes before the payload: magic, version, length, checksum.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Default for [`Container::max_payload`]: a corrupted length must not allocate the machine away.
pub const DEFAULT_MAX_PAYLOAD: u64 = 8 << 30;

/// What is wrong with a container; callers add the file name.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The data does not start with the expected magic bytes.
    #[error("bad magic bytes: expected {}", String::from_utf8_lossy(.expected))]
    BadMagic {
        /// The magic this kind of file starts with.
        expected: [u8; 8],
        /// The first (up to 8) bytes found, so a caller can say which other kind of file it is.
        found: Vec<u8>,
    },
    /// Fewer bytes than the header promises.
    #[error("truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Header plus the payload length it states.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Written by a newer format version than this build reads.
    #[error("format version {found} is newer than the newest supported version {newest}")]
    NewerVersion {
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        newest: u32,
    },
    /// Written by a format version this build no longer reads (or version 0, which never existed).
    #[error("format version {found} is older than the oldest supported version {oldest}")]
    OlderVersion {
        /// Version in the file.
        found: u32,
        /// Oldest version this build reads.
        oldest: u32,
    },
    /// The stated payload length exceeds the caller's limit.
    #[error("payload of {length} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length in the header.
        length: u64,
        /// The caller's limit.
        max: u64,
    },
    /// Bytes follow the payload.
    #[error("{count} trailing bytes after the payload")]
    TrailingBytes {
        /// How many.
        count: u64,
    },
    /// The payload checksum does not match the header.
    #[error("checksum {found:#010x} does not match the stored {stored:#010x}")]
    Checksum {
        /// Checksum in the header.
        stored: u32,
        /// Checksum of the payload read.
        found: u32,
    },
    /// A value could not be encoded.
    #[error("cannot encode payload: {0}")]
    Encode(String),
    /// The payload is not a valid encoding of the expected value.
    #[error("cannot decode payload: {0}")]
    Decode(String),
}

/// One kind of file: its magic, the version it writes and the versions it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    magic: &'static [u8; 8],
    version: u32,
    oldest_version: u32,
    max_payload: u64,
}

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Container {
    /// Files starting with `magic`, written at `version` and read at `version` only.
    pub const fn new(magic: &'static [u8; 8], version: u32) -> Self {
        Container {
            magic,
            version,
            oldest_version: version,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }

    /// Also read files from `oldest` up to the current version (for formats that stayed compatible).
    pub const fn oldest_version(mut self, oldest: u32) -> Self {
        self.oldest_version = oldest;
        self
    }

    /// Refuse payloads longer than `max` bytes, checked before reading them.
    pub const fn max_payload(mut self, max: u64) -> Self {
        self.max_payload = max;
        self
    }

    /// The magic bytes.
    pub fn magic(&self) -> &'static [u8; 8] {
        self.magic
    }

    /// The version written (and the newest read).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Header followed by `payload`, written to `w`.
    pub fn write_payload(&self, w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
        w.write_all(self.magic)?;
        w.write_all(&self.version.to_le_bytes())?;
        w.write_all(&(payload.len() as u64).to_le_bytes())?;
        w.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        w.write_all(payload)
    }

    /// `value` in the container, as bytes.
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, ContainerError> {
        let payload = codec()
            .serialize(value)
            .map_err(|e| ContainerError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        self.write_payload(&mut out, &payload)?;
        Ok(out)
    }

    /// Reads one container from `r` to its end and returns the checked payload. Checks, in order:
    /// magic, version, length against the limit, truncation, trailing bytes, checksum.
    pub fn read_payload(&self, r: &mut impl Read) -> Result<Vec<u8>, ContainerError> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_up_to(r, &mut header)?;
        let magic_len = self.magic.len();
        if n < magic_len && self.magic.starts_with(&header[..n]) {
            return Err(ContainerError::Truncated {
                expected: HEADER_LEN as u64,
                found: n as u64,
            });
        }
        if n < magic_len || &header[..magic_len] != self.magic {
            return Err(ContainerError::BadMagic {
                expected: *self.magic,
                found: header[..n.min(magic_len)].to_vec(),
            });
        }
        if n < HEADER_LEN {
            return Err(ContainerError::Truncated {
                expected: HEADER_LEN as u64,
                found: n as u64,
            });
        }
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if version > self.version {
            return Err(ContainerError::NewerVersion {
                found: version,
                newest: self.version,
            });
        }
        if version < self.oldest_version.max(1) {
            return Err(ContainerError::OlderVersion {
                found: version,
                oldest: self.oldest_version.max(1),
            });
        }
        let length = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
        let stored = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
        if length > self.max_payload {
            return Err(ContainerError::TooLarge {
                length,
                max: self.max_payload,
            });
        }
        // `take` + `read_to_end` grows with the bytes actually present, not with the stated length.
        let mut payload = Vec::new();
        r.take(length).read_to_end(&mut payload)?;
        let expected = (HEADER_LEN as u64).saturating_add(length);
        let found = HEADER_LEN as u64 + payload.len() as u64;
        if found < expected {
            return Err(ContainerError::Truncated { expected, found });
        }
        let count = io::copy(r, &mut io::sink())?;
        if count > 0 {
            return Err(ContainerError::TrailingBytes { count });
        }
        let found = crc32fast::hash(&payload);
        if found != stored {
            return Err(ContainerError::Checksum { stored, found });
        }
        Ok(payload)
    }

    /// Reads a value written by [`encode`](Self::encode) (or [`save`](Self::save)) from `r`.
    pub fn decode<T: DeserializeOwned>(&self, r: &mut impl Read) -> Result<T, ContainerError> {
        let payload = self.read_payload(r)?;
        // The limit stops a forged length inside the payload from making bincode allocate without bound.
        codec()
            .with_limit(payload.len() as u64)
            .deserialize(&payload)
            .map_err(|e| ContainerError::Decode(e.to_string()))
    }

    /// Writes `value` to `path` atomically (see [`write_atomic`]).
    pub fn save<T: Serialize + ?Sized>(
        &self,
        path: &Path,
        value: &T,
    ) -> Result<(), ContainerError> {
        let bytes = self.encode(value)?;
        Ok(write_atomic(path, &bytes)?)
    }

    /// Reads a value saved with [`save`](Self::save).
    pub fn load<T: DeserializeOwned>(&self, path: &Path) -> Result<T, ContainerError> {
        let file = std::fs::File::open(path)?;
        self.decode(&mut io::BufReader::new(file))
    }
}

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporary files being written right now, so that a signal handler can remove them.
static LIVE_TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the temporary files of saves in progress (for a SIGINT/SIGTERM handler, just before the
/// process exits).
pub fn remove_temporary_files() {
    let live = LIVE_TEMP_FILES.lock().unwrap_or_else(|e| e.into_inner());
    for tmp in live.iter() {
        let _ = std::fs::remove_file(tmp);
    }
}

/// A registered temporary file, removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    kept: bool,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
        LIVE_TEMP_FILES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        Self { path, kept: false }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let mut live = LIVE_TEMP_FILES.lock().unwrap_or_else(|e| e.into_inner());
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
        live.retain(|p| p != &self.path);
    }
}

/// Writes `bytes` to a temporary file in `path`'s folder, syncs it, then renames it over `path`, so a
/// crash never leaves a half-written file behind. The temporary file is removed on failure, on a panic,
/// and by [`remove_temporary_files`]. The file is created with the process's umask (as `File::create`
/// does), not a private mode.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = TempFile::new(dir.join(format!(".{name}.tmp-{}-{n}", std::process::id())));
    let mut f = std::fs::File::create(&tmp.path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp.path, path)?;
    tmp.kept = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Container = Container::new(b"MFTEST\0\0", 2);

    fn framed() -> Vec<u8> {
        TEST.encode(&(7u64, String::from("seven"))).unwrap()
    }

    fn read(bytes: &[u8]) -> Result<(u64, String), ContainerError> {
        TEST.decode(&mut &bytes[..])
    }

    #[test]
    fn round_trip_and_same_bytes_as_bincode() {
        let bytes = framed();
        let payload = bincode::serialize(&(7u64, String::from("seven"))).unwrap();
        assert_eq!(&bytes[HEADER_LEN..], payload.as_slice());
        assert_eq!(&bytes[..8], b"MFTEST\0\0");
        assert_eq!(read(&bytes).unwrap(), (7, "seven".into()));
    }

    #[test]
    fn each_defect_is_named() {
        let good = framed();
        assert!(matches!(
            read(&good[..3]),
            Err(ContainerError::Truncated { found: 3, .. })
        ));
        assert!(matches!(
            read(b"NOTOURS!........................"),
            Err(ContainerError::BadMagic { .. })
        ));
        assert!(matches!(
            read(&good[..HEADER_LEN - 1]),
            Err(ContainerError::Truncated { .. })
        ));
        assert!(matches!(
            read(&good[..good.len() - 1]),
            Err(ContainerError::Truncated { .. })
        ));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            read(&long),
            Err(ContainerError::TrailingBytes { count: 1 })
        ));
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            read(&flipped),
            Err(ContainerError::Checksum { .. })
        ));
        let mut newer = good.clone();
        newer[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert!(matches!(
            read(&newer),
            Err(ContainerError::NewerVersion {
                found: 3,
                newest: 2
            })
        ));
        let mut older = good.clone();
        older[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(
            read(&older),
            Err(ContainerError::OlderVersion {
                found: 1,
                oldest: 2
            })
        ));
        let old_ok: (u64, String) = TEST.oldest_version(1).decode(&mut &older[..]).unwrap();
        assert_eq!(old_ok.0, 7);
    }

    #[test]
    fn a_forged_length_is_refused_before_reading() {
        let mut forged = framed();
        forged[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            read(&forged),
            Err(ContainerError::TooLarge { .. })
        ));
        let small = TEST.max_payload(4);
        assert!(matches!(
            small.decode::<(u64, String)>(&mut &framed()[..]),
            Err(ContainerError::TooLarge { max: 4, .. })
        ));
    }

    #[test]
    fn save_and_load_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.bin");
        TEST.save(&path, &(1u64, String::from("one"))).unwrap();
        let back: (u64, String) = TEST.load(&path).unwrap();
        assert_eq!(back.1, "one");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file_and_honour_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        write_atomic(&path, b"one").unwrap();
        // Into a folder that does not exist: an error, and nothing left behind.
        assert!(write_atomic(&dir.path().join("absent/model.bin"), b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // Other tests write files at the same time: only this test's folder must be unregistered.
        assert!(!LIVE_TEMP_FILES
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.starts_with(dir.path())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            std::fs::File::create(&plain).unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), mode(&plain));
        }
    }
}
