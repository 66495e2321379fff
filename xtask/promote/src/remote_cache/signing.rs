//! Ed25519 signatures of remote cache records. The trusted writer (CI on the main branch) alone
//! holds the secret key; the public key is committed in `xtask.toml`, and every reader checks
//! every record with it. Keys and signatures are types, parsed from their text forms at the
//! boundary: `ed25519:<64 hex>` (public), `ed25519-secret:<64 hex>` (secret), 128 hex
//! (signature).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::digest::{hex, parse_hex};

const PUBLIC_PREFIX: &str = "ed25519:";
const SECRET_PREFIX: &str = "ed25519-secret:";

/// The key every reader checks records with; from `[cache.remote] public_key`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// The key the trusted writer signs with; from the variable `signing_key_env` names. Its
/// `Debug` shows only the public half.
pub struct SecretKey(SigningKey);

/// A record's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl PublicKey {
    /// `ed25519:` and 64 lowercase hex characters naming a valid curve point.
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        if text.starts_with(SECRET_PREFIX) {
            return Err(
                "holds a secret key: keep it out of xtask.toml, in the CI secret only".to_owned(),
            );
        }
        let bytes = text
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(parse_hex::<32>)
            .ok_or("must be `ed25519:` and 64 lowercase hex characters (run `cargo xtask cache keygen`)")?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| "is not an ed25519 public key".to_owned())
    }

    /// Whether `signature` is this key's signature of `message` (strict: no malleable or
    /// small-order forms).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| format!("no random bytes: {error}"))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// `ed25519-secret:` and 64 lowercase hex characters (surrounding white space, as a pasted
    /// secret often has, is ignored).
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        if text.starts_with(PUBLIC_PREFIX) {
            return Err("holds the public key, not the secret one".to_owned());
        }
        text.strip_prefix(SECRET_PREFIX)
            .and_then(parse_hex::<32>)
            .map(|seed| SecretKey(SigningKey::from_bytes(&seed)))
            .ok_or_else(|| {
                "is not `ed25519-secret:` and 64 lowercase hex characters (run `cargo xtask cache keygen`)"
                    .to_owned()
            })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }

    /// The text form `parse` reads, for the CI secret.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", hex(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(public half {})", self.public())
    }
}

impl Signature {
    /// 128 lowercase hex characters.
    pub fn parse(text: &str) -> Option<Signature> {
        parse_hex::<64>(text).map(Signature)
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    /// The raw 64 bytes (DSSE envelopes carry them in base64).
    pub fn to_bytes(self) -> [u8; 64] {
        self.0
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
        bytes.try_into().ok().map(Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_8032_test_vector() {
        // RFC 8032, section 7.1, test 2 (a one-byte message).
        let secret = SecretKey::parse(
            "ed25519-secret:4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        )
        .unwrap();
        assert_eq!(
            secret.public().to_string(),
            "ed25519:3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        );
        assert_eq!(
            secret.sign(&[0x72]).to_hex(),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
    }

    #[test]
    fn accepts_only_the_right_key_and_message() {
        let secret = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        let signature = secret.sign(b"record");
        let public = secret.public();
        assert!(public.verify(b"record", &signature));
        assert!(!other.public().verify(b"record", &signature));
        assert!(!public.verify(b"record!", &signature));
        assert!(!public.verify(b"record", &other.sign(b"record")));
        assert_eq!(Signature::parse(&signature.to_hex()), Some(signature));
        for bad in ["", "not hex", &signature.to_hex()[..126]] {
            assert_eq!(Signature::parse(bad), None);
        }
    }

    #[test]
    fn keys_round_trip_through_their_text_and_are_not_confused() {
        let secret = SecretKey::generate().unwrap();
        let public = secret.public();
        assert_eq!(PublicKey::parse(&public.to_string()), Ok(public.clone()));
        let again = SecretKey::parse(&format!("  {}\n", secret.reveal())).unwrap();
        assert_eq!(again.public(), public);
        assert!(
            PublicKey::parse(&secret.reveal())
                .unwrap_err()
                .contains("secret")
        );
        assert!(SecretKey::parse(&public.to_string()).is_err());
        assert!(!format!("{secret:?}").contains(&secret.reveal()));
        for bad in [
            "",
            "ed25519:",
            "ed25519:00",
            "3d4017c3e843895a92b70aa74d1b7ebc",
        ] {
            assert!(PublicKey::parse(bad).is_err(), "{bad}");
            assert!(SecretKey::parse(bad).is_err(), "{bad}");
        }
    }
}
