//! The block structure of the logical lines, decided the way keepalived's
//! `process_stream` decides it: by which keywords take a block. A `{` after
//! a keyword that takes none is "Unexpected" and ignored, so that block's
//! lines are read at the current level and its `}` closes the current block.

use std::path::Path;
use std::sync::Arc;

use crate::diag::EXIT_MISSING_PARAMETER;
use crate::diag::{Diagnostics, Location, Severity};
use crate::model::keywords::{needs_argument, shape, Section, Shape};
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

    fn from_line(l: Line) -> Self {
        Node {
            words: l.words,
            raw: l.raw,
            file: l.file,
            line: l.line,
            block: None,
        }
    }
}

struct Builder<'d> {
    lines: std::vec::IntoIter<Line>,
    diags: &'d mut Diagnostics,
}

/// Builds the tree, reporting unknown keywords and misplaced braces.
pub fn build(lines: Vec<Line>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut b = Builder {
        lines: lines.into_iter(),
        diags,
    };
    // At the top level a '}' does not end the section, so one call reads all.
    b.section(Section::Root, 0, false)
}

impl Builder<'_> {
    fn take(&mut self) -> Option<Line> {
        self.lines.next()
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
            let shape = shape(section, kw);
            if shape.is_some() && l.words.len() < 2 && needs_argument(section, kw) {
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
                    let mut n = Node::from_line(l);
                    n.block = Some(self.values());
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
    fn values(&mut self) -> Vec<Node> {
        let mut out = Vec::new();
        let mut first = true;
        while let Some(l) = self.take() {
            if first {
                first = false;
                if l.raw == "{" {
                    continue;
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
