//! Export rows: the columns of each dataset (documented in `docs/data.md`) and their CSV and JSON Lines forms.

use serde_json::{Value, json};

use super::ExportedProbe;
use crate::store::{StoredEvent, StoredMeasurement};

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Every measurement (or one kind), with its probe's public profile.
    Measurements,
    /// Vitals only, their fields as columns.
    Vitals,
    /// Disruption events with evidence and revision history.
    Events,
}

/// How it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Comma-separated, one header line; nested values as JSON text.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet, zstd-compressed, one row group per page; typed columns (times as UTC milliseconds).
    Parquet,
}

impl Format {
    /// The media type of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// Columns of measurement rows.
pub const MEASUREMENT_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "probe_id",
    "country",
    "asn",
    "region",
    "access",
    "kind",
    "outcome",
    "started_at",
    "time_source",
    "received_at",
    "duration_ms",
    "target_name",
    "target_scope",
    "target_list",
    "result",
];

/// Columns of vitals rows.
pub const VITALS_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "probe_id",
    "country",
    "asn",
    "region",
    "access",
    "started_at",
    "time_source",
    "boot_id",
    "uptime_s",
    "ac_online",
    "on_battery",
    "battery_pct",
    "gateway_reachable",
    "link_up",
    "last_gasp",
    "spool_depth",
];

/// Columns of event rows.
pub const EVENT_COLUMNS: &[&str] = &[
    "id",
    "class",
    "scope_level",
    "country",
    "asn",
    "region",
    "access",
    "probe_id",
    "started_at",
    "ended_at",
    "confidence",
    "confidence_level",
    "affected_probes",
    "probes_in_scope",
    "revisions",
    "evidence",
    "targets",
    "history",
];

pub fn columns(dataset: Dataset) -> &'static [&'static str] {
    match dataset {
        Dataset::Measurements => MEASUREMENT_COLUMNS,
        Dataset::Vitals => VITALS_COLUMNS,
        Dataset::Events => EVENT_COLUMNS,
    }
}

/// A row: values in the dataset's column order.
pub struct Row {
    dataset: Dataset,
    values: Vec<Value>,
}

impl Row {
    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

impl Dataset {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Measurements => "measurements",
            Dataset::Vitals => "vitals",
            Dataset::Events => "events",
        }
    }
}

/// The header chunk (CSV: the column names; others: nothing).
pub fn header(dataset: Dataset, format: Format) -> Vec<u8> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record(columns(dataset));
            w.into_inner().unwrap_or_default()
        }
        Format::Jsonl | Format::Parquet => Vec::new(),
    }
}

/// Appends a row to `out` (CSV and JSON Lines; Parquet is written by column, a page at a time).
pub fn write(out: &mut Vec<u8>, format: Format, row: &Row) {
    match format {
        Format::Parquet => {}
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            let fields: Vec<String> = row
                .values
                .iter()
                .map(|v| match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let _ = w.write_record(&fields);
            out.extend(w.into_inner().unwrap_or_default());
        }
        Format::Jsonl => {
            let object: serde_json::Map<String, Value> = columns(row.dataset)
                .iter()
                .zip(&row.values)
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            out.extend(Value::Object(object).to_string().into_bytes());
            out.push(b'\n');
        }
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

fn source(m: &StoredMeasurement) -> Value {
    json!(
        serde_json::to_value(m.time_source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    )
}

/// The columns both measurement and vitals rows start with: the row's cursor and id, and the probe's public
/// profile.
fn measured_by(m: &StoredMeasurement, probe: &ExportedProbe) -> Vec<Value> {
    vec![
        json!(m.seq),
        json!(m.measurement.id.to_string()),
        json!(m.probe_id),
        json!(probe.country),
        json!(probe.asn),
        json!(probe.region),
        json!(probe.access),
    ]
}

/// A measurement row.
pub fn measurement_row(m: &StoredMeasurement, probe: &ExportedProbe) -> Row {
    let result = serde_json::to_value(&m.measurement.result).unwrap_or(Value::Null);
    let mut values = measured_by(m, probe);
    values.extend([
        json!(m.measurement.kind().as_str()),
        json!(m.outcome.as_str()),
        time(m.started_at),
        source(m),
        time(Some(m.received_at)),
        json!(m.measurement.duration_ms),
        json!(m.measurement.target.name),
        json!(m.measurement.target.scope.as_str()),
        json!(m.measurement.target.list),
        result,
    ]);
    Row {
        dataset: Dataset::Measurements,
        values,
    }
}

/// A vitals row (`None` for other kinds).
pub fn vitals_row(m: &StoredMeasurement, probe: &ExportedProbe) -> Option<Row> {
    let vigil_measurement::MeasurementResult::Vitals(v) = &m.measurement.result else {
        return None;
    };
    let mut values = measured_by(m, probe);
    values.extend([
        time(m.started_at),
        source(m),
        json!(v.boot_id),
        json!(v.uptime_s),
        json!(v.power.ac_online),
        json!(v.power.on_battery),
        json!(v.power.battery_pct),
        json!(v.gateway_reachable),
        json!(v.link_up),
        json!(v.last_gasp),
        json!(v.spool_depth),
    ]);
    Some(Row {
        dataset: Dataset::Vitals,
        values,
    })
}

fn epoch(secs: Option<i64>) -> Value {
    time(secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0)))
}

/// An event row, with its revision history (class, confidence, end and size of each revision).
pub fn event_row(e: &StoredEvent, history: &[crate::model::DisruptionEvent]) -> Row {
    let ev = &e.event;
    let history: Vec<Value> = history
        .iter()
        .map(|r| {
            json!({
                "class": r.class.as_str(),
                "confidence": r.confidence,
                "confidence_level": format!("{:?}", r.confidence_level).to_lowercase(),
                "started_at": epoch(Some(r.started_at)),
                "ended_at": epoch(r.ended_at),
                "affected_probes": r.affected_probes,
            })
        })
        .collect();
    Row {
        dataset: Dataset::Events,
        values: vec![
            json!(ev.id),
            json!(ev.class.as_str()),
            json!(ev.scope.level),
            json!(ev.scope.country),
            json!(ev.scope.asn),
            json!(ev.scope.region),
            json!(ev.scope.access),
            json!(ev.scope.probe_id),
            epoch(Some(ev.started_at)),
            epoch(ev.ended_at),
            json!(ev.confidence),
            json!(format!("{:?}", ev.confidence_level).to_lowercase()),
            json!(ev.affected_probes),
            json!(ev.probes_in_scope),
            json!(e.revisions),
            serde_json::to_value(&ev.evidence).unwrap_or(Value::Null),
            serde_json::to_value(&ev.targets).unwrap_or(Value::Null),
            Value::Array(history),
        ],
    }
}
