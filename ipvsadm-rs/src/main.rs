//! `ipvsadm`: drop-in for ipvsadm 1.31 (not yet implemented).

fn main() {
    eprintln!("ipvsadm: not implemented yet");
    std::process::exit(2);
}
