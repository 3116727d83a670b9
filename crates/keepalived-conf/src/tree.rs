//! The block structure of the logical lines, decided the way keepalived's
//! `process_stream` decides it: by which keywords take a block. A `{` after
//! a keyword that takes none is "Unexpected" and ignored, so that block's
//! lines are read at the current level and its `}` closes the current block.

use std::path::Path;
use std::sync::Arc;

use crate::diag::EXIT_MISSING_PARAMETER;
use crate::diag::{Diagnostics, Location, Severity};
use crate::model::keywords::{shape, Section, Shape};
use crate::model::missing_values::needs_argument;
use crate::reader::Line;

/// A keyword line and its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub words: Vec<String>,
    pub raw: String,
    pub file: Option<Arc<Path>>,
    pub line: usize,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i + 1).map(String::as_str)
    }

    pub fn loc(&self) -> Location {
        Location {
            file: self.file.as_ref().map(|p| p.to_path_buf()),
            line: self.line,
        }
    }

    /// The block's nodes (empty when there is none).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// A script command line as keepalived takes it: the line is re-split
    /// honouring `'`/`"` quotes and escapes, and the word after the keyword
    /// is the command (further words are the user and group).
    pub fn script_text(&self) -> String {
        match crate::lexer::split_escaped(&self.raw) {
            Ok(words) => words.get(1).cloned().unwrap_or_default(),
            Err(_) => self.arg(0).unwrap_or_default().to_string(),
        }
    }

    fn from_line(l: &Line) -> Self {
        Node {
            words: l.words.clone(),
            raw: l.raw.clone(),
            file: l.file.clone(),
            line: l.line,
            block: None,
        }
    }
}

/// Which keepalived process reads the file. Each knows every keyword but
/// skips the root blocks of the other processes by counting braces, so a
/// brace error inside one kind of block can shift what the other one sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The health checker: virtual servers, SSL, global_defs.
    Checker,
    /// VRRP: instances, sync groups, scripts, static_*, global_defs.
    Vrrp,
}

impl Process {
    /// Root keywords this process leaves to another one.
    fn skips(self, kw: &str) -> bool {
        match self {
            Process::Checker => matches!(
                kw,
                "vrrp_instance"
                    | "vrrp_sync_group"
                    | "vrrp_script"
                    | "vrrp_track_process"
                    | "static_ipaddress"
                    | "static_routes"
                    | "static_rules"
                    | "track_group"
                    | "garp_group"
                    | "linkbeat_interfaces"
                    | "interface_up_down_delays"
                    | "bfd_instance"
            ),
            Process::Vrrp => matches!(
                kw,
                "virtual_server" | "virtual_server_group" | "SSL" | "bfd_instance"
            ),
        }
    }
}

struct Builder<'a, 'd> {
    lines: &'a [Line],
    next: usize,
    process: Process,
    diags: &'d mut Diagnostics,
    /// Names of the vrrp_instance and vrrp_sync_group blocks read so far.
    names: std::collections::HashSet<(String, String)>,
}

/// Builds the tree `process` sees, reporting unknown keywords and misplaced
/// braces.
pub fn build(lines: &[Line], process: Process, diags: &mut Diagnostics) -> Vec<Node> {
    let mut b = Builder {
        lines,
        next: 0,
        process,
        diags,
        names: std::collections::HashSet::new(),
    };
    // At the top level a '}' does not end the section, so one call reads all.
    b.section(Section::Root, 0, false)
}

impl<'a> Builder<'a, '_> {
    fn take(&mut self) -> Option<&'a Line> {
        let l = self.lines.get(self.next)?;
        self.next += 1;
        Some(l)
    }

    /// vrrp_instance / vrrp_sync_group / track_group blocks that keepalived
    /// refuses (no name, several words, or a name used before) and skips.
    fn refused_name(&mut self, l: &Line) -> bool {
        let kw = l.words.first().map_or("", String::as_str);
        if !matches!(kw, "vrrp_instance" | "vrrp_sync_group" | "track_group") {
            return false;
        }
        if l.words.len() != 2 {
            return true;
        }
        kw != "track_group" && !self.names.insert((kw.to_string(), l.words[1].clone()))
    }

    /// Script keywords re-split their raw line with quotes and escapes; with
    /// an unterminated quote that fails ("missing terminating") and the
    /// script is dropped, instead of the missing value ending keepalived.
    fn script_with_open_quote(&mut self, kw: &str, l: &Line) -> bool {
        const SCRIPTS: &[&str] = &[
            "notify",
            "notify_backup",
            "notify_master",
            "notify_fault",
            "notify_stop",
            "notify_deleted",
            "notify_master_rx_lower_pri",
            "notify_up",
            "notify_down",
            "script",
            "misc_path",
        ];
        if !SCRIPTS.contains(&kw) {
            return false;
        }
        match crate::lexer::split_escaped(&l.raw) {
            Err(e) if e.contains("missing terminating") => {
                self.diags
                    .report(Severity::UnmatchedQuote, &l.location(), e);
                true
            }
            _ => false,
        }
    }

    /// keepalived's handling of an inactive keyword: a `{` on the next line
    /// starts a block skipped by counting braces; anything else is read
    /// normally.
    fn skip_inactive_block(&mut self) {
        if self.lines.get(self.next).is_none_or(|l| l.raw != "{") {
            return;
        }
        self.next += 1;
        let mut depth = 1usize;
        while let Some(l) = self.take() {
            match l.raw.as_str() {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn section(&mut self, section: Section, level: usize, mut need_bob: bool) -> Vec<Node> {
        let mut nodes = Vec::new();
        while let Some(l) = self.take() {
            if self.diags.stopped.is_some() {
                break;
            }
            if need_bob {
                need_bob = false;
                if l.raw == "{" && level > 0 {
                    continue;
                }
                self.diags.report(
                    Severity::MissingBob,
                    &l.location(),
                    "Missing '{' at beginning of configuration block",
                );
            } else if l.raw == "{" {
                self.diags.report(
                    Severity::UnexpectedBob,
                    &l.location(),
                    "Unexpected '{' - ignoring",
                );
                continue;
            }
            if l.raw == "}" && level > 0 {
                break;
            }
            let kw = l.words.first().map_or("", String::as_str);
            if section == Section::Root && self.process.skips(kw) {
                self.skip_inactive_block();
                continue;
            }
            if section == Section::Root && self.refused_name(l) {
                // keepalived's skip_block(true): a following block is not read
                // at all; without a '{' the lines are read as the block's
                // keywords (after "Missing '{'") and then dropped.
                let mut n = Node::from_line(l);
                if self.lines.get(self.next).is_some_and(|l| l.raw == "{") {
                    self.skip_inactive_block();
                } else if let Some(Shape::Block(sub)) = shape(section, kw) {
                    let _ = self.section(sub, level + 1, true);
                }
                n.block = Some(Vec::new());
                nodes.push(n);
                continue;
            }
            let shape = shape(section, kw);
            if shape.is_some()
                && l.words.len() < 2
                && needs_argument(section, kw)
                && !self.script_with_open_quote(kw, l)
            {
                self.diags.report(
                    Severity::MissingParameter,
                    &l.location(),
                    format!(
                        "*** Configuration line starting `{kw}` is missing a parameter after keyword `{kw}` at word position 2"
                    ),
                );
                self.diags.stopped = Some(EXIT_MISSING_PARAMETER);
                break;
            }
            match shape {
                None => self.diags.report(
                    Severity::UnknownKeyword,
                    &l.location(),
                    format!("Unknown keyword '{kw}'"),
                ),
                Some(Shape::Leaf) => nodes.push(Node::from_line(l)),
                Some(Shape::Values) => {
                    if kw != "virtual_server_group" && l.words.len() > 1 {
                        self.diags.report(
                            Severity::GeneralError,
                            &l.location(),
                            format!("Block {kw} has extra parameters {} ...", l.words[1]),
                        );
                    }
                    let mut n = Node::from_line(l);
                    n.block = Some(self.values(kw == "virtual_server_group"));
                    nodes.push(n);
                }
                Some(Shape::Block(sub)) => {
                    let mut n = Node::from_line(l);
                    n.block = Some(self.section(sub, level + 1, true));
                    nodes.push(n);
                }
            }
        }
        nodes
    }

    /// keepalived's `alloc_value_block`: lines up to the next `}`.
    fn values(&mut self, unnamed_vector: bool) -> Vec<Node> {
        let mut out = Vec::new();
        let mut first = true;
        while let Some(l) = self.take() {
            if first {
                first = false;
                if l.raw == "{" {
                    continue;
                }
                if unnamed_vector {
                    // keepalived's virtual_server_group hands alloc_value_block
                    // a word list without a keyword; naming it in this message
                    // reads the missing word and ends keepalived (exit 2).
                    self.diags.report(
                        Severity::MissingParameter,
                        &l.location(),
                        "*** Configuration line starting `***MISSING ***` is missing a parameter at word position 1",
                    );
                    self.diags.stopped = Some(EXIT_MISSING_PARAMETER);
                    return out;
                }
                self.diags.report(
                    Severity::Info,
                    &l.location(),
                    "'{' missing from beginning of block",
                );
            }
            if l.raw == "}" {
                break;
            }
            out.push(Node::from_line(l));
        }
        out
    }
}
