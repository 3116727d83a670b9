//! `vrrpd`: VRRP from an existing keepalived.conf. The command line lives in
//! `cli`; configuration handling in the `keepalived-conf` library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
