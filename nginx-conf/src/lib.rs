//! nginx configuration files with nginx's own grammar.
//!
//! * [`lexer`]: tokens by the rules of nginx's `ngx_conf_read_token`.
//! * [`parser`]: crossplane's JSON payload ([`payload`]) from those tokens.
//! * [`analyzer`]: context and argument checks from nginx's directive table.
//! * [`check`]: `nginx -t` for the grammar.
//! * [`builder`]: text back from the payload (`build`, `format`, `minify`).

pub mod analyzer;
pub mod builder;
pub mod check;
pub mod combine;
pub mod directives;
pub mod include;
pub mod json;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod payload;
mod semantic;

pub use check::{check, CheckError};
pub use parser::{parse, ParseOptions};
pub use payload::{ConfigFile, Payload, Stmt};
