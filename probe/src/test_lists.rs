//! Citizen Lab test lists (`url,category_code,category_description,date_added,source,notes`): the URLs the
//! probe checks on its slower cadence. Bad rows are skipped and reported, never fatal.

use std::collections::HashSet;
use std::path::Path;

use url::Url;

/// One URL to test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestListEntry {
    /// The URL.
    pub url: Url,
    /// Citizen Lab category code (`NEWS`, `HUMR`, …).
    pub category: String,
    /// The list it came from, reported as `target.list` (`citizenlab-ir` for `ir.csv`).
    pub list: String,
}

/// A test list file that cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestListError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file has no `url` column.
    #[error("{path}: no `url` column; expected the Citizen Lab format url,category_code,…")]
    NotATestList {
        /// The file.
        path: String,
    },
}

/// Entries read from one or more files, without duplicates, and the rows skipped (file, line, reason).
#[derive(Debug, Clone, Default)]
pub struct TestLists {
    /// The URLs, in file order.
    pub entries: Vec<TestListEntry>,
    /// Rows that could not be used.
    pub skipped: Vec<(String, u64, String)>,
}

impl TestLists {
    /// Reads every file; a URL listed twice is kept once (first list wins).
    pub fn load(files: &[impl AsRef<Path>]) -> Result<Self, TestListError> {
        let mut out = TestLists::default();
        let mut seen = HashSet::new();
        for file in files {
            let path = file.as_ref();
            let list = format!(
                "citizenlab-{}",
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            let bytes = std::fs::read(path).map_err(|source| TestListError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
            let headers = reader.byte_headers().cloned().unwrap_or_default();
            let url_col = headers
                .iter()
                .position(|h| h == b"url")
                .ok_or_else(|| TestListError::NotATestList {
                    path: path.display().to_string(),
                })?;
            let category_col = headers.iter().position(|h| h == b"category_code");
            for record in reader.byte_records() {
                let record = match record {
                    Ok(r) => r,
                    Err(e) => {
                        out.skipped
                            .push((list.clone(), e.position().map_or(0, |p| p.line()), e.to_string()));
                        continue;
                    }
                };
                let line = record.position().map_or(0, |p| p.line());
                let text = String::from_utf8_lossy(record.get(url_col).unwrap_or_default())
                    .trim()
                    .to_owned();
                match Url::parse(&text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        if seen.insert(url.clone()) {
                            let category = category_col
                                .and_then(|c| record.get(c))
                                .map(|c| String::from_utf8_lossy(c).trim().to_owned())
                                .unwrap_or_default();
                            out.entries.push(TestListEntry {
                                url,
                                category,
                                list: list.clone(),
                            });
                        }
                    }
                    Ok(_) => out
                        .skipped
                        .push((list.clone(), line, format!("not an http(s) URL: {text}"))),
                    Err(e) => out.skipped.push((list.clone(), line, format!("bad URL {text:?}: {e}"))),
                }
            }
        }
        Ok(out)
    }
}
