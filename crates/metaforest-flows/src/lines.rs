//! Physical lines of a flow file, numbered exactly and bounded in length, and the records split from them.
//!
//! The readers count lines themselves rather than trusting a CSV parser's positions (which drift after
//! CRLF endings and blank lines), and never let a quote run past the end of its line: the built-in
//! formats never quote, so a stray `"` makes one row malformed instead of swallowing the stream.

use std::io::{self, BufRead};

/// Default bound on one record (one physical line), in bytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A line; its bytes are in [`LineReader::bytes`], without the line ending.
    Line,
    /// A line longer than the bound; it was skipped up to its end.
    TooLong,
    /// The end of the input.
    End,
}

/// Splits a byte stream into physical lines (`\n` or `\r\n` endings), dropping a UTF-8 byte-order mark
/// at the very start.
pub(crate) struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    line: u64,
    max_len: usize,
    consumed: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(input: R, max_len: usize) -> Self {
        Self {
            input,
            buf: Vec::new(),
            line: 0,
            max_len: max_len.max(1),
            consumed: 0,
        }
    }

    /// The 1-based physical number of the last line returned (0 before the first).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Bytes read so far, line endings included.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The bytes of the last line returned.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Reads the next physical line. An I/O error leaves [`line`](Self::line) at the last whole line.
    pub(crate) fn next_line(&mut self) -> io::Result<Next> {
        self.buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            // One byte of slack for the `\r` of a CRLF ending.
            if !too_long && self.buf.len() + chunk.len() > self.max_len + 1 {
                too_long = true;
                self.buf = Vec::new();
            }
            if !too_long {
                self.buf.extend_from_slice(chunk);
            }
            self.input.consume(used);
            self.consumed += used as u64;
            if found {
                break;
            }
        }
        if !any {
            return Ok(Next::End);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if too_long || self.buf.len() > self.max_len {
            self.buf.clear();
            return Ok(Next::TooLong);
        }
        if self.line == 1 && self.buf.starts_with(BOM) {
            self.buf.drain(..BOM.len());
        }
        Ok(Next::Line)
    }
}

/// Delimited records, one per physical line: empty lines and comment lines are skipped; a field
/// wholly enclosed in `"` loses its quotes (`""` inside becomes `"`), and a quote never spans lines.
pub(crate) struct RecordReader<R> {
    lines: LineReader<R>,
    delimiter: u8,
    comment: Option<u8>,
    unquoted: Vec<u8>,
}

impl<R: BufRead> RecordReader<R> {
    pub(crate) fn new(input: R, delimiter: u8, comment: Option<u8>, max_len: usize) -> Self {
        Self {
            lines: LineReader::new(input, max_len),
            delimiter,
            comment,
            unquoted: Vec::new(),
        }
    }

    /// The physical line of the last record returned.
    pub(crate) fn line(&self) -> u64 {
        self.lines.line()
    }

    /// Bytes read so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.lines.consumed()
    }

    /// Reads the next record into `rec` (cleared first).
    pub(crate) fn next_record(&mut self, rec: &mut csv::ByteRecord) -> io::Result<Next> {
        loop {
            match self.lines.next_line()? {
                Next::Line => {}
                other => return Ok(other),
            }
            let bytes = self.lines.bytes();
            if bytes.is_empty() || self.comment.is_some_and(|c| bytes[0] == c) {
                continue;
            }
            rec.clear();
            for field in bytes.split(|b| *b == self.delimiter) {
                match quoted_inner(field) {
                    None => rec.push_field(field),
                    Some(inner) if !inner.contains(&b'"') => rec.push_field(inner),
                    Some(inner) => {
                        self.unquoted.clear();
                        let mut rest = inner;
                        while let Some(i) = rest.windows(2).position(|w| w == b"\"\"") {
                            self.unquoted.extend_from_slice(&rest[..=i]);
                            rest = &rest[i + 2..];
                        }
                        self.unquoted.extend_from_slice(rest);
                        rec.push_field(&self.unquoted);
                    }
                }
            }
            return Ok(Next::Line);
        }
    }
}

fn quoted_inner(field: &[u8]) -> Option<&[u8]> {
    (field.len() >= 2 && field[0] == b'"' && field[field.len() - 1] == b'"')
        .then(|| &field[1..field.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8], max: usize) -> Vec<(u64, Result<Vec<String>, Next>)> {
        let mut r = RecordReader::new(text, b',', Some(b'#'), max);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        loop {
            match r.next_record(&mut rec).unwrap() {
                Next::End => return out,
                Next::TooLong => out.push((r.line(), Err(Next::TooLong))),
                Next::Line => out.push((
                    r.line(),
                    Ok(rec
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()),
                )),
            }
        }
    }

    #[test]
    fn physical_line_numbers_whatever_the_endings() {
        let got = records(b"\xef\xbb\xbfa,b\r\n\r\n1,2\n\n# note\n3,4\r\n", 100);
        let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 3, 6]);
        assert_eq!(got[0].1, Ok(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(got[2].1, Ok(vec!["3".to_owned(), "4".to_owned()]));
    }

    #[test]
    fn a_stray_quote_stays_on_its_line() {
        let got = records(b"a,b\n\"1,2\n3,\"x\"\"y\"\n", 100);
        assert_eq!(got[1], (2, Ok(vec!["\"1".to_owned(), "2".to_owned()])));
        assert_eq!(got[2], (3, Ok(vec!["3".to_owned(), "x\"y".to_owned()])));
    }

    #[test]
    fn an_over_long_line_is_skipped_and_reading_goes_on() {
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b'9', 50));
        text.extend_from_slice(b"\r\n1,2");
        let got = records(&text, 10);
        assert_eq!(got[1], (2, Err(Next::TooLong)));
        assert_eq!(got[2], (3, Ok(vec!["1".to_owned(), "2".to_owned()])));
        // Exactly at the bound, with CRLF, is fine.
        let got = records(b"0123456789\r\n", 10);
        assert_eq!(got[0].0, 1);
        assert!(got[0].1.is_ok());
    }
}
