//! Realm reference values as a CoMID, for verifiers that take CoRIM endorsements (Veraison).
//!
//! The layout is the CCA realm profile of CoRIM, *A CoRIM Profile for Arm's Confidential
//! Computing Architecture (CCA) Endorsements* (draft-ydb-rats-cca-endorsements, "Arm CCA
//! Realm Endorsements"), on the CoMID data model of draft-ietf-rats-corim:
//!
//! - one `reference-triple-record` whose `environment-map` names the realm by its RIM: a
//!   `class-map` whose `class-id` is the RIM as `tagged-bytes` (CBOR tag 560);
//! - a `measurement-map` per reference value, each with a text `mkey`: `"cca.rim"` (always)
//!   and `"cca.rem0"` to `"cca.rem3"` as `digests` (key 2), `"cca.rpv"` as a `raw-value`
//!   (key 4) of `tagged-bytes`; no `authorized-by`.
//!
//! Digests name their algorithm by its number in the IANA *Named Information Hash
//! Algorithm* registry (sha-256 = 1, sha-384 = 7, sha-512 = 8), as veraison's
//! cca-realm-measurements writes them. The CoMID's `tag-id` is a UUID derived from the RIM
//! (version 8, RFC 9562), so the same realm always gives the same document. The CoMID goes
//! into a CoRIM (profile `tag:arm.com,2025:cca_realm#1.0.0`) with the provisioning tools
//! (`cocli corim create`).

use alloc::string::String;
use alloc::vec::Vec;

use cca_abi::measurement::{HashAlgorithm, Measurement};
use ciborium::value::Value;
use sha2::{Digest as _, Sha256};

/// CBOR tag of `tagged-bytes` (draft-ietf-rats-corim).
const TAGGED_BYTES: u64 = 560;

/// The reference values of one realm.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RealmReferenceValues {
    /// The Realm Initial Measurement.
    pub rim: Measurement,
    /// The expected REM\[0\] to REM\[3\]; `None` for a REM the verifier should not check.
    pub rems: [Option<Measurement>; 4],
    /// The Realm Personalization Value, if the verifier should check it.
    pub rpv: Option<[u8; 64]>,
}

/// The number of `algorithm` in the IANA Named Information Hash Algorithm registry.
const fn named_information_id(algorithm: HashAlgorithm) -> u64 {
    match algorithm {
        HashAlgorithm::Sha256 => 1,
        HashAlgorithm::Sha512 => 8,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn int(v: u64) -> Value {
    Value::Integer(v.into())
}

fn map(entries: Vec<(u64, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
}

fn tagged_bytes(bytes: &[u8]) -> Value {
    Value::Tag(
        TAGGED_BYTES,
        alloc::boxed::Box::new(Value::Bytes(bytes.to_vec())),
    )
}

impl RealmReferenceValues {
    /// The reference values `(mkey, value)`, in the order the CoMID lists them.
    fn measurements(&self) -> Vec<(&'static str, Measured<'_>)> {
        const REMS: [&str; 4] = ["cca.rem0", "cca.rem1", "cca.rem2", "cca.rem3"];
        let rems = REMS
            .into_iter()
            .zip(&self.rems)
            .filter_map(|(key, rem)| Some((key, Measured::Digest(rem.as_ref()?))));
        core::iter::once(("cca.rim", Measured::Digest(&self.rim)))
            .chain(rems)
            .chain(self.rpv.as_ref().map(|rpv| ("cca.rpv", Measured::Raw(rpv))))
            .collect()
    }

    /// The CoMID's `tag-id`: a version 8 UUID from SHA-256 of a label and the RIM.
    #[must_use]
    pub fn tag_id(&self) -> [u8; 16] {
        let digest = Sha256::new()
            .chain_update(b"realm-sdk CCA realm CoMID")
            .chain_update(self.rim.as_bytes())
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id[6] = (id[6] & 0x0f) | 0x80; // version 8
        id[8] = (id[8] & 0x3f) | 0x80; // variant RFC 9562
        id
    }

    /// The CoMID as a CBOR value (`concise-mid-tag`).
    #[must_use]
    pub fn comid(&self) -> Value {
        let environment = map(alloc::vec![(
            0,                                                        // comid.class
            map(alloc::vec![(0, tagged_bytes(self.rim.as_bytes()))]), // comid.class-id
        )]);
        let measurements = self
            .measurements()
            .into_iter()
            .map(|(key, value)| {
                let mval = match value {
                    // comid.digests: [[alg, value]]
                    Measured::Digest(m) => map(alloc::vec![(
                        2,
                        Value::Array(alloc::vec![Value::Array(alloc::vec![
                            int(named_information_id(m.algorithm())),
                            Value::Bytes(m.as_bytes().to_vec()),
                        ])]),
                    )]),
                    // comid.raw-value
                    Measured::Raw(bytes) => map(alloc::vec![(4, tagged_bytes(bytes))]),
                };
                map(alloc::vec![(0, text(key)), (1, mval)]) // comid.mkey, comid.mval
            })
            .collect();
        let triple = Value::Array(alloc::vec![environment, Value::Array(measurements)]);
        map(alloc::vec![
            // comid.tag-identity: { comid.tag-id: uuid }
            (
                1,
                map(alloc::vec![(0, Value::Bytes(self.tag_id().to_vec()))])
            ),
            // comid.triples: { comid.reference-triples: [triple] }
            (4, map(alloc::vec![(0, Value::Array(alloc::vec![triple]))])),
        ])
    }

    /// The CoMID in CBOR.
    #[must_use]
    pub fn comid_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = ciborium::into_writer(&self.comid(), &mut out);
        out
    }

    /// The CoMID in the JSON form of CoMID templates (veraison's corim tooling and
    /// cca-realm-measurements): digests as `"sha-256;BASE64"`, bytes as
    /// `{"type": "bytes", "value": BASE64}` (URL-safe alphabet, no padding).
    #[must_use]
    pub fn comid_json(&self) -> serde_json::Value {
        use serde_json::json;
        let bytes = |b: &[u8]| json!({"type": "bytes", "value": base64url(b)});
        let measurements: Vec<serde_json::Value> = self
            .measurements()
            .into_iter()
            .map(|(key, value)| match value {
                Measured::Digest(m) => json!({
                    "mkey": key,
                    "mval": {"digests": [alloc::format!(
                        "{};{}",
                        m.algorithm().token_name(),
                        base64url(m.as_bytes())
                    )]},
                }),
                Measured::Raw(raw) => json!({"mkey": key, "mval": {"raw-value": bytes(raw)}}),
            })
            .collect();
        let id = self.tag_id();
        json!({
            "tag-identity": {"tag-id": uuid_text(&id)},
            "triples": {
                "reference-triples": [[
                    {"class": {"class-id": bytes(self.rim.as_bytes())}},
                    measurements,
                ]],
            },
        })
    }
}

enum Measured<'a> {
    Digest(&'a Measurement),
    Raw(&'a [u8; 64]),
}

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

/// A UUID in its text form, `8-4-4-4-12` lower-case hex digits.
fn uuid_text(id: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in id.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&alloc::format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> RealmReferenceValues {
        let rim = HashAlgorithm::Sha256.hash(&[b"a realm image"]);
        let rem = HashAlgorithm::Sha256.hash(&[b"an event"]);
        RealmReferenceValues {
            rim,
            rems: [Some(rem), None, None, None],
            rpv: Some([0xab; 64]),
        }
    }

    fn get(v: &Value, key: u64) -> &Value {
        v.as_map()
            .and_then(|m| m.iter().find(|(k, _)| *k == int(key)))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("key {key} in {v:?}"))
    }

    /// The CBOR follows the realm profile: the RIM names the environment, then the
    /// measurements in order, digests with their registry number, the RPV as tagged bytes.
    #[test]
    fn cbor_layout() {
        let v = values();
        let comid: Value = ciborium::from_reader(&v.comid_cbor()[..]).unwrap();
        assert_eq!(
            get(get(&comid, 1), 0),
            &Value::Bytes(v.tag_id().to_vec()),
            "tag-id"
        );
        let triples = get(get(&comid, 4), 0).as_array().unwrap();
        assert_eq!(triples.len(), 1);
        let triple = triples[0].as_array().unwrap();
        let class_id = get(get(&triple[0], 0), 0);
        assert_eq!(class_id, &tagged_bytes(v.rim.as_bytes()));
        let ms = triple[1].as_array().unwrap();
        let keys: Vec<&str> = ms.iter().map(|m| get(m, 0).as_text().unwrap()).collect();
        assert_eq!(keys, ["cca.rim", "cca.rem0", "cca.rpv"]);
        let digest = get(get(&ms[0], 1), 2).as_array().unwrap()[0]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(digest, [int(1), Value::Bytes(v.rim.as_bytes().to_vec())]);
        assert_eq!(get(get(&ms[2], 1), 4), &tagged_bytes(&[0xab; 64]));
        // Deterministic: the same realm gives the same bytes.
        assert_eq!(v.comid_cbor(), values().comid_cbor());
    }

    /// The JSON form, and its encodings.
    #[test]
    fn json_layout() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        let v = values();
        let j = v.comid_json();
        let id = j["tag-identity"]["tag-id"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15], &id[8..9]), (36, "8", "-"));
        let triple = &j["triples"]["reference-triples"][0];
        assert_eq!(
            triple[0]["class"]["class-id"]["value"],
            base64url(v.rim.as_bytes())
        );
        assert_eq!(
            triple[1][0]["mval"]["digests"][0],
            format!("sha-256;{}", base64url(v.rim.as_bytes()))
        );
        assert_eq!(triple[1][2]["mkey"], "cca.rpv");
        assert_eq!(triple[1][2]["mval"]["raw-value"]["type"], "bytes");
    }
}
