//! `nginx-conf`: crossplane-compatible command line (not yet implemented).

fn main() {
    eprintln!("nginx-conf: not implemented yet");
    std::process::exit(1);
}
