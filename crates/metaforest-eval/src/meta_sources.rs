//! Other data sets META may also meta-train on ([`metaforest_meta::ExtraSource`]): UNSW-NB15's attack families,
//! NSL-KDD's training families, the NF-v2 networks and synthetic networks, each in its own feature space with its
//! own forests. Which of them a fold may use is decided here, by the traffic each domain was captured from: a fold
//! never sees its held-out domain, nor another view of the same capture (NF-UNSW-NB15-v2 is UNSW-NB15's capture
//! exported as NetFlow), nor its own protocol's data set a second time.
//!
//! A source is loaded and its forests trained once per run (the same for every fold), then filtered per fold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use metaforest_flows::{datasets, domains::domains_by_dataset, Domain, FlowTable};
use metaforest_meta::{DomainData, ExtraSource};

use crate::config::BenchConfig;
use crate::error::{EvalError, Result};
use crate::method::Fold;
use crate::protocol::{family_spec, p2_spec, PORT_COLUMNS};
use crate::sampling::{derive, rng, stratified_cap};

/// A data set META can meta-train on beside a fold's known domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// UNSW-NB15's attack families, each with a share of its normal flows (P3's domains).
    UnswFamilies,
    /// NSL-KDD's training families (KDDTrain+), each with a share of its normal flows (P2's known domains).
    NslFamilies,
    /// The four NF-v2 networks, without the port columns (P1's domains).
    NfNetworks,
    /// Networks from the synthetic generator (seeded apart from protocol SYN's).
    Synthetic,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [
        SourceKind::UnswFamilies,
        SourceKind::NslFamilies,
        SourceKind::NfNetworks,
        SourceKind::Synthetic,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::UnswFamilies => "unsw",
            SourceKind::NslFamilies => "nsl",
            SourceKind::NfNetworks => "nf",
            SourceKind::Synthetic => "syn",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                EvalError::Config(format!(
                    "unknown meta-training source `{name}` (expected one of unsw, nsl, nf, syn)"
                ))
            })
    }

    /// The protocol whose own data set this is (it is that protocol's known domains already).
    fn own_protocol(self) -> &'static str {
        match self {
            SourceKind::UnswFamilies => "P3",
            SourceKind::NslFamilies => "P2",
            SourceKind::NfNetworks => "P1",
            SourceKind::Synthetic => "SYN",
        }
    }

    fn id(self) -> u64 {
        match self {
            SourceKind::UnswFamilies => 1,
            SourceKind::NslFamilies => 2,
            SourceKind::NfNetworks => 3,
            SourceKind::Synthetic => 4,
        }
    }
}

/// The traffic a domain was captured from: NetFlow exports share their capture with the original data set.
pub fn capture_of(kind: SourceKind, domain: &str) -> &'static str {
    match kind {
        SourceKind::UnswFamilies => "UNSW-NB15",
        SourceKind::NslFamilies => "KDD",
        SourceKind::Synthetic => "synthetic",
        SourceKind::NfNetworks => nf_capture(domain),
    }
}

fn nf_capture(network: &str) -> &'static str {
    match network {
        "NF-UNSW-NB15-v2" => "UNSW-NB15",
        "NF-ToN-IoT-v2" => "ToN-IoT",
        "NF-CSE-CIC-IDS2018-v2" => "CSE-CIC-IDS2018",
        "NF-BoT-IoT-v2" => "BoT-IoT",
        _ => "unknown NetFlow capture",
    }
}

/// The capture a fold's held-out domain comes from.
pub fn held_out_capture(protocol: &str, held_out: &str) -> &'static str {
    match protocol {
        "P1" => nf_capture(held_out),
        "P2" => "KDD",
        "P3" => "UNSW-NB15",
        "SYN" => "synthetic",
        _ => "unknown protocol",
    }
}

/// Whether a domain of `kind` may teach a fold of `protocol` whose held-out domain is `held_out`.
pub fn allowed(kind: SourceKind, domain: &str, protocol: &str, held_out: &str) -> bool {
    kind.own_protocol() != protocol
        && capture_of(kind, domain) != held_out_capture(protocol, held_out)
        && !matches!(held_out_capture(protocol, held_out), "unknown protocol")
}

/// Synthetic networks in the synthetic source, and flows in each.
const SYNTHETIC_NETWORKS: usize = 6;
const SYNTHETIC_ROWS: usize = 6_000;

/// Rows kept per source domain (stratified): enough for episodes, small enough that the forests are quick.
const SOURCE_DOMAIN_CAP: usize = 20_000;

/// The sources a bench run's META rows meta-train on, loaded once and shared by every fold.
pub struct MetaSources {
    kinds: Vec<SourceKind>,
    data_dir: PathBuf,
    episodes: usize,
    loaded: Mutex<BTreeMap<SourceKind, Arc<ExtraSource>>>,
}

impl MetaSources {
    /// `episodes` per source; the data are read from `data_dir` when a fold first needs them.
    pub fn new(kinds: Vec<SourceKind>, data_dir: &Path, episodes: usize) -> Self {
        let mut kinds = kinds;
        kinds.sort_unstable();
        kinds.dedup();
        Self {
            kinds,
            data_dir: data_dir.to_path_buf(),
            episodes,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn kinds(&self) -> &[SourceKind] {
        &self.kinds
    }

    /// The sources `fold` may learn from, each without the domains it may not see (a source left with fewer
    /// than two domains is dropped: its episodes need another known forest).
    pub fn for_fold(&self, fold: &Fold) -> Result<Vec<ExtraSource>> {
        let mut out = Vec::new();
        for &kind in &self.kinds {
            if kind.own_protocol() == fold.protocol {
                continue;
            }
            let full = self.load(kind, &fold.config)?;
            let keep: Vec<usize> = (0..full.domains.len())
                .filter(|&i| allowed(kind, &full.domains[i].name, &fold.protocol, &fold.held_out))
                .collect();
            if keep.len() < 2 {
                tracing::info!(source = kind.name(), fold = %fold.held_out, "source left out: under two usable domains");
                continue;
            }
            out.push(ExtraSource {
                name: full.name.clone(),
                domains: keep.iter().map(|&i| full.domains[i].clone()).collect(),
                known: keep.iter().map(|&i| full.known[i].clone()).collect(),
                episodes: full.episodes,
            });
        }
        Ok(out)
    }

    fn load(&self, kind: SourceKind, cfg: &BenchConfig) -> Result<Arc<ExtraSource>> {
        let mut loaded = self.loaded.lock().expect("source cache lock poisoned");
        if let Some(s) = loaded.get(&kind) {
            return Ok(Arc::clone(s));
        }
        let t = std::time::Instant::now();
        let (table, domains) = source_domains(kind, &self.data_dir, cfg)?;
        let seed = derive(cfg.seed, 50_000 + kind.id());
        let labels = table.labels();
        let data: Vec<DomainData> = domains
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                let attacks = d.rows.iter().filter(|&&r| labels[r] != 0).count();
                attacks >= 2 && d.rows.len() - attacks >= 2
            })
            .map(|(i, d)| {
                let rows = stratified_cap(
                    &d.rows,
                    labels,
                    SOURCE_DOMAIN_CAP.min(cfg.known_cap),
                    &mut rng(seed, i as u64),
                );
                DomainData::from_table(&table, &d.name, &rows)
            })
            .collect();
        let source = Arc::new(ExtraSource::train(
            kind.name(),
            data,
            cfg.trees_known,
            derive(seed, 1),
            self.episodes,
        )?);
        tracing::info!(
            source = kind.name(),
            domains = source.domains.len(),
            seconds = t.elapsed().as_secs_f64(),
            "META: other source loaded and its forests trained"
        );
        loaded.insert(kind, Arc::clone(&source));
        Ok(source)
    }
}

/// A source's table and domains. Missing data is an error: a requested source is never silently left out.
fn source_domains(
    kind: SourceKind,
    dir: &Path,
    cfg: &BenchConfig,
) -> Result<(FlowTable, Vec<Domain>)> {
    let missing = |what: &str| {
        EvalError::Config(format!(
            "meta-training source `{}` needs {what} under {}",
            kind.name(),
            dir.display()
        ))
    };
    Ok(match kind {
        SourceKind::UnswFamilies => {
            if !datasets::has_unsw_nb15(dir) {
                return Err(missing("the UNSW-NB15 data"));
            }
            let spec = family_spec("P3", datasets::load_unsw_nb15(dir)?, cfg);
            ((*spec.table).clone(), spec.domains)
        }
        SourceKind::NslFamilies => {
            if !datasets::has_nsl_kdd(dir) {
                return Err(missing("the NSL-KDD data"));
            }
            let spec = p2_spec(&datasets::load_nsl_kdd_all(dir)?, cfg)?;
            ((*spec.table).clone(), spec.domains)
        }
        SourceKind::NfNetworks => {
            if !datasets::has_nf_v2(dir) {
                return Err(missing("the NF-v2 data"));
            }
            let table = datasets::load_nf_v2_all(dir)?.drop_columns(&PORT_COLUMNS)?;
            let domains = domains_by_dataset(&table);
            (table, domains)
        }
        SourceKind::Synthetic => {
            let table =
                metaforest_flows::synthetic::generate(&metaforest_flows::SyntheticConfig {
                    n_networks: SYNTHETIC_NETWORKS,
                    rows_per_network: SYNTHETIC_ROWS,
                    seed: derive(cfg.seed, 50_000 + SourceKind::Synthetic.id()),
                    ..Default::default()
                })?;
            let domains = domains_by_dataset(&table);
            (table, domains)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NF: [&str; 4] = [
        "NF-UNSW-NB15-v2",
        "NF-ToN-IoT-v2",
        "NF-CSE-CIC-IDS2018-v2",
        "NF-BoT-IoT-v2",
    ];

    #[test]
    fn p1_never_learns_from_its_own_networks_nor_the_held_out_capture() {
        for held_out in NF {
            for net in NF {
                assert!(!allowed(SourceKind::NfNetworks, net, "P1", held_out));
            }
            // UNSW-NB15's families are the held-out network's traffic when it is NF-UNSW-NB15-v2.
            assert_eq!(
                allowed(SourceKind::UnswFamilies, "Exploits", "P1", held_out),
                held_out != "NF-UNSW-NB15-v2"
            );
            assert!(allowed(SourceKind::NslFamilies, "DoS", "P1", held_out));
            assert!(allowed(SourceKind::Synthetic, "net-0", "P1", held_out));
        }
    }

    #[test]
    fn p2_never_learns_from_kdd_traffic() {
        for held_out in ["apache2", "mailbomb", "processtable"] {
            for fam in ["DoS", "Probe", "R2L", "U2R"] {
                assert!(!allowed(SourceKind::NslFamilies, fam, "P2", held_out));
            }
            for net in NF {
                assert!(allowed(SourceKind::NfNetworks, net, "P2", held_out));
            }
            assert!(allowed(SourceKind::UnswFamilies, "Generic", "P2", held_out));
        }
    }

    #[test]
    fn p3_never_learns_from_unsw_nb15_traffic_in_any_view() {
        for held_out in ["Generic", "Exploits", "Worms"] {
            assert!(!allowed(
                SourceKind::UnswFamilies,
                "Fuzzers",
                "P3",
                held_out
            ));
            assert!(!allowed(
                SourceKind::NfNetworks,
                "NF-UNSW-NB15-v2",
                "P3",
                held_out
            ));
            assert!(allowed(
                SourceKind::NfNetworks,
                "NF-ToN-IoT-v2",
                "P3",
                held_out
            ));
            assert!(allowed(SourceKind::NslFamilies, "R2L", "P3", held_out));
        }
    }

    #[test]
    fn syn_and_unknown_protocols_learn_from_no_synthetic_networks() {
        assert!(!allowed(SourceKind::Synthetic, "net-1", "SYN", "net-0"));
        assert!(allowed(SourceKind::NslFamilies, "DoS", "SYN", "net-0"));
        for kind in SourceKind::ALL {
            assert!(!allowed(kind, "x", "P9", "y"));
        }
    }

    #[test]
    fn source_names_round_trip_and_unknown_names_are_errors() {
        for kind in SourceKind::ALL {
            assert_eq!(SourceKind::parse(kind.name()).unwrap(), kind);
        }
        assert!(SourceKind::parse("kdd99").is_err());
    }
}
