//! The network an upload arrived from: an IP-to-ASN table in the widely used iptoasn format (`ip2asn-v4.tsv`,
//! `ip2asn-v6.tsv`, `ip2asn-combined.tsv`, plain or gzip), read once and looked up per upload. The address is only
//! ever the lookup's key; what is kept is the network: its ASN and the country it is registered in.
//!
//! Each line: `range_start  range_end  AS_number  country_code  AS_description`, tab-separated, ranges inclusive.
//! AS 0 marks space that is not routed: no network. A country code that is not two letters (`None`), or `ZZ`
//! (unknown), places the network nowhere.

use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Why a table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsnTableError {
    /// The file could not be opened or read.
    #[error("reading {path}: {source}")]
    Io {
        /// The table's path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not a range and an AS number.
    #[error("{path} line {line}: {reason}")]
    Line {
        /// The table's path.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Two ranges share addresses.
    #[error("{path}: the range starting at {second} overlaps the one before it (from {first})")]
    Overlap {
        /// The table's path.
        path: PathBuf,
        /// Where the earlier range starts.
        first: IpAddr,
        /// Where the overlapping one starts.
        second: IpAddr,
    },
}

/// The network that announces an address, as the table registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// Its AS number (never 0).
    pub asn: u32,
    /// The ISO 3166 code of the country it is registered in, upper case, when the table places it.
    country: Option<[u8; 2]>,
}

impl Network {
    /// The country it is registered in (ISO 3166, upper case), when the table places it: a satellite operator
    /// registered abroad carries its customers' paths past the border (issue 24).
    pub fn country(&self) -> Option<&str> {
        self.country.as_ref().and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// A table's country code as a network's: two ASCII letters, upper-cased, other than `ZZ`.
fn country_code(text: &str) -> Option<[u8; 2]> {
    let code: [u8; 2] = text.trim().as_bytes().try_into().ok()?;
    let code = code.map(|b| b.to_ascii_uppercase());
    (code.iter().all(u8::is_ascii_uppercase) && &code != b"ZZ").then_some(code)
}

/// Address ranges of one family with the network that announces each, sorted and disjoint.
#[derive(Debug, Default, Clone)]
struct Ranges {
    /// (first, last, network), by first address; AS 0 for space that is not routed.
    ranges: Vec<(u128, u128, Network)>,
}

impl Ranges {
    fn lookup(&self, address: u128) -> Option<Network> {
        let after = self.ranges.partition_point(|&(first, _, _)| first <= address);
        let &(_, last, network) = self.ranges.get(after.checked_sub(1)?)?;
        (address <= last && network.asn != 0).then_some(network)
    }
}

/// An IP-to-ASN table.
#[derive(Debug, Default, Clone)]
pub struct AsnTable {
    v4: Ranges,
    v6: Ranges,
}

impl AsnTable {
    /// Reads the table at `path` (gzip when it starts with gzip's magic bytes).
    pub fn load(path: &Path) -> Result<Self, AsnTableError> {
        let io = |source| AsnTableError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
        let gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Self::read(BufReader::new(reader), path)
    }

    /// Reads a table from `reader`; `path` names it in errors.
    pub fn read(reader: impl BufRead, path: &Path) -> Result<Self, AsnTableError> {
        let mut table = AsnTable::default();
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(|source| AsnTableError::Io {
                path: path.to_owned(),
                source,
            })?;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| AsnTableError::Line {
                path: path.to_owned(),
                line: index + 1,
                reason,
            };
            let mut fields = line.split('\t');
            let mut field = |name: &str| fields.next().ok_or_else(|| bad(format!("no {name}")));
            let (first, last, asn) = (field("range_start")?, field("range_end")?, field("AS_number")?);
            let parse = |text: &str| {
                text.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| bad(format!("{text:?} is not an IP address")))
            };
            let (first, last) = (parse(first)?, parse(last)?);
            let asn: u32 = asn
                .trim()
                .parse()
                .map_err(|_| bad(format!("{asn:?} is not an AS number")))?;
            let network = Network {
                asn,
                country: fields.next().and_then(country_code),
            };
            let (ranges, first_n, last_n) = match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) => (&mut table.v4, u128::from(u32::from(a)), u128::from(u32::from(b))),
                (IpAddr::V6(a), IpAddr::V6(b)) => (&mut table.v6, u128::from(a), u128::from(b)),
                _ => return Err(bad("the range's ends are of two address families".to_owned())),
            };
            if last_n < first_n {
                return Err(bad(format!("the range ends ({last}) before it starts ({first})")));
            }
            ranges.ranges.push((first_n, last_n, network));
        }
        for (ranges, v4) in [(&mut table.v4, true), (&mut table.v6, false)] {
            ranges.ranges.sort_unstable_by_key(|&(first, last, _)| (first, last));
            if let Some(pair) = ranges.ranges.windows(2).find(|w| w[1].0 <= w[0].1) {
                let address = |n: u128| -> IpAddr {
                    if v4 {
                        IpAddr::from(std::net::Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
                    } else {
                        IpAddr::from(std::net::Ipv6Addr::from(n))
                    }
                };
                return Err(AsnTableError::Overlap {
                    path: path.to_owned(),
                    first: address(pair[0].0),
                    second: address(pair[1].0),
                });
            }
        }
        Ok(table)
    }

    /// The network that announces `address`, if the table knows one (never AS 0). An IPv4 address written as
    /// IPv6 (`::ffff:a.b.c.d`) is looked up as IPv4.
    pub fn lookup(&self, address: IpAddr) -> Option<Network> {
        match address {
            IpAddr::V4(a) => self.v4.lookup(u128::from(u32::from(a))),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.lookup(u128::from(u32::from(v4))),
                None => self.v6.lookup(u128::from(a)),
            },
        }
    }

    /// How many ranges the table holds.
    pub fn ranges(&self) -> usize {
        self.v4.ranges.len() + self.v6.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    // Documentation ranges (RFC 5737, RFC 3849) and private-use AS numbers (RFC 6996).
    const TABLE: &str = "192.0.2.0\t192.0.2.127\t64500\tXA\tFirst Net\n\
                         192.0.2.128\t192.0.2.255\t0\tNone\tNot routed\n\
                         198.51.100.0\t198.51.100.255\t64501\tXB\tSecond Net\n\
                         2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64502\tXA\tSix Net\n";

    fn table(text: &str) -> Result<AsnTable, AsnTableError> {
        AsnTable::read(text.as_bytes(), Path::new("t.tsv"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    /// A table's lookups, by AS number alone.
    struct AsnOnly<'a>(&'a AsnTable);

    impl AsnOnly<'_> {
        fn lookup(&self, address: IpAddr) -> Option<u32> {
            self.0.lookup(address).map(|n| n.asn)
        }
    }

    #[test]
    fn a_network_is_placed_in_its_registered_country_unless_the_table_places_it_nowhere() {
        let t = table(
            "192.0.2.0\t192.0.2.9\t64500\tus\tLower\n\
             192.0.2.10\t192.0.2.19\t64501\tNone\tUnplaced\n\
             192.0.2.20\t192.0.2.29\t64502\tZZ\tUnknown\n\
             192.0.2.30\t192.0.2.39\t64503\n",
        )
        .expect("reads");
        let country = |a: &str| t.lookup(ip(a)).map(|n| (n.asn, n.country().map(str::to_owned)));
        assert_eq!(country("192.0.2.1"), Some((64500, Some("US".to_owned()))));
        assert_eq!(country("192.0.2.11"), Some((64501, None)));
        assert_eq!(country("192.0.2.21"), Some((64502, None)));
        assert_eq!(
            country("192.0.2.31"),
            Some((64503, None)),
            "a table without countries still names networks"
        );
    }

    #[test]
    fn addresses_are_found_in_their_range_and_nowhere_else() {
        let full = table(TABLE).expect("reads");
        assert_eq!(full.ranges(), 4);
        assert_eq!(
            full.lookup(ip("198.51.100.7"))
                .and_then(|n| n.country().map(str::to_owned))
                .as_deref(),
            Some("XB")
        );
        let t = AsnOnly(&full);
        assert_eq!(t.lookup(ip("192.0.2.0")), Some(64500));
        assert_eq!(t.lookup(ip("192.0.2.127")), Some(64500));
        assert_eq!(t.lookup(ip("192.0.2.200")), None, "AS 0 is no network");
        assert_eq!(t.lookup(ip("198.51.100.7")), Some(64501));
        assert_eq!(t.lookup(ip("198.51.101.0")), None);
        assert_eq!(t.lookup(ip("10.0.0.1")), None);
        assert_eq!(t.lookup(ip("2001:db8::1")), Some(64502));
        assert_eq!(t.lookup(ip("2001:db9::1")), None);
        assert_eq!(t.lookup(ip("::ffff:198.51.100.7")), Some(64501));
    }

    #[test]
    fn a_gzip_file_reads_as_the_plain_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (plain, zipped) = (dir.path().join("t.tsv"), dir.path().join("t.tsv.gz"));
        std::fs::write(&plain, TABLE).expect("writes");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(TABLE.as_bytes()).expect("compresses");
        std::fs::write(&zipped, gz.finish().expect("finishes")).expect("writes");
        for path in [&plain, &zipped] {
            let t = AsnTable::load(path).expect("loads");
            assert_eq!(
                t.lookup(ip("198.51.100.7")).map(|n| n.asn),
                Some(64501),
                "{}",
                path.display()
            );
        }
        let missing = AsnTable::load(&dir.path().join("none.tsv")).expect_err("no file");
        assert!(missing.to_string().contains("none.tsv"), "{missing}");
    }

    #[test]
    fn a_bad_line_or_overlapping_ranges_are_refused_naming_where() {
        let refused = |text: &str| table(text).expect_err("refused").to_string();
        assert!(refused("192.0.2.0\t192.0.2.9\n").contains("line 1: no AS_number"));
        assert!(refused("192.0.2.0\tsomewhere\t64500\n").contains("\"somewhere\" is not an IP address"));
        assert!(refused("\n192.0.2.0\t192.0.2.9\tAS64500\n").contains("line 2: \"AS64500\" is not an AS number"));
        assert!(refused("192.0.2.9\t192.0.2.0\t64500\n").contains("ends (192.0.2.0) before it starts"));
        assert!(refused("192.0.2.0\t2001:db8::\t64500\n").contains("two address families"));
        let overlap = refused("192.0.2.0\t192.0.2.9\t64500\n192.0.2.5\t192.0.2.20\t64501\n");
        assert!(
            overlap.contains("192.0.2.5 overlaps") && overlap.contains("from 192.0.2.0"),
            "{overlap}"
        );
    }
}
