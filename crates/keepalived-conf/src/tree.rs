//! The block structure of the logical lines: each keyword line with the
//! `{ ... }` block that follows it, if any.

use std::path::Path;
use std::sync::Arc;

use crate::diag::{Diagnostics, Location, Severity};
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

    /// A script command line as keepalived takes it: a single (quoted) word
    /// is the command line; several words are taken from the raw text.
    pub fn script_text(&self) -> String {
        match self.args() {
            [one] => one.clone(),
            _ => self.raw_args().to_string(),
        }
    }

    /// The text after the keyword, for re-splitting with escapes.
    pub fn raw_args(&self) -> &str {
        let kw = self.keyword();
        let t = self.raw.trim_start_matches([' ', '\t']);
        t.strip_prefix(kw)
            .unwrap_or(t)
            .trim_start_matches([' ', '\t'])
    }
}

/// Builds the tree. A `{` line opens a block for the line just before it.
pub fn build(lines: &[Line], diags: &mut Diagnostics) -> Vec<Node> {
    let mut i = 0;
    let mut nodes = Vec::new();
    while i < lines.len() {
        nodes.extend(level(lines, &mut i, 0, diags));
    }
    nodes
}

fn level(lines: &[Line], i: &mut usize, depth: usize, diags: &mut Diagnostics) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut prev_is_line = false;
    while *i < lines.len() {
        let l = &lines[*i];
        *i += 1;
        if l.raw == "}" {
            if depth > 0 {
                return nodes;
            }
            prev_is_line = false;
            continue;
        }
        if l.raw == "{" {
            let inner = level(lines, i, depth + 1, diags);
            match nodes.last_mut() {
                Some(prev) if prev_is_line && prev.block.is_none() => prev.block = Some(inner),
                _ => {
                    diags.report(
                        Severity::UnexpectedBob,
                        &l.location(),
                        "Unexpected '{' - ignoring",
                    );
                    nodes.extend(inner);
                }
            }
            prev_is_line = false;
            continue;
        }
        nodes.push(Node {
            words: l.words.clone(),
            raw: l.raw.clone(),
            file: l.file.clone(),
            line: l.line,
            block: None,
        });
        prev_is_line = true;
    }
    nodes
}
