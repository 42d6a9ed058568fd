//! Prints corpus scenarios' truth and the classifier's events (for reading cases by eye).
//!
//! `corpus_peek SEED INDEX` prints one scenario; `corpus_peek SEED KIND COUNT [SCENARIOS]` prints the first COUNT
//! scenarios among the corpus's first SCENARIOS of kind `ScenarioKind::ALL[KIND]` (`ScenarioKind::of` gives each
//! scenario's) that the classifier got wrong (with
//! `PEEK_WRONG_HIGH` set: in which it made a wrong high-confidence call; with `PEEK_SHUTDOWN_FIRST`: in which a
//! shutdown was published first for an outage that was not one; with `PEEK_SEPARABLE`: that it got wrong where
//! the probes could tell the cause from its look-alike). `PEEK_DISH_SHARE` and `PEEK_ABROAD_SHARE` draw the corpus with
//! other shares of dishes and satellite-only probes abroad than the defaults.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let seed = arg(0, 1) as u64;
    if args.len() >= 3 {
        let (kind, count, scenarios) = (arg(1, 0), arg(2, 5), arg(3, 100_000));
        let Some(&wanted) = vigil_collector::ScenarioKind::ALL.get(kind) else {
            eprintln!("no kind {kind}: there are {}", vigil_collector::ScenarioKind::ALL.len());
            std::process::exit(2);
        };
        let mut shown = 0;
        for index in (0..scenarios).filter(|&i| vigil_collector::ScenarioKind::of(i) == wanted) {
            if shown == count {
                break;
            }
            if show(seed, index, true) {
                shown += 1;
            }
        }
    } else {
        show(seed, arg(1, 0), false);
    }
}

/// Prints scenario `index` of `seed` (only when the classifier got a true event wrong, with `failures_only`);
/// whether it printed.
fn show(seed: u64, index: usize, failures_only: bool) -> bool {
    // `PEEK_ABROAD_SHARE` and `PEEK_DISH_SHARE` draw the corpus with other shares than the defaults.
    let share = |name: &str, default: f64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let defaults = vigil_collector::CorpusOptions::default();
    let options = vigil_collector::CorpusOptions {
        dish_share: share("PEEK_DISH_SHARE", defaults.dish_share),
        abroad_satellite_share: share("PEEK_ABROAD_SHARE", defaults.abroad_satellite_share),
    };
    let s = vigil_collector::corpus_scenario_with(seed, index, &options);
    let (events, score) = vigil_collector::judge_scenario(&s, &vigil_collector::ClassifierSettings::default());
    let wrong_high = score
        .calls
        .iter()
        .any(|c| c.level == vigil_collector::ConfidenceLevel::High && !c.right);
    let false_shutdown_first = score
        .first_published
        .iter()
        .any(|(truth, first)| truth != "shutdown" && first == "shutdown");
    let wanted = if std::env::var_os("PEEK_WRONG_HIGH").is_some() {
        wrong_high
    } else if std::env::var_os("PEEK_SHUTDOWN_FIRST").is_some() {
        false_shutdown_first
    } else if std::env::var_os("PEEK_ACCUSED").is_some() {
        score
            .truths
            .iter()
            .any(|(truth, called, _)| truth != "shutdown" && called == "shutdown")
    } else if std::env::var_os("PEEK_SEPARABLE").is_some() {
        score
            .truths
            .iter()
            .zip(&score.inseparable)
            .any(|((_, _, right), inseparable)| !right && !inseparable)
    } else {
        score.truths.iter().any(|(_, _, right)| !right)
    };
    if failures_only && !wanted {
        return false;
    }
    println!(
        "#{index} kind {:?}; probes {}+{}; isps {}; regions {}",
        s.kind,
        s.countries[0].probes.len(),
        s.countries[1].probes.len(),
        s.countries[0].isps.len(),
        s.countries[0].regions.len()
    );
    for t in &s.truth {
        println!("truth {:?} {:?} {}..{}", t.class, t.scope, t.start, t.end);
    }
    if std::env::var_os("PEEK_PROBES").is_some() {
        print_placement(&s.countries[0]);
    }
    print_events(&s, &events);
    if std::env::var_os("PEEK_INTERIM").is_some() {
        for t in &s.truth {
            for k in [3, 6, 10] {
                let cut = t.start + k;
                println!("-- as published {k} buckets into the truth above (bucket {cut}):");
                let settings = vigil_collector::ClassifierSettings::default();
                print_events(&s, &vigil_collector::classify(&s.input_at(cut), &settings));
            }
        }
    }
    println!(
        "score {:?} first published {:?} false {}\n",
        score.truths, score.first_published, score.false_events
    );
    true
}

/// Prints how many probes a country has in each region on each network.
fn print_placement(country: &vigil_collector::CorpusCountry) {
    let mut counts = std::collections::BTreeMap::new();
    for p in &country.probes {
        let isp = country.isp_of(p);
        *counts
            .entry((country.regions[p.region].clone(), isp.asn, isp.access.as_str()))
            .or_insert(0) += 1;
    }
    for ((region, asn, access), n) in counts {
        println!("    probes {region} AS{asn} {access}: {n}");
    }
}

/// Prints events, times in buckets from the scenario's start.
fn print_events(s: &vigil_collector::CorpusScenario, events: &[vigil_collector::DisruptionEvent]) {
    for e in events {
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
        if !e.scores.is_empty() {
            println!("    scores {:?}", e.scores);
        }
        for ev in &e.evidence {
            println!("    [{}] {} {:?}", ev.family, ev.text, ev.points);
        }
    }
}
