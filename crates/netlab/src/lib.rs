//! Kernel lab and namespace topologies.
