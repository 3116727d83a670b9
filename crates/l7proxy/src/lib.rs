//! An nginx-compatible layer-7 reverse proxy driven by nginx.conf.
