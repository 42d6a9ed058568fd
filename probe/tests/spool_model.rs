//! Model check: random sequences of append / next_batch / ack / quarantine / reopen against an in-memory model
//! of what the spool promises (durable appends, eviction order, batch order, exact acks).

use std::collections::BTreeMap;

use proptest::prelude::*;
use vigil_probe::{NewRecord, RecordClass, Spool, SpoolOptions, SpooledRecord};

const MAX_BYTES: u64 = 4_000;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(RecordClass, usize)>),
    /// Take a batch and acknowledge the first `ack` records of it.
    BatchAndAck {
        max_records: usize,
        max_bytes: usize,
        ack: usize,
    },
    /// Take a batch and quarantine its first record.
    BatchAndQuarantine,
    Reopen,
}

fn class() -> impl Strategy<Value = RecordClass> {
    prop_oneof![
        Just(RecordClass::Vitals),
        Just(RecordClass::Anchor),
        Just(RecordClass::List)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((class(), 1usize..400), 1..8).prop_map(Op::Append),
        3 => (1usize..10, 1usize..1500, 0usize..10)
            .prop_map(|(max_records, max_bytes, ack)| Op::BatchAndAck { max_records, max_bytes, ack }),
        1 => Just(Op::BatchAndQuarantine),
        1 => Just(Op::Reopen),
    ]
}

/// What the spool should hold: seq → (class, line).
#[derive(Default)]
struct Model {
    records: BTreeMap<i64, (RecordClass, String)>,
    next_seq: i64,
    evicted: u64,
    quarantined: u64,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.records.values().map(|(_, l)| l.len() as u64).sum()
    }

    fn append(&mut self, records: &[NewRecord]) {
        for r in records {
            self.next_seq += 1;
            self.records.insert(self.next_seq, (r.class, r.line.clone()));
        }
        while self.bytes() > MAX_BYTES {
            let victim = self
                .records
                .iter()
                .max_by_key(|(seq, (class, _))| (*class, -**seq))
                .map(|(seq, _)| *seq)
                .expect("non-empty while over the bound");
            self.records.remove(&victim);
            self.evicted += 1;
        }
    }

    fn batch(&self, max_records: usize, max_bytes: usize) -> Vec<SpooledRecord> {
        let mut out: Vec<SpooledRecord> = Vec::new();
        let mut size = 0;
        if let Some((seq, (class, line))) = self.records.iter().rev().find(|(_, (c, _))| *c == RecordClass::Vitals) {
            size += line.len();
            out.push(SpooledRecord {
                seq: *seq,
                class: *class,
                line: line.clone(),
            });
        }
        let first = out.first().map(|r| r.seq);
        for (seq, (class, line)) in &self.records {
            if Some(*seq) == first {
                continue;
            }
            if out.len() >= max_records.max(1) || (!out.is_empty() && size + line.len() > max_bytes) {
                break;
            }
            size += line.len();
            out.push(SpooledRecord {
                seq: *seq,
                class: *class,
                line: line.clone(),
            });
        }
        out
    }
}

fn line(n: i64, len: usize) -> String {
    format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(len))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn spool_behaves_like_its_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SpoolOptions {
            max_bytes: MAX_BYTES,
            ..SpoolOptions::default()
        };
        let mut spool = Spool::open(dir.path(), options).expect("opens");
        let mut model = Model::default();
        let mut made = 0i64;
        for op in ops {
            match op {
                Op::Append(specs) => {
                    let records: Vec<NewRecord> = specs
                        .into_iter()
                        .map(|(class, len)| {
                            made += 1;
                            NewRecord { class, line: line(made, len) }
                        })
                        .collect();
                    let before = model.evicted;
                    model.append(&records);
                    let outcome = spool.append(&records).expect("append");
                    prop_assert_eq!(outcome.evicted, model.evicted - before);
                }
                Op::BatchAndAck { max_records, max_bytes, ack } => {
                    let batch = spool.next_batch(max_records, max_bytes).expect("batch");
                    prop_assert_eq!(&batch, &model.batch(max_records, max_bytes));
                    let acked: Vec<i64> = batch.iter().take(ack).map(|r| r.seq).collect();
                    spool.ack(&acked).expect("ack");
                    for seq in acked {
                        model.records.remove(&seq);
                    }
                }
                Op::BatchAndQuarantine => {
                    let batch = spool.next_batch(5, 10_000).expect("batch");
                    if let Some(first) = batch.first() {
                        prop_assert!(spool.quarantine(first.seq, "test reason").expect("quarantine"));
                        model.records.remove(&first.seq);
                        model.quarantined += 1;
                    }
                }
                Op::Reopen => {
                    drop(spool);
                    spool = Spool::open(dir.path(), options).expect("reopens");
                }
            }
            let stats = spool.stats().expect("stats");
            prop_assert_eq!(stats.records, model.records.len() as u64);
            prop_assert_eq!(stats.bytes, model.bytes());
            prop_assert!(stats.bytes <= MAX_BYTES);
            prop_assert_eq!(stats.evicted, model.evicted);
            prop_assert_eq!(stats.quarantined, model.quarantined);
            prop_assert_eq!(stats.corrupt_skipped, 0);
        }
        // Everything the model holds is exactly what an export yields, oldest first.
        let mut out = Vec::new();
        spool.export(&mut out).expect("export");
        let expected: String = model.records.values().map(|(_, l)| format!("{l}\n")).collect();
        prop_assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }
}
