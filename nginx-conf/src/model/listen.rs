//! `listen` and `server_name`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddress {
    /// An IP address (unspecified for `listen 80`) and port.
    Inet { ip: IpAddr, port: u16 },
    /// A host name to resolve, and port.
    Host { host: String, port: u16 },
    /// `unix:/path`.
    Unix(String),
}

impl ListenAddress {
    /// nginx's text for the address (`0.0.0.0:80`, `[::]:80`, `unix:/run/x.sock`).
    pub fn text(&self) -> String {
        match self {
            ListenAddress::Inet {
                ip: IpAddr::V4(ip),
                port,
            } => format!("{ip}:{port}"),
            ListenAddress::Inet {
                ip: IpAddr::V6(ip),
                port,
            } => format!("[{ip}]:{port}"),
            ListenAddress::Host { host, port } => format!("{host}:{port}"),
            ListenAddress::Unix(path) => format!("unix:{path}"),
        }
    }
}

/// One `listen` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent listen flags, as nginx's"
)]
pub struct Listen {
    pub address: ListenAddress,
    pub default_server: bool,
    pub ssl: bool,
    pub http2: bool,
    pub reuseport: bool,
    pub backlog: Option<i32>,
    pub ipv6only: Option<bool>,
    /// Options that bind their own socket were given (nginx's `opt.set`).
    pub socket_options: bool,
    /// The line of the `listen` directive (0 for the implicit `listen 80`).
    pub line: usize,
}

/// Splits `host[:port]` the way nginx's URL parser does: at the first colon,
/// except inside the brackets of an IPv6 address.
pub fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        if let Some(end) = authority.find(']') {
            let (host, rest) = authority.split_at(end + 1);
            return (host, rest.strip_prefix(':'));
        }
    }
    match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    }
}

/// A port nginx accepts: 1 to 65535.
pub fn valid_port(text: &str) -> bool {
    matches!(text.parse::<u16>(), Ok(p) if p > 0)
}

/// Whether `name` could resolve as a host name. Names are not looked up (nginx
/// would): `localhost` and dotted names that look like DNS names pass, single
/// labels and things like `127.0.0.1x` do not.
pub fn plausible_host(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let last = labels.last().copied().unwrap_or_default();
    let first = labels.first().copied().unwrap_or_default();
    name.len() <= 253
        && labels.len() > 1
        && labels.iter().all(label_ok)
        && !first.bytes().all(|b| b.is_ascii_digit())
        && (last.starts_with("xn--") || last.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// An IPv4 address as nginx reads a numeric host: its own parser (exactly three
/// dots, decimal octets, empty ones count as 0: `127.0.0.` is 127.0.0.0), then
/// the C library's shorter decimal forms (`127.1`, `10.1.2`).
pub fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    nginx_inet_addr(text).or_else(|| glibc_short_form(text))
}

fn nginx_inet_addr(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut octet: u32 = 0;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => {
                octet = octet * 10 + u32::from(b - b'0');
                if octet > 255 {
                    return None;
                }
            }
            b'.' if n < 3 => {
                octets[n] = u8::try_from(octet).ok()?;
                octet = 0;
                n += 1;
            }
            _ => return None,
        }
    }
    if n != 3 {
        return None;
    }
    octets[3] = u8::try_from(octet).ok()?;
    Some(Ipv4Addr::from(octets))
}

fn glibc_short_form(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u32> = text
        .split('.')
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    let fits = |v: u32, bits: u32| bits == 32 || v < (1 << bits);
    let value = match parts.as_slice() {
        [a] => *a,
        [a, b, c] if fits(*a, 8) && fits(*b, 8) && fits(*c, 16) => (a << 24) | (b << 16) | c,
        [a, b] if fits(*a, 8) && fits(*b, 24) => (a << 24) | b,
        _ => return None,
    };
    Some(Ipv4Addr::from(value))
}

fn address(text: &str) -> Result<ListenAddress, String> {
    let bad_port = || format!("invalid port in \"{text}\" of the \"listen\" directive");
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad_port)
    };
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(format!(
                "no path in the unix domain socket in \"{text}\" of the \"listen\" directive"
            ));
        }
        return Ok(ListenAddress::Unix(path.to_owned()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let bad_host = || format!("invalid host in \"{text}\" of the \"listen\" directive");
        let (ip, tail) = rest.split_once(']').ok_or_else(bad_host)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad_host())?;
        let port = match tail.strip_prefix(':') {
            Some(p) => port(p)?,
            None if tail.is_empty() => 80,
            None => return Err(bad_host()),
        };
        return Ok(ListenAddress::Inet {
            ip: IpAddr::V6(ip),
            port,
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(ListenAddress::Inet {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: port(text)?,
        });
    }
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => (h, port(p)?),
        None => (text, 80),
    };
    if host == "*" {
        return Ok(ListenAddress::Inet {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        });
    }
    match parse_ipv4(host) {
        Some(ip) => Ok(ListenAddress::Inet {
            ip: IpAddr::V4(ip),
            port,
        }),
        None if plausible_host(host) => Ok(ListenAddress::Host {
            host: host.to_owned(),
            port,
        }),
        None => Err(format!(
            "host not found in \"{text}\" of the \"listen\" directive"
        )),
    }
}

/// Parses the arguments of `listen` (`args[0]` is the address).
pub fn parse_listen(args: &[String]) -> Result<Listen, String> {
    let first = args
        .first()
        .ok_or("invalid number of arguments in \"listen\" directive")?;
    let mut listen = Listen {
        address: address(first)?,
        default_server: false,
        ssl: false,
        http2: false,
        reuseport: false,
        backlog: None,
        ipv6only: None,
        socket_options: false,
        line: 0,
    };
    for arg in &args[1..] {
        match arg.as_str() {
            "default_server" | "default" => listen.default_server = true,
            "ssl" => listen.ssl = true,
            "http2" => listen.http2 = true,
            "reuseport" => {
                listen.reuseport = true;
                listen.socket_options = true;
            }
            "bind" | "deferred" => listen.socket_options = true,
            "proxy_protocol" => {}
            _ => {
                if let Some(v) = arg.strip_prefix("backlog=") {
                    let n = v.parse::<i32>().ok().filter(|n| *n != 0);
                    listen.backlog = Some(n.ok_or_else(|| format!("invalid backlog \"{arg}\""))?);
                    listen.socket_options = true;
                } else if let Some(v) = arg.strip_prefix("ipv6only=") {
                    listen.ipv6only = Some(match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("invalid parameter \"{arg}\"")),
                    });
                    listen.socket_options = true;
                } else if [
                    "rcvbuf=",
                    "sndbuf=",
                    "accept_filter=",
                    "fastopen=",
                    "setfib=",
                    "so_keepalive=",
                ]
                .iter()
                .any(|p| arg.starts_with(p))
                {
                    listen.socket_options = true;
                } else {
                    return Err(format!("invalid parameter \"{arg}\""));
                }
            }
        }
    }
    Ok(listen)
}

/// One `server_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerName {
    Exact(String),
    /// `*.example.com`, `.example.com` (also the bare domain) or `www.example.*`.
    Wildcard(String),
    /// `~regex`, the pattern without the `~`.
    Regex(String),
}

pub fn parse_server_name(name: &str) -> ServerName {
    if let Some(re) = name.strip_prefix('~') {
        ServerName::Regex(re.to_owned())
    } else if name.starts_with("*.") || name.starts_with('.') || name.ends_with(".*") {
        ServerName::Wildcard(name.to_owned())
    } else {
        ServerName::Exact(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(args: &[&str]) -> Result<Listen, String> {
        parse_listen(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn listen_forms() {
        let a = l(&["80", "default_server"]).unwrap();
        assert_eq!(a.address.text(), "0.0.0.0:80");
        assert!(a.default_server && !a.socket_options);
        let b = l(&[
            "[::]:8443",
            "ssl",
            "http2",
            "ipv6only=on",
            "backlog=511",
            "reuseport",
        ])
        .unwrap();
        assert_eq!(b.address.text(), "[::]:8443");
        assert!(b.ssl && b.http2 && b.reuseport && b.socket_options);
        assert_eq!((b.backlog, b.ipv6only), (Some(511), Some(true)));
        assert_eq!(
            l(&["unix:/run/a.sock"]).unwrap().address,
            ListenAddress::Unix("/run/a.sock".into())
        );
        assert_eq!(l(&["192.0.2.1"]).unwrap().address.text(), "192.0.2.1:80");
        assert_eq!(
            l(&["192.0.2.1:0"]).unwrap_err(),
            "invalid port in \"192.0.2.1:0\" of the \"listen\" directive"
        );
        assert_eq!(
            l(&["127.0.0.1x:80"]).unwrap_err(),
            "host not found in \"127.0.0.1x:80\" of the \"listen\" directive"
        );
        assert_eq!(
            l(&["localhost:8080"]).unwrap().address.text(),
            "localhost:8080"
        );
        assert_eq!(l(&["127.0.1:80"]).unwrap().address.text(), "127.0.0.1:80");
        assert_eq!(l(&["127.0.0.:80"]).unwrap().address.text(), "127.0.0.0:80");
        assert!(l(&["127.0.:80"]).is_err() && l(&["127.0.0.1.:80"]).is_err());
        assert!(l(&["www.example.com:80"]).is_ok());
        assert!(l(&["127return"]).is_err() && l(&["127.0.include"]).is_err());
        assert_eq!(
            l(&["80", "backlog=x"]).unwrap_err(),
            "invalid backlog \"backlog=x\""
        );
        assert_eq!(
            l(&["80", "fast"]).unwrap_err(),
            "invalid parameter \"fast\""
        );
    }

    #[test]
    fn server_name_kinds() {
        assert_eq!(
            parse_server_name("example.com"),
            ServerName::Exact("example.com".into())
        );
        assert_eq!(
            parse_server_name("*.example.com"),
            ServerName::Wildcard("*.example.com".into())
        );
        assert_eq!(
            parse_server_name("www.example.*"),
            ServerName::Wildcard("www.example.*".into())
        );
        assert_eq!(
            parse_server_name("~^www\\d+$"),
            ServerName::Regex("^www\\d+$".into())
        );
    }
}
