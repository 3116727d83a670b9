//! Chunked upstream bodies on the fast path: decoded as they come and
//! written to the client re-chunked, without extensions or trailers.

/// A chunked-body decoder that writes the same data re-chunked (extensions
/// and trailers dropped, as nginx does).
#[derive(Debug, Default)]
pub(super) struct Chunks {
    state: Chunk,
    pub(super) size: u64,
    pub(super) digits: u8,
    /// Data bytes seen.
    pub(super) data: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    #[default]
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLine,
    TrailerLf,
    Done,
}

impl Chunks {
    pub(super) fn done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Decodes from `input` (until the end of the body), appending the
    /// re-chunked bytes to `out`; returns the bytes used.
    pub(super) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ()> {
        let mut i = 0;
        while i < input.len() && self.state != Chunk::Done {
            let b = input[i];
            match self.state {
                Chunk::Data => {
                    let k = usize::try_from(self.size)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    out.extend_from_slice(&input[i..i + k]);
                    self.size -= k as u64;
                    self.data += k as u64;
                    i += k;
                    if self.size == 0 {
                        self.state = Chunk::DataCr;
                    }
                    continue;
                }
                Chunk::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let d = u64::from(char::from(b).to_digit(16).ok_or(())?);
                        if self.digits >= 15 {
                            return Err(());
                        }
                        self.size = self.size * 16 + d;
                        self.digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => self.state = Chunk::Ext,
                    b'\r' if self.digits > 0 => self.state = Chunk::SizeLf,
                    b'\n' if self.digits > 0 => self.size_line(out),
                    _ => return Err(()),
                },
                Chunk::Ext => {
                    if b == b'\n' {
                        self.size_line(out);
                    }
                }
                Chunk::SizeLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.size_line(out);
                }
                Chunk::DataCr => match b {
                    b'\r' => self.state = Chunk::DataLf,
                    b'\n' => self.chunk_end(out),
                    _ => return Err(()),
                },
                Chunk::DataLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.chunk_end(out);
                }
                Chunk::Trailer => match b {
                    b'\r' => self.state = Chunk::TrailerLf,
                    b'\n' => self.finish(out),
                    _ => self.state = Chunk::TrailerLine,
                },
                Chunk::TrailerLine => {
                    if b == b'\n' {
                        self.state = Chunk::Trailer;
                    }
                }
                Chunk::TrailerLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.finish(out);
                }
                Chunk::Done => {}
            }
            i += 1;
        }
        Ok(i)
    }

    fn size_line(&mut self, out: &mut Vec<u8>) {
        if self.size == 0 {
            self.state = Chunk::Trailer;
        } else {
            out.extend_from_slice(format!("{:x}\r\n", self.size).as_bytes());
            self.state = Chunk::Data;
        }
    }

    fn chunk_end(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.size = 0;
        self.digits = 0;
        self.state = Chunk::Size;
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"0\r\n\r\n");
        self.state = Chunk::Done;
    }
}
