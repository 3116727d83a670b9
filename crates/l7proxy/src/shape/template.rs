//! Value templates of the response rules (`add_header` values,
//! `proxy_redirect` replacements) and what their variables refer to.

use std::net::SocketAddr;

use crate::headers::Vars;

/// One piece of a value template.
#[derive(Debug, Clone)]
pub(super) enum Seg {
    Lit(Box<str>),
    Var(Box<str>),
}

/// A value with `$name` / `${name}` variables, split once.
#[derive(Debug, Clone)]
pub(super) struct Tpl(pub(super) Box<[Seg]>);

impl Tpl {
    pub(super) fn new(text: &str) -> Self {
        let b = text.as_bytes();
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let (name, next) = if b.get(i + 1) == Some(&b'{') {
                    match text[i + 2..].find('}') {
                        Some(end) => (&text[i + 2..i + 2 + end], i + 3 + end),
                        None => ("", b.len()),
                    }
                } else if matches!(b.get(i + 1), Some(b'1'..=b'9')) {
                    // A regex capture: one digit, as in nginx's scripts.
                    (&text[i + 1..i + 2], i + 2)
                } else {
                    let end = b[i + 1..]
                        .iter()
                        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                        .map_or(b.len(), |p| i + 1 + p);
                    (&text[i + 1..end], end)
                };
                if name.is_empty() {
                    lit.push('$');
                    i += 1;
                } else {
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit).into()));
                    }
                    segs.push(Seg::Var(name.into()));
                    i = next;
                }
            } else {
                let start = i;
                while i < b.len() && b[i] != b'$' {
                    i += 1;
                }
                lit.push_str(&text[start..i]);
            }
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit.into()));
        }
        Self(segs.into())
    }

    pub(super) fn write(&self, ctx: &Ctx<'_>, out: &mut Vec<u8>) {
        self.write_with(ctx, None, out);
    }

    /// As `write`, `$1`..`$9` (and named groups) taken from `caps`.
    pub(super) fn write_with(
        &self,
        ctx: &Ctx<'_>,
        caps: Option<&regex::bytes::Captures<'_>>,
        out: &mut Vec<u8>,
    ) {
        for s in &*self.0 {
            match s {
                Seg::Lit(t) => out.extend_from_slice(t.as_bytes()),
                Seg::Var(name) => {
                    let group = caps.and_then(|c| match name.parse::<usize>() {
                        Ok(n) => c.get(n),
                        Err(_) => c.name(name),
                    });
                    match group {
                        Some(m) => out.extend_from_slice(m.as_bytes()),
                        None if caps.is_some() && name.bytes().all(|b| b.is_ascii_digit()) => {}
                        None => ctx.var(name, out),
                    }
                }
            }
        }
    }
}

/// The peers a request tried (`$upstream_addr`, `, `-separated).
#[derive(Debug, Clone, Copy)]
pub enum Peers<'a> {
    None,
    /// The tries of hyper's path (also its access log's), a group's name
    /// when no peer could be chosen.
    List(&'a [crate::logformat::Try]),
    /// Indexes into a group's peers, `BACKUP` set for a backup one (the
    /// plain path keeps them in a small array).
    Picks(&'a crate::site::UpstreamSpec, &'a [u16]),
}

/// In [`Peers::Picks`]: the peer is a backup one.
pub const BACKUP: u16 = 1 << 15;

impl Peers<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let mut one = |i: usize, a: &dyn std::fmt::Display| {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let _ = write!(out, "{a}");
        };
        match *self {
            Peers::None => {}
            Peers::List(l) => {
                for (i, t) in l.iter().enumerate() {
                    one(i, &t.addr);
                }
            }
            Peers::Picks(spec, picks) => {
                for (i, &p) in picks.iter().enumerate() {
                    let k = usize::from(p & !BACKUP);
                    let peers = if p & BACKUP == 0 {
                        &spec.primary
                    } else {
                        &spec.backup
                    };
                    if let Some((_, a)) = peers.get(k) {
                        one(i, a);
                    }
                }
            }
        }
    }
}

/// What a response's variables refer to.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub vars: &'a Vars<'a>,
    /// `$status`.
    pub status: u16,
    /// `$upstream_addr`: the peers tried, in order.
    pub upstream: Peers<'a>,
    /// The listening address (for absolute redirects).
    pub local: SocketAddr,
    pub tls: bool,
}

impl Ctx<'_> {
    pub(super) fn var(&self, name: &str, out: &mut Vec<u8>) {
        match name {
            "status" => {
                let s = self.status;
                out.extend_from_slice(&[
                    b'0' + u8::try_from(s / 100 % 10).unwrap_or(0),
                    b'0' + u8::try_from(s / 10 % 10).unwrap_or(0),
                    b'0' + u8::try_from(s % 10).unwrap_or(0),
                ]);
            }
            "upstream_addr" => self.upstream.write(out),
            _ => self.vars.get_into(name, out),
        }
    }
}
