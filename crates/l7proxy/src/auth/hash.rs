//! Password hashes of an `auth_basic_user_file`, as nginx's `ngx_crypt`
//! checks them: its own `{PLAIN}`, `{SHA}`, `{SSHA}` and `$apr1$`, and
//! what it leaves to the system's crypt(3): `$1$` (MD5), `$5$`/`$6$`
//! (SHA-256/512) and bcrypt (`$2a$`, `$2b$`, `$2y$`). Other kinds (DES,
//! yescrypt) are `None`.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

/// Whether `password` matches `stored`; `None` for a kind we cannot check.
pub fn matches(password: &[u8], stored: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(stored).ok()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(plain) = stored.strip_prefix(b"{PLAIN}") {
        return Some(plain == password);
    }
    if let Some(digest) = text.strip_prefix("{SHA}") {
        return Some(b64.encode(Sha1::digest(password)) == digest);
    }
    if let Some(encoded) = text.strip_prefix("{SSHA}") {
        let Ok(raw) = b64.decode(encoded) else {
            return Some(false);
        };
        if raw.len() < 20 {
            return Some(false);
        }
        let salt = &raw[20..];
        let mut h = Sha1::new();
        h.update(password);
        h.update(salt);
        return Some(h.finalize()[..] == raw[..20]);
    }
    if text.starts_with("$apr1$") {
        return Some(md5_crypt(password, text, "$apr1$") == text);
    }
    if text.starts_with("$1$") {
        return Some(md5_crypt(password, text, "$1$") == text);
    }
    let password = std::str::from_utf8(password).ok();
    if text.starts_with("$5$") {
        return Some(password.is_some_and(|p| sha_crypt::sha256_check(p, text).is_ok()));
    }
    if text.starts_with("$6$") {
        return Some(password.is_some_and(|p| sha_crypt::sha512_check(p, text).is_ok()));
    }
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
        return Some(password.is_some_and(|p| bcrypt::verify(p, text).unwrap_or(false)));
    }
    None
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The MD5-based crypt of `password` with the salt of `setting` (up to 8
/// characters after `magic`, ending at a `$`), as Poul-Henning Kamp's
/// algorithm (`$1$`) and Apache's variant (`$apr1$`, only the magic differs)
/// define it.
fn md5_crypt(password: &[u8], setting: &str, magic: &str) -> String {
    let rest = &setting[magic.len()..];
    let salt = &rest[..rest.find('$').unwrap_or(rest.len()).min(8)];
    let alt = {
        let mut h = Md5::new();
        h.update(password);
        h.update(salt);
        h.update(password);
        h.finalize()
    };
    let mut h = Md5::new();
    h.update(password);
    h.update(magic);
    h.update(salt);
    let mut left = password.len();
    while left > 0 {
        h.update(&alt[..left.min(16)]);
        left = left.saturating_sub(16);
    }
    let mut n = password.len();
    while n > 0 {
        if n & 1 == 1 {
            h.update([0u8]);
        } else {
            h.update(&password[..1]);
        }
        n >>= 1;
    }
    let mut sum = h.finalize();
    for i in 0..1000 {
        let mut h = Md5::new();
        if i & 1 == 1 {
            h.update(password);
        } else {
            h.update(sum);
        }
        if i % 3 != 0 {
            h.update(salt);
        }
        if i % 7 != 0 {
            h.update(password);
        }
        if i & 1 == 1 {
            h.update(sum);
        } else {
            h.update(password);
        }
        sum = h.finalize();
    }
    let mut out = format!("{magic}{salt}$");
    let mut put = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let b = |i: usize| u32::from(sum[i]);
    for (x, y, z) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put(b(x) << 16 | b(y) << 8 | b(z), 4);
    }
    put(b(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hashes made by `openssl passwd` (-apr1, -1, -5, -6) and Python's
    // bcrypt, for the password "secret".
    #[test]
    fn known_hashes() {
        let ok = |h: &str| matches(b"secret", h.as_bytes());
        let bad = |h: &str| matches(b"secreT", h.as_bytes());
        for h in [
            "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/",
            "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1",
            "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
            "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
            "{PLAIN}secret",
            "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        ] {
            assert_eq!((ok(h), bad(h)), (Some(true), Some(false)), "{h}");
        }
        assert_eq!(ok("abNANd1rDfiNc"), None); // DES
        assert_eq!(ok("$y$j9T$abc$def"), None); // yescrypt
    }
}
