//! Shared helpers for the probe's integration tests.

#![allow(dead_code)]

pub mod dns_responder;
pub mod web;
