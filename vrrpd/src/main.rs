//! `vrrpd`: VRRP from an existing keepalived.conf (not yet implemented).

fn main() {
    eprintln!("vrrpd: not implemented yet");
    std::process::exit(1);
}
