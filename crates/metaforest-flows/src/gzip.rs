//! Gzip is recognised by its magic bytes, never by the file name: exports get renamed, and stdin has none.

use std::io::{self, BufRead};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether the buffered stream starts with the gzip magic bytes; nothing is consumed.
pub(crate) fn starts_with_gzip(reader: &mut impl BufRead) -> io::Result<bool> {
    Ok(reader.fill_buf()?.starts_with(&GZIP_MAGIC))
}
