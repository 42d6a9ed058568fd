//! Parsing of store addresses: `sqlite:PATH` or `clickhouse://HOST:PORT/DB` (DESIGN.md §5).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::StoreError;

/// Which store to use and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded SQLite file at this path, created on first use.
    Sqlite(PathBuf),
    /// A ClickHouse server's HTTP interface and database.
    ClickHouse {
        /// `http://host:port`.
        url: String,
        /// Database name.
        database: String,
    },
}

impl StoreSpec {
    /// The default store: `sqlite:vigil-data/vigil.db`.
    pub fn default_embedded() -> Self {
        StoreSpec::Sqlite(PathBuf::from("vigil-data/vigil.db"))
    }
}

impl Default for StoreSpec {
    fn default() -> Self {
        Self::default_embedded()
    }
}

impl FromStr for StoreSpec {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| StoreError::InvalidSpec {
            spec: s.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(invalid(
                    "expected sqlite:PATH with a file path, e.g. sqlite:vigil-data/vigil.db",
                ));
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("clickhouse://") {
            let (host, database) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected clickhouse://HOST:PORT/DB"))?;
            if host.is_empty() || database.is_empty() || database.contains('/') {
                return Err(invalid("expected clickhouse://HOST:PORT/DB"));
            }
            if !database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid("the database name may hold only letters, digits and _"));
            }
            return Ok(StoreSpec::ClickHouse {
                url: format!("http://{host}"),
                database: database.to_owned(),
            });
        }
        Err(invalid("expected sqlite:PATH or clickhouse://HOST:PORT/DB"))
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreSpec::ClickHouse { url, database } => {
                write!(f, "clickhouse://{}/{database}", url.trim_start_matches("http://"))
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for StoreSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_clickhouse_addresses_round_trip() {
        for text in [
            "sqlite:vigil-data/vigil.db",
            "sqlite:/var/lib/vigil/v.db",
            "clickhouse://127.0.0.1:8123/vigil",
        ] {
            let spec: StoreSpec = text.parse().expect(text);
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_say_what_is_expected() {
        for text in [
            "postgres://x/y",
            "sqlite:",
            "clickhouse://host",
            "clickhouse://h:1/a;drop",
        ] {
            let err = text.parse::<StoreSpec>().expect_err(text);
            assert!(
                err.to_string().contains("expected") || err.to_string().contains("may hold"),
                "{err}"
            );
        }
    }
}
