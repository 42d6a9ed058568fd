//! SQLite: measurements, written by the group commit (`write.rs`) and read back (`read.rs`).

use async_trait::async_trait;

use super::{
    IngestBatch, SignedBatchQuery, SignedBatchRecord, SqliteStore, StoredMeasurement, WriteOutcome, with_conn,
};

use crate::store::{MeasurementQuery, MeasurementStore, StoreError};

#[async_trait]
impl MeasurementStore for SqliteStore {
    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError> {
        with_conn(&self.reader, move |conn| super::read::signed_batches(conn, &query)).await
    }

    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcomes = super::write::write_batches(&tx, &batches)?;
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn measurements(&self, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError> {
        with_conn(&self.reader, move |conn| super::read::measurements(conn, &query)).await
    }

    async fn count_measurements(&self, query: MeasurementQuery) -> Result<u64, StoreError> {
        with_conn(&self.reader, move |conn| super::read::count_measurements(conn, &query)).await
    }
}
