//! Rules in the terms an operator's tools read: a condition on a categorical column as a set of its values by
//! name (from the feature space's dictionaries) instead of a threshold on their codes, and rule text for
//! Suricata-style and Sigma-style rule files beside the JSON form, each rule with its precision and coverage on
//! the support.
//!
//! Suricata matches packets and streams, not flow statistics, so a Suricata-style rule carries what its header
//! can test (protocol, source and destination ports) and the whole rule, readable, in its `msg`: on its own it
//! matches more flows than the rule. Sigma tests fields of log records, so a Sigma-style rule carries every
//! condition, on the field names of the detector's feature space.

use std::fmt::Write;

use metaforest_flows::{ColumnKind, UNKNOWN_CODE};
use serde::Serialize;

use crate::rules::{Condition, Rule};
use crate::space::FeatureSpace;

/// What a condition tests, in its feature's own terms.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Test {
    /// `greater_than < x <= at_most` (either bound may be absent).
    Range {
        greater_than: Option<f64>,
        at_most: Option<f64>,
    },
    /// The value is one of these (values the dictionary does not hold are not).
    In {
        #[serde(rename = "in")]
        values: Vec<String>,
    },
    /// The value is none of these (values the dictionary does not hold are allowed).
    NotIn {
        #[serde(rename = "not_in")]
        values: Vec<String>,
    },
}

/// One condition of a rule, named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedCondition {
    pub feature: String,
    #[serde(flatten)]
    pub test: Test,
}

impl NamedCondition {
    /// `c` on `space`'s column: a categorical column's codes become the set of values whose code satisfies it —
    /// listed as `not in` the others when values outside the dictionary (coded below every known one) satisfy
    /// it too.
    pub fn new(c: &Condition, space: &FeatureSpace) -> Self {
        let column = space.columns().get(c.feature);
        let feature = column.map_or_else(|| format!("f{}", c.feature), |col| col.name.clone());
        let test = match column.map(|col| &col.kind) {
            Some(ColumnKind::Categorical(d)) => {
                // Values whose code satisfies the condition (`true`) or not.
                let with = |satisfied: bool| -> Vec<String> {
                    d.values()
                        .iter()
                        .enumerate()
                        .filter(|(code, _)| c.holds(*code as f64) == satisfied)
                        .map(|(_, v)| v.clone())
                        .collect()
                };
                if c.holds(UNKNOWN_CODE) {
                    Test::NotIn {
                        values: with(false),
                    }
                } else {
                    Test::In { values: with(true) }
                }
            }
            _ => Test::Range {
                greater_than: c.lower,
                at_most: c.upper,
            },
        };
        NamedCondition { feature, test }
    }

    /// `name > a`, `a < name <= b`, `service in {http, ftp}` or `flag not in {SF}`.
    pub fn display(&self) -> String {
        let set = |v: &[String]| format!("{{{}}}", v.join(", "));
        match &self.test {
            Test::Range {
                greater_than,
                at_most,
            } => Condition {
                feature: 0,
                lower: *greater_than,
                upper: *at_most,
            }
            .display(&self.feature),
            Test::In { values } => format!("{} in {}", self.feature, set(values)),
            Test::NotIn { values } => format!("{} not in {}", self.feature, set(values)),
        }
    }
}

/// A rule with named conditions and its measurements, for export (`rules --format json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedRule {
    /// 1-based position in the ranking.
    pub rank: usize,
    /// The rule as text (`IF … THEN attack`).
    pub rule: String,
    pub verdict: &'static str,
    pub conditions: Vec<NamedCondition>,
    pub precision: f64,
    pub coverage: f64,
    pub covered: usize,
    pub correct: usize,
    pub forest: String,
}

impl NamedRule {
    /// `rule`, ranked `rank`, on `space`'s columns.
    pub fn new(rank: usize, rule: &Rule, space: &FeatureSpace) -> Self {
        let conditions: Vec<NamedCondition> = rule
            .conditions
            .iter()
            .map(|c| NamedCondition::new(c, space))
            .collect();
        let verdict = if rule.attack { "attack" } else { "benign" };
        let text: Vec<String> = conditions.iter().map(NamedCondition::display).collect();
        NamedRule {
            rank,
            rule: format!(
                "IF {} THEN {verdict}",
                if text.is_empty() {
                    "true".to_string()
                } else {
                    text.join(" AND ")
                }
            ),
            verdict,
            conditions,
            precision: rule.precision,
            coverage: rule.coverage,
            covered: rule.covered,
            correct: rule.correct,
            forest: rule.forest.clone(),
        }
    }

    /// `precision 0.95 (19/20 support flows), coverage 1.00 of the support's attack flows`.
    fn measured(&self) -> String {
        format!(
            "precision {:.2} ({}/{} support flows), coverage {:.2} of the support's {} flows",
            self.precision, self.correct, self.covered, self.coverage, self.verdict
        )
    }
}

impl Rule {
    /// `IF … THEN attack` on `space`'s columns, categorical conditions by value name.
    pub fn describe(&self, space: &FeatureSpace) -> String {
        NamedRule::new(0, self, space).rule
    }
}

/// Ranked rules with named conditions.
pub fn named_rules(rules: &[Rule], space: &FeatureSpace) -> Vec<NamedRule> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| NamedRule::new(i + 1, r, space))
        .collect()
}

/// Feature names a Suricata header can test: protocol, source port, destination port (NetFlow v2, Zeek,
/// CICFlowMeter, NSL-KDD spellings).
const PROTOCOL_NAMES: &[&str] = &["PROTOCOL", "proto", "Protocol", "protocol_type"];
const SRC_PORT_NAMES: &[&str] = &["L4_SRC_PORT", "id.orig_p", "Src Port"];
const DST_PORT_NAMES: &[&str] = &["L4_DST_PORT", "id.resp_p", "Dst Port"];

/// The Suricata protocol keyword a protocol condition pins down, if it pins one (`None`: `ip`).
fn suricata_protocol(c: &NamedCondition) -> Option<&'static str> {
    let by_name = |n: &str| match n.to_ascii_lowercase().as_str() {
        "tcp" => Some("tcp"),
        "udp" => Some("udp"),
        "icmp" => Some("icmp"),
        _ => None,
    };
    match &c.test {
        Test::In { values } if values.len() == 1 => by_name(&values[0]),
        Test::Range {
            greater_than: Some(l),
            at_most: Some(u),
        } => {
            // One IANA protocol number in (l, u].
            let n = l.floor() + 1.0;
            if n > *u {
                return None;
            }
            match (n as u32, u.floor() == n) {
                (6, true) => Some("tcp"),
                (17, true) => Some("udp"),
                (1, true) => Some("icmp"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A port condition as a Suricata port range; `Err` when no port satisfies it.
fn suricata_ports(c: Option<&NamedCondition>) -> Result<String, ()> {
    let Some(NamedCondition {
        test: Test::Range {
            greater_than,
            at_most,
        },
        ..
    }) = c
    else {
        return Ok("any".into());
    };
    let lo = greater_than.map_or(0.0, |l| (l.floor() + 1.0).max(0.0));
    let hi = at_most.map_or(65535.0, |u| u.floor().min(65535.0));
    match (lo, hi) {
        (lo, hi) if lo > hi => Err(()),
        (lo, hi) if lo == hi => Ok(format!("{lo}")),
        (lo, hi) if lo == 0.0 && hi == 65535.0 => Ok("any".into()),
        (lo, hi) => Ok(format!("[{lo}:{hi}]")),
    }
}

/// Text inside a Suricata option value: `;`, `"` and `\` escaped.
fn suricata_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, ';' | '"' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A Suricata `metadata` value: letters, digits, `.`, `_` and `-` only.
fn metadata_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Suricata-style rules, one per line after a comment with the rule's measurements: `alert` for attack rules,
/// `pass` for benign ones; the header tests the protocol and ports the rule pins down, `msg` carries the whole
/// rule, `metadata` its precision, coverage and forest; sids count up from `first_sid`. A rule no port satisfies
/// is written commented out.
pub fn suricata_rules(rules: &[NamedRule], detector_id: &str, first_sid: u64) -> String {
    let mut out = String::new();
    for (i, r) in rules.iter().enumerate() {
        let find = |names: &[&str]| {
            r.conditions
                .iter()
                .find(|c| names.contains(&c.feature.as_str()))
        };
        let proto = find(PROTOCOL_NAMES)
            .and_then(suricata_protocol)
            .unwrap_or("ip");
        let ports = (
            suricata_ports(find(SRC_PORT_NAMES)),
            suricata_ports(find(DST_PORT_NAMES)),
        );
        let action = if r.verdict == "attack" {
            "alert"
        } else {
            "pass"
        };
        let _ = writeln!(
            out,
            "# rule {}: {}, from forest `{}`",
            r.rank,
            r.measured(),
            r.forest
        );
        let (prefix, src, dst) = match ports {
            (Ok(s), Ok(d)) => ("", s, d),
            _ => (
                "# no port satisfies this rule: ",
                "any".into(),
                "any".into(),
            ),
        };
        let _ = writeln!(
            out,
            "{prefix}{action} {proto} any {src} -> any {dst} (msg:\"metaforest {}: {}\"; \
             metadata:metaforest_precision {:.4}, metaforest_coverage {:.4}, metaforest_forest {}, \
             metaforest_detector {}; sid:{}; rev:1;)",
            suricata_escape(detector_id),
            suricata_escape(&r.rule),
            r.precision,
            r.coverage,
            metadata_value(&r.forest),
            metadata_value(detector_id),
            first_sid + i as u64,
        );
    }
    out
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number for YAML: integral values without a fraction.
fn yaml_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The Sigma `logsource` lines for a feature space: Zeek `conn` logs, NetFlow, or flows in general.
fn logsource(space: &FeatureSpace) -> &'static str {
    let has = |n: &str| space.columns().iter().any(|c| c.name == n);
    if has("id.orig_p") || has("orig_bytes") {
        "  product: zeek\n  service: conn\n"
    } else if has("L4_SRC_PORT") {
        "  product: netflow\n"
    } else {
        "  category: flow\n"
    }
}

/// Sigma-style rules, one YAML document each (`---` between): title, status, description with the rule's
/// precision and coverage, logsource, and a detection with one selection per condition (`field|gt`,
/// `field|lte`, a list of values for a categorical set, `not` for a set it excludes) joined by `and`.
pub fn sigma_rules(rules: &[NamedRule], space: &FeatureSpace, detector_id: &str) -> String {
    let mut out = String::new();
    for r in rules {
        if !out.is_empty() {
            out.push_str("---\n");
        }
        let _ = writeln!(
            out,
            "title: {}",
            yaml_str(&format!("metaforest rule {}: {}", r.rank, r.verdict))
        );
        out.push_str("status: experimental\n");
        let _ = writeln!(
            out,
            "description: {}",
            yaml_str(&format!(
                "{}. {}; from forest `{}` of detector {detector_id}.",
                r.rule,
                r.measured(),
                r.forest
            ))
        );
        let _ = write!(out, "logsource:\n{}", logsource(space));
        out.push_str("detection:\n");
        let mut terms = Vec::new();
        for (k, c) in r.conditions.iter().enumerate() {
            let name = format!("c{}", k + 1);
            let _ = writeln!(out, "  {name}:");
            let field = |modifier: &str| yaml_str(&format!("{}{modifier}", c.feature));
            match &c.test {
                Test::Range {
                    greater_than,
                    at_most,
                } => {
                    if let Some(l) = greater_than {
                        let _ = writeln!(out, "    {}: {}", field("|gt"), yaml_num(*l));
                    }
                    if let Some(u) = at_most {
                        let _ = writeln!(out, "    {}: {}", field("|lte"), yaml_num(*u));
                    }
                    if greater_than.is_none() && at_most.is_none() {
                        let _ = writeln!(out, "    {}: \"*\"", field(""));
                    }
                    terms.push(name);
                }
                Test::In { values } | Test::NotIn { values } => {
                    let _ = writeln!(out, "    {}:", field(""));
                    for v in values {
                        let _ = writeln!(out, "      - {}", yaml_str(v));
                    }
                    if values.is_empty() {
                        let _ = writeln!(out, "      - \"\"");
                    }
                    terms.push(if matches!(c.test, Test::NotIn { .. }) {
                        format!("not {name}")
                    } else {
                        name
                    });
                }
            }
        }
        if terms.is_empty() {
            // A rule without conditions fires on every flow.
            out.push_str("  all:\n    \"line|exists\": true\n");
            terms.push("all".into());
        }
        let _ = writeln!(out, "  condition: {}", terms.join(" and "));
        let _ = writeln!(
            out,
            "level: {}",
            if r.verdict == "attack" {
                "medium"
            } else {
                "informational"
            }
        );
        let _ = writeln!(
            out,
            "metaforest:\n  precision: {}\n  coverage: {}\n  covered: {}\n  correct: {}\n  forest: {}\n  detector: {}",
            r.precision,
            r.coverage,
            r.covered,
            r.correct,
            yaml_str(&r.forest),
            yaml_str(detector_id)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use metaforest_flows::{ColumnSpec, Dictionary};

    fn space() -> FeatureSpace {
        let mut service = ColumnSpec::numeric("service");
        service.kind =
            ColumnKind::Categorical(Dictionary::from_values(["ftp", "http", "smtp", "ssh"]));
        FeatureSpace::new(vec![ColumnSpec::numeric("L4_DST_PORT"), service], "test")
    }

    fn cond(feature: usize, lower: Option<f64>, upper: Option<f64>) -> Condition {
        Condition {
            feature,
            lower,
            upper,
        }
    }

    #[test]
    fn categorical_codes_become_value_names() {
        let s = space();
        let above = NamedCondition::new(&cond(1, Some(1.5), None), &s);
        assert_eq!(above.display(), "service in {smtp, ssh}");
        let below = NamedCondition::new(&cond(1, None, Some(0.5)), &s);
        // Codes at most 0.5: ftp, and every value the dictionary does not hold (coded -1).
        assert_eq!(below.display(), "service not in {http, smtp, ssh}");
        let numeric = NamedCondition::new(&cond(0, Some(79.5), Some(80.0)), &s);
        assert_eq!(numeric.display(), "79.500 < L4_DST_PORT <= 80");
    }

    #[test]
    fn port_conditions_become_suricata_port_ranges() {
        let s = space();
        let port = |l, u| suricata_ports(Some(&NamedCondition::new(&cond(0, l, u), &s)));
        assert_eq!(port(Some(79.5), Some(80.0)), Ok("80".into()));
        assert_eq!(port(Some(1023.5), None), Ok("[1024:65535]".into()));
        assert_eq!(port(None, Some(-1.0)), Err(()));
        assert_eq!(suricata_ports(None), Ok("any".into()));
    }
}
