//! Prints one corpus scenario's truth and the classifier's events (for reading a case by eye).
fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let index: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let s = vigil_collector::corpus_scenario(seed, index);
    let (events, score) = vigil_collector::judge_scenario(&s, &vigil_collector::ClassifierSettings::default());
    println!(
        "kind {:?}; probes {}+{}; isps {}; regions {}",
        s.kind,
        s.countries[0].probes.len(),
        s.countries[1].probes.len(),
        s.countries[0].isps.len(),
        s.countries[0].regions.len()
    );
    for t in &s.truth {
        println!("truth {:?} {:?} {}..{}", t.class, t.scope, t.start, t.end);
    }
    for e in &events {
        println!(
            "event {} {:?} {:.2} {:?}/{:?}/{:?}/{:?}/{:?} {}..{:?} {}/{}",
            e.class.as_str(),
            e.confidence_level,
            e.confidence,
            e.scope.level,
            e.scope.country,
            e.scope.asn,
            e.scope.region,
            e.scope.probe_id,
            (e.started_at - s.t0.timestamp()) / 60,
            e.ended_at.map(|t| (t - s.t0.timestamp()) / 60),
            e.affected_probes,
            e.probes_in_scope
        );
        for ev in &e.evidence {
            println!("    [{}] {} {:?}", ev.family, ev.text, ev.points);
        }
    }
    println!("score {:?} false {}", score.truths, score.false_events);
}
