use super::{parse, Cmd, Stop};
use crate::names::Names;

fn argv(s: &str) -> Vec<String> {
    std::iter::once("ipvsadm")
        .chain(s.split_whitespace())
        .map(str::to_owned)
        .collect()
}

fn names() -> Names {
    Names::from_text("127.0.0.1 localhost\n", "http 80/tcp\ndomain 53/udp\n")
}

fn stderr_of(s: &str) -> (i32, String) {
    match parse(&argv(s), &mut names()) {
        Ok(e) => panic!("{s}: parsed {e:?}"),
        Err(Stop::Exit { code, stderr, .. }) => (code, stderr),
        Err(Stop::Soft(m)) => (-1, m),
    }
}

#[test]
fn commands_and_their_entries() {
    let e = parse(&argv("-A -t 192.0.2.1:http -s rr -p"), &mut names()).unwrap();
    assert_eq!(e.cmd, Cmd::Add);
    assert_eq!(e.svc.port, 80);
    assert_eq!(e.svc.sched, "rr");
    assert_eq!(e.svc.timeout, 360);
    let e = parse(
        &argv("-a -t [2001:db8::1]:443 -r 2001:db8::2 -m"),
        &mut names(),
    )
    .unwrap();
    assert_eq!(e.dest.port, 443, "the service port is copied");
    let e = parse(
        &argv("-a -t 192.0.2.1:80 -r 198.51.100.1:8080"),
        &mut names(),
    )
    .unwrap();
    assert_eq!(e.dest.port, 80, "direct routing keeps the service port");
    let e = parse(&argv("--set 1 2 3"), &mut names()).unwrap();
    assert_eq!(e.timeouts, [1, 2, 3]);
}

#[test]
fn ipvsadm_error_messages() {
    let cases = [
        ("-n -L", 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"),
        ("-L -n -n", 2, "multiple 'numeric' options specified\n"),
        ("-LQ", -1, "-LQ: unknown option\n"),
        ("-L -list", 2, "invalid option `-list'\n"),
        ("-Ln foo", 2, "unexpected argument foo\n"),
        ("-A -t 80", 2, "illegal virtual server address[:port] specified\n"),
        ("-A -t 192.0.2.1", 2, "Zero port specified for non-persistent service\n"),
        ("-A -t 192.0.2.1:53 -o", 2, "One-Packet Scheduling is only for UDP virtual services\n"),
        ("-L -6", 2, "-6 used before -f\n\n"),
        ("-A -f 0", 2, "invalid fwmark value `0' specified\n"),
        ("-A -f -1", 2, "invalid fwmark value `-1' specified\n"),
        ("-L -c -t 192.0.2.1:80", 2, "The option 'service-address' conflicts with the 'connection' option in the 'list' command\n"),
        ("-a -t 192.0.2.1:80", 2, "You need to supply the 'real-server' option for the 'add-server' command\n"),
        ("-a -t 192.0.2.1:80 -r 198.51.100.1 -i --tun-type gue", 2, "You need to supply the 'tun-port' option for the 'gue' tunnel type\n"),
        ("-a -t 192.0.2.1:80 -r 198.51.100.1 -w 2147483648", 2, "illegal weight specified\n"),
        ("--set 1 2", 2, "--set option requires 3 timeout values\n"),
        ("-A -t 192.0.2.1:80 -b sh-port", 2, "incompatible scheduler flag `sh-port'\n"),
    ];
    for (line, code, msg) in cases {
        assert_eq!(stderr_of(line), (code, msg.to_owned()), "{line}");
    }
}
