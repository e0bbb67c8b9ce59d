//! The broker appraises a verified token before it releases anything (finding 3): a
//! platform whose lifecycle is not secured, or whose firmware is not what the broker's
//! reference values name, gets no key, whatever its signatures; each refusal names the
//! claim. The realms run on the RMM model, whose test platform claims the lifecycle the
//! test picks.

mod common;

use std::sync::Arc;

use common::{Direct, TestEntropy, config_for, pinned_broker, realm_config};

use cca_token::appraisal::PolicyFile;
use key_broker::{Broker, Refusal};
use realm_sdk::broker::{KeyBrokerProvider, ProviderError};
use realm_sdk::seal::{Policy, SealingKey, SealingKeyProvider};
use realm_sdk::{Realm, RemIndex};
use rmm_model::sim::Simulator;
use rmm_model::token::InsecureTestIssuer;

const IMAGE: &[u8] = b"app v1";

/// A realm of [`IMAGE`] on a platform in `lifecycle` asks a broker appraising with
/// `appraisal` (JSON; `None` for the default) for its key.
fn key(lifecycle: u64, appraisal: Option<&str>) -> Result<SealingKey, ProviderError<Refusal>> {
    let mut config = config_for(IMAGE);
    config.appraisal = appraisal.map(|json| PolicyFile::from_json(json).unwrap());
    let broker = Arc::new(Broker::new(config).unwrap());
    let session = broker.session().unwrap();
    let issuer = InsecureTestIssuer::with_lifecycle(lifecycle);
    let mut sim = Simulator::with_issuer(realm_config(IMAGE), Box::new(issuer));
    let mut realm = Realm::new(&mut sim).unwrap();
    realm.measurement_extend(RemIndex::REM0, b"booted").unwrap();
    let (mut token, mut request) = (vec![0u8; 4096], vec![0u8; 4096 + 136]);
    KeyBrokerProvider::new(
        &mut realm,
        Direct(&session),
        TestEntropy(5),
        pinned_broker(),
        &mut token,
        &mut request,
    )
    .sealing_key(Policy::RimRpv)
}

fn refusal(result: Result<SealingKey, ProviderError<Refusal>>) -> (i64, String) {
    match result {
        Err(ProviderError::Transport(Refusal::Appraisal { claim, reason })) => (claim, reason),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a key was released"),
    }
}

/// By default only a secured platform (0x3000 to 0x30ff) gets a key; a decommissioned one
/// (0x6000), a debug one, or one in any other defined state is refused, naming claim 2395.
#[test]
fn default_appraisal_accepts_only_secured_platforms() {
    key(0x3000, None).unwrap();
    key(0x30ff, None).unwrap();
    let (claim, reason) = refusal(key(0x6000, None));
    assert_eq!(claim, 2395);
    assert_eq!(
        reason,
        "platform lifecycle (claim 2395) is 0x6000 (decommissioned); accepted: secured"
    );
    for lifecycle in [0x0000, 0x1000, 0x2000, 0x4000, 0x5000] {
        let (claim, _) = refusal(key(lifecycle, None));
        assert_eq!(claim, 2395, "lifecycle {lifecycle:#x}");
    }
    // Outside every defined range the token does not even parse.
    assert!(matches!(
        key(0x7000, None),
        Err(ProviderError::Transport(Refusal::Token(_)))
    ));
}

/// A broker that chose to accept recoverable debug platforms says so in its policy.
#[test]
fn policy_can_accept_more_states() {
    let policy = r#"{"lifecycle": ["secured", "recoverable-cca-platform-debug"]}"#;
    key(0x5000, Some(policy)).unwrap();
    refusal(key(0x6000, Some(policy)));
}

/// Platform firmware against reference values: the model's platform has one component
/// ("RMM", measurement 0x11…, signer 0x22…). A broker whose references name other
/// firmware refuses it, naming the component; one whose references match releases.
#[test]
fn software_components_against_reference_values() {
    let reference = |measurement: &str, signer: &str| {
        format!(
            r#"{{"sw_components": {{"require_all_known": true, "reference":
                [{{"type": "RMM", "measurement": "{measurement}", "signer": "{signer}"}}]}}}}"#
        )
    };
    let (m, s) = ("11".repeat(32), "22".repeat(32));
    key(0x3000, Some(&reference(&m, &s))).unwrap();

    let (claim, reason) = refusal(key(0x3000, Some(&reference(&"33".repeat(32), &s))));
    assert_eq!(claim, 2399);
    assert!(
        reason.starts_with(
            "platform software component 0 (RMM) (claim 2399): measurement value 0x1111"
        ),
        "{reason}"
    );
    let (claim, reason) = refusal(key(0x3000, Some(&reference(&m, &"44".repeat(32)))));
    assert_eq!(claim, 2399);
    assert!(reason.contains("signer"), "{reason}");
    let other = r#"{"sw_components": {"require_all_known": true, "reference":
        [{"type": "BL2", "measurement": "5555555555555555555555555555555555555555555555555555555555555555"}]}}"#;
    let (claim, reason) = refusal(key(0x3000, Some(other)));
    assert_eq!(claim, 2399);
    assert!(reason.contains("matches no reference value"), "{reason}");
}

/// The refusal's sentence is what the realm reads (through the transport), with the claim.
#[test]
fn refusal_reads_as_a_sentence() {
    let err = key(0x6000, None).err().unwrap().to_string();
    assert_eq!(
        err,
        "key broker: token not accepted: platform lifecycle (claim 2395) is 0x6000 \
         (decommissioned); accepted: secured"
    );
}
