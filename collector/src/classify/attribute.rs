//! Attribution of a correlated outage by evidence families (CLASSIFICATION.md §5.5): each feature gives points
//! to shutdown, power outage and network failure with a recorded reason; the class, its confidence and the
//! guards follow from the scores, the margin and how many independent families agree.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ConfidenceLevel, EventClass, Evidence};

/// The classes a correlated outage is scored for.
const CLASSES: [EventClass; 3] = [
    EventClass::Shutdown,
    EventClass::PowerOutage,
    EventClass::NetworkFailure,
];

/// One observed feature and its points for (shutdown, power outage, network failure).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Evidence family.
    pub family: &'static str,
    /// What was seen, in plain words.
    pub text: String,
    /// Points for shutdown, power outage, network failure.
    pub points: [i32; 3],
    /// Whether it rests on measurements taken during the outage (spooled and uploaded afterwards).
    pub inside_cut: bool,
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The class (or unknown).
    pub class: EventClass,
    /// Level.
    pub level: ConfidenceLevel,
    /// 0–1.
    pub confidence: f64,
    /// Evidence with the points each gave the chosen class (or the leading one when unknown).
    pub evidence: Vec<Evidence>,
    /// Points per class.
    pub scores: BTreeMap<String, i32>,
}

/// Families whose evidence can carry a high-confidence shutdown (device or path, not timing or geometry).
const SHUTDOWN_ANCHORS: [&str; 2] = ["device", "path"];

/// Scores the features and decides, applying the guards. `max_level` caps the level (small scopes).
pub fn decide(features: &[Feature], max_level: ConfidenceLevel) -> Attribution {
    let score = |i: usize| features.iter().map(|f| f.points[i]).sum::<i32>();
    let scores: Vec<i32> = (0..3).map(score).collect();
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by_key(|&i| (-scores[i], i));
    let (top, second) = (order[0], order[1]);
    let margin = scores[top] - scores[second];
    let families: BTreeSet<&str> = features
        .iter()
        .filter(|f| f.points[top] > 0)
        .map(|f| f.family)
        .collect();
    let mut level = if scores[top] >= 8 && margin >= 4 && families.len() >= 3 {
        Some(ConfidenceLevel::High)
    } else if scores[top] >= 5 && margin >= 2 && families.len() >= 2 {
        Some(ConfidenceLevel::Medium)
    } else if scores[top] >= 3 && margin >= 1 {
        Some(ConfidenceLevel::Low)
    } else {
        None
    };
    let class = CLASSES[top];
    // Guard: never a high-confidence shutdown from timing and geometry alone.
    if class == EventClass::Shutdown
        && level == Some(ConfidenceLevel::High)
        && !SHUTDOWN_ANCHORS.iter().any(|f| families.contains(f))
    {
        level = Some(ConfidenceLevel::Medium);
    }
    // Guard: never a power outage without device evidence.
    if class == EventClass::PowerOutage && !families.contains("device") {
        level = level.map(|l| l.min(ConfidenceLevel::Low));
    }
    // Guard: a shutdown accuses a government. Silence, timing and geometry fit an upstream failure just as well;
    // the call needs evidence measured inside the cut (paths, or gateways and links up during it).
    let inside = features.iter().any(|f| f.inside_cut && f.points[0] > 0);
    if class == EventClass::Shutdown && !inside {
        level = None;
    }
    // Guard: both shutdown and power strongly supported — a shutdown during a blackout, say: undecided.
    let both = scores[0] >= 5 && scores[1] >= 5;
    let level = level.map(|l| l.min(max_level));
    let (class, level) = match level {
        Some(l) if !both => (class, l),
        _ => (EventClass::Unknown, ConfidenceLevel::Low),
    };
    let confidence = match (class, level) {
        (EventClass::Unknown, _) => 0.2,
        (_, ConfidenceLevel::High) => (0.85 + f64::from(margin) / 100.0).min(0.99),
        (_, ConfidenceLevel::Medium) => (0.6 + f64::from(margin) / 100.0).min(0.8),
        (_, ConfidenceLevel::Low) => (0.35 + f64::from(margin) / 100.0).min(0.55),
    };
    Attribution {
        class,
        level,
        confidence,
        evidence: features
            .iter()
            .map(|f| Evidence {
                family: f.family.to_owned(),
                text: f.text.clone(),
                points: f.points[top],
            })
            .collect(),
        scores: CLASSES
            .iter()
            .zip(&scores)
            .map(|(c, s)| (c.as_str().to_owned(), *s))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(family: &'static str, points: [i32; 3]) -> Feature {
        Feature {
            family,
            text: family.to_owned(),
            points,
            inside_cut: family == "path",
        }
    }

    #[test]
    fn three_agreeing_families_make_a_high_confidence_call() {
        let a = decide(
            &[f("device", [3, -3, 1]), f("path", [3, -2, 0]), f("timing", [2, -2, 1])],
            ConfidenceLevel::High,
        );
        assert_eq!((a.class, a.level), (EventClass::Shutdown, ConfidenceLevel::High));
    }

    #[test]
    fn timing_geometry_and_access_alone_never_make_a_shutdown_call() {
        let outside = [
            f("timing", [4, -2, 1]),
            f("geometry", [3, 1, -2]),
            f("access", [4, -3, -1]),
        ];
        assert_eq!(decide(&outside, ConfidenceLevel::High).class, EventClass::Unknown);
        let mut with_path = outside.to_vec();
        with_path.push(f("path", [3, -2, 0]));
        let a = decide(&with_path, ConfidenceLevel::High);
        assert_eq!((a.class, a.level), (EventClass::Shutdown, ConfidenceLevel::High));
    }

    #[test]
    fn no_shutdown_call_without_evidence_from_inside_the_cut() {
        let outside = |family| Feature {
            inside_cut: false,
            ..f(family, [3, -3, 1])
        };
        let a = decide(
            &[outside("device"), outside("timing"), outside("geometry")],
            ConfidenceLevel::High,
        );
        assert_eq!(a.class, EventClass::Unknown);
        assert_eq!(a.scores["shutdown"], 9, "the scores are still shown");
    }

    #[test]
    fn no_power_outage_without_device_evidence() {
        let a = decide(
            &[
                f("timing", [-2, 3, 0]),
                f("geometry", [1, 2, -1]),
                f("access", [-2, 3, 0]),
            ],
            ConfidenceLevel::High,
        );
        assert_eq!((a.class, a.level), (EventClass::PowerOutage, ConfidenceLevel::Low));
    }

    #[test]
    fn strong_shutdown_and_power_scores_together_are_unknown() {
        let a = decide(&[f("path", [6, 0, 0]), f("device", [0, 6, 0])], ConfidenceLevel::High);
        assert_eq!(a.class, EventClass::Unknown);
        assert_eq!((a.scores["shutdown"], a.scores["power_outage"]), (6, 6));
    }
}
