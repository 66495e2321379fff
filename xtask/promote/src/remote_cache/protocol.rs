//! The HTTP cache protocol that Bazel's remote caching speaks, as pure functions: URLs of the
//! action cache (`{base}/ac/{sha256}`) and the content-addressed store (`{base}/cas/{sha256}`),
//! and the small signed record an action-cache entry holds.
//!
//! An xtask entry is stored as two objects: its bytes under `cas/<sha256 of the bytes>` (the same
//! bytes are stored once however many keys name them) and a record under `ac/<name>`, where
//! `<name>` is the SHA-256 of the cache key in an xtask namespace, so xtask's names never collide
//! with a build system's own entries on a shared server. The record names the blob's digest and
//! size and carries an HMAC over the name, digest and size: a signature binds the blob to the key
//! it was written for, so a valid record cannot be replayed under another key.

use crate::digest::Digest;

use super::signing;

const RECORD_MAGIC: &str = "xtask-remote v1";

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
pub fn ac_name(key: &str) -> String {
    Digest::of(format!("{RECORD_MAGIC}\n{key}").as_bytes()).to_hex()
}

pub fn ac_url(base: &str, name: &str) -> String {
    format!("{base}/ac/{name}")
}

pub fn cas_url(base: &str, digest: &str) -> String {
    format!("{base}/cas/{digest}")
}

pub fn digest(bytes: &[u8]) -> String {
    Digest::of(bytes).to_hex()
}

/// What `ac/<name>` holds: the blob's digest and size, signed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub cas: String,
    pub size: u64,
    pub signature: Option<String>,
}

/// Why a record or blob is not used; each is a miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(String),
    Unsigned,
    BadSignature,
    BlobMismatch,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Malformed(reason) => write!(f, "malformed record ({reason})"),
            Rejection::Unsigned => f.write_str("the entry is not signed"),
            Rejection::BadSignature => f.write_str("the entry's signature does not check"),
            Rejection::BlobMismatch => f.write_str("the blob does not hash to its name"),
        }
    }
}

fn signed_message(name: &str, cas: &str, size: u64) -> Vec<u8> {
    format!("{RECORD_MAGIC}\n{name}\n{cas}\n{size}\n").into_bytes()
}

impl Record {
    /// The record for `entry` stored under `name`, signed when there is a key.
    pub fn for_entry(name: &str, entry: &[u8], key: Option<&[u8]>) -> Record {
        let cas = digest(entry);
        let size = entry.len() as u64;
        let signature = key.map(|key| signing::sign(key, &signed_message(name, &cas, size)));
        Record {
            cas,
            size,
            signature,
        }
    }

    pub fn render(&self) -> Vec<u8> {
        let signature = self.signature.as_deref().unwrap_or("-");
        format!(
            "{RECORD_MAGIC}\ncas {}\nsize {}\nsig {signature}\n",
            self.cas, self.size
        )
        .into_bytes()
    }

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
        let cas = Digest::parse(cas).map_err(|_| malformed("the digest is not SHA-256 hex"))?;
        Ok(Record {
            cas: cas.to_hex(),
            size: size
                .parse()
                .map_err(|_| malformed("the size is not a number"))?,
            signature: (signature != "-").then(|| signature.to_owned()),
        })
    }

    /// A reader with a key accepts only records signed with it for this name; a reader without
    /// one cannot tell, and accepts any well-formed record.
    pub fn check(&self, name: &str, key: Option<&[u8]>) -> Result<(), Rejection> {
        let Some(key) = key else { return Ok(()) };
        let Some(signature) = &self.signature else {
            return Err(Rejection::Unsigned);
        };
        if signing::verify(key, &signed_message(name, &self.cas, self.size), signature) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }

    /// The blob fetched from `cas/<digest>` is the one the record names.
    pub fn check_blob(&self, blob: &[u8]) -> Result<(), Rejection> {
        if blob.len() as u64 == self.size && digest(blob) == self.cas {
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

    #[test]
    fn names_are_namespaced_hashes_of_the_key() {
        let name = ac_name("abc");
        assert_eq!(name.len(), 64);
        assert_ne!(name, digest(b"abc"));
        assert_eq!(ac_url("http://h/c", &name), format!("http://h/c/ac/{name}"));
        assert_eq!(cas_url("http://h/c", "ff"), "http://h/c/cas/ff");
    }

    #[test]
    fn records_round_trip_and_check_their_signature() {
        let name = ac_name("key");
        let record = Record::for_entry(&name, b"entry", Some(b"secret"));
        let parsed = Record::parse(&record.render()).unwrap();
        assert_eq!(parsed, record);
        assert_eq!(parsed.check(&name, Some(b"secret")), Ok(()));
        assert_eq!(parsed.check(&name, None), Ok(()));
        assert_eq!(parsed.check_blob(b"entry"), Ok(()));
        assert_eq!(parsed.check_blob(b"entrY"), Err(Rejection::BlobMismatch));
        // A valid record replayed under another key does not check.
        assert_eq!(
            parsed.check(&ac_name("other"), Some(b"secret")),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            parsed.check(&name, Some(b"wrong")),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn unsigned_records_are_refused_by_a_reader_with_a_key() {
        let name = ac_name("key");
        let record = Record::parse(&Record::for_entry(&name, b"entry", None).render()).unwrap();
        assert_eq!(record.signature, None);
        assert_eq!(record.check(&name, None), Ok(()));
        assert_eq!(
            record.check(&name, Some(b"secret")),
            Err(Rejection::Unsigned)
        );
    }

    #[test]
    fn malformed_records_are_refused() {
        for bad in [
            &b""[..],
            b"xtask-remote v1\n",
            b"xtask-remote v2\ncas 00\nsize 1\nsig -\n",
            b"xtask-remote v1\ncas nothex\nsize 1\nsig -\n",
            b"xtask-remote v1\nsize 1\ncas 00\nsig -\n",
            b"\xff\xfe",
        ] {
            assert!(matches!(Record::parse(bad), Err(Rejection::Malformed(_))));
        }
    }
}
