//! Which format a flow file is in, from its first bytes, for when the user names none: Zeek's TSV
//! (`#separator` / `#fields` header lines), Zeek's JSON lines (`uid` / `id.orig_h` keys) and CICFlowMeter CSV
//! (its header names in any version's spelling). Anything else is left to the caller's default.

use std::io::BufRead;
use std::path::Path;

use crate::cicflowmeter::canonical_header;
use crate::error::Result;
use crate::row_format::RowFormat;
use crate::zeek::open_maybe_gzip;

/// CICFlowMeter headers no other supported export uses (canonical spelling); three of them make a header
/// CICFlowMeter's.
const CIC_ONLY: &[&str] = &[
    "Flow Duration",
    "Tot Fwd Pkts",
    "Tot Bwd Pkts",
    "TotLen Fwd Pkts",
    "TotLen Bwd Pkts",
    "Fwd Pkt Len Max",
    "Bwd Pkt Len Max",
    "Flow Byts/s",
    "Flow Pkts/s",
    "Init Fwd Win Byts",
    "Init Bwd Win Byts",
    "FIN Flag Cnt",
    "SYN Flag Cnt",
    "ACK Flag Cnt",
];

/// A format recognised from a file's first bytes, and the sign it was recognised by.
#[derive(Debug, Clone)]
pub struct Sniffed {
    /// The format to read the file with.
    pub format: RowFormat,
    /// What gave it away, in words (`a #fields header line`).
    pub sign: &'static str,
}

impl RowFormat {
    /// The format `head` (the first bytes of a file, at least its first line where possible) is written
    /// in, when it is one that can be told from its first line; `None` otherwise (e.g. NF-v2 or a
    /// schema-described CSV, which only the user can name).
    pub fn sniff(head: &[u8]) -> Option<Sniffed> {
        #[cfg(feature = "parquet")]
        if head.starts_with(b"PAR1") {
            return Some(Sniffed {
                format: RowFormat::Parquet(crate::Schema::builtin("nf-v2").ok()?),
                sign: "the Parquet magic bytes (NF-v2 column names)",
            });
        }
        let text = String::from_utf8_lossy(head);
        let text = text.trim_start_matches('\u{feff}').trim_start();
        let first = text.lines().next().unwrap_or("");
        let found = |format, sign| Some(Sniffed { format, sign });
        if first.starts_with("#separator") || first.starts_with("#fields") {
            return found(RowFormat::Zeek, "a Zeek #separator/#fields header");
        }
        if first.starts_with('{') && (first.contains("\"uid\"") || first.contains("\"id.orig_h\""))
        {
            return found(RowFormat::Zeek, "JSON lines with Zeek's uid/id.orig_h keys");
        }
        let cic = first
            .split(',')
            .filter(|h| CIC_ONLY.contains(&canonical_header(h).as_str()))
            .count();
        if cic >= 3 {
            return found(RowFormat::CicFlowMeter, "CICFlowMeter column names");
        }
        None
    }

    /// [`RowFormat::sniff`] on the first bytes of an opened input, which stay unread.
    pub fn sniff_reader(input: &mut dyn BufRead) -> std::io::Result<Option<Sniffed>> {
        Ok(Self::sniff(input.fill_buf()?))
    }

    /// [`RowFormat::sniff`] on the first bytes of the file at `path` (plain or gzip).
    pub fn sniff_path(path: &Path) -> Result<Option<Sniffed>> {
        let mut input = open_maybe_gzip(path)?;
        Self::sniff_reader(&mut input).map_err(|source| crate::FlowsError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(head: &str) -> Option<&'static str> {
        RowFormat::sniff(head.as_bytes()).map(|s| match s.format {
            RowFormat::Zeek => "zeek",
            RowFormat::CicFlowMeter => "cicflowmeter",
            RowFormat::Schema(_) => "schema",
            #[cfg(feature = "parquet")]
            RowFormat::Parquet(_) => "parquet",
        })
    }

    #[test]
    fn zeek_tsv_and_json_lines_are_recognised() {
        assert_eq!(
            sniffed("#separator \\x09\n#set_separator\t,\n"),
            Some("zeek")
        );
        assert_eq!(sniffed("#fields\tts\tuid\n"), Some("zeek"));
        let json = r#"{"ts":1.5,"uid":"CAbc","id.orig_h":"10.0.0.1","proto":"tcp"}"#;
        assert_eq!(sniffed(json), Some("zeek"));
        assert_eq!(sniffed(r#"{"a":1}"#), None);
    }

    #[test]
    fn cicflowmeter_headers_are_recognised_in_every_spelling() {
        let v2017 =
            " Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets, Label";
        let v2018 = "Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,Label";
        let python = "dst_port,flow_duration,tot_fwd_pkts,tot_bwd_pkts,totlen_fwd_pkts";
        for head in [v2017, v2018, python] {
            assert_eq!(sniffed(head), Some("cicflowmeter"), "{head}");
        }
        let bom = format!("\u{feff}{v2018}\n1,2,3");
        assert_eq!(sniffed(&bom), Some("cicflowmeter"));
    }

    #[cfg(feature = "parquet")]
    #[test]
    fn parquet_is_recognised_by_its_magic_bytes() {
        assert_eq!(sniffed("PAR1\u{15}\u{4}"), Some("parquet"));
        assert_eq!(sniffed("xPAR1"), None);
    }

    #[test]
    fn other_files_are_left_to_the_default() {
        let nf = "L4_SRC_PORT,L4_DST_PORT,PROTOCOL,IN_BYTES,OUT_BYTES,FLOW_DURATION_MILLISECONDS,Label,Attack";
        assert_eq!(sniffed(nf), None);
        assert_eq!(sniffed(""), None);
        assert_eq!(sniffed("duration,protocol_type,service,flag"), None);
    }
}
