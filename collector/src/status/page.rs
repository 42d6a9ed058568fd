//! The status page's HTML (maud escapes every value it interpolates). Readable without JavaScript and without
//! anything from another origin: the charts are inline SVG, the style and the refresh script are served by the
//! collector itself.

use chrono::DateTime;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart;
use super::view::{CountryView, StatusView};
use std::collections::HashMap;

use crate::model::EventScope;
use crate::model::PublicProbe;
use crate::review::{self, ReviewStatus};
use crate::store::{EventReview, StoredEvent};

fn time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn duration(secs: i64) -> String {
    let minutes = secs.max(0) / 60;
    match (minutes / 1440, (minutes / 60) % 24, minutes % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// "national (XL)", "AS64501 in XL", "region north, XL", "mobile networks in XL", "probe prb-…".
fn scope_text(s: &EventScope) -> String {
    let country = s.country.as_deref().unwrap_or("?");
    match s.level.as_str() {
        "country" => format!("national ({country})"),
        "asn" => format!("AS{} in {country}", s.asn.unwrap_or_default()),
        "region" => format!("region {}, {country}", s.region.as_deref().unwrap_or("?")),
        "access" => format!("{} networks in {country}", s.access.as_deref().unwrap_or("?")),
        "probe" => format!("one probe ({})", s.probe_id.as_deref().unwrap_or("?")),
        "collector" => "the collector itself".to_owned(),
        other => format!("{other} ({country})"),
    }
}

/// How a blocked target reads: a messaging app (`app:NAME`) by its name, anything else as the target it is.
fn target_text(name: &str) -> (&'static str, &str) {
    match name.strip_prefix(crate::model::APP_LIST_PREFIX) {
        Some(app) if !app.is_empty() => ("app", app),
        _ => ("target", name),
    }
}

fn event_rows(events: &[StoredEvent], reviews: &HashMap<String, EventReview>, now: i64) -> Markup {
    html! {
        @for stored in events {
            @let e = &stored.event;
            @let review = reviews.get(&e.id);
            @let status = review::status(e, review);
            tr.event data-class=(e.class.as_str()) data-review=(status.as_str()) id=(format!("event-{}", e.id)) {
                td {
                    span.class-badge.(e.class.as_str()).(status.as_str()) { (review::publication(e, review).label) }
                    @if let (ReviewStatus::Confirmed | ReviewStatus::Rejected, Some(r)) = (status, review) {
                        div.review {
                            (r.verdict.as_str()) " by " (r.reviewer)
                            @if !r.note.is_empty() { ": " (r.note) }
                        }
                    }
                }
                td { (scope_text(&e.scope)) }
                td { time datetime=(e.started_at) { (time(e.started_at)) } }
                td {
                    @match e.ended_at {
                        Some(end) => { (time(end)) " (" (duration(end - e.started_at)) ")" }
                        None => { "ongoing, " (duration(now - e.started_at)) }
                    }
                }
                td { (format!("{:?}", e.confidence_level).to_lowercase()) " (" (format!("{:.0}%", e.confidence * 100.0)) ")" }
                td { (e.affected_probes) " of " (e.probes_in_scope) }
                td.evidence {
                    details {
                        summary {
                            (e.evidence.len()) " findings"
                            @if stored.revisions > 1 { ", revised " (stored.revisions - 1) "×" }
                        }
                        ul {
                            @for ev in &e.evidence {
                                li { span.family { (ev.family) } " " (ev.text) }
                            }
                            @for t in &e.targets {
                                @let (family, name) = target_text(&t.name);
                                li { span.family { (family) } " " (name) " — " (t.method.replace('_', " "))
                                    @if !t.fingerprints.is_empty() { " (" (t.fingerprints.join(", ")) ")" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn events_table(view: &StatusView, id: &str, caption: &str, events: &[StoredEvent], empty: &str) -> Markup {
    let now = view.generated_at.timestamp();
    html! {
        section id=(id) {
            h2 { (caption) }
            @if events.is_empty() {
                p.empty { (empty) }
            } @else {
                table {
                    thead { tr { th { "Class" } th { "Scope" } th { "Started" } th { "Ended" } th { "Confidence" }
                        th { "Probes affected" } th { "Evidence" } } }
                    tbody { (event_rows(events, &view.reviews, now)) }
                }
            }
        }
    }
}

fn legend(items: &[(&str, &str)]) -> Markup {
    html! {
        ul.legend {
            @for (class, label) in items { li { span.(class) {} (label) } }
        }
    }
}

fn country_section(c: &CountryView, step: i64) -> Markup {
    let last = c.points.last();
    let states = chart::probe_states(&c.points, step, &c.spans);
    let reach = chart::reachability(&c.points, step, &c.spans);
    let percent = |v: Option<f64>| v.map_or_else(|| "no checks".to_owned(), |v| format!("{:.0}%", v * 100.0));
    html! {
        section.country id=(format!("country-{}", c.country)) {
            h3 { (c.country) " " span.muted { "(" (c.probes) " probes)" } }
            @if let Some(p) = last {
                p.summary {
                    "Last bucket (" (time(p.t)) "): " (p.online) " online, " (p.isolated) " isolated, "
                    (p.dark) " dark, " (p.on_battery) " on battery; domestic anchors "
                    (percent(p.domestic_reachability)) ", international " (percent(p.international_reachability)) "."
                }
            }
            figure {
                figcaption { "Probes by state" }
                @match states { Ok(svg) => (PreEscaped(svg)), Err(e) => p.empty { (e) } }
                (legend(&[("sw-online", "online"), ("sw-isolated", "isolated"), ("sw-dark", "dark"),
                    ("sw-battery", "on battery"), ("sw-event", "event")]))
            }
            figure {
                figcaption { "Anchors reached" }
                @match reach { Ok(svg) => (PreEscaped(svg)), Err(e) => p.empty { (e) } }
                (legend(&[("sw-domestic", "domestic"), ("sw-international", "international"), ("sw-event", "event")]))
            }
        }
    }
}

fn probes_table(probes: &[PublicProbe]) -> Markup {
    html! {
        section id="probes" {
            h2 { "Probes" }
            p.muted { "Pseudonymous ids; a region is named only when at least three probes share it." }
            table {
                thead { tr { th { "Probe" } th { "Country" } th { "Network" } th { "Region" } th { "Access" } th { "Last report" } } }
                tbody {
                    @for p in probes {
                        tr.probe.inactive[!p.active] {
                            td { code { (p.probe_id) } }
                            td { (p.country) }
                            td { "AS" (p.asn) }
                            td { (p.region.as_deref().unwrap_or("—")) }
                            td { (p.access) }
                            td {
                                // RFC 3339 to the minute: "2026-11-23T18:34:12.345Z" → "2026-11-23 18:34 UTC".
                                @match p.last_seen.as_deref().and_then(|t| t.get(..16)) {
                                    Some(minute) => { (minute.replace('T', " ")) " UTC" }
                                    None => { "never" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn chooser(view: &StatusView) -> Markup {
    html! {
        form.chooser method="get" action="/" {
            label { "Window "
                select name="hours" {
                    @for h in [6i64, 24, 72, 168] {
                        option value=(h) selected[h == view.hours] {
                            @if h % 24 == 0 { (h / 24) " d" } @else { (h) " h" }
                        }
                    }
                }
            }
            " "
            label { "Country "
                select name="country" {
                    option value="" selected[view.country.is_none()] { "all" }
                    @for c in &view.all_countries {
                        option value=(c) selected[view.country.as_deref() == Some(c.as_str())] { (c) }
                    }
                }
            }
            " " button type="submit" { "Show" }
        }
    }
}

/// The whole page.
pub fn render(view: &StatusView) -> Markup {
    let now = view.generated_at.timestamp();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Vigil — network disruption status" }
                link rel="stylesheet" href="/static/status.css";
                script src="/static/status.js" defer {}
            }
            body {
                header {
                    h1 { "Vigil" span.muted { " — network disruption status" } }
                    p.muted {
                        "Updated " time #updated datetime=(now) { (time(now)) } ". Window "
                        (time(view.from)) " – " (time(view.to)) ", " (duration(view.step)) " buckets. "
                        a href="/api/v1/events.atom" { "Atom feed" } " · " a href="/api/v1/events" { "events (JSON)" }
                    }
                    (chooser(view))
                }
                main #status {
                    (events_table(view, "active", "Ongoing disruptions", &view.active, "No ongoing disruption."))
                    (events_table(view, "recent", "Recent disruptions", &view.recent, "None in this window."))
                    section #timelines {
                        h2 { "Timelines" }
                        @if view.countries.is_empty() { p.empty { "No probes registered yet." } }
                        @for c in &view.countries { (country_section(c, view.step)) }
                    }
                    (probes_table(&view.probes))
                }
                footer.muted {
                    "Classes: shutdown (cut while power and local networks are up), power outage, network failure, "
                    "censorship, throttling, probe fault, collector side, unknown. Confidence and evidence come from "
                    "the classifier and are revised as late data arrives. A shutdown is shown as suspected until a "
                    "person has reviewed its evidence."
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(59), "0 min");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(duration(2 * 86400 + 5 * 3600), "2 d 5 h");
    }

    #[test]
    fn an_app_reads_as_an_app_and_a_site_as_a_target() {
        assert_eq!(target_text("app:whatsapp"), ("app", "whatsapp"));
        assert_eq!(
            target_text("https://news.example/"),
            ("target", "https://news.example/")
        );
        assert_eq!(target_text("app:"), ("target", "app:"));
    }

    #[test]
    fn scopes_read_naturally() {
        let scope = EventScope {
            level: "asn".to_owned(),
            country: Some("XL".to_owned()),
            asn: Some(64501),
            ..EventScope::default()
        };
        assert_eq!(scope_text(&scope), "AS64501 in XL");
    }
}
