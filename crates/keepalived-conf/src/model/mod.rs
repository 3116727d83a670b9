//! The typed, serde-serializable configuration model, built from the block
//! tree. Frequently used keywords are typed fields; every other keyword
//! keepalived knows is kept, in order, as a [`Setting`]; unknown keywords get
//! keepalived's `Unknown keyword 'X'` and are dropped with their blocks.

pub mod instance_options;
mod ipconf;
pub mod keywords;
mod lvs;
pub mod missing_values;
mod vrrp;
mod vrrp_instance;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostics, Severity};
use crate::tree::Node;
use crate::values;

pub use ipconf::{Authentication, Route, Rule, UnicastPeer, VirtualAddress};
pub use lvs::{Checker, RealServer, UrlCheck, VirtualServer, VirtualServerGroup, VsAddress};
pub use vrrp::{GlobalDefs, SyncGroup, TrackFile, TrackRef, VrrpInstance, VrrpScript};

/// A keyword that is known but has no typed field: its words and block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub keyword: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block: Vec<Setting>,
    #[serde(default)]
    pub line: usize,
}

impl Setting {
    pub fn from_node(n: &Node) -> Self {
        Self {
            keyword: n.keyword().to_string(),
            args: n.args().to_vec(),
            block: n.children().iter().map(Setting::from_node).collect(),
            line: n.line,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub global_defs: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFile>,
    pub vrrp_sync_groups: Vec<SyncGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub static_ipaddress: Vec<VirtualAddress>,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// `SSL { password ca certificate key }`.
    pub ssl: Vec<Setting>,
    /// Other known top-level keywords (net_namespace, garp_group, ...).
    pub other: Vec<Setting>,
}

/// Shared state while building: diagnostics and rule numbering.
pub(crate) struct Builder<'d> {
    pub diags: &'d mut Diagnostics,
    /// keepalived numbers rules without a preference downwards from 16384.
    pub next_rule_pref: u32,
}

impl Builder<'_> {
    pub fn error(&mut self, n: &Node, msg: impl Into<String>) {
        self.diags.report(Severity::GeneralError, &n.loc(), msg);
    }

    pub fn number_error(&mut self, n: &Node, msg: impl Into<String>) {
        self.diags.report(Severity::InvalidNumber, &n.loc(), msg);
    }

    /// keepalived's `null_strvec`: the word after `words[idx]` is missing, so
    /// keepalived stops reading with exit code 2.
    pub fn stop_missing(&mut self, n: &Node, idx: usize) {
        if self.diags.stopped.is_some() {
            return;
        }
        self.missing_parameter(n, idx);
        self.diags.stopped = Some(crate::diag::EXIT_MISSING_PARAMETER);
    }

    /// keepalived's message for a missing word after `words[idx]`.
    fn missing_parameter(&mut self, n: &Node, idx: usize) {
        self.diags.report(
            Severity::MissingParameter,
            &n.loc(),
            format!(
                "*** Configuration line starting `{}` is missing a parameter after keyword `{}` at word position {}",
                n.keyword(),
                n.words.get(idx).map_or("", String::as_str),
                idx + 2
            ),
        );
    }

    /// Checks `n` is among `known`; reports an unknown keyword otherwise.
    /// Nothing is known any more once keepalived would have stopped.
    pub fn known(&mut self, n: &Node, known: &[&str]) -> bool {
        if self.diags.stopped.is_some() {
            return false;
        }
        if known.contains(&n.keyword()) {
            true
        } else {
            self.diags.report(
                Severity::UnknownKeyword,
                &n.loc(),
                format!("Unknown keyword '{}'", n.keyword()),
            );
            false
        }
    }

    /// Argument `i` or keepalived's missing-parameter message.
    pub fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n str> {
        let a = n.arg(i);
        if a.is_none() {
            self.missing_parameter(n, i);
        }
        a
    }

    /// A block keyword must have a block.
    pub fn needs_block(&mut self, n: &Node) -> bool {
        if n.block.is_none() {
            self.diags.report(
                Severity::MissingBob,
                &n.loc(),
                "Missing '{' at beginning of configuration block",
            );
            return false;
        }
        true
    }

    /// keepalived's checks before a named block (`vrrp_instance NAME {`):
    /// exactly one name (else `unnamed`), not `taken` by an earlier block
    /// (else `{kind} NAME already defined`), and a block.
    fn named_block(
        &mut self,
        n: &Node,
        taken: impl FnOnce(&str) -> bool,
        unnamed: &str,
        kind: &str,
    ) -> bool {
        let [name] = n.args() else {
            self.error(n, unnamed);
            return false;
        };
        if taken(name) {
            self.error(n, format!("{kind} {name} already defined"));
            return false;
        }
        self.needs_block(n)
    }

    pub fn unsigned(&mut self, n: &Node, i: usize, min: u64, max: u64) -> Option<u64> {
        self.number(n, i, |s| values::parse_unsigned(s, min, max))
    }

    pub fn int(&mut self, n: &Node, i: usize, min: i64, max: i64) -> Option<i64> {
        self.number(n, i, |s| values::parse_int(s, min, max))
    }

    pub fn timer(&mut self, n: &Node, i: usize, min: u64, max: u64) -> Option<u64> {
        self.number(n, i, |s| values::parse_timer(s, min, max))
    }

    /// Argument `i` read by `parse`; a missing argument or a bad number is
    /// reported and gives `None`.
    fn number<T>(
        &mut self,
        n: &Node,
        i: usize,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.arg(n, i)?;
        match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.number_error(n, e);
                None
            }
        }
    }

    /// A flag keyword with an optional boolean argument (absent means true).
    pub fn flag(&mut self, n: &Node) -> bool {
        match n.arg(0) {
            None => true,
            Some(s) => values::parse_bool(s).unwrap_or_else(|| {
                self.error(n, format!("Invalid value '{s}' for {}", n.keyword()));
                true
            }),
        }
    }
}

/// Builds the model from the tree, reporting what keepalived reports while
/// parsing.
pub fn build(nodes: &[Node], diags: &mut Diagnostics) -> Config {
    let mut b = Builder {
        diags,
        next_rule_pref: 16384,
    };
    let mut cfg = Config::default();
    for n in nodes {
        if b.diags.stopped.is_some() {
            break;
        }
        if !b.known(n, keywords::ROOT) {
            continue;
        }
        match n.keyword() {
            "global_defs" => {
                if b.needs_block(n) {
                    vrrp::global_defs(&mut b, n, &mut cfg.global_defs);
                }
            }
            "vrrp_script" => {
                if b.needs_block(n) {
                    cfg.vrrp_scripts.push(vrrp::vrrp_script(&mut b, n));
                }
            }
            "track_file" | "vrrp_track_file" => {
                if b.needs_block(n) {
                    cfg.track_files.push(vrrp::track_file(&mut b, n));
                }
            }
            "vrrp_sync_group" => {
                let taken = |name: &str| cfg.vrrp_sync_groups.iter().any(|g| g.name == name);
                let unnamed = "vrrp_sync_group must have a name - skipping";
                if b.named_block(n, taken, unnamed, "vrrp sync group") {
                    cfg.vrrp_sync_groups.push(vrrp::sync_group(&mut b, n));
                }
            }
            "vrrp_instance" => {
                let taken = |name: &str| cfg.vrrp_instances.iter().any(|v| v.name == name);
                let unnamed = "vrrp_instance must have a name";
                if b.named_block(n, taken, unnamed, "vrrp instance") {
                    cfg.vrrp_instances.push(vrrp::instance(&mut b, n));
                }
            }
            "static_ipaddress" => {
                for c in n.children() {
                    if let Some(a) = ipconf::address(&mut b, c, false) {
                        cfg.static_ipaddress.push(a);
                    }
                }
            }
            "static_routes" => {
                for c in n.children() {
                    if let Some(r) = ipconf::route(&mut b, c, true) {
                        cfg.static_routes.push(r);
                    }
                }
            }
            "static_rules" => {
                for c in n.children() {
                    if let Some(r) = ipconf::rule(&mut b, c) {
                        cfg.static_rules.push(r);
                    }
                }
            }
            "virtual_server_group" => {
                if b.needs_block(n) {
                    cfg.virtual_server_groups
                        .push(lvs::virtual_server_group(&mut b, n));
                }
            }
            "virtual_server" => {
                let (p1, p2) = (n.arg(0).unwrap_or_default(), n.arg(1));
                let by_address = p1 != "group" && p1 != "fwmark";
                if by_address && !lvs::valid_ip_port(p1, p2) {
                    let port = p2.filter(|p| !p.bytes().all(|c| c == b'0'));
                    b.error(
                        n,
                        format!(
                            "Invalid virtual server IP address{} {p1}{}{} - skipping",
                            if port.is_some() { "/port" } else { "" },
                            if port.is_some() { "/" } else { "" },
                            port.unwrap_or("")
                        ),
                    );
                } else if b.needs_block(n) {
                    let names: Vec<String> =
                        cfg.track_files.iter().map(|t| t.name.clone()).collect();
                    cfg.virtual_servers
                        .push(lvs::virtual_server(&mut b, n, &names));
                }
            }
            "SSL" => {
                for c in n.children() {
                    if !b.known(c, keywords::SSL) {
                        continue;
                    }
                    if c.args().is_empty() {
                        let what = match c.keyword() {
                            "ca" => "cafile",
                            "certificate" => "certfile",
                            "key" => "keyfile",
                            other => other,
                        };
                        b.error(c, format!("SSL {what} missing"));
                    } else {
                        cfg.ssl.push(Setting::from_node(c));
                    }
                }
            }
            other => {
                root_checks(&mut b, n, other);
                cfg.other.push(Setting::from_node(n));
            }
        }
    }
    cfg
}

/// keepalived's messages for root keywords kept as settings.
fn root_checks(b: &mut Builder<'_>, n: &Node, kw: &str) {
    let unnamed = n.args().is_empty();
    match kw {
        "net_namespace" if unnamed => b.error(n, "net_namespace name missing - ignoring"),
        "instance" if unnamed => b.error(n, "instance name missing - ignoring"),
        "track_group" if unnamed => b.error(n, "track_group must have a name - skipping"),
        "vrrp_track_process" => {
            let name = n.arg(0).unwrap_or_default();
            for c in n.children() {
                if c.keyword() == "weight" && c.args().is_empty() {
                    b.error(
                        c,
                        format!("No weight specified for track process {name} - ignoring"),
                    );
                }
            }
            if !n.children().iter().any(|c| c.keyword() == "process") {
                b.error(
                    n,
                    format!("track process '{name}' process name not specified"),
                );
            }
        }
        "garp_group" => {
            for c in n.children() {
                if c.keyword() == "interfaces" && c.children().is_empty() {
                    b.error(c, "Warning - empty garp_group interfaces block");
                }
            }
            let has_delay = n
                .children()
                .iter()
                .any(|c| matches!(c.keyword(), "garp_interval" | "gna_interval"));
            if !has_delay {
                b.diags.report_global(
                    Severity::GeneralError,
                    "garp group 0 does not have any delay set - removing",
                );
            }
        }
        _ => {}
    }
}
