//! `-L -c`: the connection table from `/proc/net/ip_vs_conn`, printed as
//! ipvsadm's `list_conn`/`print_conn` do.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::args::fmt;
use crate::list::addrport;
use crate::names::Names;
use crate::run::{Flow, Io};

const CONN_FILE: &str = "/proc/net/ip_vs_conn";

/// One line of the proc file, formatted (`None` for an unusable line).
pub fn connection(line: &str, format: u32, names: &mut Names) -> Option<String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let f = &fields;
    if f.len() < 9 {
        return None;
    }
    let proto = match f[0] {
        "TCP" => Some(ipvs::Protocol::Tcp),
        "UDP" => Some(ipvs::Protocol::Udp),
        "SCTP" => Some(ipvs::Protocol::Sctp),
        _ => None,
    };
    let addr = |s: &str| -> IpAddr {
        if let Ok(a) = s.parse::<std::net::Ipv6Addr>() {
            IpAddr::V6(a)
        } else if let Some(a) = crate::cvt::inet_pton4(s) {
            IpAddr::V4(a)
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(s, 16).unwrap_or(0)))
        }
    };
    let port = |s: &str| u16::from_str_radix(s, 16).unwrap_or(0);
    let client = addr(f[1]);
    let (vaddr, daddr) = (addr(f[3]), addr(f[5]));
    let expires: i64 = f[8].parse().unwrap_or(0);
    let expire = format!("{:02}:{:02}", expires / 60, expires % 60);
    let source = addrport(&client, port(f[2]), proto, format, names);
    let virt = addrport(&vaddr, port(f[4]), proto, format, names);
    let dest = addrport(&daddr, port(f[6]), proto, format, names);
    let state = f[7];
    let pro = f[0];
    // Names may be UTF-8: pad them in bytes, as printf does.
    let (source, virt) = (pad_bytes(&source, 18), pad_bytes(&virt, 18));
    Some(if format & fmt::PERSISTENTCONN != 0 && f.len() >= 11 {
        let dest = pad_bytes(&dest, 16);
        format!(
            "{pro:<3} {expire:<6} {state:<11} {source} {virt} {dest} {:<18} {}\n",
            f[9], f[10]
        )
    } else {
        format!("{pro:<3} {expire:<6} {state:<11} {source} {virt} {dest}\n")
    })
}

/// `s` padded with blanks to `width` bytes (C's `%-Ns`).
fn pad_bytes(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(width.max(s.len()));
    out.push_str(s);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(s.len())));
    out
}

/// The whole listing from the proc file's text.
pub fn format_table(text: &str, format: u32, names: &mut Names) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if format & fmt::PERSISTENTCONN != 0 {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for line in text.lines().skip(1) {
        if let Some(l) = connection(line, format, names) {
            out.push_str(&l);
        }
    }
    out
}

/// `list_conn`.
pub fn list(format: u32, names: &mut Names, io: &mut Io) -> Flow {
    let Ok(text) = std::fs::read_to_string(CONN_FILE) else {
        io.err(&format!("cannot open file {CONN_FILE}\n"));
        return Flow::Exit(1);
    };
    if text.is_empty() {
        io.err(&format!("unexpected input from {CONN_FILE}\n"));
        return Flow::Exit(1);
    }
    io.out(&format_table(&text, format, names));
    Flow::Status(0)
}

#[cfg(test)]
mod tests {
    use super::format_table;
    use crate::args::fmt;
    use crate::names::Names;

    #[test]
    fn proc_lines_are_formatted() {
        let text =
            "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
                    TCP C0000205 D431 C0000201 0050 C6336401 0050 ESTABLISHED     899\n";
        let mut n = Names::from_text("", "http 80/tcp\n");
        let out = format_table(text, fmt::NUMERIC, &mut n);
        assert_eq!(
            out,
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n\
             TCP 14:59  ESTABLISHED 192.0.2.5:54321    192.0.2.1:80       198.51.100.1:80\n"
        );
        let out = format_table(text, 0, &mut n);
        assert!(
            out.ends_with("192.0.2.1:http     198.51.100.1:http\n"),
            "{out}"
        );
        // A UTF-8 name: "h\u{e9}:54321" is 9 bytes, padded to 18 bytes.
        let mut n = Names::from_text("192.0.2.5 h\u{e9}\n", "");
        let out = format_table(text, 0, &mut n);
        assert!(
            out.contains("ESTABLISHED h\u{e9}:54321          192.0.2.1:80"),
            "{out}"
        );
    }
}
