//! A synthetic multi-network flow generator in the NF-v2 feature space (same 41 column names).
//!
//! It is the embedded default for the quick start and for tests that must run without the real data;
//! its domains are named `synthetic-net-<i>` so it is never mistaken for real traffic.
//!
//! Each simulated network has its own benign profile: a mix of services (ports, nDPI protocol ids,
//! request/response sizes, durations), the TTL and TCP window of its hosts' operating systems, and a
//! size and time scale. All networks share five attack archetypes — `Scan`, `DoS`, `BruteForce`,
//! `Exfiltration`, `WebAttack` — but each network draws its own *appearance* of them (scan type and
//! flags, flood protocol and rate, brute-forced service, exfiltration channel, attack tool TTL and
//! sizes) and its own subset and mix of them. Some benign profiles resemble another network's attacks
//! (IoT telemetry looks like scanning, nightly backups like exfiltration), so a detector trained on one
//! network degrades on another, as it does between the real NF-v2 data sets. Inside a network, a few
//! benign flows look like attacks and a few attacks look benign, so that no detector is perfect.
//!
//! Deterministic per seed: network `i` draws from its own `ChaCha8Rng` (seed derived from the config
//! seed and `i`), so the output does not depend on threads.

use ndarray::{Array2, ShapeBuilder};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::datasets::NF_V2_FEATURES;
use crate::error::{FlowsError, Result};
use crate::rng::rng_for;
use crate::table::{ColumnSpec, FlowTable};

/// Class names of the synthetic data, in code order (0 = benign).
pub const SYNTHETIC_CLASSES: [&str; 6] = [
    "Benign",
    "Scan",
    "DoS",
    "BruteForce",
    "Exfiltration",
    "WebAttack",
];

/// Share of benign flows that look like one of the network's attacks.
const BENIGN_LOOKALIKE: f64 = 0.02;
/// Share of attack flows shaped like the network's benign services.
const STEALTHY_ATTACK: f64 = 0.04;

/// Prefix of the synthetic domain names.
pub const SYNTHETIC_DOMAIN_PREFIX: &str = "synthetic-net-";

/// Parameters of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Number of simulated networks (domains).
    pub n_networks: usize,
    /// Flows per network.
    pub rows_per_network: usize,
    /// Expected share of attack flows in each network, in `[0, 1]`.
    pub attack_fraction: f64,
    /// Seed: the same seed gives the same table.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    /// The quick-start default: 4 networks × 5,000 flows, 30 % attacks, seed 7.
    fn default() -> Self {
        Self {
            n_networks: 4,
            rows_per_network: 5_000,
            attack_fraction: 0.3,
            seed: 7,
        }
    }
}

/// Generates the synthetic table (see the module documentation).
pub fn generate(config: &SyntheticConfig) -> Result<FlowTable> {
    if !(0.0..=1.0).contains(&config.attack_fraction) {
        return Err(FlowsError::InvalidArgument(format!(
            "attack_fraction {} is not in [0, 1]",
            config.attack_fraction
        )));
    }
    if config.n_networks == 0 || config.n_networks > u16::MAX as usize {
        return Err(FlowsError::InvalidArgument(format!(
            "n_networks {} must be in 1..=65535",
            config.n_networks
        )));
    }
    let n = config
        .n_networks
        .checked_mul(config.rows_per_network)
        .ok_or_else(|| FlowsError::InvalidArgument("too many rows".into()))?;
    let f = NF_V2_FEATURES.len();
    let mut cols: Vec<Vec<f64>> = (0..f).map(|_| Vec::with_capacity(n)).collect();
    let mut label = Vec::with_capacity(n);
    let mut class = Vec::with_capacity(n);
    let mut domain = Vec::with_capacity(n);
    let mut row = [0.0; 41];
    for net in 0..config.n_networks {
        let mut rng = rng_for(config.seed, net as u64);
        let profile = Network::draw(&mut rng, net);
        for _ in 0..config.rows_per_network {
            let c = if rng.gen::<f64>() < config.attack_fraction {
                profile.pick_attack(&mut rng)
            } else {
                0
            };
            // Hard cases keep a detector from being perfect inside a network: benign flows that
            // look like an attack (monitoring probes, backups, mistyped passwords) and stealthy
            // attacks shaped like the network's own services. Both are drawn from the other label's
            // distribution, so they bound the in-network accuracy (≈ 0.96–0.98 macro-F1).
            let u: f64 = rng.gen();
            let benign_shaped =
                (c == 0 && u >= BENIGN_LOOKALIKE) || (c != 0 && u < STEALTHY_ATTACK);
            let flow = if benign_shaped {
                profile.benign(&mut rng)
            } else {
                let shape = if c == 0 {
                    profile.pick_attack(&mut rng)
                } else {
                    c
                };
                profile.attack(shape, &mut rng)
            };
            flow.write(&mut row, &profile, &mut rng);
            for (col, &v) in cols.iter_mut().zip(row.iter()) {
                col.push(v);
            }
            label.push(u8::from(c != 0));
            class.push(c as u16);
            domain.push(net as u16);
        }
    }
    let mut flat = Vec::with_capacity(n * f);
    for c in cols {
        flat.extend_from_slice(&c);
    }
    let features = Array2::from_shape_vec((n, f).f(), flat)
        .map_err(|e| FlowsError::InvalidArgument(e.to_string()))?;
    FlowTable::new(
        features,
        NF_V2_FEATURES
            .iter()
            .map(|&c| ColumnSpec::numeric(c))
            .collect(),
        label,
        class,
        SYNTHETIC_CLASSES.iter().map(|&s| s.to_owned()).collect(),
        domain,
        (0..config.n_networks)
            .map(|i| format!("{SYNTHETIC_DOMAIN_PREFIX}{i}"))
            .collect(),
    )
}

/// A service in the benign catalogue.
#[derive(Clone, Copy)]
struct Service {
    port: f64,
    l7: f64,
    proto: f64,
    /// Median client→server and server→client bytes.
    in_bytes: f64,
    out_bytes: f64,
    /// Median flow duration in ms.
    dur_ms: f64,
}

const CATALOGUE: [Service; 12] = [
    svc(80.0, 7.0, 6.0, 600.0, 12_000.0, 400.0),       // HTTP
    svc(443.0, 91.0, 6.0, 1_500.0, 40_000.0, 2_500.0), // TLS
    svc(53.0, 5.0, 17.0, 70.0, 180.0, 20.0),           // DNS
    svc(22.0, 92.0, 6.0, 4_000.0, 6_000.0, 60_000.0),  // SSH
    svc(25.0, 3.0, 6.0, 9_000.0, 900.0, 1_500.0),      // SMTP
    svc(123.0, 9.0, 17.0, 90.0, 90.0, 5.0),            // NTP
    svc(1883.0, 222.0, 6.0, 300.0, 120.0, 30_000.0),   // MQTT
    svc(445.0, 41.0, 6.0, 20_000.0, 60_000.0, 8_000.0), // SMB
    svc(3389.0, 88.0, 6.0, 30_000.0, 200_000.0, 300_000.0), // RDP
    svc(502.0, 148.0, 6.0, 120.0, 110.0, 50.0),        // Modbus
    svc(3306.0, 20.0, 6.0, 800.0, 5_000.0, 150.0),     // MySQL
    svc(514.0, 161.0, 17.0, 400.0, 0.0, 2.0),          // syslog
];

const fn svc(port: f64, l7: f64, proto: f64, i: f64, o: f64, d: f64) -> Service {
    Service {
        port,
        l7,
        proto,
        in_bytes: i,
        out_bytes: o,
        dur_ms: d,
    }
}

/// One simulated network: benign profile and its appearance of the attack archetypes.
struct Network {
    services: Vec<(Service, f64)>,
    ttl: f64,
    win: f64,
    size_scale: f64,
    time_scale: f64,
    /// Cumulative weights of the five archetypes (0 for absent ones).
    attack_cdf: [f64; 5],
    attacker_ttl: f64,
    attack_scale: f64,
    scan_flags: f64,
    scan_proto: f64,
    flood_proto: f64,
    flood_rate: f64,
    brute: Service,
    exfil: Service,
    web_port: f64,
}

impl Network {
    fn draw(rng: &mut ChaCha8Rng, index: usize) -> Network {
        // Benign services: 4–7 of the catalogue, weights skewed so each network has its own mix.
        let k = rng.gen_range(4..=7usize);
        let mut idx: Vec<usize> = (0..CATALOGUE.len()).collect();
        for i in 0..k {
            let j = rng.gen_range(i as u64..idx.len() as u64) as usize;
            idx.swap(i, j);
        }
        let services = idx[..k]
            .iter()
            .map(|&i| {
                let mut s = CATALOGUE[i];
                // Per-network service behaviour: sizes and durations vary by a factor of ~2.
                s.in_bytes *= lognormal(rng, 1.0, 0.5);
                s.out_bytes *= lognormal(rng, 1.0, 0.5);
                s.dur_ms *= lognormal(rng, 1.0, 0.5);
                (s, rng.gen::<f64>().powi(2) + 0.05)
            })
            .collect();
        let os = [(64.0, 29_200.0), (128.0, 64_240.0), (255.0, 65_535.0)];
        let (ttl0, win) = os[(index + rng.gen_range(0..3usize)) % 3];
        let mut weights = [0.0; 5];
        // Every network sees at least three archetypes, each with its own weight.
        let mut order = [0usize, 1, 2, 3, 4];
        for i in 0..5 {
            let j = rng.gen_range(i as u64..5) as usize;
            order.swap(i, j);
        }
        let present = rng.gen_range(3..=5usize);
        for &a in &order[..present] {
            weights[a] = rng.gen::<f64>() + 0.2;
        }
        let total: f64 = weights.iter().sum();
        let mut cdf = [0.0; 5];
        let mut acc = 0.0;
        for (c, w) in cdf.iter_mut().zip(weights) {
            acc += w / total;
            *c = acc;
        }
        let brute_choices = [
            CATALOGUE[3],
            svc(21.0, 1.0, 6.0, 300.0, 500.0, 3_000.0),
            CATALOGUE[8],
        ];
        let exfil_choices = [
            CATALOGUE[1],
            CATALOGUE[2],
            svc(21.0, 1.0, 6.0, 0.0, 0.0, 0.0),
        ];
        Network {
            services,
            ttl: ttl0 - rng.gen_range(0..8u32) as f64,
            win,
            size_scale: lognormal(rng, 1.0, 0.6),
            time_scale: lognormal(rng, 1.0, 0.8),
            attack_cdf: cdf,
            attacker_ttl: [64.0, 128.0, 255.0][rng.gen_range(0..3usize)]
                - rng.gen_range(0..20u32) as f64,
            attack_scale: lognormal(rng, 1.0, 0.7),
            scan_flags: [2.0, 1.0, 0.0, 41.0][rng.gen_range(0..4usize)], // SYN, FIN, NULL, XMAS
            scan_proto: if rng.gen::<f64>() < 0.25 { 17.0 } else { 6.0 },
            flood_proto: [6.0, 17.0, 6.0][rng.gen_range(0..3usize)],
            flood_rate: lognormal(rng, 1.0, 1.0),
            brute: brute_choices[rng.gen_range(0..3usize)],
            exfil: exfil_choices[rng.gen_range(0..3usize)],
            web_port: [80.0, 8080.0, 443.0][rng.gen_range(0..3usize)],
        }
    }

    fn pick_attack(&self, rng: &mut ChaCha8Rng) -> usize {
        let u: f64 = rng.gen();
        1 + self.attack_cdf.iter().position(|&c| u < c).unwrap_or(4)
    }

    fn benign(&self, rng: &mut ChaCha8Rng) -> Flow {
        let total: f64 = self.services.iter().map(|s| s.1).sum();
        let mut u = rng.gen::<f64>() * total;
        let mut s = self.services[0].0;
        for &(svc, w) in &self.services {
            if u < w {
                s = svc;
                break;
            }
            u -= w;
        }
        let in_b = (s.in_bytes * self.size_scale * lognormal(rng, 1.0, 0.8)).max(40.0);
        let out_b = (s.out_bytes * self.size_scale * lognormal(rng, 1.0, 0.9)).max(0.0);
        let tcp = s.proto == 6.0;
        Flow {
            proto: s.proto,
            dst_port: s.port,
            l7: s.l7,
            in_bytes: in_b,
            out_bytes: out_b,
            in_mtu: if tcp { 1460.0 } else { 512.0 },
            out_mtu: if tcp { 1460.0 } else { 512.0 },
            dur_ms: s.dur_ms * self.time_scale * lognormal(rng, 1.0, 1.0),
            client_flags: if tcp { 27.0 } else { 0.0 },
            server_flags: if tcp { 27.0 } else { 0.0 },
            ttl: self.ttl,
            win: if tcp { self.win } else { 0.0 },
            retrans: if tcp && rng.gen::<f64>() < 0.05 {
                1.0
            } else {
                0.0
            },
            icmp: 0.0,
            ftp_code: if s.port == 21.0 { 226.0 } else { 0.0 },
        }
    }

    fn attack(&self, class: usize, rng: &mut ChaCha8Rng) -> Flow {
        let a = self.attack_scale;
        let base = Flow {
            proto: 6.0,
            dst_port: 0.0,
            l7: 0.0,
            in_bytes: 0.0,
            out_bytes: 0.0,
            in_mtu: 1460.0,
            out_mtu: 1460.0,
            dur_ms: 0.0,
            client_flags: 0.0,
            server_flags: 0.0,
            ttl: self.attacker_ttl,
            win: 1024.0,
            retrans: 0.0,
            icmp: 0.0,
            ftp_code: 0.0,
        };
        match class {
            // Scan: tiny probes to random ports; the network decides the scan type.
            1 => {
                let ping = self.scan_proto == 6.0 && rng.gen::<f64>() < 0.1;
                Flow {
                    proto: if ping { 1.0 } else { self.scan_proto },
                    dst_port: if ping {
                        0.0
                    } else {
                        rng.gen_range(1..65_536u32) as f64
                    },
                    in_bytes: (40.0 + 20.0 * rng.gen_range(0..3u32) as f64) * a.sqrt(),
                    out_bytes: if rng.gen::<f64>() < 0.3 { 40.0 } else { 0.0 },
                    dur_ms: if rng.gen::<f64>() < 0.8 {
                        0.0
                    } else {
                        lognormal(rng, 3.0, 1.0)
                    },
                    client_flags: if self.scan_proto == 6.0 {
                        self.scan_flags
                    } else {
                        0.0
                    },
                    server_flags: if rng.gen::<f64>() < 0.5 { 20.0 } else { 0.0 },
                    icmp: if ping { 2048.0 } else { 0.0 },
                    win: if self.scan_proto == 6.0 { 1024.0 } else { 0.0 },
                    ..base
                }
            }
            // DoS / flood: many packets, high rate, little or no answer.
            2 => {
                let pkts = lognormal(rng, 200.0 * self.flood_rate, 1.0).max(2.0);
                let size = if self.flood_proto == 17.0 {
                    512.0
                } else {
                    60.0
                };
                Flow {
                    proto: self.flood_proto,
                    dst_port: if self.flood_proto == 17.0 {
                        rng.gen_range(1..65_536u32) as f64
                    } else {
                        self.web_port
                    },
                    l7: if self.flood_proto == 17.0 { 0.0 } else { 7.0 },
                    in_bytes: pkts * size,
                    in_mtu: size,
                    out_bytes: if rng.gen::<f64>() < 0.2 {
                        pkts * 20.0
                    } else {
                        0.0
                    },
                    dur_ms: lognormal(rng, 2_000.0 / self.flood_rate, 1.0),
                    client_flags: if self.flood_proto == 6.0 { 2.0 } else { 0.0 },
                    server_flags: if self.flood_proto == 6.0 { 18.0 } else { 0.0 },
                    win: if self.flood_proto == 6.0 { 512.0 } else { 0.0 },
                    retrans: lognormal(rng, 3.0, 1.0).floor(),
                    ..base
                }
            }
            // Brute force: short, repetitive login attempts to one service.
            3 => Flow {
                dst_port: self.brute.port,
                l7: self.brute.l7,
                in_bytes: lognormal(rng, 1_200.0 * a, 0.3),
                out_bytes: lognormal(rng, 1_800.0 * a, 0.3),
                dur_ms: lognormal(rng, 2_500.0, 0.4),
                client_flags: 27.0,
                server_flags: 27.0,
                win: self.win,
                ftp_code: if self.brute.port == 21.0 { 530.0 } else { 0.0 },
                ..base
            },
            // Exfiltration: long flows with a large upload over an innocuous channel.
            4 => {
                let dns = self.exfil.port == 53.0;
                Flow {
                    proto: if dns { 17.0 } else { 6.0 },
                    dst_port: self.exfil.port,
                    l7: self.exfil.l7,
                    in_bytes: lognormal(rng, if dns { 4_000.0 } else { 2_000_000.0 } * a, 1.0),
                    out_bytes: lognormal(rng, if dns { 3_000.0 } else { 20_000.0 }, 0.8),
                    in_mtu: if dns { 250.0 } else { 1460.0 },
                    out_mtu: if dns { 250.0 } else { 1460.0 },
                    dur_ms: lognormal(rng, 120_000.0, 1.0),
                    client_flags: if dns { 0.0 } else { 27.0 },
                    server_flags: if dns { 0.0 } else { 27.0 },
                    ttl: self.ttl,
                    win: if dns { 0.0 } else { self.win },
                    ftp_code: if self.exfil.port == 21.0 { 226.0 } else { 0.0 },
                    ..base
                }
            }
            // Web attacks: oversized requests (injection, XSS payloads), error-page answers.
            _ => Flow {
                dst_port: self.web_port,
                l7: if self.web_port == 443.0 { 91.0 } else { 7.0 },
                in_bytes: lognormal(rng, 3_000.0 * a, 0.6),
                out_bytes: lognormal(rng, 800.0, 0.5),
                dur_ms: lognormal(rng, 300.0, 0.7),
                client_flags: 27.0,
                server_flags: 25.0,
                win: self.win,
                ..base
            },
        }
    }
}

/// The base quantities of one flow, from which the 41 features are derived.
struct Flow {
    proto: f64,
    dst_port: f64,
    l7: f64,
    in_bytes: f64,
    out_bytes: f64,
    in_mtu: f64,
    out_mtu: f64,
    dur_ms: f64,
    client_flags: f64,
    server_flags: f64,
    ttl: f64,
    win: f64,
    retrans: f64,
    icmp: f64,
    ftp_code: f64,
}

impl Flow {
    /// Writes the 41 NF-v2 features in [`NF_V2_FEATURES`] order.
    fn write(&self, out: &mut [f64; 41], net: &Network, rng: &mut ChaCha8Rng) {
        let in_bytes = self.in_bytes.round().max(0.0);
        let out_bytes = self.out_bytes.round().max(0.0);
        let header = if self.proto == 17.0 { 28.0 } else { 40.0 };
        let in_pkts = (in_bytes / (self.in_mtu + header)).ceil().max(1.0);
        let out_pkts = if out_bytes > 0.0 {
            (out_bytes / (self.out_mtu + header)).ceil().max(1.0)
        } else {
            0.0
        };
        let dur = self.dur_ms.round().max(0.0);
        let secs = (dur / 1000.0).max(1.0);
        let longest = (in_bytes / in_pkts)
            .max(if out_pkts > 0.0 {
                out_bytes / out_pkts
            } else {
                0.0
            })
            .round()
            .clamp(header, 1514.0);
        let shortest = header.min(longest);
        let avg = (in_bytes + out_bytes) / (in_pkts + out_pkts);
        let total = in_pkts + out_pkts;
        // Packet-size histogram: most packets near the average size, the rest small (ACKs).
        let mut hist = [0.0; 5];
        let bucket = match avg {
            a if a <= 128.0 => 0,
            a if a <= 256.0 => 1,
            a if a <= 512.0 => 2,
            a if a <= 1024.0 => 3,
            _ => 4,
        };
        let main = (total * 0.7).round();
        hist[bucket] += main;
        hist[0] += total - main;
        let dns = self.dst_port == 53.0;
        let src_port = if net.ttl > 200.0 {
            rng.gen_range(1024..5000u32) as f64
        } else {
            rng.gen_range(32_768..61_000u32) as f64
        };
        let values = [
            src_port,
            self.dst_port,
            self.proto,
            self.l7,
            in_bytes,
            in_pkts,
            out_bytes,
            out_pkts,
            (self.client_flags as u32 | self.server_flags as u32) as f64,
            self.client_flags,
            self.server_flags,
            dur,
            (dur * 0.9).round(),
            (dur * 0.8).round(),
            self.ttl,
            self.ttl + if rng.gen::<f64>() < 0.1 { 1.0 } else { 0.0 },
            longest,
            shortest,
            shortest,
            longest,
            (in_bytes / secs).round(),
            (out_bytes / secs).round(),
            self.retrans * 60.0,
            self.retrans,
            0.0,
            0.0,
            (in_bytes * 8.0 / secs).round(),
            (out_bytes * 8.0 / secs).round(),
            hist[0],
            hist[1],
            hist[2],
            hist[3],
            hist[4],
            self.win,
            if out_pkts > 0.0 { self.win } else { 0.0 },
            self.icmp,
            (self.icmp / 256.0).floor(),
            if dns {
                rng.gen_range(0..65_536u32) as f64
            } else {
                0.0
            },
            if dns {
                [1.0, 28.0, 16.0][rng.gen_range(0..3usize)]
            } else {
                0.0
            },
            if dns {
                rng.gen_range(0..86_400u32) as f64
            } else {
                0.0
            },
            self.ftp_code,
        ];
        *out = values;
    }
}

/// `median × exp(sigma × z)`, z standard normal (Box–Muller; rand_distr is not a dependency).
fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

/// The forest benchmarks' data (criterion benches, the comparison with other forests, the probes): a learnable
/// but noisy binary target over 40 features of mixed kinds (uniform, small integers, heavy-tailed, signed), with
/// thresholds, an interaction, a log term and 5 % label noise, so no forest reaches 100 % and splits on every kind
/// of feature matter. Not flows: plain rows and 0/1 targets.
pub fn benchmark_rows(n: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    use rand::SeedableRng;
    let f = 40;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::<f64>::zeros((n, f));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..f {
            x[[i, j]] = match j % 4 {
                0 => rng.gen::<f64>() * 10.0,
                1 => (rng.gen::<f64>() * 8.0).floor(),
                2 => (-rng.gen::<f64>().ln()) * 1000.0,
                _ => rng.gen::<f64>() * 2.0 - 1.0,
            };
        }
        let s = (x[[i, 0]] - 5.0) * 0.6
            + if x[[i, 1]] >= 4.0 { 1.5 } else { -1.0 }
            + (x[[i, 2]] / 1000.0).ln() * 0.5
            + x[[i, 3]] * x[[i, 7]] * 3.0
            + if x[[i, 4]] > 7.0 && x[[i, 5]] < 2.0 {
                2.0
            } else {
                0.0
            }
            + (x[[i, 8]] - 5.0).abs() * 0.4
            - 1.0;
        let p = 1.0 / (1.0 + (-s).exp());
        let mut label = u32::from(rng.gen::<f64>() < p);
        if rng.gen::<f64>() < 0.05 {
            label = 1 - label;
        }
        y.push(label);
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_seed() {
        let c = SyntheticConfig {
            n_networks: 3,
            rows_per_network: 2_000,
            attack_fraction: 0.3,
            seed: 11,
        };
        let a = generate(&c).unwrap();
        let b = generate(&c).unwrap();
        assert_eq!(a, b);
        let other = generate(&SyntheticConfig {
            seed: 12,
            ..c.clone()
        })
        .unwrap();
        assert_ne!(a.features(), other.features());
        // Networks are independent streams: more networks leave the first ones unchanged.
        let more = generate(&SyntheticConfig {
            n_networks: 4,
            ..c.clone()
        })
        .unwrap();
        let first: Vec<usize> = (0..6_000).collect();
        let head = more.select_rows(&first);
        assert_eq!(head.features(), a.features());
        assert_eq!(head.class_codes(), a.class_codes());
        // Same result when generated on another thread.
        let c2 = c.clone();
        let t = std::thread::spawn(move || generate(&c2).unwrap())
            .join()
            .unwrap();
        assert_eq!(a, t);
    }

    #[test]
    fn shape_names_and_labels() {
        let c = SyntheticConfig::default();
        let t = generate(&c).unwrap();
        assert_eq!(t.n_rows(), 20_000);
        assert_eq!(t.feature_names(), NF_V2_FEATURES.to_vec());
        assert!(t
            .domain_names()
            .iter()
            .all(|d| d.starts_with("synthetic-net-")));
        assert_eq!(t.domain_counts(), vec![5_000; 4]);
        let [benign, attack] = t.label_counts();
        let frac = attack as f64 / (benign + attack) as f64;
        assert!((frac - 0.3).abs() < 0.02, "attack fraction {frac}");
        assert!(t.features().iter().all(|v| v.is_finite() && *v >= 0.0));
        for (r, &l) in t.labels().iter().enumerate() {
            assert_eq!(l == 0, t.class_codes()[r] == 0);
        }
        // Each network shows at least three attack archetypes.
        for d in 0..4u16 {
            let mut seen = [false; 6];
            for (r, &dc) in t.domain_codes().iter().enumerate() {
                if dc == d {
                    seen[t.class_codes()[r] as usize] = true;
                }
            }
            assert!(seen[1..].iter().filter(|&&s| s).count() >= 3);
        }
        assert!(generate(&SyntheticConfig {
            attack_fraction: 1.5,
            ..c
        })
        .is_err());
    }

    #[test]
    fn networks_differ() {
        let t = generate(&SyntheticConfig::default()).unwrap();
        // Benign median in-bytes differs between networks (own profiles).
        let j = t.column_index("IN_BYTES").unwrap();
        let med = |d: u16| {
            let mut v: Vec<f64> = (0..t.n_rows())
                .filter(|&r| t.domain_codes()[r] == d && t.labels()[r] == 0)
                .map(|r| t.features()[[r, j]])
                .collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let meds: Vec<f64> = (0..4).map(med).collect();
        let (lo, hi) = meds
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &m| (l.min(m), h.max(m)));
        assert!(hi / lo > 1.5, "benign medians too similar: {meds:?}");
    }
}
