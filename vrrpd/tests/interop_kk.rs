//! Interop scenarios, keepalived ↔ keepalived: the calibration. Must pass on any machine with keepalived 2.2.7.
//! The scenarios live in `support/scenarios/` and the test lists in
//! `support/suite.rs`; every combination file runs the same code (`interop_kk`,
//! `interop_vv`, `interop_vk`, `interop_kv`).

mod support;

use support::Impl;

pair_tests!(Impl::Keepalived, Impl::Keepalived);
single_impl_tests!(Impl::Keepalived);
