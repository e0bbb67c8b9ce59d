//! What the signing tests share: fixed test keys and the trust anchor of their platform.

use cca_token::{PublicKey, TrustAnchor};

/// Test-only keys (fixed scalars): a P-384 RAK.
pub fn rak() -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[0x11; 48]).unwrap()
}

/// Test-only keys (fixed scalars): a P-256 IAK.
pub fn iak() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap()
}

/// The trust anchor of the test platform: [`iak`] with implementation ID 0x7f… and
/// instance ID 01 01 02 03 ….
pub fn anchor() -> TrustAnchor {
    let point = iak().verifying_key().to_sec1_point(false);
    TrustAnchor {
        implementation_id: [0x7f; 32],
        instance_id: core::array::from_fn(|i| if i == 0 { 1 } else { i as u8 }),
        key: PublicKey::from_sec1(point.as_bytes()).unwrap(),
    }
}
