//! keepalived.conf lexer, typed model and validation.
