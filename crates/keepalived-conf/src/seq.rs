//! `~SEQ(var, [start,] [step,] end)`, `~SEQx(...)` and `~LST(...)` line
//! generators. Parsing only; the reader sets the variables and re-reads the
//! text once per value.

/// Upper bound on the lines one generator may produce; keepalived has none,
/// but an unbounded `~SEQ(i, 0, 1, 9999999999)` would exhaust memory.
pub const MAX_ITERATIONS: usize = 100_000;

/// A parsed generator: for each set, assign `vars[i] = set[i]`, then read `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    pub vars: Vec<String>,
    pub sets: Vec<Vec<String>>,
    pub text: String,
}

/// C `strtol(s, &end, 0)`: returns the value and the unparsed rest; no digits
/// gives 0 and the whole input back.
pub fn strtol(s: &str) -> (i64, &str) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if (body.starts_with("0x") || body.starts_with("0X"))
        && body.as_bytes().get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, &body[2..])
    } else if body.starts_with('0') {
        (8, body)
    } else {
        (10, body)
    };
    let len = digits
        .bytes()
        .take_while(|b| char::from(*b).is_digit(radix))
        .count();
    if len == 0 {
        return (0, s);
    }
    let mut value: i64 = 0;
    for b in digits[..len].bytes() {
        let d = i64::from(char::from(b).to_digit(radix).unwrap_or(0));
        value = value.saturating_mul(i64::from(radix)).saturating_add(d);
    }
    (if neg { -value } else { value }, &digits[len..])
}

/// Parses `~SEQ...` (the whole line). `expand` replaces `$` parameters in
/// the numeric arguments. Errors carry keepalived's message.
pub fn parse_seq(line: &str, expand: &mut dyn FnMut(&str) -> String) -> Result<Generator, String> {
    let invalid = || format!("Invalid ~SEQ definition '{line}'");
    let mut p = line.get(4..).ok_or_else(invalid)?;
    let hex = p.starts_with('x');
    if hex {
        p = &p[1..];
    }
    p = p.trim_start_matches([' ', '\t']);
    p = p.strip_prefix('(').ok_or_else(invalid)?;
    p = p.trim_start_matches([' ', '\t']);
    let var_len = p.find([' ', '\t', ',', ')']).unwrap_or(p.len());
    let var = &p[..var_len];
    p = p[var_len..].trim_start_matches([' ', '\t']);
    if var.is_empty() || !p.starts_with(',') {
        return Err(invalid());
    }
    p = &p[1..];
    let close = p.find(')').ok_or_else(invalid)?;
    let args = expand(&p[..=close]);
    let text = p[close + 1..].trim_start_matches([' ', '\t']).to_string();

    let mut nums = Vec::new();
    let mut rest = args.as_str();
    loop {
        let (n, r) = strtol(rest);
        nums.push(n);
        let r = r.trim_start_matches([' ', '\t']);
        if let Some(after) = r.strip_prefix(',') {
            if nums.len() == 3 {
                return Err(invalid());
            }
            rest = after;
        } else if r.starts_with(')') {
            break;
        } else {
            return Err(invalid());
        }
    }
    let (start, step, end) = match nums[..] {
        [end] => (
            if end < 0 { -1 } else { 1 },
            if end < 1 { -1 } else { 1 },
            end,
        ),
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => {
            if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                return Err(format!("Invalid ~SEQ values '{line}'"));
            }
            (start, step, end)
        }
        _ => return Err(invalid()),
    };
    if hex && (start < 0 || end < 0) {
        return Err(format!("~SEQx is only valid for positive numbers '{line}'"));
    }
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > MAX_ITERATIONS as i128 {
        return Err(format!(
            "~SEQ generates more than {MAX_ITERATIONS} lines '{line}'"
        ));
    }
    let mut sets = Vec::new();
    let mut v = start;
    loop {
        if (step > 0 && v > end) || (step < 0 && v < end) {
            break;
        }
        if sets.len() >= MAX_ITERATIONS {
            return Err(format!(
                "~SEQ generates more than {MAX_ITERATIONS} lines '{line}'"
            ));
        }
        sets.push(vec![if hex { format!("{v:x}") } else { v.to_string() }]);
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
    Ok(Generator {
        vars: vec![var.to_string()],
        sets,
        text,
    })
}

fn skip_blanks(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// Parses `~LST(var, v1, v2, ...)` or `~LST({a, b}, {1, 2}, {3, 4})`.
pub fn parse_lst(line: &str) -> Result<Generator, String> {
    let invalid = || format!("Invalid ~LST specification '{line}'");
    let mut p = skip_blanks(line.get(4..).ok_or_else(invalid)?);
    p = skip_blanks(p.strip_prefix('(').ok_or_else(invalid)?);
    let braced = p.starts_with('{');
    if braced {
        p = skip_blanks(&p[1..]);
    }
    let end_char = if braced { '}' } else { ',' };
    let mut vars = Vec::new();
    loop {
        let n = p.find([' ', '\t', ',', '}']).unwrap_or(p.len());
        vars.push(p[..n].to_string());
        p = skip_blanks(&p[n..]);
        if p.starts_with(end_char) {
            break;
        }
        p = skip_blanks(p.strip_prefix(',').ok_or_else(invalid)?);
    }
    if braced {
        p = skip_blanks(&p[1..]);
    }
    p = skip_blanks(p.strip_prefix(',').ok_or_else(invalid)?);

    let mut sets = Vec::new();
    loop {
        let braced = p.starts_with('{');
        if braced {
            p = skip_blanks(&p[1..]);
        }
        let mut set = Vec::new();
        loop {
            let n = p.find([' ', '\t', ',', '}', ')']).unwrap_or(p.len());
            set.push(p[..n].to_string());
            p = skip_blanks(&p[n..]);
            if (braced && p.starts_with('}'))
                || (!braced && (p.starts_with(',') || p.starts_with(')')))
            {
                break;
            }
            p = skip_blanks(p.strip_prefix(',').ok_or_else(invalid)?);
            if set.len() > vars.len() - 1 {
                return Err(format!("~LST specification has too many values '{line}'"));
            }
            if !braced {
                break;
            }
        }
        set.resize(vars.len(), String::new());
        sets.push(set);
        if braced {
            p = skip_blanks(&p[1..]);
        }
        if p.starts_with(')') {
            break;
        }
        p = skip_blanks(p.strip_prefix(',').ok_or_else(invalid)?);
        if sets.len() >= MAX_ITERATIONS {
            return Err(invalid());
        }
    }
    let text = skip_blanks(&p[1..]).to_string();
    Ok(Generator { vars, sets, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(line: &str) -> Result<Generator, String> {
        parse_seq(line, &mut |s: &str| s.to_string())
    }

    fn values(g: &Generator) -> Vec<String> {
        g.sets.iter().map(|s| s[0].clone()).collect()
    }

    #[test]
    fn seq_forms() {
        assert_eq!(values(&seq("~SEQ(i, 3) x").unwrap()), ["1", "2", "3"]);
        assert_eq!(values(&seq("~SEQ(i, 5, 7) x").unwrap()), ["5", "6", "7"]);
        assert_eq!(
            values(&seq("~SEQ(i, 10, -5, 0) x").unwrap()),
            ["10", "5", "0"]
        );
        assert_eq!(
            values(&seq("~SEQx(i, 9, 3, 15) x").unwrap()),
            ["9", "c", "f"]
        );
        assert_eq!(seq("~SEQ(i, 1, 2) text here").unwrap().text, "text here");
    }

    #[test]
    fn seq_errors() {
        assert!(seq("~SEQ(i, 1, 0, 5)")
            .unwrap_err()
            .starts_with("Invalid ~SEQ values"));
        assert!(seq("~SEQ(i)")
            .unwrap_err()
            .starts_with("Invalid ~SEQ definition"));
        assert!(seq("~SEQx(i, -1, 1, 5)").unwrap_err().contains("positive"));
        assert!(seq("~SEQ i, 1)").is_err());
    }

    #[test]
    fn lst_forms() {
        let g = parse_lst("~LST(v, a, b, c) x $v").unwrap();
        assert_eq!(g.vars, ["v"]);
        assert_eq!(g.sets, vec![vec!["a"], vec!["b"], vec!["c"]]);
        assert_eq!(g.text, "x $v");
        let g = parse_lst("~LST({n, a}, {1, x}, {2}) t").unwrap();
        assert_eq!(g.vars, ["n", "a"]);
        assert_eq!(g.sets, vec![vec!["1", "x"], vec!["2", ""]]);
        assert!(parse_lst("~LST({n}, {1, 2}) t")
            .unwrap_err()
            .contains("too many values"));
    }

    #[test]
    fn strtol_bases() {
        assert_eq!(strtol(" 0x1f)"), (31, ")"));
        assert_eq!(strtol("010"), (8, ""));
        assert_eq!(strtol("-3,"), (-3, ","));
        assert_eq!(strtol("x"), (0, "x"));
    }
}
