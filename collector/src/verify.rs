//! Re-checking stored signed batches (`vigil-collector verify`): each batch's digest and signature, the key it
//! was signed with against the probe's registered one, and every measurement it carried against what the store
//! now holds — so tampering with the store after ingest, or a batch no probe signed, is found.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use vigil_measurement::Measurement;
use vigil_measurement::signature::PublicKey;

use crate::ingest::{ContentEncoding, decode_body};
use crate::store::{MeasurementQuery, SignedBatchQuery, SignedBatchRecord, Store, StoreError};

/// How many measurements are looked up at once.
const LOOKUP_CHUNK: usize = 500;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The batch's probe.
    pub probe_id: String,
    /// Hex SHA-256 of the batch as stored.
    pub digest: String,
    /// The measurement concerned, when one is.
    pub measurement_id: Option<String>,
    /// What is wrong.
    pub problem: String,
}

/// What a verification run found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Report {
    /// Signed batches checked.
    pub batches: usize,
    /// Measurements in them checked against the store.
    pub measurements: usize,
    /// Everything that did not check out.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether everything checked out.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies every signed batch the query selects. `max_decoded` bounds each decompressed body.
pub async fn verify(store: &dyn Store, query: SignedBatchQuery, max_decoded: usize) -> Result<Report, StoreError> {
    let keys: HashMap<String, Option<PublicKey>> = store
        .probes()
        .await?
        .into_iter()
        .map(|p| (p.probe_id, p.public_key))
        .collect();
    let mut report = Report::default();
    for batch in store.signed_batches(query).await? {
        report.batches += 1;
        let digest = hex::encode(batch.signed.digest);
        let mut find = |measurement_id: Option<String>, problem: String| {
            report.findings.push(Finding {
                probe_id: batch.probe_id.clone(),
                digest: digest.clone(),
                measurement_id,
                problem,
            })
        };
        let Some(lines) = check_batch(&batch, keys.get(&batch.probe_id), max_decoded, &mut find) else {
            continue;
        };
        for chunk in lines.chunks(LOOKUP_CHUNK) {
            let stored = store
                .measurements(MeasurementQuery {
                    ids: Some(chunk.iter().map(|m| m.id).collect()),
                    ..MeasurementQuery::default()
                })
                .await?;
            let stored: HashMap<_, _> = stored.into_iter().map(|s| (s.measurement.id, s)).collect();
            for m in chunk {
                report.measurements += 1;
                let id = Some(m.id.to_string());
                match stored.get(&m.id) {
                    None => find(id, "signed but not in the store".into()),
                    Some(s) if s.probe_id != batch.probe_id => find(
                        id,
                        format!("stored as probe {}'s, signed by {}", s.probe_id, batch.probe_id),
                    ),
                    Some(s) if s.measurement.to_json_line() != m.to_json_line() => {
                        find(id, "stored measurement differs from the signed one".into())
                    }
                    Some(s) if s.outcome != m.result.outcome() => find(
                        id,
                        format!(
                            "stored outcome {} differs from the signed {}",
                            s.outcome.as_str(),
                            m.result.outcome().as_str()
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    Ok(report)
}

/// Checks a batch's own integrity and returns its measurements, or reports why it cannot be trusted.
fn check_batch(
    batch: &SignedBatchRecord,
    registered: Option<&Option<PublicKey>>,
    max_decoded: usize,
    find: &mut impl FnMut(Option<String>, String),
) -> Option<Vec<Measurement>> {
    let signed = &batch.signed;
    if <[u8; 32]>::from(Sha256::digest(&signed.body)) != signed.digest {
        find(None, "the stored body does not match its digest".into());
        return None;
    }
    if let Err(err) = signed.public_key.verify_raw(&signed.body, &signed.signature) {
        find(None, err.to_string());
        return None;
    }
    match registered {
        None => find(None, "the probe is not registered".into()),
        Some(Some(key)) if *key == signed.public_key => {}
        Some(Some(key)) => find(
            None,
            format!(
                "signed with {}, but the probe's registered key is {key}",
                signed.public_key
            ),
        ),
        Some(None) => find(
            None,
            format!("signed with {}, but the probe has no key registered", signed.public_key),
        ),
    }
    let encoding = match ContentEncoding::from_header(Some(&signed.encoding)) {
        Ok(e) => e,
        Err(err) => {
            find(None, err.to_string());
            return None;
        }
    };
    let decoded = match decode_body(&signed.body, encoding, max_decoded) {
        Ok(d) => d,
        Err(err) => {
            find(None, err.to_string());
            return None;
        }
    };
    let mut lines = Vec::new();
    for (index, raw) in decoded.split(|&b| b == b'\n').enumerate() {
        let text = raw.strip_suffix(b"\r").unwrap_or(raw);
        if text.trim_ascii().is_empty() {
            continue;
        }
        match Measurement::from_json_slice(text) {
            Ok(m) => lines.push(m),
            Err(err) => find(None, format!("line {}: {err}", index + 1)),
        }
    }
    if lines.len() != batch.measurements as usize {
        find(
            None,
            format!("holds {} measurements, recorded as {}", lines.len(), batch.measurements),
        );
    }
    Some(lines)
}
