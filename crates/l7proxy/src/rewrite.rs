//! The rewrite module's scripts (`rewrite`, `return`, `set`, `break`,
//! `if`), compiled once and run per request as nginx's
//! `ngx_http_rewrite_handler` does: a server's before its location is
//! chosen, a location's after; a changed URI chooses the location again
//! (10 times at most).

use std::collections::HashMap;

use nginx_conf::model::http::Return;
use nginx_conf::model::rewrite::{Compare, Condition, FileTest, Flag, Op};

use crate::headers::Vars;
use crate::map::Source;

/// How many times a request's URI may change the location (nginx's
/// `NGX_HTTP_MAX_URI_CHANGES`).
pub const MAX_URI_CHANGES: usize = 10;

#[derive(Debug, Clone)]
enum Step {
    Return(Return),
    Rewrite {
        regex: regex::Regex,
        replacement: String,
        flag: Flag,
        /// Answered with a redirect (`http://`, `https://`, `$scheme`, or
        /// the `redirect`/`permanent` flags).
        redirect: bool,
    },
    Set(String, String),
    Break,
    If(Test, Vec<Step>),
}

#[derive(Debug, Clone)]
enum Test {
    Value(String),
    Equal(String, String, bool),
    Match(String, regex::Regex, bool),
    File(FileTest, bool, String),
}

/// A level's compiled script.
#[derive(Debug, Clone, Default)]
pub struct Script(Vec<Step>);

/// What a script decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran to its end (the URI may have changed).
    Done,
    /// `return`, or a rewrite's redirect: the status and the text or URL,
    /// variables expanded.
    Answer(u16, Option<String>),
    /// `rewrite … last`: choose the location for the new URI.
    Last,
    /// `break`, or `rewrite … break`: stay in this location.
    Break,
}

/// A request's state across its scripts.
#[derive(Debug, Clone)]
pub struct State {
    /// `$uri` (decoded, normalised unless a rewrite set it).
    pub uri: String,
    /// `$args`.
    pub args: Option<String>,
    /// `set` variables, by lower-case name.
    sets: HashMap<String, String>,
    /// The last regex's captures: numbered, then named.
    captures: Vec<Option<String>>,
    named: Vec<(String, Option<String>)>,
    /// A rewrite changed the URI (nginx's `r->internal`): proxied URIs
    /// are escaped and the request target is not sent as it came.
    pub rewritten: bool,
    /// The URI changed since the location was chosen (choose again).
    pub uri_changed: bool,
    /// `rewrite … break` ran: `proxy_pass`'s URI part no longer
    /// replaces a location prefix (nginx's `r->valid_location = 0`).
    pub location_valid: bool,
}

impl State {
    pub fn new(uri: &str, args: Option<&str>) -> Self {
        Self {
            uri: uri.to_owned(),
            args: args.map(str::to_owned),
            sets: HashMap::new(),
            captures: Vec::new(),
            named: Vec::new(),
            rewritten: false,
            uri_changed: false,
            location_valid: true,
        }
    }

    /// Appends the value of a variable this state owns; false for others.
    pub fn has_sets(&self) -> bool {
        !self.sets.is_empty()
    }

    /// The `set` variables' values, for the access log.
    pub fn sets(&self) -> Vec<(String, String)> {
        self.sets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn var_into(&self, name: &str, out: &mut Vec<u8>) -> bool {
        if name.bytes().all(|b| b.is_ascii_digit()) {
            let i: usize = name.parse().unwrap_or(usize::MAX);
            if let Some(Some(c)) = self.captures.get(i) {
                out.extend_from_slice(c.as_bytes());
            }
            return true;
        }
        let text = match name {
            "uri" | "document_uri" => Some(self.uri.as_str()),
            "args" | "query_string" => Some(self.args.as_deref().unwrap_or("")),
            "is_args" => Some(if self.args.is_some() { "?" } else { "" }),
            _ => None,
        };
        if let Some(t) = text {
            out.extend_from_slice(t.as_bytes());
            return true;
        }
        if let Some((_, v)) = self.named.iter().find(|(n, _)| n == name) {
            out.extend_from_slice(v.as_deref().unwrap_or("").as_bytes());
            return true;
        }
        if self.sets.is_empty() {
            return false;
        }
        match self.sets.get(&name.to_ascii_lowercase()) {
            Some(v) => {
                out.extend_from_slice(v.as_bytes());
                true
            }
            None => false,
        }
    }

    fn capture(&mut self, re: &regex::Regex, caps: &regex::Captures<'_>) {
        self.captures = caps
            .iter()
            .map(|m| m.map(|m| m.as_str().to_owned()))
            .collect();
        self.named = re
            .capture_names()
            .flatten()
            .map(|n| (n.to_owned(), caps.name(n).map(|m| m.as_str().to_owned())))
            .collect();
    }
}

/// Variables as a script sees them: its state's first, then the request's.
struct Seen<'a> {
    state: &'a State,
    vars: &'a Vars<'a>,
}

impl Source for Seen<'_> {
    fn var_into(&self, name: &str, out: &mut Vec<u8>) {
        if !self.state.var_into(name, out) {
            self.vars.get_into(name, out);
        }
    }
}

fn expand(template: &str, state: &State, vars: &Vars<'_>) -> String {
    let seen = Seen { state, vars };
    let mut out = Vec::new();
    crate::headers::expand_with(template, &mut out, &mut |n, o| seen.var_into(n, o));
    String::from_utf8_lossy(&out).into_owned()
}

fn compile(pattern: &str, caseless: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| format!("rewrite regex \"{pattern}\": {e}"))
}

fn compile_ops(ops: &[Op]) -> Result<Vec<Step>, String> {
    ops.iter()
        .map(|op| {
            Ok(match op {
                Op::Return(r) => Step::Return(r.clone()),
                Op::Rewrite(r) => Step::Rewrite {
                    regex: compile(&r.regex, false)?,
                    replacement: r.replacement.clone(),
                    flag: r.flag,
                    redirect: matches!(r.flag, Flag::Redirect | Flag::Permanent)
                        || ["http://", "https://", "$scheme"]
                            .iter()
                            .any(|p| r.replacement.starts_with(p)),
                },
                Op::Set(n, v) => Step::Set(n.to_ascii_lowercase(), v.clone()),
                Op::Break => Step::Break,
                Op::If(c, inner) => Step::If(
                    match c {
                        Condition::Value(v) => Test::Value(v.clone()),
                        Condition::Compare(v, Compare::Equal, o) => {
                            Test::Equal(v.clone(), o.clone(), false)
                        }
                        Condition::Compare(v, Compare::NotEqual, o) => {
                            Test::Equal(v.clone(), o.clone(), true)
                        }
                        Condition::Compare(v, Compare::Match { caseless, negated }, o) => {
                            Test::Match(v.clone(), compile(o, *caseless)?, *negated)
                        }
                        Condition::File(t, n, p) => Test::File(*t, *n, p.clone()),
                    },
                    compile_ops(inner)?,
                ),
            })
        })
        .collect()
}

impl Script {
    pub fn new(ops: &[Op]) -> Result<Self, String> {
        compile_ops(ops).map(Script)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs the script on `state`, reading other variables from `vars`.
    pub fn run(&self, state: &mut State, vars: &Vars<'_>) -> Outcome {
        run(&self.0, state, vars).unwrap_or(Outcome::Done)
    }
}

/// `None`: the steps ran to their end.
fn run(steps: &[Step], state: &mut State, vars: &Vars<'_>) -> Option<Outcome> {
    for step in steps {
        match step {
            Step::Return(r) => {
                let text = r.text.as_deref().map(|t| expand(t, state, vars));
                return Some(Outcome::Answer(r.code, text));
            }
            Step::Set(name, value) => {
                let v = expand(value, state, vars);
                state.sets.insert(name.clone(), v);
            }
            Step::Break => return Some(Outcome::Break),
            Step::If(test, inner) => {
                if holds(test, state, vars) {
                    if let Some(o) = run(inner, state, vars) {
                        return Some(o);
                    }
                }
            }
            Step::Rewrite {
                regex,
                replacement,
                flag,
                redirect,
            } => {
                let uri = state.uri.clone();
                let Some(caps) = regex.captures(&uri) else {
                    continue;
                };
                state.capture(regex, &caps);
                if let Some(o) = rewrite(replacement, *flag, *redirect, state, vars) {
                    return Some(o);
                }
            }
        }
    }
    None
}

/// A matched rewrite: the new URI and arguments (nginx appends the old
/// arguments unless the replacement ends with `?`), or a redirect.
fn rewrite(
    replacement: &str,
    flag: Flag,
    redirect: bool,
    state: &mut State,
    vars: &Vars<'_>,
) -> Option<Outcome> {
    let (template, add_args) = match replacement.strip_suffix('?') {
        Some(t) => (t, false),
        None => (replacement, true),
    };
    let has_args = template.contains('?');
    let new = expand(template, state, vars);
    let old_args = state.args.clone().filter(|a| !a.is_empty());
    if redirect {
        let mut location = new;
        if let (true, Some(a)) = (add_args, &old_args) {
            location.push(if has_args { '&' } else { '?' });
            location.push_str(a);
        }
        let code = if flag == Flag::Permanent { 301 } else { 302 };
        return Some(Outcome::Answer(code, Some(location)));
    }
    let (uri, args) = match new.split_once('?') {
        Some((u, a)) if has_args => (u.to_owned(), Some(a.to_owned())),
        _ => (new.clone(), None),
    };
    state.uri = uri;
    state.rewritten = true;
    if has_args || !add_args {
        let mut a = args.unwrap_or_default();
        if let (true, Some(old)) = (add_args, &old_args) {
            if !a.is_empty() {
                a.push('&');
            }
            a.push_str(old);
        }
        state.args = (!a.is_empty()).then_some(a);
    }
    match flag {
        Flag::Break => {
            state.location_valid = false;
            Some(Outcome::Break)
        }
        Flag::Last => {
            state.uri_changed = true;
            Some(Outcome::Last)
        }
        _ => {
            state.uri_changed = true;
            None
        }
    }
}

fn holds(test: &Test, state: &mut State, vars: &Vars<'_>) -> bool {
    match test {
        Test::Value(v) => {
            let v = expand(v, state, vars);
            !(v.is_empty() || v == "0")
        }
        Test::Equal(v, operand, negated) => {
            (expand(v, state, vars) == expand(operand, state, vars)) != *negated
        }
        Test::Match(v, re, negated) => {
            let value = expand(v, state, vars);
            match re.captures(&value) {
                Some(caps) => {
                    state.capture(re, &caps);
                    !negated
                }
                None => *negated,
            }
        }
        Test::File(t, negated, path) => {
            let path = expand(path, state, vars);
            let meta = std::fs::metadata(&path);
            let yes = match t {
                FileTest::File => meta.is_ok_and(|m| m.is_file()),
                FileTest::Dir => meta.is_ok_and(|m| m.is_dir()),
                FileTest::Exists => meta.is_ok(),
                FileTest::Executable => {
                    use std::os::unix::fs::PermissionsExt;
                    meta.is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
                }
            };
            yes != *negated
        }
    }
}
