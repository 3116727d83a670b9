//! Interop scenarios, vrrpd ↔ vrrpd.
//! The scenarios live in `support/scenarios/` and the test lists in
//! `support/suite.rs`; every combination file runs the same code (`interop_kk`,
//! `interop_vv`, `interop_vk`, `interop_kv`).

mod support;

use support::Impl;

pair_tests!(Impl::Vrrpd, Impl::Vrrpd);
single_impl_tests!(Impl::Vrrpd);
