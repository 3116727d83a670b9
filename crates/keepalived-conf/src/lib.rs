//! keepalived.conf (keepalived 2.2.7 dialect): lexer, typed model and
//! validation, with keepalived's messages and `keepalived -t` exit codes.

pub mod complete;
pub mod diag;
pub mod host;
pub mod include;
pub mod lexer;
pub mod params;
pub mod reader;
mod security;
pub mod seq;
pub mod tree;

pub use diag::{Diagnostic, Diagnostics, Location, Severity};
pub mod model;
pub mod validate;
pub mod values;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use model::Config;
pub use reader::ReadOptions;
pub use validate::{FakeHost, Host, SystemHost};

/// The result of reading and checking a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub config: Config,
    pub diagnostics: Diagnostics,
}

impl Outcome {
    /// The exit code `keepalived -t` gives for these diagnostics.
    pub fn exit_code(&self) -> i32 {
        self.diagnostics.exit_code()
    }
}

/// Reads, builds and validates `path` as `keepalived -t` does.
pub fn check_file<H: Host + ?Sized>(path: &Path, opts: &ReadOptions, host: &H) -> Outcome {
    let mut diags = Diagnostics::default();
    let lines = reader::read_config(path, opts, &mut diags);
    finish(&lines, path, host, diags)
}

/// Like [`check_file`] for text in memory named `name`.
pub fn check_str<H: Host + ?Sized>(
    text: &str,
    name: &Path,
    opts: &ReadOptions,
    host: &H,
) -> Outcome {
    let mut diags = Diagnostics::default();
    let lines = reader::read_str(text, name, opts, &mut diags);
    finish(&lines, name, host, diags)
}

fn finish<H: Host + ?Sized>(
    lines: &[reader::Line],
    name: &Path,
    host: &H,
    mut diags: Diagnostics,
) -> Outcome {
    if diags.stopped.is_some() {
        return Outcome::new(Config::default(), diags);
    }
    // keepalived -t validates the checker's view first, then the VRRP one.
    let nodes = tree::build(lines, tree::Process::Checker, &mut diags);
    let checker = model::build(&nodes, &mut diags);
    if diags.stopped.is_some() {
        return Outcome::new(checker, diags);
    }
    validate::checker(&checker, host, name, &mut diags);
    let nodes = tree::build(lines, tree::Process::Vrrp, &mut diags);
    let mut config = model::build(&nodes, &mut diags);
    if diags.stopped.is_none() {
        validate::vrrp(&mut config, host, name, &mut diags);
    }
    config.virtual_servers = checker.virtual_servers;
    config.virtual_server_groups = checker.virtual_server_groups;
    config.ssl = checker.ssl;
    if diags.stopped.is_none() {
        validate::start_stop_scripts(&config, host, &mut diags);
    }
    Outcome::new(config, diags)
}

impl Outcome {
    fn new(config: Config, mut diagnostics: Diagnostics) -> Self {
        // Both passes read global_defs and the root level: keepalived prints
        // those messages once per process; we print each once.
        let mut seen = std::collections::HashSet::new();
        diagnostics
            .items
            .retain(|d| seen.insert((d.file.clone(), d.line, d.message.clone())));
        Self {
            config,
            diagnostics,
        }
    }
}
