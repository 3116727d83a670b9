//! The rewrite module's directives of a server or location level, in
//! file order (`ngx_http_rewrite_module`): `rewrite`, `return`, `set`,
//! `break` and `if` blocks holding them. nginx runs a level's list as a
//! script: the server's before the location is chosen, the location's
//! after.

use super::answers::Return;
use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// What `rewrite` does after a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// No flag: go on with the script, then choose the location again.
    None,
    /// `last`: stop, choose the location for the new URI.
    Last,
    /// `break`: stop, stay in this location with the new URI.
    Break,
    /// `redirect`: 302 with the replacement as `Location`.
    Redirect,
    /// `permanent`: 301.
    Permanent,
}

/// `rewrite REGEX REPLACEMENT [FLAG]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub regex: String,
    pub replacement: String,
    pub flag: Flag,
}

/// How an `if` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Equal,
    NotEqual,
    /// `~`, `~*` (caseless), `!~`, `!~*`.
    Match {
        caseless: bool,
        negated: bool,
    },
}

/// `-f`, `-d`, `-e`, `-x` and their `!` forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTest {
    File,
    Dir,
    Exists,
    Executable,
}

/// An `if` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `($var)`: true unless empty or "0".
    Value(String),
    /// `($var = text)` and the others: the value (text with variables),
    /// the comparison, the operand (text, or a regex).
    Compare(String, Compare, String),
    /// `(-f $path)`: the test, negated, the path (text with variables).
    File(FileTest, bool, String),
}

/// One directive of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Return(Return),
    Rewrite(Rewrite),
    /// `set $name value`.
    Set(String, String),
    Break,
    /// `if (condition) { … }`: the rewrite directives inside (others there
    /// are not supported by l7proxy and are named by its warnings).
    If(Condition, Vec<Op>),
}

/// The script of a level's block (its `location` blocks excluded).
pub fn parse_script(block: &[Stmt], c: &Cursor) -> Result<Vec<Op>, ModelError> {
    let mut ops = Vec::new();
    for d in block {
        let op = match d.directive.as_str() {
            "return" => Op::Return(super::answers::parse_return(d, c)?),
            "rewrite" => Op::Rewrite(parse_rewrite(d, c)?),
            "set" => {
                let [name, value] = d.args.as_slice() else {
                    return Err(
                        c.error(d, "invalid number of arguments in \"set\" directive".into())
                    );
                };
                let Some(name) = name.strip_prefix('$').filter(|n| !n.is_empty()) else {
                    return Err(c.error(d, format!("invalid variable name \"{name}\"")));
                };
                super::variables::check_made(name, d, c)?;
                Op::Set(name.to_owned(), value.clone())
            }
            "break" => Op::Break,
            "if" => Op::If(
                parse_condition(d, c)?,
                parse_script(d.block.as_deref().unwrap_or_default(), c)?,
            ),
            _ => continue,
        };
        ops.push(op);
    }
    Ok(ops)
}

fn parse_rewrite(d: &Stmt, c: &Cursor) -> Result<Rewrite, ModelError> {
    let (regex, replacement, flag) = match d.args.as_slice() {
        [regex, replacement] => (regex, replacement, None),
        [regex, replacement, flag] => (regex, replacement, Some(flag.as_str())),
        _ => {
            return Err(c.error(
                d,
                "invalid number of arguments in \"rewrite\" directive".into(),
            ))
        }
    };
    let flag = match flag {
        None => Flag::None,
        Some("last") => Flag::Last,
        Some("break") => Flag::Break,
        Some("redirect") => Flag::Redirect,
        Some("permanent") => Flag::Permanent,
        Some(other) => return Err(c.error(d, format!("invalid parameter \"{other}\""))),
    };
    Ok(Rewrite {
        regex: regex.clone(),
        replacement: replacement.clone(),
        flag,
    })
}

fn parse_condition(d: &Stmt, c: &Cursor) -> Result<Condition, ModelError> {
    let invalid = || {
        let first = d.args.first().map_or("", String::as_str);
        c.error(d, format!("invalid condition \"{first}\""))
    };
    match d.args.as_slice() {
        [v] if v.starts_with('$') && v.len() > 1 => Ok(Condition::Value(v.clone())),
        [v, op, operand] if v.starts_with('$') && v.len() > 1 => {
            let compare = match op.as_str() {
                "=" => Compare::Equal,
                "!=" => Compare::NotEqual,
                "~" => Compare::Match {
                    caseless: false,
                    negated: false,
                },
                "~*" => Compare::Match {
                    caseless: true,
                    negated: false,
                },
                "!~" => Compare::Match {
                    caseless: false,
                    negated: true,
                },
                "!~*" => Compare::Match {
                    caseless: true,
                    negated: true,
                },
                _ => return Err(c.error(d, format!("unexpected \"{op}\" in condition"))),
            };
            Ok(Condition::Compare(v.clone(), compare, operand.clone()))
        }
        [test, path] => {
            let (negated, t) = match test.strip_prefix('!') {
                Some(t) => (true, t),
                None => (false, test.as_str()),
            };
            let test = match t {
                "-f" => FileTest::File,
                "-d" => FileTest::Dir,
                "-e" => FileTest::Exists,
                "-x" => FileTest::Executable,
                _ => return Err(invalid()),
            };
            Ok(Condition::File(test, negated, path.clone()))
        }
        _ => Err(invalid()),
    }
}
