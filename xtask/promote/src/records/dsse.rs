//! DSSE envelopes (the in-toto signing wrapper): the Statement as a base64 payload, signed
//! with Ed25519 over DSSE's pre-authentication encoding. `open` reads a record file in either
//! form, so an unsigned record and a signed one go through one reader.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::Statement;
use crate::remote_cache::signing::{PublicKey, SecretKey, Signature};

pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signer's public key in its text form (`ed25519:<hex>`).
    pub keyid: String,
    pub sig: String,
}

/// DSSE's PAE: `DSSEv1 <len> <type> <len> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

pub fn sign(payload: &[u8], key: &SecretKey) -> Envelope {
    let signature = key.sign(&pae(PAYLOAD_TYPE, payload));
    Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: STANDARD.encode(payload),
        signatures: vec![EnvelopeSignature {
            keyid: key.public().to_string(),
            sig: STANDARD.encode(signature.to_bytes()),
        }],
    }
}

/// A record file, opened.
#[derive(Debug)]
pub struct Opened {
    pub statement: Statement,
    /// `None` for an unsigned record.
    pub envelope: Option<Envelope>,
    /// The exact payload bytes the signatures cover.
    pub payload: Vec<u8>,
}

/// Reads a record: a DSSE envelope or a bare Statement. A shape that is neither is an error
/// naming what is wrong.
pub fn open(bytes: &[u8]) -> Result<Opened, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the record is not JSON: {e}"))?;
    if value.get("payloadType").is_some() {
        let envelope: Envelope = serde_json::from_value(value)
            .map_err(|e| format!("the DSSE envelope does not parse: {e}"))?;
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(format!(
                "the envelope's payloadType is `{}`, not {PAYLOAD_TYPE}",
                envelope.payload_type.escape_debug()
            ));
        }
        let payload = STANDARD
            .decode(&envelope.payload)
            .map_err(|e| format!("the envelope's payload is not base64: {e}"))?;
        let statement = parse_statement(&payload)?;
        Ok(Opened {
            statement,
            envelope: Some(envelope),
            payload,
        })
    } else {
        Ok(Opened {
            statement: parse_statement(bytes)?,
            envelope: None,
            payload: bytes.to_vec(),
        })
    }
}

fn parse_statement(bytes: &[u8]) -> Result<Statement, String> {
    let statement: Statement = serde_json::from_slice(bytes)
        .map_err(|e| format!("the statement does not match the record schema: {e}"))?;
    if statement.statement_type != super::STATEMENT_TYPE {
        return Err(format!("`_type` is not {}", super::STATEMENT_TYPE));
    }
    if statement.predicate_type != super::PREDICATE_TYPE {
        return Err(format!("`predicateType` is not {}", super::PREDICATE_TYPE));
    }
    Ok(statement)
}

/// Whether some signature of `envelope` over `payload` checks with `key`.
pub fn verify(envelope: &Envelope, payload: &[u8], key: &PublicKey) -> bool {
    let message = pae(&envelope.payload_type, payload);
    envelope.signatures.iter().any(|s| {
        STANDARD
            .decode(&s.sig)
            .ok()
            .and_then(|bytes| Signature::from_bytes(&bytes))
            .is_some_and(|sig| key.verify(&message, &sig))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_specification() {
        // The DSSE spec's example: type "http://example.com/HelloWorld", body "hello world".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn a_signature_checks_only_for_its_payload_and_key() {
        let key = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        let envelope = sign(b"{}", &key);
        assert!(verify(&envelope, b"{}", &key.public()));
        assert!(!verify(&envelope, b"{ }", &key.public()));
        assert!(!verify(&envelope, b"{}", &other.public()));
    }
}
