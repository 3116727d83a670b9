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

fn port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "invalid port in \"{text}\" of the \"listen\" directive"
        )),
    }
}

fn address(text: &str) -> Result<ListenAddress, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(format!("no path in the unix domain socket \"{text}\""));
        }
        return Ok(ListenAddress::Unix(path.to_owned()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("invalid IPv6 address \"{text}\""))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("invalid IPv6 address \"{text}\""))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => port(p)?,
            None if tail.is_empty() => 80,
            None => {
                return Err(format!(
                    "invalid host in \"{text}\" of the \"listen\" directive"
                ))
            }
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
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, port(p)?),
        None => (text, 80),
    };
    if host == "*" {
        return Ok(ListenAddress::Inet {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        });
    }
    match host.parse::<Ipv4Addr>() {
        Ok(ip) => Ok(ListenAddress::Inet {
            ip: IpAddr::V4(ip),
            port,
        }),
        Err(_) => Ok(ListenAddress::Host {
            host: host.to_owned(),
            port,
        }),
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
                    listen.backlog = Some(n.ok_or_else(|| format!("invalid backlog \"{v}\""))?);
                    listen.socket_options = true;
                } else if let Some(v) = arg.strip_prefix("ipv6only=") {
                    listen.ipv6only = Some(match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("invalid ipv6only flags \"{v}\"")),
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
            "invalid port in \"0\" of the \"listen\" directive"
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
