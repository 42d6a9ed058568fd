//! Classification runs over the store: read the registry, the window's bucket summaries and presence logs, call
//! the pure classifier ([`crate::classify`]), and save its events with revisions. The classifier never touches
//! the store; this module is the only one that connects the two.

mod run;

pub use run::{Change, RunReport, Transition, classify_window, load_input, plan_window, save_plan, transitions};
