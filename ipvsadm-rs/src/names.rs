//! Host and service names, as ipvsadm gets them from glibc's `files`
//! databases: `/etc/hosts` and `/etc/services`. (DNS is not consulted; see
//! docs/ipvsadm.md.) Parsing is pure; [`Names`] reads the files once.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::Protocol;

/// The two databases' text.
#[derive(Debug, Default)]
pub struct Names {
    hosts: Option<String>,
    services: Option<String>,
}

fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split('#').next().unwrap_or("").split_whitespace()
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

impl Names {
    /// Databases given as text (for tests).
    #[cfg(test)]
    pub fn from_text(hosts: &str, services: &str) -> Self {
        Self {
            hosts: Some(hosts.to_owned()),
            services: Some(services.to_owned()),
        }
    }

    fn hosts(&mut self) -> &str {
        self.hosts
            .get_or_insert_with(|| std::fs::read_to_string("/etc/hosts").unwrap_or_default())
    }

    fn services(&mut self) -> &str {
        self.services
            .get_or_insert_with(|| std::fs::read_to_string("/etc/services").unwrap_or_default())
    }

    /// `gethostbyname` → the first IPv4 address of `name` (case-insensitive
    /// match on the canonical name or an alias).
    pub fn host_to_addr(&mut self, name: &str) -> Option<Ipv4Addr> {
        for line in self.hosts().lines() {
            let mut f = fields(line);
            let Some(addr) = f.next() else { continue };
            if f.any(|n| n.eq_ignore_ascii_case(name)) {
                // glibc's files backend with AF_INET skips IPv6 lines.
                if let Ok(a) = addr.parse::<Ipv4Addr>() {
                    return Some(a);
                }
            }
        }
        None
    }

    /// `gethostbyaddr` → the canonical name of the first line with `addr`.
    pub fn addr_to_host(&mut self, addr: &IpAddr) -> Option<String> {
        for line in self.hosts().lines() {
            let mut f = fields(line);
            let Some(a) = f.next() else { continue };
            if a.parse::<IpAddr>().ok().as_ref() == Some(addr) {
                if let Some(name) = f.next() {
                    return Some(name.to_owned());
                }
            }
        }
        None
    }

    /// `getservbyname(name, proto)`.
    pub fn service_to_port(&mut self, name: &str, proto: Protocol) -> Option<u16> {
        let want = proto_name(proto);
        for line in self.services().lines() {
            let mut f = fields(line);
            let (Some(official), Some(pp)) = (f.next(), f.next()) else {
                continue;
            };
            let Some((port, p)) = pp.split_once('/') else {
                continue;
            };
            if p == want && (official == name || f.any(|a| a == name)) {
                return port.parse().ok();
            }
        }
        None
    }

    /// `getservbyport(port, proto)` → the official name.
    pub fn port_to_service(&mut self, port: u16, proto: Protocol) -> Option<String> {
        let want = proto_name(proto);
        for line in self.services().lines() {
            let mut f = fields(line);
            let (Some(official), Some(pp)) = (f.next(), f.next()) else {
                continue;
            };
            if pp.split_once('/') == Some((&port.to_string(), want)) {
                return Some(official.to_owned());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Names;
    use ipvs::Protocol;

    #[test]
    fn files_lookups() {
        let mut n = Names::from_text(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# 192.0.2.9 x\n192.0.2.5 web www # c\n",
            "http 80/tcp www # WWW\ndomain 53/tcp\ndomain 53/udp\nsip 5060/udp\n",
        );
        assert_eq!(n.host_to_addr("WWW"), Some([192, 0, 2, 5].into()));
        assert_eq!(n.host_to_addr("x"), None);
        assert_eq!(
            n.addr_to_host(&"127.0.0.1".parse().unwrap()).as_deref(),
            Some("localhost")
        );
        assert_eq!(n.addr_to_host(&"192.0.2.9".parse().unwrap()), None);
        assert_eq!(n.service_to_port("www", Protocol::Tcp), Some(80));
        assert_eq!(n.service_to_port("http", Protocol::Udp), None);
        assert_eq!(
            n.port_to_service(53, Protocol::Udp).as_deref(),
            Some("domain")
        );
        assert_eq!(n.port_to_service(5060, Protocol::Tcp), None);
    }
}
