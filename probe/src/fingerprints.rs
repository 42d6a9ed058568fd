//! Blocking fingerprints in the OONI blocking-fingerprints CSV format
//! (`name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,…`):
//! DNS answers (`location_found = dns`) and blockpages (`body`, `header.<name>`), with `full`, `prefix`,
//! `contains` and `regexp` patterns. Fingerprints of scope `fp` describe known *non*-censorship pages and never
//! make a verdict.
//!
//! A small built-in set (written for Vigil from public knowledge) is always loaded; `[lists] fingerprints_dir`
//! adds the full published set. Body matching is one pass: every `contains` pattern goes into one Aho-Corasick
//! automaton, every `regexp` into one `RegexSet`.

use std::path::Path;

use aho_corasick::AhoCorasick;
use regex::bytes::RegexSet;

/// Where a fingerprint looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An address in a DNS answer.
    Dns,
    /// The HTTP response body.
    Body,
    /// One HTTP response header (lower-case name).
    Header(String),
}

/// How a fingerprint's pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    /// The whole value.
    Full,
    /// The start of the value.
    Prefix,
    /// Anywhere in the value.
    Contains,
    /// A regular expression anywhere in the value.
    Regexp,
}

/// One fingerprint.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    /// Its published name (`ooni.ir_0`); the probe reports this.
    pub name: String,
    /// Who blocks: `nat`, `isp`, `prod`, … ; `fp` marks a known false positive.
    pub scope: String,
    /// Where it looks.
    pub location: Location,
    /// How it matches.
    pub pattern_type: PatternType,
    /// The pattern text.
    pub pattern: String,
}

impl Fingerprint {
    /// Whether a match means blocking (everything but scope `fp`).
    pub fn indicates_blocking(&self) -> bool {
        self.scope != "fp"
    }
}

/// A fingerprint file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a fingerprints CSV.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Fingerprints loaded from files.
    pub loaded: usize,
    /// Rows skipped, with their line and reason.
    pub skipped: Vec<(u64, String)>,
}

/// The DNS and HTTP fingerprints, compiled for matching.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    dns: Vec<Fingerprint>,
    http: Vec<Fingerprint>,
    body_contains: Option<AhoCorasick>,
    body_contains_index: Vec<usize>,
    body_regexps: Option<RegexSet>,
    body_regexps_index: Vec<usize>,
}

/// Built-in fingerprints: well-documented state blocking, written for Vigil.
const BUILTIN: &[(&str, &str, &str, &str, &str)] = &[
    // Iran's national filter answers blocked names with addresses in 10.10.34.0/24 and serves its
    // notice page from there (documented by OONI and Citizen Lab since 2013).
    ("vigil.ir_dns_34", "nat", "dns", "full", "10.10.34.34"),
    ("vigil.ir_dns_35", "nat", "dns", "full", "10.10.34.35"),
    ("vigil.ir_dns_36", "nat", "dns", "full", "10.10.34.36"),
    (
        "vigil.ir_iframe",
        "nat",
        "body",
        "contains",
        "<iframe src=\"http://10.10.34.3",
    ),
    ("vigil.ir_peyvandha", "nat", "body", "contains", "peyvandha.ir"),
    // Turkey's BTK notice and Russia's registry notice are published widely.
    (
        "vigil.tr_btk",
        "nat",
        "body",
        "contains",
        "Bilgi Teknolojileri ve İletişim Kurumu",
    ),
    ("vigil.ru_eais", "nat", "body", "contains", "eais.rkn.gov.ru"),
];

impl Default for Fingerprints {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Fingerprints {
    /// Only the built-in set.
    pub fn builtin() -> Self {
        let all = BUILTIN
            .iter()
            .filter_map(|(name, scope, location, kind, pattern)| {
                row_to_fingerprint(name, scope, location, kind, pattern).ok()
            })
            .collect();
        Self::compile(all)
    }

    /// The built-in set plus `fingerprints_dns.csv` and `fingerprints_http.csv` from `dir` (either may be absent).
    pub fn load_dir(dir: &Path) -> Result<(Self, LoadReport), FingerprintError> {
        let mut all: Vec<Fingerprint> = Self::builtin().all().cloned().collect();
        let mut report = LoadReport::default();
        for file in ["fingerprints_dns.csv", "fingerprints_http.csv"] {
            let path = dir.join(file);
            if path.is_file() {
                let (found, skipped) = read_csv(&path)?;
                report.loaded += found.len();
                report.skipped.extend(skipped);
                all.extend(found);
            }
        }
        Ok((Self::compile(all), report))
    }

    fn compile(all: Vec<Fingerprint>) -> Self {
        let (dns, http): (Vec<_>, Vec<_>) = all.into_iter().partition(|f| f.location == Location::Dns);
        let mut contains = Vec::new();
        let mut contains_index = Vec::new();
        let mut regexps = Vec::new();
        let mut regexps_index = Vec::new();
        for (i, f) in http.iter().enumerate() {
            if f.location != Location::Body {
                continue;
            }
            match f.pattern_type {
                PatternType::Contains => {
                    contains.push(f.pattern.as_bytes());
                    contains_index.push(i);
                }
                PatternType::Regexp => {
                    regexps.push(f.pattern.clone());
                    regexps_index.push(i);
                }
                PatternType::Full | PatternType::Prefix => {}
            }
        }
        Fingerprints {
            body_contains: AhoCorasick::new(&contains).ok(),
            body_contains_index: contains_index,
            body_regexps: RegexSet::new(&regexps).ok(),
            body_regexps_index: regexps_index,
            dns,
            http,
        }
    }

    /// Every fingerprint.
    pub fn all(&self) -> impl Iterator<Item = &Fingerprint> {
        self.dns.iter().chain(&self.http)
    }

    /// The blocking fingerprint a DNS answer (an address in text form) matches.
    pub fn match_dns(&self, answer: &str) -> Option<&Fingerprint> {
        self.dns
            .iter()
            .find(|f| f.indicates_blocking() && matches_text(f, answer.as_bytes()))
    }

    /// The blocking fingerprint an HTTP response matches: headers first, then the body (one pass). Matches of
    /// scope `fp` are ignored.
    pub fn match_http<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Option<&Fingerprint> {
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let hit = self.http.iter().find(|f| {
                f.indicates_blocking()
                    && matches!(&f.location, Location::Header(h) if *h == name)
                    && matches_text(f, value.as_bytes())
            });
            if hit.is_some() {
                return hit;
            }
        }
        let mut best: Option<usize> = None;
        let mut consider = |i: usize| {
            if self.http[i].indicates_blocking() && best.is_none_or(|b| i < b) {
                best = Some(i);
            }
        };
        if let Some(ac) = &self.body_contains {
            for m in ac.find_overlapping_iter(body) {
                consider(self.body_contains_index[m.pattern().as_usize()]);
            }
        }
        if let Some(set) = &self.body_regexps {
            for m in set.matches(body).iter() {
                consider(self.body_regexps_index[m]);
            }
        }
        for (i, f) in self.http.iter().enumerate() {
            if f.location == Location::Body
                && matches!(f.pattern_type, PatternType::Full | PatternType::Prefix)
                && matches_text(f, body)
            {
                consider(i);
            }
        }
        best.map(|i| &self.http[i])
    }
}

fn matches_text(f: &Fingerprint, value: &[u8]) -> bool {
    let pattern = f.pattern.as_bytes();
    match f.pattern_type {
        PatternType::Full => value == pattern,
        PatternType::Prefix => value.starts_with(pattern),
        PatternType::Contains => value.windows(pattern.len().max(1)).any(|w| w == pattern),
        PatternType::Regexp => regex::bytes::Regex::new(&f.pattern).is_ok_and(|r| r.is_match(value)),
    }
}

fn row_to_fingerprint(
    name: &str,
    scope: &str,
    location: &str,
    kind: &str,
    pattern: &str,
) -> Result<Fingerprint, String> {
    let location = match location.trim() {
        "dns" => Location::Dns,
        "body" => Location::Body,
        other => match other.strip_prefix("header.") {
            Some(h) if !h.is_empty() => Location::Header(h.to_ascii_lowercase()),
            _ => return Err(format!("unknown location_found `{other}`")),
        },
    };
    let pattern_type = match kind.trim() {
        "full" => PatternType::Full,
        "prefix" => PatternType::Prefix,
        "contains" => PatternType::Contains,
        "regexp" => {
            regex::bytes::Regex::new(pattern).map_err(|e| format!("regexp does not compile: {e}"))?;
            PatternType::Regexp
        }
        other => return Err(format!("unknown pattern_type `{other}`")),
    };
    if pattern.is_empty() || name.trim().is_empty() {
        return Err("empty name or pattern".to_owned());
    }
    Ok(Fingerprint {
        name: name.trim().to_owned(),
        scope: scope.trim().to_owned(),
        location,
        pattern_type,
        pattern: pattern.to_owned(),
    })
}

type Rows = (Vec<Fingerprint>, Vec<(u64, String)>);

fn read_csv(path: &Path) -> Result<Rows, FingerprintError> {
    let bytes = std::fs::read(path).map_err(|source| FingerprintError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
    let headers = reader.byte_headers().map_err(|e| FingerprintError::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or_else(|| FingerprintError::Format {
                path: path.display().to_string(),
                reason: format!("no `{name}` column: not an OONI blocking-fingerprints file"),
            })
    };
    let cols = [
        column("name")?,
        column("scope")?,
        column("location_found")?,
        column("pattern_type")?,
        column("pattern")?,
    ];
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for record in reader.byte_records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                skipped.push((e.position().map_or(0, |p| p.line()), e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| String::from_utf8_lossy(record.get(cols[i]).unwrap_or_default()).into_owned();
        match row_to_fingerprint(&field(0), &field(1), &field(2), &field(3), &field(4)) {
            Ok(f) => found.push(f),
            Err(reason) => skipped.push((line, reason)),
        }
    }
    Ok((found, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_knows_irans_injected_address_and_iframe() {
        let f = Fingerprints::builtin();
        assert_eq!(
            f.match_dns("10.10.34.35").map(|f| f.name.as_str()),
            Some("vigil.ir_dns_35")
        );
        assert!(f.match_dns("93.184.216.34").is_none());
        let page = br#"<html><head></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy"></iframe></body></html>"#;
        assert_eq!(f.match_http([], page).map(|f| f.name.as_str()), Some("vigil.ir_iframe"));
        assert!(f.match_http([("server", "nginx")], b"<html>hello</html>").is_none());
    }
}
