//! `l7proxy`: the reverse-proxy daemon (not yet implemented).

fn main() {
    eprintln!("l7proxy: not implemented yet");
    std::process::exit(1);
}
