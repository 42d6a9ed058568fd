//! Signed batches at the ingest endpoint: a probe registered with a key must sign every batch over its exact
//! bytes; a bad or missing signature is refused with 401 and stores nothing; a replayed batch stores nothing
//! new; probes without a key are accepted on their token unless `require_signatures` is set.

mod common;

use common::{Answer, TestCollector, batch, gzip, quiet_config};
use vigil_collector::SignedBatchQuery;
use vigil_collector::register_probe_with_key;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_measurement::signature::{self, PublicKey};

const SECRET: [u8; 32] = [21; 32];
const THIEF: [u8; 32] = [22; 32];

fn profile(name: &str) -> ProbeProfile {
    ProbeProfile {
        name: name.to_owned(),
        country: "IR".to_owned(),
        asn: 44244,
        region: None,
        access: AccessType::Mobile,
        ups: false,
    }
}

async fn add_keyed(c: &TestCollector, key: Option<PublicKey>) -> String {
    register_probe_with_key(c.store.as_ref(), profile("keyed"), key)
        .await
        .expect("registers")
        .token
}

/// POSTs a gzip body with an optional `Vigil-Signature`.
async fn post(c: &TestCollector, token: &str, body: &[u8], signature: Option<&str>) -> Answer {
    let mut req = c
        .client
        .post(c.url("/api/v1/measurements"))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header(signature::SIGNATURE_HEADER, sig);
    }
    Answer::read(req.send().await.expect("request completes")).await
}

#[tokio::test]
async fn a_keyed_probe_must_sign_and_only_its_own_signature_over_these_bytes_counts() {
    let c = TestCollector::start().await;
    let token = add_keyed(&c, Some(signature::public_key_of(&SECRET))).await;
    let (_, ndjson) = batch(6);
    let body = gzip(&ndjson);

    let unsigned = post(&c, &token, &body, None).await;
    assert_eq!(
        (unsigned.status, unsigned.json["code"].as_str()),
        (401, Some("signature_required"))
    );
    assert!(unsigned.error().contains("Vigil-Signature"), "{:?}", unsigned.json);

    // A stolen token without the key: the thief's own key does not verify.
    let forged = post(&c, &token, &body, Some(&signature::sign(&THIEF, &body))).await;
    assert_eq!(
        (forged.status, forged.json["code"].as_str()),
        (401, Some("bad_signature"))
    );

    // The right key over other bytes (a body altered after signing, e.g. a tampered spool file).
    let (_, other) = batch(6);
    let altered = post(&c, &token, &gzip(&other), Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(
        (altered.status, altered.json["code"].as_str()),
        (401, Some("bad_signature"))
    );

    let junk = post(&c, &token, &body, Some("ed25519=xyz")).await;
    assert_eq!(junk.status, 401, "{:?}", junk.json);
    assert!(junk.error().contains("128 hex digits"), "{:?}", junk.json);
    assert_eq!(c.stored().await, 0, "nothing from a refused batch is stored");

    let good = post(&c, &token, &body, Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(good.status, 200, "{:?}", good.json);
    assert_eq!(good.json["accepted"], 6);

    // The same signed batch replayed (by a retry or by someone who captured it) stores nothing new.
    let replay = post(&c, &token, &body, Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(
        (
            replay.status,
            replay.json["accepted"].as_u64(),
            replay.json["duplicates"].as_u64()
        ),
        (200, Some(0), Some(6))
    );
    assert_eq!(c.stored().await, 6);

    let kept = c
        .store
        .signed_batches(SignedBatchQuery::default())
        .await
        .expect("reads");
    assert_eq!(kept.len(), 1, "the batch is kept once");
    assert_eq!(
        kept[0].signed.body.as_ref(),
        body.as_slice(),
        "exactly the bytes signed"
    );
    let report = vigil_collector::verify(c.store.as_ref(), SignedBatchQuery::default(), 1 << 24)
        .await
        .expect("verifies");
    assert!(report.is_clean() && report.measurements == 6, "{report:?}");
    c.stop().await;
}

#[tokio::test]
async fn a_signed_line_with_an_address_in_free_text_is_refused_by_line() {
    let c = TestCollector::start().await;
    let token = add_keyed(&c, Some(signature::public_key_of(&SECRET))).await;
    let (_, clean) = batch(3);
    let dirty = String::from_utf8(clean.clone()).expect("text").replacen(
        r#""port":443}"#,
        r#""port":443,"error_detail":"reset by 10.9.8.7"}"#,
        1,
    );
    assert!(dirty.contains("10.9.8.7"), "the template has a tcp line");
    let body = gzip(dirty.as_bytes());
    let answer = post(&c, &token, &body, Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(answer.status, 400, "{:?}", answer.json);
    assert!(answer.json["line"].as_u64().is_some(), "{:?}", answer.json);
    assert!(answer.error().contains("already scrubbed"), "{:?}", answer.json);
    assert_eq!(c.stored().await, 0);
    c.stop().await;
}

#[tokio::test]
async fn unkeyed_probes_pass_on_their_token_unless_signatures_are_required() {
    let lenient = TestCollector::start().await;
    let token = add_keyed(&lenient, None).await;
    let (_, ndjson) = batch(3);
    let body = gzip(&ndjson);
    let answer = post(&lenient, &token, &body, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    // A signature from a probe with no key on record proves nothing; the batch is accepted on its token and
    // not kept as signed.
    let (_, more) = batch(3);
    let more = gzip(&more);
    let answer = post(&lenient, &token, &more, Some(&signature::sign(&SECRET, &more))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert!(
        lenient
            .store
            .signed_batches(SignedBatchQuery::default())
            .await
            .expect("reads")
            .is_empty()
    );
    lenient.stop().await;

    let mut config = quiet_config();
    config.ingest.require_signatures = true;
    let strict = TestCollector::start_with(config).await;
    let unkeyed = add_keyed(&strict, None).await;
    let answer = post(&strict, &unkeyed, &body, Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (401, Some("signature_required"))
    );
    assert!(answer.error().contains("signed batches only"), "{:?}", answer.json);
    let keyed = add_keyed(&strict, Some(signature::public_key_of(&SECRET))).await;
    let answer = post(&strict, &keyed, &body, Some(&signature::sign(&SECRET, &body))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(strict.stored().await, 3);
    strict.stop().await;
}
