//! `include PATTERN`: csh-style `{a,b}` alternatives, then shell globs, each
//! alternative's matches in sorted order (as glibc `glob(GLOB_BRACE)` does).

use std::path::{Path, PathBuf};

/// Expands csh-style braces: `a{b,c{d,e}}f` gives `abf acdf acef`.
/// A `\`-escaped brace is literal; unbalanced braces are left as they are.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let mut open = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    let mut j = open;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        for tail in expand_braces(&format!("{alt}{suffix}")) {
            out.push(format!("{prefix}{tail}"));
        }
    }
    out
}

/// What an include pattern matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub files: Vec<PathBuf>,
    /// Alternatives without wildcards that named no existing file.
    pub missing: Vec<String>,
    /// Problems (bad pattern, unreadable directory).
    pub errors: Vec<String>,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Whether the directories before the first wildcard component exist.
fn fixed_dir_exists(full: &Path) -> bool {
    let mut dir = PathBuf::new();
    for comp in full.parent().into_iter().flat_map(Path::components) {
        if has_wildcard(&comp.as_os_str().to_string_lossy()) {
            break;
        }
        dir.push(comp);
    }
    dir.as_os_str().is_empty() || dir.is_dir()
}

/// Resolves `pattern` relative to `base_dir` (the including file's directory).
pub fn resolve(pattern: &str, base_dir: &Path) -> Matches {
    let mut m = Matches::default();
    for alt in expand_braces(pattern) {
        let full = if Path::new(&alt).is_absolute() || base_dir == Path::new(".") {
            PathBuf::from(&alt)
        } else {
            base_dir.join(&alt)
        };
        let full_s = full.to_string_lossy().into_owned();
        if !has_wildcard(&alt) {
            if full.exists() {
                m.files.push(full);
            } else {
                m.missing.push(alt);
            }
            continue;
        }
        match glob::glob(&full_s) {
            Ok(paths) => {
                let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                found.sort();
                if found.is_empty() && !fixed_dir_exists(&full) {
                    // glibc's glob with keepalived's directory hooks counts a
                    // missing directory as a missing file, not a non-match.
                    m.missing.push(alt);
                }
                m.files.extend(found);
            }
            Err(e) => m.errors.push(format!("glob(\"{alt}\"): {e}")),
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_nest_and_keep_order() {
        assert_eq!(expand_braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("x{2,1}.conf"), ["x2.conf", "x1.conf"]);
        assert_eq!(expand_braces("plain"), ["plain"]);
        assert_eq!(expand_braces("open{a,b"), ["open{a,b"]);
        assert_eq!(expand_braces("{a,b}{1,2}"), ["a1", "a2", "b1", "b2"]);
    }
}
