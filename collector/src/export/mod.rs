//! Researcher exports (DESIGN.md §3): measurements, vitals and events as CSV or JSON Lines, streamed page by page
//! so memory holds one page whatever the export's size, resumable from the last row's `seq`, and anonymised by
//! construction:
//!
//! - probes appear only by their pseudonymous id (random, unrelated to their token);
//! - no field carries a probe's address: free text was scrubbed of IP addresses at ingest, and nothing else
//!   stores one;
//! - a probe's region is coarsened to its country when fewer than `min_region_probes` probes share that region,
//!   so a lone volunteer is not singled out.

mod parquet;
mod rows;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use vigil_measurement::Kind;

pub use rows::{Dataset, Format};
use rows::{Row, event_row, measurement_row, vitals_row};

use crate::model::{ProbeRecord, public_regions};
use crate::store::{EventQuery, MeasurementQuery, Store, StoreError};

/// Rows read from the store at a time: the export's memory bound.
pub const PAGE_ROWS: usize = 5_000;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Which dataset.
    pub dataset: Dataset,
    /// Which format.
    pub format: Format,
    /// Effective start time at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Effective start time before this.
    pub to: Option<DateTime<Utc>>,
    /// Only probes (or events) of this country.
    pub country: Option<String>,
    /// Only this ASN.
    pub asn: Option<u32>,
    /// Only this region (as exported: a coarsened region matches nothing).
    pub region: Option<String>,
    /// Only this kind (measurements).
    pub kind: Option<Kind>,
    /// Only this outcome (measurements, vitals).
    pub outcome: Option<String>,
    /// Only this class (events).
    pub class: Option<String>,
    /// Resume after this `seq` (the last row of an earlier export).
    pub after: Option<i64>,
    /// Regions with fewer probes than this are exported as empty (country only).
    pub min_region_probes: usize,
    /// Rows read per page.
    pub page_rows: usize,
}

impl Default for ExportRequest {
    fn default() -> Self {
        ExportRequest {
            dataset: Dataset::Measurements,
            format: Format::Jsonl,
            from: None,
            to: None,
            country: None,
            asn: None,
            region: None,
            kind: None,
            outcome: None,
            class: None,
            after: None,
            min_region_probes: crate::model::MIN_REGION_PROBES,
            page_rows: PAGE_ROWS,
        }
    }
}

/// An export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written (the client went away, the disk is full).
    #[error("writing the export: {0}")]
    Sink(String),
    /// Encoding the output failed.
    #[error("encoding the export: {0}")]
    Encode(String),
}

/// Turns pages of rows into bytes.
enum Encoder {
    Text(Format),
    Parquet(Box<parquet::ParquetWriter>),
}

impl Encoder {
    fn new(dataset: Dataset, format: Format) -> Result<Self, ExportError> {
        Ok(match format {
            Format::Parquet => Encoder::Parquet(Box::new(
                parquet::ParquetWriter::new(dataset).map_err(|e| ExportError::Encode(e.to_string()))?,
            )),
            other => Encoder::Text(other),
        })
    }

    fn page(&mut self, rows: &[Row]) -> Result<Vec<u8>, ExportError> {
        match self {
            Encoder::Text(format) => {
                let mut out = Vec::new();
                for row in rows {
                    rows::write(&mut out, *format, row);
                }
                Ok(out)
            }
            Encoder::Parquet(writer) => writer.write_rows(rows).map_err(|e| ExportError::Encode(e.to_string())),
        }
    }

    fn finish(self) -> Result<Vec<u8>, ExportError> {
        match self {
            Encoder::Text(_) => Ok(Vec::new()),
            Encoder::Parquet(writer) => writer.finish().map_err(|e| ExportError::Encode(e.to_string())),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows written.
    pub rows: u64,
    /// The `seq` of the last measurement row (resume with `after`).
    pub last_seq: Option<i64>,
}

/// A probe as exports show it.
#[derive(Debug, Clone)]
pub(crate) struct ExportedProbe {
    pub country: String,
    pub asn: u32,
    /// `None` when coarsened.
    pub region: Option<String>,
    pub access: &'static str,
}

/// The registry as exports show it: regions shared by fewer than `k` probes are dropped.
fn public_probes(probes: &[ProbeRecord], k: usize) -> HashMap<String, ExportedProbe> {
    let mut regions = public_regions(probes, k);
    probes
        .iter()
        .map(|p| {
            (
                p.probe_id.clone(),
                ExportedProbe {
                    country: p.profile.country.clone(),
                    asn: p.profile.asn,
                    region: regions.remove(&p.probe_id).flatten(),
                    access: p.profile.access.as_str(),
                },
            )
        })
        .collect()
}

impl ExportRequest {
    fn probe_matches(&self, p: &ExportedProbe) -> bool {
        self.country.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(&p.country))
            && self.asn.is_none_or(|a| a == p.asn)
            // On the exported (coarsened) region: filtering on a hidden region would reveal who is there.
            && self.region.as_deref().is_none_or(|r| p.region.as_deref() == Some(r))
    }
}

/// Runs an export, handing the output to `sink` chunk by chunk (a header, then one chunk per page).
pub async fn export<S, F>(store: &dyn Store, req: &ExportRequest, mut sink: S) -> Result<ExportSummary, ExportError>
where
    S: FnMut(Vec<u8>) -> F,
    F: std::future::Future<Output = Result<(), String>>,
{
    let mut summary = ExportSummary::default();
    let header = rows::header(req.dataset, req.format);
    if !header.is_empty() {
        sink(header).await.map_err(ExportError::Sink)?;
    }
    let probes = public_probes(&store.probes().await?, req.min_region_probes.max(1));
    let mut encoder = Encoder::new(req.dataset, req.format)?;
    match req.dataset {
        Dataset::Events => {
            let events = store
                .events(EventQuery {
                    from: req.from.map(|t| t.timestamp()),
                    to: req.to.map(|t| t.timestamp()),
                    country: req.country.clone(),
                    asn: req.asn,
                    class: req.class.clone(),
                })
                .await?;
            for page in events.chunks(req.page_rows.max(1)) {
                let mut rows = Vec::with_capacity(page.len());
                for e in page {
                    let history = store.event_revisions(&e.event.id).await?;
                    rows.push(event_row(e, &history));
                }
                summary.rows += rows.len() as u64;
                let out = encoder.page(&rows)?;
                if !out.is_empty() {
                    sink(out).await.map_err(ExportError::Sink)?;
                }
            }
        }
        Dataset::Measurements | Dataset::Vitals => {
            let kind = match req.dataset {
                Dataset::Vitals => Some(Kind::Vitals),
                _ => req.kind,
            };
            let mut after = req.after;
            loop {
                let page = store
                    .measurements(MeasurementQuery {
                        kind,
                        from: req.from,
                        to: req.to,
                        after_seq: after,
                        limit: Some(req.page_rows.max(1)),
                        ..MeasurementQuery::default()
                    })
                    .await?;
                // Until an empty page: a page can come back short (copies of one measurement are read once)
                // without being the last.
                let Some(last) = page.last() else { break };
                after = Some(last.seq);
                let mut rows = Vec::new();
                for m in &page {
                    let Some(probe) = probes.get(&m.probe_id).filter(|p| req.probe_matches(p)) else {
                        continue;
                    };
                    if req.outcome.as_deref().is_some_and(|o| o != m.outcome.as_str()) {
                        continue;
                    }
                    let row = match req.dataset {
                        Dataset::Vitals => vitals_row(m, probe),
                        _ => Some(measurement_row(m, probe)),
                    };
                    if let Some(row) = row {
                        rows.push(row);
                        summary.rows += 1;
                        summary.last_seq = Some(m.seq);
                    }
                }
                let out = encoder.page(&rows)?;
                if !out.is_empty() {
                    sink(out).await.map_err(ExportError::Sink)?;
                }
            }
        }
    }
    let tail = encoder.finish()?;
    if !tail.is_empty() {
        sink(tail).await.map_err(ExportError::Sink)?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessType, ProbeProfile};

    fn probe(id: &str, region: Option<&str>) -> ProbeRecord {
        ProbeRecord {
            probe_id: id.to_owned(),
            profile: ProbeProfile {
                name: "secret operator label".to_owned(),
                country: "XL".to_owned(),
                asn: 64501,
                region: region.map(str::to_owned),
                access: AccessType::Fixed,
                ups: false,
            },
            created_at: Utc::now(),
            revoked_at: None,
            last_seen: None,
            public_key: None,
        }
    }

    #[test]
    fn lonely_regions_are_coarsened_to_the_country() {
        let probes = [
            probe("a", Some("north")),
            probe("b", Some("north")),
            probe("c", Some("north")),
            probe("d", Some("island")),
        ];
        let public = public_probes(&probes, 3);
        assert_eq!(public["a"].region.as_deref(), Some("north"));
        assert_eq!(public["d"].region, None, "one probe on the island is not named");
        assert_eq!(public_probes(&probes, 1)["d"].region.as_deref(), Some("island"));
    }
}
