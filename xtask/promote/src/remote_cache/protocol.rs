//! The HTTP cache protocol that Bazel's remote caching speaks, as pure functions: URLs of the
//! action cache (`{base}/ac/{sha256}`) and the content-addressed store (`{base}/cas/{sha256}`),
//! and the small signed record an action-cache entry holds.
//!
//! An xtask entry is stored as two objects: its bytes under `cas/<sha256 of the bytes>` (the same
//! bytes are stored once however many keys name them) and a record under `ac/<name>`, where
//! `<name>` is the SHA-256 of the cache key in an xtask namespace, so xtask's names never collide
//! with a build system's own entries on a shared server. The record names the blob's digest and
//! size and carries an Ed25519 signature over the name, digest and size: a signature binds the
//! blob to the key it was written for, so a valid record cannot be replayed under another key.
//! Every text that comes from the server becomes a type here (`Digest`, `Signature`, a size
//! within the caller's cap) or the record is refused.

use crate::digest::Digest;

use super::signing::{PublicKey, SecretKey, Signature};

/// v2: Ed25519 signatures; v1 records (HMAC) sit under other names and are never asked for.
const RECORD_MAGIC: &str = "xtask-remote v2";

/// Largest `ac/` record read: a record is about 260 bytes.
pub const MAX_RECORD_BYTES: u64 = 4 * 1024;

/// Checks a `[cache.remote] url` and returns it without a trailing slash.
pub fn base_url(text: &str) -> Result<String, String> {
    let uri: ureq::http::Uri = text
        .parse()
        .map_err(|error| format!("`{text}` is not a URL ({error})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{text}` must start with http:// or https://")),
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("`{text}` names no host"));
    };
    if authority.as_str().contains('@') {
        return Err(format!(
            "`{text}` holds credentials; name an environment variable in token_env instead"
        ));
    }
    if uri.query().is_some() || text.contains('#') {
        return Err(format!("`{text}` may not have a query or fragment"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The action-cache name of a cache key.
pub fn ac_name(key: &Digest) -> Digest {
    Digest::of(format!("{RECORD_MAGIC}\n{key}").as_bytes())
}

pub fn ac_url(base: &str, name: &Digest) -> String {
    format!("{base}/ac/{name}")
}

pub fn cas_url(base: &str, digest: &Digest) -> String {
    format!("{base}/cas/{digest}")
}

/// What `ac/<name>` holds: the blob's digest and size, and the writer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub cas: Digest,
    pub size: u64,
    /// `None` for a record written without a key (`sig -`): no reader uses it.
    pub signature: Option<Signature>,
}

/// Why a record or blob is not used; each is a miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(String),
    Unsigned,
    BadSignature,
    TooLarge { size: u64, cap: u64 },
    BlobMismatch,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Malformed(reason) => write!(f, "malformed record ({reason})"),
            Rejection::Unsigned => f.write_str("the entry is not signed"),
            Rejection::BadSignature => {
                f.write_str("the entry's signature does not check with [cache.remote] public_key")
            }
            Rejection::TooLarge { size, cap } => write!(
                f,
                "the entry is {size} bytes, over the {cap} bytes [cache.remote] max_blob_mb allows"
            ),
            Rejection::BlobMismatch => f.write_str("the blob does not hash to its name"),
        }
    }
}

fn signed_message(name: &Digest, cas: &Digest, size: u64) -> Vec<u8> {
    format!("{RECORD_MAGIC}\n{name}\n{cas}\n{size}\n").into_bytes()
}

impl Record {
    /// The record for `entry` stored under `name`, signed with `key`.
    pub fn for_entry(name: &Digest, entry: &[u8], key: &SecretKey) -> Record {
        let cas = Digest::of(entry);
        let size = entry.len() as u64;
        let signature = Some(key.sign(&signed_message(name, &cas, size)));
        Record {
            cas,
            size,
            signature,
        }
    }

    pub fn render(&self) -> Vec<u8> {
        let signature = self
            .signature
            .map_or_else(|| "-".to_owned(), Signature::to_hex);
        format!(
            "{RECORD_MAGIC}\ncas {}\nsize {}\nsig {signature}\n",
            self.cas, self.size
        )
        .into_bytes()
    }

    /// The record in `bytes`, whatever they are: never panics, and takes nothing it has not
    /// parsed into a type.
    pub fn parse(bytes: &[u8]) -> Result<Record, Rejection> {
        let malformed = |reason: &str| Rejection::Malformed(reason.to_owned());
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("not text"))?;
        let mut lines = text.lines();
        if lines.next() != Some(RECORD_MAGIC) {
            return Err(malformed("unknown header"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or_else(|| malformed(&format!("no `{name}` line")))
        };
        let cas = field("cas")?;
        let size = field("size")?;
        let signature = field("sig")?;
        if lines.next().is_some() {
            return Err(malformed("lines after `sig`"));
        }
        let cas = Digest::parse(cas).map_err(|_| malformed("the digest is not SHA-256 hex"))?;
        let size = size
            .parse()
            .map_err(|_| malformed("the size is not a number"))?;
        let signature = match signature {
            "-" => None,
            text => {
                Some(Signature::parse(text).ok_or_else(|| malformed("the signature is not hex"))?)
            }
        };
        Ok(Record {
            cas,
            size,
            signature,
        })
    }

    /// Accepts only records signed with `key` for this name, and naming a blob of at most
    /// `max_blob` bytes.
    pub fn check(&self, name: &Digest, key: &PublicKey, max_blob: u64) -> Result<(), Rejection> {
        let Some(signature) = &self.signature else {
            return Err(Rejection::Unsigned);
        };
        if !key.verify(&signed_message(name, &self.cas, self.size), signature) {
            return Err(Rejection::BadSignature);
        }
        if self.size > max_blob {
            return Err(Rejection::TooLarge {
                size: self.size,
                cap: max_blob,
            });
        }
        Ok(())
    }

    /// The blob fetched from `cas/<digest>` is the one the record names.
    pub fn check_blob(&self, blob: &[u8]) -> Result<(), Rejection> {
        if blob.len() as u64 == self.size && Digest::of(blob) == self.cas {
            Ok(())
        } else {
            Err(Rejection::BlobMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            base_url("http://127.0.0.1:9090/cache/").unwrap(),
            "http://127.0.0.1:9090/cache"
        );
        assert_eq!(
            base_url("https://cache.example.com").unwrap(),
            "https://cache.example.com"
        );
        for bad in [
            "",
            "cache.example.com",
            "ftp://cache.example.com",
            "https://user:secret@cache.example.com",
            "https://cache.example.com/?token=1",
            "https://cache.example.com/#x",
            "not a url",
        ] {
            assert!(base_url(bad).is_err(), "{bad} was accepted");
        }
    }

    fn key(text: &str) -> Digest {
        Digest::of(text.as_bytes())
    }

    #[test]
    fn names_are_namespaced_hashes_of_the_key() {
        let name = ac_name(&key("abc"));
        assert_ne!(name, key("abc"));
        assert_eq!(ac_url("http://h/c", &name), format!("http://h/c/ac/{name}"));
        assert_eq!(
            cas_url("http://h/c", &key("x")),
            format!("http://h/c/cas/{}", key("x"))
        );
    }

    #[test]
    fn records_round_trip_and_check_their_signature() {
        let secret = SecretKey::generate().unwrap();
        let public = secret.public();
        let name = ac_name(&key("key"));
        let record = Record::for_entry(&name, b"entry", &secret);
        let parsed = Record::parse(&record.render()).unwrap();
        assert_eq!(parsed, record);
        assert_eq!(parsed.check(&name, &public, 64), Ok(()));
        assert_eq!(parsed.check_blob(b"entry"), Ok(()));
        assert_eq!(parsed.check_blob(b"entrY"), Err(Rejection::BlobMismatch));
        // A valid record replayed under another key does not check.
        assert_eq!(
            parsed.check(&ac_name(&key("other")), &public, 64),
            Err(Rejection::BadSignature)
        );
        let other = SecretKey::generate().unwrap().public();
        assert_eq!(
            parsed.check(&name, &other, 64),
            Err(Rejection::BadSignature)
        );
        // A signed record naming a blob over the cap is refused before the blob is asked for.
        assert_eq!(
            parsed.check(&name, &public, 4),
            Err(Rejection::TooLarge { size: 5, cap: 4 })
        );
    }

    #[test]
    fn unsigned_records_are_refused() {
        let name = ac_name(&key("key"));
        let record = Record {
            cas: Digest::of(b"entry"),
            size: 5,
            signature: None,
        };
        let parsed = Record::parse(&record.render()).unwrap();
        assert_eq!(parsed, record);
        let public = SecretKey::generate().unwrap().public();
        assert_eq!(parsed.check(&name, &public, 64), Err(Rejection::Unsigned));
    }

    #[test]
    fn malformed_records_are_refused() {
        let cas = Digest::of(b"x");
        for bad in [
            b"".to_vec(),
            b"xtask-remote v2\n".to_vec(),
            format!("xtask-remote v1\ncas {cas}\nsize 1\nsig -\n").into_bytes(),
            b"xtask-remote v2\ncas nothex\nsize 1\nsig -\n".to_vec(),
            format!(
                "xtask-remote v2\ncas {}\nsize 1\nsig -\n",
                cas.to_hex().to_uppercase()
            )
            .into_bytes(),
            format!("xtask-remote v2\nsize 1\ncas {cas}\nsig -\n").into_bytes(),
            format!("xtask-remote v2\ncas {cas}\nsize -1\nsig -\n").into_bytes(),
            format!("xtask-remote v2\ncas {cas}\nsize 1\nsig 00\n").into_bytes(),
            format!("xtask-remote v2\ncas {cas}\nsize 1\nsig -\nmore\n").into_bytes(),
            b"\xff\xfe".to_vec(),
        ] {
            assert!(
                matches!(Record::parse(&bad), Err(Rejection::Malformed(_))),
                "{}",
                String::from_utf8_lossy(&bad)
            );
        }
    }
}
