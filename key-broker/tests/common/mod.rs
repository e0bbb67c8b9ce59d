//! What the key broker's tests share: deterministic entropy and the simulated realm's
//! configuration.

use cca_abi::measurement::HashAlgorithm;
use realm_sdk::broker::{BrokerError, Entropy};
use rmm_model::RealmConfig;

/// Test-only entropy: a counter run through SHA-256.
pub struct TestEntropy(pub u64);

impl Entropy for TestEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), BrokerError> {
        use sha2::Digest;
        for chunk in buf.chunks_mut(32) {
            self.0 += 1;
            let d = sha2::Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        Ok(())
    }
}

/// A realm whose RIM is the SHA-256 of `image`, with RPV 9s.
pub fn realm_config(image: &[u8]) -> RealmConfig {
    RealmConfig {
        rim: HashAlgorithm::Sha256.hash(&[image]),
        rpv: [9; 64],
        ..RealmConfig::default()
    }
}
