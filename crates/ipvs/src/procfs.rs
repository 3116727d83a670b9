//! `/proc/net/ip_vs`: the kernel's text listing of every service of the
//! reader's network namespace with its destinations, in a few `read`s
//! instead of one netlink dump per service.
//!
//! The text tells, per destination, only the address, port, forwarding
//! method, weight and the active and inactive connection counts; it has no
//! thresholds, persistent connections, counters or tunnel parameters, it
//! names IPv4 and IPv6 fwmark services alike (`FWM  %08X`), and it prints
//! the methods the kernel stores but `ipvsadm` cannot set (bypass, 4 ..= 7)
//! as `Masq`, indistinguishable from NAT (a caller that must tell them
//! apart needs the dump). [`ProcDestinations::destinations`] only answers
//! for a service whose record is unambiguous, and only with tunnel
//! destinations when the caller does not need their parameters; everything
//! else is for [`crate::Client::destinations`].
//!
//! [`ProcDestinations::read_for`] takes the service dump read just before,
//! so that an fwmark the dump has in both families stays ambiguous even
//! when one of them went before the text was read.
//!
//! The file is read in page-sized chunks, each resuming at a service index,
//! so a table that changes during the read may lose or repeat a service
//! (the netlink service dump resumes the same way). A repeated service
//! counts as ambiguous; a lost one is simply absent.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::types::{Destination, ForwardMethod, Protocol, Service, ServiceKey};

/// A destination as the listing tells it (compact: the whole table is
/// held at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcDest {
    addr: IpAddr,
    port: u16,
    forward: ForwardMethod,
    weight: u32,
    active: u32,
    inactive: u32,
}

impl ProcDest {
    fn destination(&self) -> Destination {
        let mut d = Destination::new(self.addr, self.port);
        d.forward = self.forward;
        d.weight = self.weight;
        d.active_conns = self.active;
        d.inactive_conns = self.inactive;
        d
    }
}

/// One service's record: its destinations are `dests[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    start: usize,
    end: usize,
    has_tunnel: bool,
}

/// A service as `/proc/net/ip_vs` names it: an fwmark has no family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ProcKey {
    Addr(Protocol, IpAddr, u16),
    Fwmark(u32),
}

impl ProcKey {
    fn of(key: &ServiceKey) -> Self {
        match *key {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => Self::Addr(protocol, addr, port),
            ServiceKey::Fwmark { mark, .. } => Self::Fwmark(mark),
        }
    }
}

/// The destinations `/proc/net/ip_vs` lists, by service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcDestinations {
    /// `None`: the key was listed more than once (an fwmark used by both
    /// families, or a service repeated by a table changing during the read),
    /// or a line of its record did not parse.
    records: HashMap<ProcKey, Option<Record>>,
    dests: Vec<ProcDest>,
}

impl ProcDestinations {
    /// Where the kernel publishes the listing.
    pub const PATH: &'static str = "/proc/net/ip_vs";

    /// Reads and parses [`Self::PATH`], line by line as the chunks come
    /// (the kernel hands out at most a page per `read` whatever the
    /// buffer, so the whole text is never held).
    pub fn read() -> std::io::Result<Self> {
        let mut file = std::fs::File::open(Self::PATH)?;
        let mut parser = Parser::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut have = 0;
        loop {
            if have == buf.len() {
                // A line longer than the buffer: not the kernel's format,
                // but keep reading rather than fail.
                buf.resize(buf.len() * 2, 0);
            }
            let n = match file.read(&mut buf[have..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            have += n;
            if let Some(last) = buf[..have].iter().rposition(|&b| b == b'\n') {
                parser.feed(&String::from_utf8_lossy(&buf[..=last]));
                buf.copy_within(last + 1..have, 0);
                have -= last + 1;
            }
        }
        parser.feed(&String::from_utf8_lossy(&buf[..have]));
        Ok(parser.finish())
    }

    /// [`Self::read`] for the services of a dump read just before: an
    /// fwmark that `services` holds in both families is ambiguous even if
    /// the text lists it once (one of the two went between the reads).
    pub fn read_for(services: &[Service]) -> std::io::Result<Self> {
        let mut p = Self::read()?;
        let mut seen = HashMap::new();
        for s in services {
            if let ServiceKey::Fwmark { family, mark } = s.key {
                if *seen.entry(mark).or_insert(family) != family {
                    p.records.insert(ProcKey::Fwmark(mark), None);
                }
            }
        }
        Ok(p)
    }

    /// Parses the listing's text. Lines that do not parse make their
    /// service's record unusable, never an error.
    pub fn parse(text: &str) -> Self {
        let mut parser = Parser::default();
        parser.feed(text);
        parser.finish()
    }

    /// The destinations of `key` in the kernel's order, if the listing
    /// tells them unambiguously. Fields the listing lacks (thresholds,
    /// persistent connections, stats) are zero. With `tunnel_params`, a
    /// service with a tunnel destination gets `None` (its type, port and
    /// checksum are not listed); without, tunnel destinations come with
    /// [`Destination::new`]'s tunnel defaults.
    pub fn destinations(&self, key: &ServiceKey, tunnel_params: bool) -> Option<Vec<Destination>> {
        let record = (*self.records.get(&ProcKey::of(key))?)?;
        if tunnel_params && record.has_tunnel {
            return None;
        }
        let dests = self.dests.get(record.start..record.end)?;
        Some(dests.iter().map(ProcDest::destination).collect())
    }

    /// Number of services listed (ambiguous ones counted once).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The listing's parser, fed whole lines.
#[derive(Debug, Default)]
struct Parser {
    records: HashMap<ProcKey, Option<Record>>,
    dests: Vec<ProcDest>,
    /// The record being read: its key and its extent (`None` once a line
    /// failed). `None` for a line that names no service we know, such as
    /// the column titles.
    current: Option<(ProcKey, Option<Record>)>,
}

impl Parser {
    fn feed(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("  -> ") {
                if let Some((_, record)) = &mut self.current {
                    match (record.as_mut(), parse_dest(rest)) {
                        (Some(r), Some(d)) => {
                            r.has_tunnel |= d.forward == ForwardMethod::Tunnel;
                            self.dests.push(d);
                            r.end = self.dests.len();
                        }
                        _ => *record = None,
                    }
                }
                continue;
            }
            self.end_record();
            let start = self.dests.len();
            self.current = parse_service(line).map(|key| {
                let record = Record {
                    start,
                    end: start,
                    has_tunnel: false,
                };
                (key, Some(record))
            });
        }
    }

    fn end_record(&mut self) {
        if let Some((key, record)) = self.current.take() {
            self.records
                .entry(key)
                .and_modify(|r| *r = None)
                .or_insert(record);
        }
    }

    fn finish(mut self) -> ProcDestinations {
        self.end_record();
        ProcDestinations {
            records: self.records,
            dests: self.dests,
        }
    }
}

/// `TCP  C0000201:0050 rr ...`, `TCP  [2001:0db8:...]:0050 rr ...` or
/// `FWM  00000001 rr ...`.
fn parse_service(line: &str) -> Option<ProcKey> {
    let mut words = line.split_ascii_whitespace();
    let proto = words.next()?;
    let what = words.next()?;
    if proto == "FWM" {
        return u32::from_str_radix(what, 16).ok().map(ProcKey::Fwmark);
    }
    let protocol = match proto {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => return None,
    };
    let (addr, port) = parse_addr_port(what)?;
    Some(ProcKey::Addr(protocol, addr, port))
}

/// `C6130001:1F90      Masq    1      0          0` (after `  -> `).
fn parse_dest(rest: &str) -> Option<ProcDest> {
    let mut words = rest.split_ascii_whitespace();
    let (addr, port) = parse_addr_port(words.next()?)?;
    let forward = match words.next()? {
        "Masq" => ForwardMethod::Masq,
        "Local" => ForwardMethod::Local,
        "Tunnel" => ForwardMethod::Tunnel,
        "Route" => ForwardMethod::Route,
        _ => return None,
    };
    // The kernel prints these `%d`; the netlink attributes carry the same
    // bits as u32, so a negative count wraps the same way.
    let mut int = || -> Option<u32> {
        let v: i32 = words.next()?.parse().ok()?;
        Some(v.cast_unsigned())
    };
    let d = ProcDest {
        addr,
        port,
        forward,
        weight: int()?,
        active: int()?,
        inactive: int()?,
    };
    if words.next().is_some() {
        return None;
    }
    Some(d)
}

/// `C0000201:0050` (IPv4 in host-order hex) or `[2001:0db8::...]:0050`.
fn parse_addr_port(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.rsplit_once(':')?;
    let port = hex16(port)?;
    let addr = if let Some(v6) = addr.strip_prefix('[') {
        IpAddr::V6(v6.strip_suffix(']')?.parse::<Ipv6Addr>().ok()?)
    } else {
        if addr.len() != 8 {
            return None;
        }
        IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?))
    };
    Some((addr, port))
}

fn hex16(s: &str) -> Option<u16> {
    if s.len() == 4 {
        u16::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Family;

    const TEXT: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0000201:0050 wlc ops persistent 300 FFFFFF00
  -> C6336401:1F90      Masq    1      0          0         
  -> C6336402:0050      Tunnel  2147483647 3          -1        
UDP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0035 rr 
  -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0035      Route   0      0          0         
FWM  00000007 sh 
  -> C6336401:0000      Local   1      0          0         
FWM  00000008 rr 
FWM  00000008 rr 
  -> C6336401:0000      Masq    1      0          0         
SCTP  C0000202:0BB8 rr 
  -> C6336401:0BB8      Bogus   1      0          0         
";

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_each_kind_of_record() {
        let p = ProcDestinations::parse(TEXT);
        let tcp = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: v4("192.0.2.1"),
            port: 80,
        };
        let d = p.destinations(&tcp, false).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].addr, d[0].port), (v4("198.51.100.1"), 8080));
        assert_eq!(d[0].forward, ForwardMethod::Masq);
        assert_eq!(d[1].forward, ForwardMethod::Tunnel);
        assert_eq!(d[1].weight, 2_147_483_647);
        assert_eq!((d[1].active_conns, d[1].inactive_conns), (3, u32::MAX));

        let udp6 = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        let d = p.destinations(&udp6, true).unwrap();
        assert_eq!(d[0].addr, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!((d[0].forward, d[0].weight), (ForwardMethod::Route, 0));

        let fwm = |mark| ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        };
        assert_eq!(
            p.destinations(&fwm(7), true).unwrap()[0].forward,
            ForwardMethod::Local
        );
        // Listed twice: which record is which family is unknown.
        assert_eq!(p.destinations(&fwm(8), false), None);
        // A line that does not parse spoils its service only.
        let sctp = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: v4("192.0.2.2"),
            port: 3000,
        };
        assert_eq!(p.destinations(&sctp, false), None);
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn tunnel_destinations_need_the_kernel_when_their_parameters_matter() {
        let p = ProcDestinations::parse(TEXT);
        let tcp = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: v4("192.0.2.1"),
            port: 80,
        };
        assert_eq!(p.destinations(&tcp, true), None);
        assert!(p.destinations(&tcp, false).is_some());
    }

    #[test]
    fn absent_and_malformed_input_answer_nothing() {
        let key = ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 1,
        };
        assert!(ProcDestinations::parse("").is_empty());
        for text in [
            "FWM  zz rr\n",
            "TCP  C00002:0050 rr\n",
            "TCP  C0000201:50 rr\n",
            "TCP  [::1:0050 rr\n",
            "  -> C6336401:0000      Masq    1      0          0\n",
        ] {
            assert_eq!(
                ProcDestinations::parse(text).destinations(&key, false),
                None,
                "{text}"
            );
        }
        let p = ProcDestinations::parse("FWM  00000001 rr\n  -> C6336401:0000 Masq 1 0\n");
        assert_eq!(p.destinations(&key, false), None);
        let p = ProcDestinations::parse("FWM  00000001 rr\n  -> C6336401:0000 Masq 1 0 0 9\n");
        assert_eq!(p.destinations(&key, false), None);
    }
}
