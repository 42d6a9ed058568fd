//! Random countries: ISPs of each access type, regions, ISPs present in one region or several, and probes placed
//! in them — some on a UPS, some on lossy links, some that flap. Everything is drawn from the scenario's seeded
//! generator, so a seed names one country forever.

use crate::model::AccessType;

/// One ISP of a country.
#[derive(Debug, Clone, PartialEq)]
pub struct Isp {
    /// Its autonomous system.
    pub asn: u32,
    /// How its customers reach it.
    pub access: AccessType,
    /// The regions (indices into [`Country::regions`]) it serves.
    pub regions: Vec<usize>,
    /// Registered in another country: a satellite operator whose ground stations are abroad (issue 24), so its
    /// customers' paths run past the border, not through it. Added apart from the country (`scenario::plan`).
    pub abroad: bool,
}

/// One probe of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// Its pseudonymous id.
    pub probe_id: String,
    /// Its ISP (index into [`Country::isps`]).
    pub isp: usize,
    /// Its region (index into [`Country::regions`]).
    pub region: usize,
    /// Runs on a UPS.
    pub ups: bool,
    /// On a lossy link: a check fails now and then for no reason beyond the link.
    pub lossy: bool,
    /// Flaps: goes silent for a bucket or a few, now and then.
    pub flappy: bool,
    /// Has a satellite dish beside its line (issue 24): its checks and vitals are taken through both, the dish's
    /// labelled so. Drawn apart from the country (`scenario::plan`), so a seed's countries stay as they were.
    pub dish: bool,
}

/// A country of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Country {
    /// Its code (user-assigned ISO codes, `XA`…`XZ`: never a real country).
    pub code: String,
    /// Its regions' names.
    pub regions: Vec<String>,
    /// Its ISPs.
    pub isps: Vec<Isp>,
    /// Its probes.
    pub probes: Vec<ProbeSpec>,
}

impl Country {
    /// The ISP a probe is on.
    pub fn isp_of(&self, probe: &ProbeSpec) -> &Isp {
        &self.isps[probe.isp]
    }

    /// Probes matching `keep`, by index.
    pub fn probes_where(&self, keep: impl Fn(&ProbeSpec) -> bool) -> Vec<usize> {
        (0..self.probes.len()).filter(|&i| keep(&self.probes[i])).collect()
    }
}

/// The shape of a country to draw.
#[derive(Debug, Clone, Copy)]
pub struct CountryShape {
    /// Most ISPs.
    pub max_isps: usize,
    /// Most regions.
    pub max_regions: usize,
    /// Fewest and most probes.
    pub probes: (usize, usize),
}

/// A home country: 1–8 ISPs, 1–6 regions, 2–400 probes (issue 23's ranges).
pub const HOME: CountryShape = CountryShape {
    max_isps: 8,
    max_regions: 6,
    probes: (2, 400),
};

/// A neighbour: smaller, for events that cross a border.
pub const NEIGHBOUR: CountryShape = CountryShape {
    max_isps: 3,
    max_regions: 2,
    probes: (3, 30),
};

/// Draws a country named `code` whose ASNs start at `first_asn`.
pub fn draw_country(rng: &mut fastrand::Rng, code: &str, first_asn: u32, shape: CountryShape) -> Country {
    let regions: Vec<String> = (0..rng.usize(1..=shape.max_regions))
        .map(|r| format!("{code}-region-{r}"))
        .collect();
    let isps: Vec<Isp> = (0..rng.usize(1..=shape.max_isps))
        .map(|i| {
            // Most ISPs are fixed-line; a third mobile; a few satellite.
            let access = match rng.u8(0..10) {
                0..=5 => AccessType::Fixed,
                6..=8 => AccessType::Mobile,
                _ => AccessType::Satellite,
            };
            // Four in ten serve one region only (a regional ISP); the rest a random set of regions.
            let regions = if rng.u8(0..10) < 4 || regions.len() == 1 {
                vec![rng.usize(0..regions.len())]
            } else {
                let mut chosen: Vec<usize> = (0..regions.len()).filter(|_| rng.bool()).collect();
                if chosen.is_empty() {
                    chosen.push(rng.usize(0..regions.len()));
                }
                chosen
            };
            Isp {
                asn: first_asn + i as u32,
                access,
                regions,
                abroad: false,
            }
        })
        .collect();
    // Probe counts spread over two orders of magnitude (log-uniform), as deployments are.
    let (low, high) = (shape.probes.0.max(1) as f64, shape.probes.1.max(1) as f64);
    let count = (low * (high / low).powf(rng.f64())).round() as usize;
    // ISPs get probes in proportion to random weights (a big incumbent, small ones).
    let weights: Vec<f64> = isps.iter().map(|_| 0.2 + rng.f64()).collect();
    let total: f64 = weights.iter().sum();
    let probes = (0..count.max(shape.probes.0))
        .map(|n| {
            let mut pick = rng.f64() * total;
            let isp = weights
                .iter()
                .position(|w| {
                    pick -= w;
                    pick <= 0.0
                })
                .unwrap_or(isps.len() - 1);
            let served = &isps[isp].regions;
            ProbeSpec {
                probe_id: format!("{}-p{n:03}", code.to_ascii_lowercase()),
                isp,
                region: served[rng.usize(0..served.len())],
                ups: rng.u8(0..100) < 15,
                lossy: rng.u8(0..100) < 10,
                flappy: rng.u8(0..100) < 5,
                dish: false,
            }
        })
        .collect();
    Country {
        code: code.to_owned(),
        regions,
        isps,
        probes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_country_and_every_probe_sits_where_its_isp_serves() {
        let a = draw_country(&mut fastrand::Rng::with_seed(7), "XA", 64_500, HOME);
        let b = draw_country(&mut fastrand::Rng::with_seed(7), "XA", 64_500, HOME);
        assert_eq!(a, b);
        for seed in 0..200 {
            let c = draw_country(&mut fastrand::Rng::with_seed(seed), "XA", 64_500, HOME);
            assert!((1..=8).contains(&c.isps.len()) && (1..=6).contains(&c.regions.len()));
            assert!((2..=400).contains(&c.probes.len()), "{}", c.probes.len());
            for p in &c.probes {
                assert!(c.isp_of(p).regions.contains(&p.region));
            }
        }
    }
}
