//! `vrrpd`: VRRP from an existing keepalived.conf. The command line lives in
//! `cli`; configuration handling in the `keepalived-conf` library; the protocol
//! in the sans-IO `vrrp` crate. The rest are I/O adapters around them.

mod actions;
mod cli;
mod daemon;
mod filter;
mod garp;
mod instance;
mod lifecycle;
mod notify;
mod receive;
mod rtnl;
mod run;
mod socket;
mod spec;
mod statics;
mod stats;
mod sync;
mod syslog;
mod timers;
mod track;
mod vips;
mod vmac;

fn main() {
    std::process::exit(cli::main());
}
