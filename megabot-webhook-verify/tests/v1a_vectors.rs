//! Committed `v1a` (Ed25519) vectors written by an independent implementation (Python
//! `cryptography`, see `tests/python/ed25519_interop.py`): checked without Python.

use megabot_webhook_verify::sign::standard_v1a_signature;
use megabot_webhook_verify::signature::verify_standard_v1a_signature;
use megabot_webhook_verify::{Error, StandardPublicKey, StandardSigningKey};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = include_str!("data/v1a_vectors.json");
    let doc: Value = serde_json::from_str(text).expect("valid JSON");
    doc["vectors"].as_array().expect("vectors").clone()
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
    vector[name].as_str().expect(name)
}

#[test]
fn we_reproduce_and_verify_every_vector() {
    let vectors = vectors();
    assert!(vectors.len() >= 4);
    for vector in &vectors {
        let key = StandardSigningKey::parse(field(vector, "whsk")).unwrap();
        let public = StandardPublicKey::parse(field(vector, "whpk")).unwrap();
        assert_eq!(key.public_key(), public);
        assert_eq!(public.to_whpk_string(), field(vector, "whpk"));
        assert_eq!(*key.to_whsk_string(), field(vector, "whsk"));
        let seed: [u8; 32] = hex::decode(field(vector, "seed_hex"))
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(StandardSigningKey::from_seed(&seed).public_key(), public);
        let id = field(vector, "id");
        let timestamp = vector["timestamp"].as_i64().unwrap();
        let body = field(vector, "body").as_bytes();
        let signature = field(vector, "signature");
        // Ed25519 is deterministic: the same key signs the same bytes identically.
        assert_eq!(standard_v1a_signature(&key, id, timestamp, body), signature);
        assert_eq!(
            verify_standard_v1a_signature(
                std::slice::from_ref(&public),
                id,
                timestamp,
                signature,
                body
            )
            .unwrap(),
            0
        );
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(matches!(
            verify_standard_v1a_signature(&[public], id, timestamp, signature, &tampered),
            Err(Error::SignatureMismatch)
        ));
    }
}

#[test]
fn the_rfc_8032_key_parses_from_its_seed_alone() {
    // RFC 8032 section 7.1, test 1.
    let seed = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    let key = StandardSigningKey::parse(seed).unwrap();
    assert_eq!(
        hex::encode(key.public_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
}
