//! ipvsadm 1.31's fixed texts: version line and usage.

/// The version line (`ipvsadm -v`), also the first line of the usage.
pub fn version() -> String {
    "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n".to_owned()
}

const SYNOPSIS: [&str; 13] = [
    "-A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
    "-D virtual-service",
    "-C",
    "-R",
    "-S [-n]",
    "-a|e virtual-service -r server-address [options]",
    "-d virtual-service -r server-address",
    "-L|l [virtual-service] [options]",
    "-Z [virtual-service]",
    "--set tcp tcpfin udp",
    "--start-daemon {master|backup} [daemon-options]",
    "--stop-daemon {master|backup}",
    "-h",
];

const BODY: &str = r"Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";

/// `ipvsadm -h`, naming the program as it was invoked.
pub fn usage(program: &str) -> String {
    let mut s = version();
    s.push_str("Usage:\n");
    for line in SYNOPSIS {
        s.push_str("  ");
        s.push_str(program);
        s.push(' ');
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(BODY);
    s
}

/// `ipvs_strerror`: ipvsadm's message for `errno` from the library call
/// `func`, else the C library's `strerror`.
pub fn ipvs_strerror(func: Func, errno: i32) -> String {
    const EPERM: i32 = 1;
    const ENOENT: i32 = 2;
    const ESRCH: i32 = 3;
    const ENOMEM: i32 = 12;
    const EEXIST: i32 = 17;
    const EINVAL: i32 = 22;
    const EMSGSIZE: i32 = 90;
    const ENOPROTOOPT: i32 = 92;
    const EOPNOTSUPP: i32 = 95;
    const EAFNOSUPPORT: i32 = 97;
    use Func::{
        AddDest, AddService, DelDest, DelService, EditDest, EditService, GetDests, GetService,
        GetServices, StartDaemon, StopDaemon, Zero,
    };
    let specific = match (func, errno) {
        (AddService, EEXIST) => Some("Service already exists"),
        (AddService | EditService, ENOENT) => Some("Scheduler or persistence engine not found"),
        (EditService | DelService | Zero | GetServices | GetDests | GetService, ESRCH) => {
            Some("No such service")
        }
        (AddDest | EditDest | DelDest, ESRCH) => Some("Service not defined"),
        (AddDest, EEXIST) => Some("Destination already exists"),
        (EditDest | DelDest, ENOENT) => Some("No such destination"),
        (StartDaemon, EEXIST) => Some("Daemon has already run"),
        (StopDaemon, ESRCH) => Some("No daemon is running"),
        (_, EPERM) => Some("Permission denied (you must be root)"),
        (_, EINVAL) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, ENOPROTOOPT) => Some("Protocol not available"),
        (_, ENOMEM) => Some("Memory allocation problem"),
        (_, EOPNOTSUPP) => Some("Operation not supported with IPv6"),
        (_, EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
        (_, EMSGSIZE) => Some("Module is wrong version"),
        _ => None,
    };
    specific.map_or_else(|| strerror(errno), str::to_owned)
}

/// glibc's `strerror` text (Rust's message without its " (os error N)").
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The libipvs call that failed (what `ipvs_strerror` keys on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    AddService,
    EditService,
    DelService,
    Zero,
    AddDest,
    EditDest,
    DelDest,
    StartDaemon,
    StopDaemon,
    GetServices,
    GetDests,
    GetService,
    Other,
}

#[cfg(test)]
mod tests {
    use super::{ipvs_strerror, strerror, usage, Func};

    #[test]
    fn strerror_texts() {
        assert_eq!(strerror(19), "No such device");
        assert_eq!(ipvs_strerror(Func::AddDest, 3), "Service not defined");
        assert_eq!(ipvs_strerror(Func::DelService, 3), "No such service");
        assert_eq!(ipvs_strerror(Func::Other, 3), "No such process");
        assert_eq!(ipvs_strerror(Func::AddDest, 2), "No such file or directory");
    }

    #[test]
    fn usage_names_the_program() {
        let u = usage("/sbin/ipvsadm");
        assert!(u.starts_with("ipvsadm v1.31 2019/12/24"));
        assert!(u.contains("\n  /sbin/ipvsadm -h\n\nCommands:\n"));
        assert!(u.ends_with("Multicast TTL (default=1)\n"));
    }
}
