//! `$NAME=VALUE` parameters and their expansion (`${NAME}`, `$NAME`), with
//! keepalived's predefined `_PWD`, `_INSTANCE`, `_RANDOM`, `_HASH`, `_BANG`.

use crate::lexer::MAX_LINE;

/// Guard against `$A=$A`-style endless expansion (keepalived stops only when
/// the line grows past 1024 bytes; a self-reference of equal length never does).
const MAX_EXPANSIONS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Pwd,
    Instance,
    Random,
}

#[derive(Debug, Clone)]
struct Definition {
    name: String,
    /// First line, then the further lines of a multi-line definition.
    lines: Vec<String>,
    multiline: bool,
    builtin: Option<Builtin>,
}

/// What a replacement pass produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    pub text: String,
    /// Further lines from multi-line definitions, to be read next.
    pub more_lines: Vec<String>,
    pub changed: bool,
    /// Set when expansion was cut short (line too long or looping).
    pub problem: Option<String>,
}

/// The table of definitions, in definition order.
#[derive(Debug, Clone)]
pub struct Definitions {
    defs: Vec<Definition>,
    config_id: String,
    pwd: String,
    rng: u64,
}

impl Definitions {
    pub fn new(config_id: &str, random_seed: u64) -> Self {
        let builtin = |name: &str, value: &str, b: Option<Builtin>| Definition {
            name: name.to_string(),
            lines: vec![value.to_string()],
            multiline: false,
            builtin: b,
        };
        Self {
            defs: vec![
                builtin("_PWD", "", Some(Builtin::Pwd)),
                builtin("_INSTANCE", "", Some(Builtin::Instance)),
                builtin("_RANDOM", "", Some(Builtin::Random)),
                builtin("_HASH", "#", None),
                builtin("_BANG", "!", None),
            ],
            config_id: config_id.to_string(),
            pwd: String::new(),
            rng: random_seed | 1,
        }
    }

    /// The directory of the file being read (keepalived `chdir`s there).
    pub fn set_pwd(&mut self, dir: &str) {
        self.pwd = dir.to_string();
    }

    /// Sets a single-line definition (used by `~SEQ` and `~LST`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.define(name, vec![value.to_string()], false);
    }

    fn define(&mut self, name: &str, lines: Vec<String>, multiline: bool) {
        if let Some(def) = self.defs.iter_mut().find(|d| d.name == name) {
            def.lines = lines;
            def.multiline = multiline;
            def.builtin = None;
        } else {
            self.defs.push(Definition {
                name: name.to_string(),
                lines,
                multiline,
                builtin: None,
            });
        }
    }

    /// If `line` is `$NAME=VALUE`, records it and returns the name and whether
    /// the definition continues on the next lines (a trailing `\`).
    pub fn try_define(&mut self, line: &str) -> Option<(String, bool)> {
        let body = line.strip_prefix('$')?;
        let first = *body.as_bytes().first()?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let eq = body.find('=')?;
        let name = &body[..eq];
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let value = body[eq + 1..].trim_start_matches([' ', '\t']);
        let (value, multiline) = match value.strip_suffix('\\') {
            Some(v) => (v.trim_end_matches([' ', '\t']), true),
            None => (value, false),
        };
        let lines = if multiline && value.is_empty() {
            Vec::new()
        } else {
            vec![value.to_string()]
        };
        self.define(name, lines, multiline);
        Some((name.to_string(), multiline))
    }

    /// Adds one more line to a multi-line definition. Returns false when the
    /// definition is complete.
    pub fn continue_definition(&mut self, name: &str, line: &str) -> bool {
        let (text, more) = match line.strip_suffix('\\') {
            Some(v) => (v.trim_end_matches([' ', '\t']), true),
            None => (line, false),
        };
        if let Some(def) = self.defs.iter_mut().find(|d| d.name == name) {
            if !text.is_empty() {
                def.lines.push(text.to_string());
            }
            if !more {
                def.multiline = !def.lines.is_empty();
            }
        }
        more
    }

    /// Ends a multi-line definition early (an empty line).
    pub fn end_definition(&mut self, name: &str) {
        if let Some(def) = self.defs.iter_mut().find(|d| d.name == name) {
            def.multiline = !def.lines.is_empty();
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic for a given seed, which keeps the parser pure.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33
    }

    /// Finds the reference starting just after a `$`. Returns the definition
    /// index, the number of bytes after `$` it spans, and its parameters.
    fn lookup(&self, s: &str, at_end_allowed: bool) -> Option<(usize, usize, Option<String>)> {
        let bytes = s.as_bytes();
        let braces = bytes.first() == Some(&b'{');
        let start = usize::from(braces);
        let first = *bytes.get(start)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let mut end = start + 1;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &s[start..end];
        let mut params = None;
        let consumed;
        if braces {
            let mut p = end;
            while p < bytes.len() && (bytes[p] == b' ' || bytes[p].is_ascii_digit()) {
                p += 1;
            }
            let inner = &s[end..p];
            if !inner.trim().is_empty() {
                if inner.ends_with(' ') {
                    return None;
                }
                params = Some(inner.trim().to_string());
            }
            if bytes.get(p) != Some(&b'}') {
                return None;
            }
            consumed = p + 1;
        } else {
            if !matches!(bytes.get(end), None | Some(b' ' | b'\t' | b',' | b')')) {
                return None;
            }
            consumed = end;
        }
        let allow_multiline = at_end_allowed && consumed == s.len();
        let idx = self
            .defs
            .iter()
            .position(|d| d.name == name && (allow_multiline || !d.multiline))?;
        if params.is_some() && self.defs[idx].builtin != Some(Builtin::Random) {
            return None;
        }
        Some((idx, consumed, params))
    }

    fn value_of(&mut self, idx: usize, params: Option<&str>) -> Vec<String> {
        match self.defs[idx].builtin {
            Some(Builtin::Pwd) => vec![self.pwd.clone()],
            Some(Builtin::Instance) => vec![self.config_id.clone()],
            Some(Builtin::Random) => {
                let mut nums = params
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|n| n.parse::<u64>().unwrap_or(u64::MAX));
                let min = nums.next().unwrap_or(0);
                let max = nums.next().unwrap_or(32767);
                let span = max.wrapping_sub(min).wrapping_add(1);
                let r = self.next_random();
                let v = if span == 0 { r } else { r % span + min };
                vec![v.to_string()]
            }
            None => self.defs[idx].lines.clone(),
        }
    }

    /// Replaces every known `$NAME` / `${NAME}` in `line`, re-scanning the
    /// replacement text (so definitions expand recursively). Unknown
    /// references are left as they are.
    pub fn expand(&mut self, line: &str) -> Expansion {
        let mut out = Expansion {
            text: line.to_string(),
            ..Expansion::default()
        };
        let mut pos = 0;
        let mut count = 0;
        while let Some(off) = out.text[pos..].find('$') {
            let at = pos + off;
            if at + 1 >= out.text.len() {
                break;
            }
            let Some((idx, consumed, params)) = self.lookup(&out.text[at + 1..], true) else {
                pos = at + 1;
                continue;
            };
            let mut lines = self.value_of(idx, params.as_deref());
            let first = if lines.is_empty() {
                String::new()
            } else {
                lines.remove(0)
            };
            if out.text.len() - consumed - 1 + first.len() > MAX_LINE {
                out.problem = Some(format!(
                    "Parameter substitution on line '{}' would exceed maximum line length",
                    out.text
                ));
                break;
            }
            count += 1;
            if count > MAX_EXPANSIONS {
                out.problem = Some(format!(
                    "Parameter substitution on line '{}' loops",
                    out.text
                ));
                break;
            }
            out.changed = true;
            if !lines.is_empty() {
                lines.append(&mut out.more_lines);
                out.more_lines = lines;
            }
            let starts_seq = first.trim_start_matches([' ', '\t']).starts_with('~');
            out.text.replace_range(at..=at + consumed, &first);
            if starts_seq {
                break;
            }
            pos = at;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Definitions {
        Definitions::new("nodeA", 7)
    }

    #[test]
    fn simple_and_braced() {
        let mut d = defs();
        assert!(d.try_define("$IF=eth0").is_some());
        assert_eq!(d.expand("interface $IF").text, "interface eth0");
        assert_eq!(d.expand("interface ${IF}x").text, "interface eth0x");
        assert_eq!(d.expand("interface $IFx").text, "interface $IFx");
        assert_eq!(d.expand("x ${UNDEF} y").text, "x ${UNDEF} y");
        assert!(!d.expand("x ${UNDEF} y").changed);
    }

    #[test]
    fn recursive_at_use() {
        let mut d = defs();
        d.try_define("$A=${B}1");
        d.try_define("$B=b");
        assert_eq!(d.expand("$A").text, "b1");
        d.try_define("$B=c");
        assert_eq!(d.expand("$A").text, "c1");
    }

    #[test]
    fn self_reference_stops() {
        let mut d = defs();
        d.try_define("$A=$A");
        let e = d.expand("x $A");
        assert!(e.problem.is_some());
    }

    #[test]
    fn predefined() {
        let mut d = defs();
        d.set_pwd("/etc/keepalived");
        assert_eq!(d.expand("${_PWD}/x").text, "/etc/keepalived/x");
        assert_eq!(d.expand("${_INSTANCE}").text, "nodeA");
        assert_eq!(d.expand("\"${_HASH}${_BANG}\"").text, "\"#!\"");
        let r: u64 = d.expand("${_RANDOM 5 9}").text.parse().unwrap();
        assert!((5..=9).contains(&r));
        assert_eq!(d.expand("${_RANDOM 5 }").text, "${_RANDOM 5 }");
    }

    #[test]
    fn multiline_only_at_end_of_line() {
        let mut d = defs();
        assert_eq!(d.try_define("$M=a \\"), Some(("M".into(), true)));
        assert!(d.continue_definition("M", "b\\"));
        assert!(!d.continue_definition("M", "c"));
        let e = d.expand("x $M");
        assert_eq!(e.text, "x a");
        assert_eq!(e.more_lines, vec!["b", "c"]);
        assert_eq!(d.expand("$M y").text, "$M y");
    }

    #[test]
    fn not_definitions() {
        let mut d = defs();
        assert!(d.try_define("$1=x").is_none());
        assert!(d.try_define("$A B=x").is_none());
        assert!(d.try_define("$A").is_none());
    }
}
