//! Unit tests of the fast path's parsers: request heads and upstream
//! chunked bodies.

use super::chunks::Chunks;
use super::head::head_end;

fn rechunk(parts: &[&[u8]]) -> Result<(Vec<u8>, u64, bool), ()> {
    let mut d = Chunks::default();
    let mut out = Vec::new();
    for p in parts {
        let used = d.feed(p, &mut out)?;
        assert!(used == p.len() || d.done());
    }
    Ok((out, d.data, d.done()))
}

#[test]
fn chunks_are_rewritten_across_reads_without_extensions_or_trailers() {
    let body: &[u8] = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
    for cut in 0..body.len() {
        let (out, data, done) = rechunk(&[&body[..cut], &body[cut..]]).unwrap();
        assert_eq!(out, b"5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n");
        assert_eq!((data, done), (15, true));
    }
}

#[test]
fn heads_end_at_the_first_empty_line_with_or_without_cr() {
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"), Some(27));
    assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n"), Some(24));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
    assert_eq!(head_end(b""), None);
}

#[test]
fn bad_chunks_are_errors() {
    assert!(rechunk(&[b"x\r\n"]).is_err());
    assert!(rechunk(&[b"\r\n"]).is_err());
    assert!(rechunk(&[b"2\r\nabX"]).is_err());
    assert!(rechunk(&[b"ffffffffffffffffff\r\n"]).is_err());
}

#[test]
fn unfinished_chunks_are_not_done() {
    let (_, data, done) = rechunk(&[b"5\r\nhel"]).unwrap();
    assert_eq!((data, done), (3, false));
}
