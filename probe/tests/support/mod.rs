//! Shared helpers for the probe's integration tests.

#![allow(dead_code)]

pub mod dns_responder;
pub mod dns_tls;
pub mod precondition;
pub mod web;
