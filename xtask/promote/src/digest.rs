//! Digests: SHA-256 values as bytes, and their one text form (64 lowercase hex characters).
//!
//! A [`Digest`] is what names a cache entry, a remote object or a record. Text that came from
//! outside (a server, a file, a manifest) becomes a `Digest` only through [`Digest::parse`], which
//! takes exactly 64 lowercase hex characters: a path built from a `Digest` therefore never holds a
//! separator, `..`, an absolute root or a non-ASCII byte.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A file's SHA-256, as the input index keeps it.
pub type FileDigest = [u8; 32];

/// Lowercase hex; by table rather than `format!`, since a warm run hexes every input digest of
/// every key.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// A SHA-256 digest; its text form is 64 lowercase hex characters and nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a text is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("a digest is 64 characters, not {0}")]
    Length(usize),
    #[error("a digest is lowercase hex only")]
    NotLowercaseHex,
}

impl Digest {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The SHA-256 of `parts`, each followed by a zero byte, so that no two lists of parts
    /// collide by moving bytes from one part to the next.
    pub fn of_parts(parts: &[&[u8]]) -> Digest {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
            hasher.update([0]);
        }
        Digest(hasher.finalize().into())
    }

    /// Exactly 64 lowercase hex characters; anything else (upper case, a sign, a separator,
    /// a non-ASCII character, another length) is refused.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(DigestError::Length(text.chars().count()));
        }
        let (pairs, _) = bytes.as_chunks::<2>();
        let mut out = [0u8; 32];
        for (byte, [high, low]) in out.iter_mut().zip(pairs) {
            let (Some(high), Some(low)) = (nibble(*high), nibble(*low)) else {
                return Err(DigestError::NotLowercaseHex);
            };
            *byte = high << 4 | low;
        }
        Ok(Digest(out))
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl From<FileDigest> for Digest {
    fn from(bytes: FileDigest) -> Digest {
        Digest(bytes)
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(text: &str) -> Result<Digest, DigestError> {
        Digest::parse(text)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn digests_round_trip_through_their_text() {
        let digest = Digest::of(b"abc");
        let text = digest.to_string();
        assert_eq!(
            text,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(&text), Ok(digest));
        assert_eq!(
            serde_json::from_str::<Digest>(&serde_json::to_string(&digest).unwrap()).unwrap(),
            digest
        );
    }

    #[test]
    fn only_64_lowercase_hex_characters_parse() {
        let good = Digest::of(b"abc").to_hex();
        for bad in [
            String::new(),
            good[..63].to_owned(),
            format!("{good}0"),
            good.to_ascii_uppercase(),
            format!("../{}", &good[3..]),
            format!("/{}", &good[1..]),
            format!("+{}", &good[1..]),
            format!("é{}", &good[2..]),
            format!("{} ", &good[..63]),
            "g".repeat(64),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad:?} parsed");
        }
        assert!(serde_json::from_str::<Digest>("\"../etc/passwd\"").is_err());
    }

    #[test]
    fn parts_are_separated() {
        assert_ne!(
            Digest::of_parts(&[b"ab", b"c"]),
            Digest::of_parts(&[b"a", b"bc"])
        );
    }
}
