//! Parquet output without arrow: the parquet crate's column writers, zstd-compressed, one row group per page.
//! Bytes are handed on as each row group closes, so a Parquet export streams like the others; the footer follows
//! the last page.

use std::io::Write;
use std::sync::{Arc, Mutex};

use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;

use super::rows::{Dataset, Row, columns};

/// A column's Parquet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Int64,
    Double,
    Bool,
    /// UTF-8 text (nested values as JSON text).
    Text,
    /// Milliseconds since the epoch, UTC.
    Time,
}

fn column_type(name: &str) -> ColumnType {
    match name {
        "seq" | "asn" | "spool_depth" | "affected_probes" | "probes_in_scope" | "revisions" => ColumnType::Int64,
        "duration_ms" | "uptime_s" | "battery_pct" | "confidence" => ColumnType::Double,
        "ac_online" | "on_battery" | "gateway_reachable" | "link_up" | "last_gasp" => ColumnType::Bool,
        "started_at" | "received_at" | "ended_at" => ColumnType::Time,
        _ => ColumnType::Text,
    }
}

fn schema(dataset: Dataset) -> String {
    let fields: String = columns(dataset)
        .iter()
        .map(|name| match column_type(name) {
            ColumnType::Int64 => format!("OPTIONAL INT64 {name};"),
            ColumnType::Double => format!("OPTIONAL DOUBLE {name};"),
            ColumnType::Bool => format!("OPTIONAL BOOLEAN {name};"),
            ColumnType::Text => format!("OPTIONAL BYTE_ARRAY {name} (UTF8);"),
            ColumnType::Time => format!("OPTIONAL INT64 {name} (TIMESTAMP(MILLIS,true));"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("message vigil_{} {{ {fields} }}", dataset.as_str())
}

/// The bytes written so far, taken as each row group closes.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Write for Pending {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Pending {
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }
}

/// A Parquet file being written.
pub struct ParquetWriter {
    dataset: Dataset,
    writer: SerializedFileWriter<Pending>,
    pending: Pending,
}

impl ParquetWriter {
    /// Starts a file for `dataset`.
    pub fn new(dataset: Dataset) -> Result<Self, parquet::errors::ParquetError> {
        let schema = Arc::new(parse_message_type(&schema(dataset))?);
        // Chunk-level statistics only: page indexes are kept in memory until the footer, which would make a long
        // export's memory grow with its length.
        let properties = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true)
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_created_by("vigil-collector export".to_owned())
            .build();
        let pending = Pending::default();
        let writer = SerializedFileWriter::new(pending.clone(), schema, Arc::new(properties))?;
        Ok(ParquetWriter {
            dataset,
            writer,
            pending,
        })
    }

    /// Writes one row group; returns the bytes produced (the file's start included, the first time).
    pub fn write_rows(&mut self, rows: &[Row]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
        if rows.is_empty() {
            return Ok(self.pending.take());
        }
        let mut group = self.writer.next_row_group()?;
        for (i, name) in columns(self.dataset).iter().enumerate() {
            let Some(mut column) = group.next_column()? else {
                break;
            };
            let values = rows.iter().map(|r| &r.values()[i]);
            let mut levels = Vec::with_capacity(rows.len());
            match column_type(name) {
                ColumnType::Int64 | ColumnType::Time => {
                    let mut data = Vec::new();
                    for v in values {
                        let n = if column_type(name) == ColumnType::Time {
                            v.as_str()
                                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                                .map(|t| t.timestamp_millis())
                        } else {
                            v.as_i64()
                        };
                        levels.push(i16::from(n.is_some()));
                        data.extend(n);
                    }
                    column.typed::<Int64Type>().write_batch(&data, Some(&levels), None)?;
                }
                ColumnType::Double => {
                    let mut data = Vec::new();
                    for v in values {
                        levels.push(i16::from(v.as_f64().is_some()));
                        data.extend(v.as_f64());
                    }
                    column.typed::<DoubleType>().write_batch(&data, Some(&levels), None)?;
                }
                ColumnType::Bool => {
                    let mut data = Vec::new();
                    for v in values {
                        levels.push(i16::from(v.as_bool().is_some()));
                        data.extend(v.as_bool());
                    }
                    column.typed::<BoolType>().write_batch(&data, Some(&levels), None)?;
                }
                ColumnType::Text => {
                    let mut data = Vec::new();
                    for v in values {
                        let text = match v {
                            Value::Null => None,
                            Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        };
                        levels.push(i16::from(text.is_some()));
                        data.extend(text.map(|t| ByteArray::from(t.into_bytes())));
                    }
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&data, Some(&levels), None)?;
                }
            }
            column.close()?;
        }
        group.close()?;
        Ok(self.pending.take())
    }

    /// Closes the file; returns its last bytes (the footer).
    pub fn finish(self) -> Result<Vec<u8>, parquet::errors::ParquetError> {
        let pending = self.pending.clone();
        self.writer.close()?;
        Ok(pending.take())
    }
}
