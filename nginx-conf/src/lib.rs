//! nginx configuration grammar, crossplane-compatible JSON and a typed model.
