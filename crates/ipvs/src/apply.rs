//! Desired-state apply (to come).
