//! Appraisal (module `appraisal`): properly signed tokens with chosen claims (made with the
//! encoder and test keys, as in tamper.rs) are refused with the error naming the claim;
//! the real tokens in ../shared/testdata pass the default appraisal and a policy made of
//! their own software components; the JSON policy loader is strict and names JSON paths.

use std::path::PathBuf;

use cca_token::appraisal::{
    Appraisal, AppraisalError, Digest, HashAlgorithm, HashAlgorithmSet, HashClaim, LifecycleSet,
    PlatformProfileSet, PolicyFile, PolicyFileError, SwComponentPolicy, SwReference,
};
use cca_token::encode::{self, PlatformClaimValues, RealmClaimValues};
use cca_token::platform::{Lifecycle, PlatformProfile, SwComponent};
use cca_token::{Format, Policy, Token, TrustAnchor, Verified, realm};
use sha2::{Digest as _, Sha256};

mod common;

use common::{anchor, iak, rak};

/// The claims a test token gets; `Default` is a secured platform with one BL2 and a
/// SHA-256 realm.
struct Claims {
    lifecycle: u64,
    platform_hash: &'static str,
    sw: Vec<SwComponent<'static>>,
    realm_hash: &'static str,
    rim: [u8; 32],
    rems: [[u8; 32]; 4],
}

const BL2: SwComponent<'static> = SwComponent {
    measurement_type: Some("BL2"),
    measurement_value: &[1; 32],
    version: Some("1.0"),
    signer_id: &[2; 32],
    description: Some("sha-256"),
};

impl Default for Claims {
    fn default() -> Self {
        Self {
            lifecycle: 0x3003,
            platform_hash: "sha-256",
            sw: vec![BL2],
            realm_hash: "sha-256",
            rim: [0x33; 32],
            rems: [[0; 32], [1; 32], [2; 32], [3; 32]],
        }
    }
}

/// A properly signed token with these claims (tag 399).
fn token(c: &Claims) -> Vec<u8> {
    let point = rak().verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let mut key_buf = [0u8; 128];
    let key = realm::encode_p384_cose_key(
        b[1..49].try_into().unwrap(),
        b[49..].try_into().unwrap(),
        &mut key_buf,
    )
    .unwrap();
    let mut rbuf = [0u8; 2048];
    let realm_claims = encode::realm_claims(
        &RealmClaimValues {
            challenge: &[0x44; 64],
            personalization_value: &[0x55; 64],
            public_key: key,
            hash_algorithm: c.realm_hash,
            public_key_hash_algorithm: "sha-256",
            mec_policy: Some(cca_token::realm::MecPolicy::Shared),
            instance_id: None,
            profile: Some(realm::PROFILE_1_0),
            rim: &c.rim,
            rems: [&c.rems[0], &c.rems[1], &c.rems[2], &c.rems[3]],
        },
        &mut rbuf,
    )
    .unwrap();
    let a = anchor();
    let binding = Sha256::digest(key);
    let mut pbuf = [0u8; 4096];
    let platform_claims = encode::platform_claims(
        &PlatformClaimValues {
            profile: cca_token::platform::PROFILE_1_0,
            challenge: &binding,
            implementation_id: &a.implementation_id,
            instance_id: &a.instance_id,
            config: &[0xcf; 4],
            lifecycle: c.lifecycle,
            sw_components: &c.sw,
            verification_service: None,
            hash_algorithm: c.platform_hash,
        },
        &mut pbuf,
    )
    .unwrap();
    let (mut rt, mut pt, mut out) = ([0u8; 4096], [0u8; 4096], [0u8; 8192]);
    let realm_token = encode::sign1(realm_claims, &rak(), &mut rt).unwrap();
    let platform_token = encode::sign1(platform_claims, &iak(), &mut pt).unwrap();
    encode::collection(Format::Tag399, platform_token, realm_token, &mut out)
        .unwrap()
        .to_vec()
}

/// Parses and verifies (signatures, binding, trust anchor): appraisal comes after.
fn verified(bytes: &[u8]) -> Verified<'_> {
    Token::parse(bytes)
        .unwrap()
        .verify(&[anchor()], &Policy::default())
        .unwrap()
}

fn d(bytes: &[u8]) -> Digest {
    Digest::new(bytes).unwrap()
}

fn bl2_reference() -> SwReference {
    SwReference {
        measurement_type: Some("BL2".parse().unwrap()),
        measurement_value: d(&[1; 32]),
        signer_id: Some(d(&[2; 32])),
    }
}

#[test]
fn default_accepts_a_secured_platform() {
    let t = token(&Claims::default());
    assert_eq!(Appraisal::default().appraise(&verified(&t)), Ok(()));
    // Every secured value (0x3000-0x30ff) passes.
    for lifecycle in [0x3000, 0x30ff] {
        let t = token(&Claims {
            lifecycle,
            ..Claims::default()
        });
        assert_eq!(Appraisal::DEFAULT.appraise(&verified(&t)), Ok(()));
    }
}

/// Claim 2395 ranges (cca-abi.md §7.3): the default refuses every state but secured; the
/// refusal names the claim, its value in hex and the accepted states.
#[test]
fn default_refuses_other_lifecycles() {
    let t = token(&Claims {
        lifecycle: 0x6000,
        ..Claims::default()
    });
    let v = verified(&t);
    let err = Appraisal::default().appraise(&v).unwrap_err();
    assert_eq!(
        err,
        AppraisalError::Lifecycle {
            value: 0x6000,
            accepted: LifecycleSet::EMPTY.with(Lifecycle::Secured),
        }
    );
    assert_eq!(
        err.to_string(),
        "platform lifecycle (claim 2395) is 0x6000 (decommissioned); accepted: secured"
    );
    for (value, name) in [
        (0x0000, "unknown"),
        (0x1000, "assembly-and-test"),
        (0x2001, "rot-provisioning"),
        (0x4000, "non-cca-platform-debug"),
        (0x50ff, "recoverable-cca-platform-debug"),
    ] {
        let t = token(&Claims {
            lifecycle: value,
            ..Claims::default()
        });
        let err = Appraisal::default().appraise(&verified(&t)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("platform lifecycle (claim 2395) is {value:#06x} ({name}); accepted: secured")
        );
    }
    // A policy may accept a debug state explicitly.
    let t = token(&Claims {
        lifecycle: 0x4000,
        ..Claims::default()
    });
    let debug = Appraisal {
        lifecycles: LifecycleSet::EMPTY
            .with(Lifecycle::Secured)
            .with(Lifecycle::NonCcaPlatformDebug),
        ..Appraisal::default()
    };
    assert_eq!(debug.appraise(&verified(&t)), Ok(()));
}

/// Claim 2399 against reference values: an unknown component, a wrong signer, a wrong
/// measurement, each naming the component by index and type and the failing field.
#[test]
fn software_components() {
    let bl31 = SwComponent {
        measurement_type: Some("BL31"),
        measurement_value: &[3; 32],
        signer_id: &[2; 32],
        ..BL2
    };
    let t = token(&Claims {
        sw: vec![BL2, bl31],
        ..Claims::default()
    });
    let v = verified(&t);
    let references = [bl2_reference()];
    let mut policy = Appraisal {
        sw_components: Some(SwComponentPolicy {
            references: &references,
            require_all_known: true,
        }),
        ..Appraisal::default()
    };
    let err = policy.appraise(&v).unwrap_err();
    assert_eq!(
        err,
        AppraisalError::SwComponentUnknown {
            index: 1,
            measurement_type: Some("BL31"),
            measurement_value: &[3; 32],
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "platform software component 1 (BL31) (claim 2399) matches no reference value: \
             measurement value 0x{}",
            "03".repeat(32)
        )
    );
    // Without require_all_known the unknown BL31 is allowed.
    policy.sw_components = Some(SwComponentPolicy {
        references: &references,
        require_all_known: false,
    });
    assert_eq!(policy.appraise(&v), Ok(()));

    // The reference's signer differs: refused even without require_all_known.
    let other_signer = [SwReference {
        signer_id: Some(d(&[9; 32])),
        ..bl2_reference()
    }];
    policy.sw_components = Some(SwComponentPolicy {
        references: &other_signer,
        require_all_known: false,
    });
    let err = policy.appraise(&v).unwrap_err();
    assert_eq!(
        err,
        AppraisalError::SwComponentSigner {
            index: 0,
            measurement_type: Some("BL2"),
            signer_id: &[2; 32],
        }
    );
    assert!(
        err.to_string()
            .starts_with("platform software component 0 (BL2) (claim 2399): signer ID 0x0202"),
        "{err}"
    );

    // A BL2 reference with another measurement: the BL2 in the token is refused.
    let other_measurement = [SwReference {
        measurement_value: d(&[8; 32]),
        ..bl2_reference()
    }];
    policy.sw_components = Some(SwComponentPolicy {
        references: &other_measurement,
        require_all_known: false,
    });
    assert_eq!(
        policy.appraise(&v),
        Err(AppraisalError::SwComponentMeasurement {
            index: 0,
            measurement_type: Some("BL2"),
            measurement_value: &[1; 32],
        })
    );

    // Untyped references match by value; a reference without a signer accepts any.
    let untyped = [
        SwReference {
            measurement_type: None,
            measurement_value: d(&[1; 32]),
            signer_id: None,
        },
        SwReference {
            measurement_type: None,
            measurement_value: d(&[3; 32]),
            signer_id: Some(d(&[2; 32])),
        },
    ];
    policy.sw_components = Some(SwComponentPolicy {
        references: &untyped,
        require_all_known: true,
    });
    assert_eq!(policy.appraise(&v), Ok(()));

    // A component without a measurement type is named as such.
    let untyped_component = SwComponent {
        measurement_type: None,
        ..BL2
    };
    let t = token(&Claims {
        sw: vec![untyped_component],
        ..Claims::default()
    });
    policy.sw_components = Some(SwComponentPolicy {
        references: &references,
        require_all_known: true,
    });
    let err = policy.appraise(&verified(&t)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("platform software component 0 (no measurement type) (claim 2399)"),
        "{err}"
    );
}

/// Claims 44236, 44240 and 2402: a name outside the accepted set is refused by name.
#[test]
fn hash_algorithms() {
    let t = token(&Claims {
        realm_hash: "sha-512",
        rim: [0x33; 32],
        ..Claims::default()
    });
    let v = verified(&t);
    assert_eq!(Appraisal::default().appraise(&v), Ok(()));
    let sha256_only = Appraisal {
        realm_hash_algorithms: HashAlgorithmSet::EMPTY.with(HashAlgorithm::Sha256),
        ..Appraisal::default()
    };
    let err = sha256_only.appraise(&v).unwrap_err();
    assert_eq!(
        err,
        AppraisalError::HashAlgorithm {
            claim: HashClaim::Realm,
            name: "sha-512",
            accepted: HashAlgorithmSet::EMPTY.with(HashAlgorithm::Sha256),
        }
    );
    assert_eq!(
        err.to_string(),
        "realm hash algorithm (claim 44236) is \"sha-512\"; accepted: sha-256"
    );
    // A realm SHA-384 measurement algorithm parses, but the default does not accept it.
    let t = token(&Claims {
        realm_hash: "sha-384",
        ..Claims::default()
    });
    assert_eq!(
        Appraisal::default()
            .appraise(&verified(&t))
            .unwrap_err()
            .to_string(),
        "realm hash algorithm (claim 44236) is \"sha-384\"; accepted: sha-256, sha-512"
    );
    // A platform hash algorithm this crate does not know: refused by the default.
    let t = token(&Claims {
        platform_hash: "sha3-256",
        ..Claims::default()
    });
    let err = Appraisal::default().appraise(&verified(&t)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "platform hash algorithm (claim 2402) is \"sha3-256\"; accepted: sha-256, sha-384, sha-512"
    );
    // The binding algorithm (44240).
    let t = token(&Claims::default());
    let no_sha256 = Appraisal {
        realm_public_key_hash_algorithms: HashAlgorithmSet::ALL.without(HashAlgorithm::Sha256),
        ..Appraisal::default()
    };
    assert!(matches!(
        no_sha256.appraise(&verified(&t)),
        Err(AppraisalError::HashAlgorithm {
            claim: HashClaim::RealmPublicKey,
            ..
        })
    ));
}

#[test]
fn profiles() {
    let t = token(&Claims::default());
    let v = verified(&t);
    let legacy_only = Appraisal {
        platform_profiles: PlatformProfileSet::EMPTY.with(PlatformProfile::Legacy),
        ..Appraisal::default()
    };
    assert_eq!(
        legacy_only.appraise(&v).unwrap_err().to_string(),
        "platform profile (claim 265) is \"tag:arm.com,2023:cca_platform#1.0.0\"; \
         accepted: http://arm.com/CCA-SSD/1.0.0"
    );
    let policy = PolicyFile::from_json(r#"{"realm_profiles": ["legacy"]}"#).unwrap();
    assert_eq!(
        policy.appraisal().appraise(&v).unwrap_err().to_string(),
        "realm profile (claim 265) is \"tag:arm.com,2023:realm#1.0.0\"; accepted: legacy"
    );
}

/// RIM set, RPV and REMs (claims 44238, 44235, 44239).
#[test]
fn rim_rpv_and_rems() {
    let t = token(&Claims::default());
    let v = verified(&t);
    let rims = [d(&[0x34; 32]), d(&[0x33; 32])];
    let ok = Appraisal {
        rims: Some(&rims),
        personalization_value: Some(&[0x55; 64]),
        rems: [None, Some(d(&[1; 32])), None, Some(d(&[3; 32]))],
        ..Appraisal::default()
    };
    assert_eq!(ok.appraise(&v), Ok(()));
    let wrong_rim = Appraisal {
        rims: Some(&rims[..1]),
        ..ok
    };
    assert_eq!(
        wrong_rim.appraise(&v),
        Err(AppraisalError::Rim {
            rim: &[0x33; 32],
            accepted: 1
        })
    );
    let wrong_rpv = Appraisal {
        personalization_value: Some(&[0x56; 64]),
        ..ok
    };
    assert!(
        wrong_rpv
            .appraise(&v)
            .unwrap_err()
            .to_string()
            .starts_with("realm personalization value (claim 44235) is 0x5555")
    );
    let wrong_rem = Appraisal {
        rems: [None, None, Some(d(&[7; 32])), None],
        ..ok
    };
    let err = wrong_rem.appraise(&v).unwrap_err();
    assert_eq!(
        err,
        AppraisalError::Rem {
            index: 2,
            value: &[2; 32],
            expected: d(&[7; 32])
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "REM[2] (claim 44239) is 0x{}; expected 0x{}",
            "02".repeat(32),
            "07".repeat(32)
        )
    );
    // The same REM policy from JSON.
    let json = format!(r#"{{"rems": [null, null, "{}", null]}}"#, "07".repeat(32));
    let policy = PolicyFile::from_json(&json).unwrap();
    assert_eq!(policy.appraisal().appraise(&v), Err(err));
}

use testdata::read as testdata;

/// The real tokens and the anchor that verifies them: every tf-rmm/*/*/token.cbor and
/// veraison's cca-token-01, with ta-tfa.json.
/// Named token files.
type Tokens = Vec<(String, Vec<u8>)>;

fn real_tokens() -> Option<(Tokens, Vec<TrustAnchor>)> {
    let json = String::from_utf8(testdata("veraison/ta-tfa.json")?).unwrap();
    let anchors = cca_token::anchors::from_json(&json).unwrap();
    let tf_rmm = testdata::path("tf-rmm")?;
    let mut tokens = vec![(
        "veraison/cca-token-01.cbor".to_owned(),
        testdata("veraison/cca-token-01.cbor")?,
    )];
    for release in std::fs::read_dir(tf_rmm).ok()?.flatten() {
        for variant in std::fs::read_dir(release.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = variant.path().join("token.cbor");
            if let Ok(bytes) = std::fs::read(&path) {
                tokens.push((path.display().to_string(), bytes));
            }
        }
    }
    assert!(tokens.len() >= 4, "the tf-rmm tokens are missing");
    Some((tokens, anchors))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every real token passes the default appraisal (TF-A's sample platform is secured,
/// 0x3003), and a policy made of its own software components (as JSON) passes, while the
/// same policy with one byte changed in a measurement, or in a signer, is refused naming
/// that component.
#[test]
fn real_tokens_pass_the_default_and_their_own_reference_values() {
    let Some((tokens, anchors)) = real_tokens() else {
        return;
    };
    for (name, bytes) in &tokens {
        let token = Token::parse(bytes).unwrap();
        let v = token
            .verify(anchors.as_slice(), &Policy::default())
            .unwrap();
        assert_eq!(Appraisal::default().appraise(&v), Ok(()), "{name}");

        let references: Vec<serde_json::Value> = v
            .platform
            .sw_components()
            .map(|c| {
                let mut r = serde_json::json!({
                    "measurement": hex(c.measurement_value),
                    "signer": hex(c.signer_id),
                });
                if let Some(t) = c.measurement_type {
                    r["type"] = t.into();
                }
                r
            })
            .collect();
        let mut policy = serde_json::json!({
            "sw_components": {"require_all_known": true, "reference": references},
            "rim": [hex(v.realm.rim)],
            "rems": v.realm.rems().map(hex),
        });
        let file = PolicyFile::from_value(&policy).unwrap();
        assert_eq!(file.appraisal().appraise(&v), Ok(()), "{name}");

        let last = references.len() - 1;
        for field in ["measurement", "signer"] {
            let original = policy["sw_components"]["reference"][last][field].clone();
            let mut changed = original.as_str().unwrap().to_owned();
            let flipped = if changed.starts_with('0') { "1" } else { "0" };
            changed.replace_range(0..1, flipped);
            policy["sw_components"]["reference"][last][field] = changed.into();
            let file = PolicyFile::from_value(&policy).unwrap();
            let err = file.appraisal().appraise(&v).unwrap_err();
            let c = v.platform.sw_components().nth(last).unwrap();
            match field {
                // The component's type has another reference: a wrong measurement; an
                // untyped component is then unknown.
                "measurement" => assert!(
                    matches!(
                        err,
                        AppraisalError::SwComponentMeasurement { index, .. }
                            | AppraisalError::SwComponentUnknown { index, .. }
                            if index == last
                    ),
                    "{name}: {err}"
                ),
                _ => assert_eq!(
                    err,
                    AppraisalError::SwComponentSigner {
                        index: last,
                        measurement_type: c.measurement_type,
                        signer_id: c.signer_id,
                    },
                    "{name}"
                ),
            }
            assert!(
                err.to_string()
                    .starts_with(&format!("platform software component {last} (")),
                "{name}: {err}"
            );
            policy["sw_components"]["reference"][last][field] = original;
        }
    }
}

/// The JSON loader refuses what is not exactly the documented format, naming the path.
#[test]
fn policy_file_is_strict() {
    let h = |n: usize| "ab".repeat(n);
    let cases: Vec<(String, PolicyFileError)> = vec![
        (
            r#"{"lifecycles": ["secured"]}"#.into(),
            PolicyFileError::UnknownKey {
                path: "$.lifecycles".into(),
            },
        ),
        (
            r#"{"lifecycle": ["secured"], "lifecycle": ["decommissioned"]}"#.into(),
            PolicyFileError::DuplicateKey {
                path: "$.lifecycle".into(),
            },
        ),
        (
            format!(
                r#"{{"sw_components": {{"reference": [{{"measurement": "{0}", "measurement": "{0}"}}]}}}}"#,
                h(32)
            ),
            PolicyFileError::DuplicateKey {
                path: "$.sw_components.reference[0].measurement".into(),
            },
        ),
        (
            format!(
                r#"{{"sw_components": {{"reference": [{{"measurement": "{}", "signr": "00"}}]}}}}"#,
                h(32)
            ),
            PolicyFileError::UnknownKey {
                path: "$.sw_components.reference[0].signr".into(),
            },
        ),
        (
            r#"{"lifecycle": []}"#.into(),
            PolicyFileError::Empty {
                path: "$.lifecycle".into(),
            },
        ),
        (
            r#"{"rim": []}"#.into(),
            PolicyFileError::Empty {
                path: "$.rim".into(),
            },
        ),
        (
            r#"{"sw_components": {"reference": []}}"#.into(),
            PolicyFileError::Empty {
                path: "$.sw_components.reference".into(),
            },
        ),
        (
            r#"{"sw_components": {"require_all_known": false}}"#.into(),
            PolicyFileError::Missing {
                path: "$.sw_components.reference".into(),
            },
        ),
        (
            r#"{"lifecycle": ["secure"]}"#.into(),
            PolicyFileError::UnknownName {
                path: "$.lifecycle[0]".into(),
                expected: "\"unknown\", \"assembly-and-test\", \"rot-provisioning\", \
                           \"secured\", \"non-cca-platform-debug\", \
                           \"recoverable-cca-platform-debug\", \"decommissioned\""
                    .into(),
            },
        ),
        (
            r#"{"realm_hash_algorithms": ["sha-256", "sha-256"]}"#.into(),
            PolicyFileError::Repeated {
                path: "$.realm_hash_algorithms[1]".into(),
            },
        ),
        (
            format!(r#"{{"rim": ["{}"]}}"#, h(48)),
            PolicyFileError::Length {
                path: "$.rim[0]".into(),
                len: 48,
                expected: "32 or 64",
            },
        ),
        (
            format!(r#"{{"rim": ["{}x"]}}"#, h(32)),
            PolicyFileError::Hex {
                path: "$.rim[0]".into(),
            },
        ),
        (
            format!(r#"{{"rim": ["{}"]}}"#, &h(32)[1..]),
            PolicyFileError::Hex {
                path: "$.rim[0]".into(),
            },
        ),
        (
            format!(r#"{{"rim": ["+{}"]}}"#, &h(32)[1..]),
            PolicyFileError::Hex {
                path: "$.rim[0]".into(),
            },
        ),
        (
            format!(r#"{{"rpv": "{}"}}"#, h(32)),
            PolicyFileError::Length {
                path: "$.rpv".into(),
                len: 32,
                expected: "64",
            },
        ),
        (
            format!(
                r#"{{"sw_components": {{"reference": [{{"measurement": "{}"}}]}}}}"#,
                h(31)
            ),
            PolicyFileError::Length {
                path: "$.sw_components.reference[0].measurement".into(),
                len: 31,
                expected: "32, 48 or 64",
            },
        ),
        (
            format!(
                r#"{{"sw_components": {{"reference": [{{"measurement": "{}", "signer": "{}"}}]}}}}"#,
                h(48),
                h(65)
            ),
            PolicyFileError::Length {
                path: "$.sw_components.reference[0].signer".into(),
                len: 65,
                expected: "32, 48 or 64",
            },
        ),
        (
            r#"{"sw_components": {"reference": [{"type": "BL2"}]}}"#.into(),
            PolicyFileError::Missing {
                path: "$.sw_components.reference[0].measurement".into(),
            },
        ),
        (
            format!(
                r#"{{"sw_components": {{"require_all_known": 1, "reference": [{{"measurement": "{}"}}]}}}}"#,
                h(32)
            ),
            PolicyFileError::Type {
                path: "$.sw_components.require_all_known".into(),
                expected: "true or false",
            },
        ),
        (
            format!(r#"{{"rems": [null, "{}", null]}}"#, h(32)),
            PolicyFileError::Count {
                path: "$.rems".into(),
                count: 3,
                expected: 4,
            },
        ),
        (
            r#"{"rems": [null, 5, null, null]}"#.into(),
            PolicyFileError::Type {
                path: "$.rems[1]".into(),
                expected: "a string",
            },
        ),
        (
            r#"{"rpv": null}"#.into(),
            PolicyFileError::Type {
                path: "$.rpv".into(),
                expected: "a string",
            },
        ),
        (
            r#"["secured"]"#.into(),
            PolicyFileError::Type {
                path: "$".into(),
                expected: "an object",
            },
        ),
        (
            r#"{"a b": 1}"#.into(),
            PolicyFileError::UnknownKey {
                path: "$[\"a b\"]".into(),
            },
        ),
    ];
    for (json, want) in cases {
        let got = PolicyFile::from_json(&json).unwrap_err();
        assert_eq!(got, want, "{json}");
        let path = want.path().unwrap();
        assert!(got.to_string().starts_with(&format!("{path}: ")), "{got}");
    }
    // Not JSON, or trailing text: a syntax error with serde_json's position.
    for bad in ["", "{", "{} {}", "{\"rim\": [}"] {
        let err = PolicyFile::from_json(bad).unwrap_err();
        assert!(matches!(err, PolicyFileError::Syntax(_)), "{bad}: {err}");
        assert!(err.to_string().starts_with("not JSON: "), "{err}");
    }
    // The empty object is the default appraisal.
    assert_eq!(
        PolicyFile::from_json("{}").unwrap().appraisal(),
        Appraisal::DEFAULT
    );
}

/// A larger configuration holds the policy under a key of its own (as the key broker's
/// does): `from_value` reads that member, with paths relative to it.
#[test]
fn policy_from_an_embedded_value() {
    let config: serde_json::Value = serde_json::from_str(
        r#"{"listen": "127.0.0.1:0", "appraisal": {"lifecycle": ["secured", "non-cca-platform-debug"],
            "platform_hash_algorithms": ["sha-256"]}}"#,
    )
    .unwrap();
    let policy = PolicyFile::from_value(&config["appraisal"]).unwrap();
    let a = policy.appraisal();
    assert!(a.lifecycles.contains(Lifecycle::NonCcaPlatformDebug));
    assert_eq!(
        a.platform_hash_algorithms,
        HashAlgorithmSet::EMPTY.with(HashAlgorithm::Sha256)
    );
    assert_eq!(
        PolicyFile::from_value(&serde_json::json!({"rim": "00"})),
        Err(PolicyFileError::Type {
            path: "$.rim".into(),
            expected: "a list"
        })
    );
}

/// The policy files committed as seeds of the appraisal_policy fuzz target load, and
/// appraise the token seed that target uses as their names say.
#[test]
fn committed_policy_seeds_load() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let token = std::fs::read(dir.join("token_parse/encoder-tag399-sha256.cbor")).unwrap();
    let v = verified(&token);
    let load = |name: &str| {
        let json = std::fs::read_to_string(dir.join("appraisal_policy").join(name)).unwrap();
        PolicyFile::from_json(&json).unwrap()
    };
    assert_eq!(load("default.json").appraisal(), Appraisal::DEFAULT);
    assert_eq!(load("full.json").appraisal().appraise(&v), Ok(()));
    assert!(matches!(
        load("refuses-seed.json").appraisal().appraise(&v),
        Err(AppraisalError::SwComponentSigner { index: 0, .. })
    ));
    assert!(matches!(
        load("debug-platform.json").appraisal().appraise(&v),
        Err(AppraisalError::Lifecycle { value: 0x3003, .. })
    ));
}
