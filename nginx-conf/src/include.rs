//! `include` resolution: relative to the main file's directory, globs sorted.

use std::io;

/// The file names an `include` pattern resolved to, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved(pub Vec<String>);

/// Python's `os.path.dirname`.
pub fn dirname(path: &str) -> String {
    match path.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &path[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_owned()
            } else {
                trimmed.to_owned()
            }
        }
    }
}

/// Python's `os.path.join(dir, name)` for two parts.
pub fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// nginx's text for a failed `open()`.
pub fn open_failed(path: &str, e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    match e.raw_os_error() {
        Some(code) => format!("open() \"{path}\" failed ({code}: {text})"),
        None => format!("open() \"{path}\" failed ({text})"),
    }
}

/// Whether nginx treats `pattern` as a glob.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Resolves an include argument: a glob lists its matches (none is fine), a plain
/// path must be readable. `Err` is nginx's message.
pub fn resolve(config_dir: &str, arg: &str) -> Result<Resolved, String> {
    let pattern = join(config_dir, arg);
    if is_glob(&pattern) {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let paths = glob::glob_with(&pattern, options)
            .map_err(|e| format!("glob() \"{pattern}\" failed ({e})"))?;
        let mut names: Vec<String> = paths
            .filter_map(Result::ok)
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(Resolved(names))
    } else {
        match std::fs::File::open(&pattern) {
            Ok(_) => Ok(Resolved(vec![pattern])),
            Err(e) => Err(open_failed(&pattern, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_python() {
        assert_eq!(dirname("nginx.conf"), "");
        assert_eq!(dirname("/etc/nginx/nginx.conf"), "/etc/nginx");
        assert_eq!(dirname("/nginx.conf"), "/");
        assert_eq!(join("", "a.conf"), "a.conf");
        assert_eq!(join("dir", "/abs.conf"), "/abs.conf");
        assert_eq!(join("/", "a.conf"), "/a.conf");
        assert_eq!(join("d", "conf.d/*.conf"), "d/conf.d/*.conf");
    }

    #[test]
    fn missing_plain_include_is_nginx_error() {
        let e = resolve("/nonexistent-dir", "x.conf").unwrap_err();
        assert_eq!(
            e,
            "open() \"/nonexistent-dir/x.conf\" failed (2: No such file or directory)"
        );
        assert_eq!(
            resolve("/nonexistent-dir", "*.conf").unwrap(),
            Resolved(vec![])
        );
    }
}
