//! The model issues tokens in the format of each TF-RMM release it stands in for, and
//! cca-token parses and verifies each: v0.8.0 (tag 399), v0.9.0 (CMW, tag 907) and TF-RMM
//! main (CMW, realm profile 2.0 with the realm instance ID and an integer MEC policy;
//! docs/rmi-2.0-tf-rmm-v0.9.0.md §13). Real TF-RMM main tokens cannot be captured: rmi-shim
//! does not drive TF-RMM main's changed RMI (README, compatibility table).

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_token::realm::{self, MecPolicy, RealmProfile};
use cca_token::{Format, Policy, Token};
use rmm_model::token::{Claims, InsecureTestIssuer, TokenFormat, TokenIssuer};

fn claims() -> Claims {
    let mut rim = Measurement::zero(HashAlgorithm::Sha256);
    rim.extend(b"rim");
    Claims {
        challenge: [0xc4; 64],
        rpv: [0x5e; 64],
        hash_algorithm: HashAlgorithm::Sha256,
        rim,
        rems: [Measurement::zero(HashAlgorithm::Sha256); 4],
    }
}

#[test]
fn every_tf_rmm_token_format_parses_and_verifies() {
    for (format, collection, profile) in [
        (TokenFormat::TfRmmV0_8, Format::Tag399, RealmProfile::V1_0),
        (TokenFormat::TfRmmV0_9, Format::Cmw, RealmProfile::V1_0),
        (TokenFormat::TfRmmMain, Format::Cmw, RealmProfile::V2_0),
    ] {
        let mut issuer = InsecureTestIssuer::new().with_format(format);
        let anchor = issuer.trust_anchor();
        let bytes = issuer.issue(&claims()).unwrap();
        let token = Token::parse(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(token.format, collection, "{format:?}");
        let verified = token
            .verify(&[anchor], &Policy::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let r = &verified.realm;
        assert_eq!(r.profile, profile, "{format:?}");
        assert_eq!(r.mec_policy, Some(MecPolicy::Shared), "{format:?}");
        assert_eq!(r.challenge, &[0xc4; 64][..]);
        match profile {
            RealmProfile::V2_0 => {
                let id = r.instance_id.expect("profile 2.0 carries the instance ID");
                assert_eq!((id.len(), id[0]), (33, 0x01));
            }
            _ => assert_eq!(r.instance_id, None, "{format:?}"),
        }
    }
}

/// The MEC policy claim is text up to profile 1.0 and an integer from 2.0 on; the other
/// spelling is refused, naming the claim.
#[test]
fn the_mec_policy_spelling_follows_the_profile() {
    let bytes = InsecureTestIssuer::new()
        .with_format(TokenFormat::TfRmmMain)
        .issue(&claims())
        .unwrap();
    // Claim 44243 (0x19 0xacd3) followed by the integer 0: the profile 2.0 spelling.
    let mec = [0x19, 0xac, 0xd3, 0x00];
    let at = bytes
        .windows(4)
        .position(|w| w == mec)
        .expect("the integer MEC policy");
    let mut wrong = bytes.clone();
    wrong[at + 3] = 0x02;
    assert_eq!(
        Token::parse(&wrong).map(drop),
        Err(cca_token::ParseError::RealmClaim(
            cca_token::claims::ClaimError::Value(realm::MEC_POLICY)
        ))
    );
}
