use super::{cmp_services, largenum, msort, service_entry, title};
use crate::args::fmt;
use crate::names::Names;
use ipvs::{Destination, Family, Service, ServiceKey};

#[test]
fn largenum_scales_like_ipvsadm() {
    assert_eq!(largenum(99_999_999, 0), " 99999999");
    assert_eq!(largenum(100_000_000, 0), "  100000K");
    assert_eq!(largenum(1_500_000_000, 0), "    1500M");
    assert_eq!(largenum(123_456_789_012, 0), "     123G");
    assert_eq!(largenum(u64::MAX, 0), "18446744T");
    assert_eq!(largenum(5, fmt::EXACT), "        5");
    assert_eq!(largenum(1_234_567_890, fmt::EXACT), " 1234567890");
}

#[test]
fn destination_row_keeps_trailing_spaces() {
    let key = ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    };
    let s = Service::new(key);
    let d = Destination::new("198.51.100.1".parse().unwrap(), 80);
    let mut n = Names::from_text("", "http 80/tcp\n");
    let mut out = String::new();
    service_entry(&mut out, &s, &[d], fmt::NUMERIC, &mut n);
    assert_eq!(
        out,
        "TCP  192.0.2.1:80 wlc\n  -> 198.51.100.1:80              Masq    1      0          0         \n"
    );
    assert!(title(fmt::RULE).is_empty());
}

#[test]
fn fwmark_order_follows_glibc_merge_sort() {
    let fw = |m| {
        Service::new(ServiceKey::Fwmark {
            family: Family::Inet,
            mark: m,
        })
    };
    let tcp = Service::new(ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    });
    // Marks 2^31 apart compare "backwards" in libipvs.
    assert!(cmp_services(&fw(0x8000_0001), &tcp) < 0);
    let (a, b) = (fw(5), fw(1));
    let mut v = vec![&a, &tcp, &b];
    msort(&mut v, &|x: &&Service, y: &&Service| cmp_services(x, y));
    assert_eq!(v[0], &tcp);
    assert_eq!(v[1], &b);
}

#[test]
fn columns_are_padded_and_cut_in_bytes_as_printf_does() {
    let key = ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    };
    let s = Service::new(key);
    let mut n = Names::from_text(
        "198.51.100.1 h\u{e9}llo\n198.51.100.2 a-very-long-host-name-for-the-column\n",
        "",
    );
    let dests = [
        Destination::new("198.51.100.1".parse().unwrap(), 80),
        Destination::new("198.51.100.2".parse().unwrap(), 4_294),
    ];
    let mut out = String::new();
    service_entry(&mut out, &s, &dests, 0, &mut n);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    // "héllo:80" is 9 bytes: 19 blanks make the 28 bytes of `%-28s`.
    assert_eq!(
        rows[0],
        format!(
            "  -> h\u{e9}llo:80{} Masq    1      0          0         ",
            " ".repeat(19)
        )
    );
    // An IPv4 name longer than 28 bytes is cut to 28.
    assert_eq!(
        rows[1],
        "  -> a-very-long-host-name-for-th Masq    1      0          0         "
    );
    let mut nums = String::new();
    for n in [0, 7, 10, 65_535, u64::MAX] {
        super::push_num(&mut nums, n);
        nums.push(' ');
    }
    assert_eq!(nums, "0 7 10 65535 18446744073709551615 ");
}
