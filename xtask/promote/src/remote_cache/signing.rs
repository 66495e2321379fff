//! HMAC-SHA256 signatures of remote cache records: who holds the key can write entries that
//! readers with the key trust; without the key, nobody can forge one.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::digest::hex;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(message);
    mac
}

/// The signature of `message` under `key`, as lowercase hex.
pub fn sign(key: &[u8], message: &[u8]) -> String {
    hex(&mac(key, message).finalize().into_bytes())
}

/// Whether `signature` (hex) is `message`'s signature under `key`, compared in constant time.
pub fn verify(key: &[u8], message: &[u8], signature: &str) -> bool {
    match decode_hex(signature) {
        Some(bytes) => mac(key, message).verify_slice(&bytes).is_ok(),
        None => false,
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn accepts_only_the_right_key_and_message() {
        let signature = sign(b"key", b"record");
        assert!(verify(b"key", b"record", &signature));
        assert!(!verify(b"other key", b"record", &signature));
        assert!(!verify(b"key", b"record!", &signature));
        assert!(!verify(b"key", b"record", &signature[..62]));
        assert!(!verify(b"key", b"record", "not hex at all"));
        assert!(!verify(b"key", b"record", ""));
    }
}
