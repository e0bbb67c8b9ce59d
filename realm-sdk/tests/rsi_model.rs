//! Every RSI call of realm-sdk against the software RMM model, including the error paths
//! DEN0137 1.0-rel0 defines. Each test names the rule it checks; "TF-RMM" means the
//! behaviour of TF-RMM v0.8.0 where the specification leaves room (cca-abi.md).

use cca_abi::AbiVersion;
use cca_abi::hostcall::CONSOLE_WRITE;
use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rsi::{RipasChangeDestroyed, RsiHostCall, RsiResponse};
use cca_abi::smccc::{Conduit, pack_bytes, regs};
use realm_sdk::attest::TokenError;
use realm_sdk::psci::{self, AffinityState, PsciError};
use realm_sdk::rsi::{self, BadArgument, RsiError, TokenProgress, raw};
use realm_sdk::{Ipa, MeasurementIndex, Realm, RemIndex, Ripas};
use rmm_model::sim::{RipasPolicy, Simulator};
use rmm_model::token::{Claims, IssueError, TokenIssuer};
use rmm_model::{RealmConfig, RsiRevisions};

/// A test-only issuer: deterministic bytes derived from the claims, of a chosen length, so
/// the token protocol (chunking, offsets, granule crossing) can be checked byte for byte.
/// It is not a CCA token; the attestation tests use signed ones.
struct PatternIssuer(usize);

impl PatternIssuer {
    fn expected(len: usize, claims: &Claims) -> Vec<u8> {
        (0..len)
            .map(|i| claims.challenge[i % 64] ^ claims.rim.as_bytes()[i % 32] ^ (i / 64) as u8)
            .collect()
    }
}

impl TokenIssuer for PatternIssuer {
    fn issue(&mut self, claims: &Claims) -> Result<Vec<u8>, IssueError> {
        Ok(Self::expected(self.0, claims))
    }
}

#[repr(C, align(4096))]
struct Pages<const N: usize>([u8; N]);

impl<const N: usize> Pages<N> {
    fn new() -> Box<Self> {
        Box::new(Self([0; N]))
    }
    fn ipa(&self) -> u64 {
        Ipa::of(&self.0).0
    }
}

fn rim() -> Measurement {
    HashAlgorithm::Sha256.hash(&[b"the host's build"])
}

fn config() -> RealmConfig {
    RealmConfig {
        rim: rim(),
        rpv: core::array::from_fn(|i| 0xf0u8.wrapping_add(i as u8)),
        ..RealmConfig::default()
    }
}

fn sim() -> Simulator {
    Simulator::new(config())
}

const PAR_TOP: u64 = 1 << 47;

// ---- RSI_VERSION (DEN0137 B5.3.10) ----

/// B5.3.10: a 1.0 RMM (TF-RMM v0.8.0) refuses 1.1 and accepts 1.0; we settle on 1.0.
#[test]
fn version_negotiates_1_0_with_a_1_0_rmm() {
    let mut s = sim();
    let reply = rsi::version(&mut s, AbiVersion::V1_1);
    assert_eq!(reply.status, cca_abi::rsi::RsiStatus::ErrorInput);
    assert_eq!(reply.versions(), Some((AbiVersion::V1_0, AbiVersion::V1_0)));
    assert_eq!(rsi::negotiate_version(&mut s), Ok(AbiVersion::V1_0));
}

/// B5.3.10: a 1.1 RMM (TF-RMM v0.9.0) accepts 1.1 directly; x2 names the highest revision.
#[test]
fn version_negotiates_1_1_with_a_1_1_rmm() {
    let mut s = Simulator::new(RealmConfig {
        rsi: RsiRevisions::TF_RMM_V0_9,
        ..config()
    });
    let reply = rsi::version(&mut s, AbiVersion::V1_0);
    assert_eq!(reply.status, cca_abi::rsi::RsiStatus::Success);
    assert_eq!(reply.versions(), Some((AbiVersion::V1_0, AbiVersion::V1_1)));
    assert_eq!(Realm::new(&mut s).unwrap().version(), AbiVersion::V1_1);
}

/// B5.3.10: an RMM implementing none of our revisions is refused with a clear error.
#[test]
fn version_refuses_an_unsupported_rmm() {
    let two = RsiRevisions {
        lowest: AbiVersion::V2_0,
        highest: AbiVersion::V2_0,
    };
    let mut s = Simulator::new(RealmConfig {
        rsi: two,
        ..config()
    });
    let err = Realm::new(&mut s).err().unwrap();
    assert_eq!(
        err,
        RsiError::UnsupportedVersion {
            lower: AbiVersion::V2_0,
            higher: AbiVersion::V2_0
        }
    );
    assert!(err.to_string().contains("RSI 2.0 to 2.0"), "{err}");
}

/// B5.3.10: an unknown (malformed) revision is ERROR_INPUT, never success.
#[test]
fn version_with_reserved_bits_is_refused() {
    let mut s = sim();
    let r = s.call(regs(cca_abi::rsi::RSI_VERSION, &[0x8001_0000]));
    assert_eq!(r[0], 1);
}

// ---- RSI_FEATURES (B5.3.4) and RSI_REALM_CONFIG (B5.3.9) ----

/// B5.3.4: TF-RMM v0.8.0 sets no feature bit for a realm without device assignment.
#[test]
fn features_register_0_is_zero() {
    let mut s = sim();
    assert_eq!(rsi::features(&mut s, 0), Ok(0));
    assert_eq!(rsi::features(&mut s, 7), Ok(0));
}

/// B5.3.9 / A5.2.2: the configuration carries the IPA width, hash algorithm and RPV; the
/// unprotected alias bit is the top IPA bit.
#[test]
fn realm_config_is_read_once_into_the_handle() {
    let mut s = Simulator::new(RealmConfig {
        ipa_width: 48,
        hash_algorithm: HashAlgorithm::Sha512,
        rim: HashAlgorithm::Sha512.hash(&[b"x"]),
        ..config()
    });
    let realm = Realm::new(&mut s).unwrap();
    assert_eq!(realm.ipa_width(), 48);
    assert_eq!(realm.hash_algorithm(), HashAlgorithm::Sha512);
    assert_eq!(realm.personalization_value()[..3], [0xf0, 0xf1, 0xf2]);
    assert_eq!(realm.unprotected_bit(), 1 << 47);
    assert_eq!(
        realm.unprotected_alias(Ipa(0x0900_0000)),
        Ipa((1 << 47) | 0x0900_0000)
    );
    assert!(realm.is_protected(Ipa(0x1000)));
    assert!(!realm.is_protected(Ipa(1 << 47)));
}

/// B5.3.9 failure conditions: the address must be granule aligned and protected.
#[test]
fn realm_config_rejects_unaligned_and_unprotected_addresses() {
    let mut s = sim();
    let page = Pages::<4096>::new();
    // SAFETY: the RMM refuses these addresses before writing anything.
    unsafe {
        assert_eq!(
            raw::realm_config(&mut s, Ipa(page.ipa() + 8)),
            Err(RsiError::ErrorInput)
        );
        assert_eq!(
            raw::realm_config(&mut s, Ipa(PAR_TOP)),
            Err(RsiError::ErrorInput)
        );
    }
}

/// B5.3.9 / TF-RMM: a granule whose RIPAS is EMPTY is refused with ERROR_INPUT.
#[test]
fn realm_config_rejects_empty_memory() {
    let mut s = sim();
    let page = Pages::<4096>::new();
    s.host_set_ripas(page.ipa(), page.ipa() + 4096, Ripas::Empty);
    // SAFETY: the page is ours and no reference to it is live during the call.
    let result = unsafe { raw::realm_config(&mut s, Ipa(page.ipa())) };
    assert_eq!(result, Err(RsiError::ErrorInput));
}

// ---- RSI_MEASUREMENT_READ (B5.3.6) and RSI_MEASUREMENT_EXTEND (B5.3.5) ----

/// B5.3.6: index 0 is the RIM; 1..4 the REMs, zero until extended.
#[test]
fn measurement_read_returns_rim_and_zero_rems() {
    let mut s = sim();
    let mut realm = Realm::new(&mut s).unwrap();
    assert_eq!(realm.rim().unwrap(), rim());
    for rem in realm.rems().unwrap() {
        assert_eq!(rem, Measurement::zero(HashAlgorithm::Sha256));
    }
}

/// B5.3.6: for SHA-256 the upper 32 bytes of x1..x8 are zero.
#[test]
fn measurement_read_slot_is_zero_past_sha256_digest() {
    let mut s = sim();
    let slot = rsi::measurement_read_slot(&mut s, MeasurementIndex::RIM).unwrap();
    assert_eq!(slot[..32], *rim().as_bytes());
    assert_eq!(slot[32..], [0; 32]);
}

/// B5.3.6 failure condition: an index past 4 is ERROR_INPUT.
#[test]
fn measurement_read_index_out_of_range() {
    let mut s = sim();
    assert_eq!(raw::measurement_read(&mut s, 5), Err(RsiError::ErrorInput));
    assert_eq!(
        raw::measurement_read(&mut s, u64::MAX),
        Err(RsiError::ErrorInput)
    );
}

/// B5.3.5 / cca-abi.md §6.5: REM = H(REM ‖ value[0..size]) for SHA-256 and SHA-512.
#[test]
fn measurement_extend_follows_the_rmm_rule() {
    for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let mut s = Simulator::new(RealmConfig {
            hash_algorithm: alg,
            rim: alg.hash(&[b"rim"]),
            ..config()
        });
        let mut realm = Realm::new(&mut s).unwrap();
        let data: Vec<u8> = (1..=32).collect();
        realm.measurement_extend(RemIndex::REM0, &data).unwrap();
        realm
            .measurement_extend(RemIndex::REM0, &[0xa5; 64])
            .unwrap();
        let mut expected = Measurement::zero(alg);
        expected.extend(&data);
        expected.extend(&[0xa5; 64]);
        assert_eq!(
            realm.measurement_read(RemIndex::REM0.into()).unwrap(),
            expected
        );
        assert_eq!(
            realm.measurement_read(RemIndex::REM1.into()).unwrap(),
            Measurement::zero(alg)
        );
        assert_eq!(s.model().rems()[0], expected);
    }
}

/// The testdata vectors' REM sequence (tf-rmm README, "REM extension"), reproduced through
/// the SDK: REM[2] gets 16 bytes of 0xa5 then 64 bytes 3·i.
#[test]
fn measurement_extend_matches_tf_rmm_vector_sequence() {
    let Some(hex) = testdata::read_to_string("tf-rmm/tf-rmm-v0.8.0/sha256/rems.hex") else {
        return;
    };
    let mut s = sim();
    let mut realm = Realm::new(&mut s).unwrap();
    realm
        .measurement_extend(RemIndex::REM0, &(1..=32).collect::<Vec<u8>>())
        .unwrap();
    realm
        .measurement_extend(RemIndex::REM1, &(0x80..=0xbf).collect::<Vec<u8>>())
        .unwrap();
    realm
        .measurement_extend(RemIndex::REM2, &[0xa5; 16])
        .unwrap();
    realm
        .measurement_extend(
            RemIndex::REM2,
            &(0..64).map(|i| (3 * i) as u8).collect::<Vec<u8>>(),
        )
        .unwrap();
    let got: Vec<String> = realm
        .rems()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let want: Vec<&str> = hex.lines().collect();
    assert_eq!(got, want);
}

/// B5.3.5 failure conditions: index 0 (the RIM) and past 4 are ERROR_INPUT.
#[test]
fn measurement_extend_rejects_rim_and_out_of_range_index() {
    let mut s = sim();
    assert_eq!(
        raw::measurement_extend(&mut s, 0, 8, &[1; 64]),
        Err(RsiError::ErrorInput)
    );
    assert_eq!(
        raw::measurement_extend(&mut s, 5, 8, &[1; 64]),
        Err(RsiError::ErrorInput)
    );
    assert_eq!(s.model().rim(), rim(), "the RIM never changes");
}

/// B5.3.5 failure condition: size > 64 is ERROR_INPUT; TF-RMM accepts size 0 (REM = H(REM)).
#[test]
fn measurement_extend_size_limits() {
    let mut s = sim();
    assert_eq!(
        raw::measurement_extend(&mut s, 1, 65, &[1; 64]),
        Err(RsiError::ErrorInput)
    );
    assert_eq!(
        s.model().rems()[0],
        Measurement::zero(HashAlgorithm::Sha256)
    );
    assert_eq!(raw::measurement_extend(&mut s, 1, 0, &[1; 64]), Ok(()));
    assert_eq!(s.model().rems()[0], HashAlgorithm::Sha256.hash(&[&[0; 32]]));
    assert_eq!(
        rsi::measurement_extend(&mut s, RemIndex::REM1, &[0; 65]),
        Err(RsiError::BadArgument(BadArgument::ExtendTooLong(65)))
    );
}

/// realm-sdk convention: data over 64 bytes is hashed with the realm's algorithm first.
#[test]
fn long_extend_data_is_hashed_first() {
    let mut s = sim();
    let mut realm = Realm::new(&mut s).unwrap();
    let data = [7u8; 1000];
    realm.measurement_extend(RemIndex::REM3, &data).unwrap();
    let mut expected = Measurement::zero(HashAlgorithm::Sha256);
    expected.extend(HashAlgorithm::Sha256.hash(&[&data]).as_bytes());
    assert_eq!(
        realm.measurement_read(RemIndex::REM3.into()).unwrap(),
        expected
    );
}

// ---- RSI_ATTESTATION_TOKEN_INIT / CONTINUE (B5.3.1, B5.3.2, A7.2) ----

fn token_sim(len: usize, signing_steps: u32) -> Simulator {
    // TF-RMM's bound is 4096; a larger one models RMM_CCA_TOKEN_BUFFER > 1.
    let token_upper_bound = (len as u64).next_multiple_of(4096).max(4096);
    Simulator::with_issuer(
        RealmConfig {
            signing_steps,
            token_upper_bound,
            ..config()
        },
        Box::new(PatternIssuer(len)),
    )
}

fn expected_token(len: usize, challenge: &[u8]) -> Vec<u8> {
    let mut c = [0u8; 64];
    c[..challenge.len()].copy_from_slice(challenge);
    let claims = Claims {
        challenge: c,
        rpv: [0; 64],
        hash_algorithm: HashAlgorithm::Sha256,
        rim: rim(),
        rems: [Measurement::zero(HashAlgorithm::Sha256); 4],
    };
    PatternIssuer::expected(len, &claims)
}

/// A7.2: the token arrives through INIT then CONTINUE until SUCCESS, granule by granule,
/// whatever the buffer's alignment, with signing steps answering INCOMPLETE first.
#[test]
fn token_retrieval_spans_granules_at_any_alignment() {
    let challenge: Vec<u8> = (0..64).collect();
    for (len, steps, start) in [
        (2134, 0, 0),
        (2134, 3, 0xc00),
        (5000, 1, 0x123),
        (4096, 0, 0),
        (1, 0, 0xfff),
    ] {
        let mut s = token_sim(len, steps);
        let mut buf = Pages::<{ 3 * 4096 }>::new();
        let token = realm_sdk::attest::attestation_token_with_raw_challenge(
            &mut s,
            &challenge,
            &mut buf.0[start..],
        )
        .unwrap();
        assert_eq!(
            token,
            expected_token(len, &challenge),
            "len {len} start {start:#x}"
        );
    }
}

/// Linux's convention, kept by realm-sdk: a short challenge is zero-padded to 64 bytes.
#[test]
fn short_challenge_is_zero_padded() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<4096>::new();
    let token =
        realm_sdk::attest::attestation_token_with_raw_challenge(&mut s, &[9; 32], &mut buf.0)
            .unwrap();
    assert_eq!(token, expected_token(100, &[9; 32]));
    assert_eq!(
        rsi::attestation_token_init(&mut s, &[0; 65]),
        Err(RsiError::BadArgument(BadArgument::ChallengeTooLong(65)))
    );
}

/// B5.3.1: INIT reports the upper bound; a buffer that fills first is reported with it.
#[test]
fn token_buffer_too_small_reports_the_upper_bound() {
    let mut s = token_sim(2134, 0);
    let mut buf = Pages::<4096>::new();
    let err = realm_sdk::attest::attestation_token_with_raw_challenge(
        &mut s,
        &[1; 64],
        &mut buf.0[..1000],
    )
    .unwrap_err();
    assert_eq!(
        err,
        TokenError::BufferTooSmall {
            given: 1000,
            upper_bound: 4096
        }
    );
}

/// B5.3.2 failure condition: CONTINUE without a preceding INIT is ERROR_STATE.
#[test]
fn token_continue_without_init_is_error_state() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<4096>::new();
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0),
        Err(RsiError::ErrorState)
    );
}

/// B5.3.2: once every byte was delivered, CONTINUE is ERROR_STATE until the next INIT.
#[test]
fn token_continue_after_delivery_is_error_state() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<4096>::new();
    realm_sdk::attest::attestation_token_with_raw_challenge(&mut s, &[1; 64], &mut buf.0).unwrap();
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0),
        Err(RsiError::ErrorState)
    );
    realm_sdk::attest::attestation_token_with_raw_challenge(&mut s, &[2; 64], &mut buf.0).unwrap();
}

/// B5.3.1: INIT aborts a token in progress; the next one starts from its first byte.
#[test]
fn token_init_restarts_the_protocol() {
    let mut s = token_sim(3000, 0);
    let mut buf = Pages::<4096>::new();
    rsi::attestation_token_init(&mut s, &[1; 64]).unwrap();
    rsi::attestation_token_continue(&mut s, &mut buf.0[..0]).unwrap(); // signing done
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0[..100]),
        Ok(TokenProgress::Incomplete { written: 100 })
    );
    let token =
        realm_sdk::attest::attestation_token_with_raw_challenge(&mut s, &[2; 64], &mut buf.0)
            .unwrap();
    assert_eq!(token, expected_token(3000, &[2; 64]));
}

/// TF-RMM: size 0 is INCOMPLETE with nothing written.
#[test]
fn token_continue_size_zero_is_incomplete() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<4096>::new();
    rsi::attestation_token_init(&mut s, &[1; 64]).unwrap();
    for _ in 0..3 {
        assert_eq!(
            rsi::attestation_token_continue(&mut s, &mut buf.0[..0]),
            Ok(TokenProgress::Incomplete { written: 0 })
        );
    }
}

/// B5.3.2 failure conditions (TF-RMM order: inputs before state): the buffer granule must be
/// aligned, offset < 4096, offset + size <= 4096 without overflow, granule protected.
#[test]
fn token_continue_rejects_bad_buffers() {
    let mut s = token_sim(100, 0);
    let buf = Pages::<4096>::new();
    let g = buf.ipa();
    rsi::attestation_token_init(&mut s, &[1; 64]).unwrap();
    let cases = [
        (g + 0x10, 0, 16, "granule not aligned"),
        (g, 4096, 0, "offset past the granule"),
        (g, 0x800, 0x801, "offset + size past the granule"),
        (g, 0x10, u64::MAX, "offset + size overflows"),
        (PAR_TOP, 0, 16, "granule not protected"),
    ];
    for (granule, offset, size, what) in cases {
        // SAFETY: every case is refused before the RMM writes anything.
        let r = unsafe { raw::attestation_token_continue(&mut s, Ipa(granule), offset, size) };
        assert_eq!(r, Err(RsiError::ErrorInput), "{what}");
    }
    // Without INIT, bad inputs are still ERROR_INPUT: inputs are checked first.
    let mut fresh = token_sim(100, 0);
    // SAFETY: refused before any write.
    let r = unsafe { raw::attestation_token_continue(&mut fresh, Ipa(g + 1), 0, 1) };
    assert_eq!(r, Err(RsiError::ErrorInput));
}

/// TF-RMM: a token buffer whose RIPAS is EMPTY is ERROR_INPUT.
#[test]
fn token_continue_rejects_empty_buffer() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<4096>::new();
    s.host_set_ripas(buf.ipa(), buf.ipa() + 4096, Ripas::Empty);
    rsi::attestation_token_init(&mut s, &[1; 64]).unwrap();
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0[..0]),
        Ok(TokenProgress::Incomplete { written: 0 })
    );
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0),
        Err(RsiError::ErrorInput)
    );
}

/// realm-sdk refuses a chunk that crosses a granule before calling the RMM.
#[test]
fn token_chunk_may_not_cross_a_granule() {
    let mut s = token_sim(100, 0);
    let mut buf = Pages::<8192>::new();
    assert_eq!(
        rsi::attestation_token_continue(&mut s, &mut buf.0[4000..4200]),
        Err(RsiError::BadArgument(BadArgument::CrossesGranule))
    );
}

/// TF-RMM: a token larger than the RMM's buffer fails INIT with RSI_ERROR_UNKNOWN.
#[test]
fn token_larger_than_rmm_buffer_fails_init() {
    let mut s = Simulator::with_issuer(config(), Box::new(PatternIssuer(5000)));
    assert_eq!(
        rsi::attestation_token_init(&mut s, &[0; 64]),
        Err(RsiError::ErrorUnknown)
    );
}

/// TF-RMM: an RMM that cannot make a token fails INIT with RSI_ERROR_UNKNOWN.
#[test]
fn token_init_without_attestation_key_is_error_unknown() {
    let mut s = sim();
    let mut buf = Pages::<4096>::new();
    assert_eq!(
        realm_sdk::attest::attestation_token_with_raw_challenge(&mut s, &[0; 64], &mut buf.0),
        Err(TokenError::Init(RsiError::ErrorUnknown))
    );
}

// ---- RSI_IPA_STATE_SET (B5.3.11) and RSI_IPA_STATE_GET (B5.3.12) ----

/// B5.3.11: the REC exits to the host; with ACCEPT over the whole range the RIPAS changes.
#[test]
fn ipa_state_set_accepted() {
    let mut s = sim();
    let buf = Pages::<{ 4 * 4096 }>::new();
    let (b, t) = (Ipa(buf.ipa()), Ipa(buf.ipa() + 4 * 4096));
    let mut realm = Realm::new(&mut s).unwrap();
    realm
        .set_ripas(b, t, Ripas::Empty, RipasChangeDestroyed::NoChange)
        .unwrap();
    assert_eq!(realm.ripas(b, t).unwrap(), (Ripas::Empty, t));
    realm
        .set_ripas(b, t, Ripas::Ram, RipasChangeDestroyed::NoChange)
        .unwrap();
    assert_eq!(realm.ripas(b, t).unwrap(), (Ripas::Ram, t));
}

/// B5.3.11: the host may change part of the range; x1 tells how far, and the realm asks again.
#[test]
fn ipa_state_set_partial_progress_is_followed() {
    let mut s = sim();
    s.set_ripas_policy(RipasPolicy::Partial(1));
    let buf = Pages::<{ 3 * 4096 }>::new();
    let (b, t) = (Ipa(buf.ipa()), Ipa(buf.ipa() + 3 * 4096));
    let first =
        rsi::ipa_state_set(&mut s, b, t, Ripas::Empty, RipasChangeDestroyed::NoChange).unwrap();
    assert_eq!(first.next, Ipa(b.0 + 4096));
    assert_eq!(first.response, RsiResponse::Accept);
    let mut realm = Realm::new(&mut s).unwrap();
    realm
        .set_ripas(b, t, Ripas::Empty, RipasChangeDestroyed::NoChange)
        .unwrap();
    assert_eq!(realm.ripas(b, t).unwrap(), (Ripas::Empty, t));
    let changes = s
        .exits()
        .iter()
        .filter(|e| matches!(e, rmm_model::RecExit::RipasChange { .. }))
        .count();
    assert_eq!(
        changes, 4,
        "one exit for the first call, then one per remaining granule"
    );
}

/// B5.3.11: the host may reject a request for RAM; nothing changes.
#[test]
fn ipa_state_set_rejected_by_host() {
    let mut s = sim();
    let buf = Pages::<4096>::new();
    let (b, t) = (Ipa(buf.ipa()), Ipa(buf.ipa() + 4096));
    s.host_set_ripas(b.0, t.0, Ripas::Empty);
    s.set_ripas_policy(RipasPolicy::Reject);
    let change =
        rsi::ipa_state_set(&mut s, b, t, Ripas::Ram, RipasChangeDestroyed::NoChange).unwrap();
    assert_eq!(
        change,
        rsi::RipasChange {
            next: b,
            response: RsiResponse::Reject
        }
    );
    let mut realm = Realm::new(&mut s).unwrap();
    assert_eq!(
        realm.set_ripas(b, t, Ripas::Ram, RipasChangeDestroyed::NoChange),
        Err(RsiError::HostRejected { next: b })
    );
    assert_eq!(realm.ripas(b, t).unwrap(), (Ripas::Empty, t));
}

/// B4.3.16 (RTT_SET_RIPAS): without RSI_CHANGE_DESTROYED the change stops at a DESTROYED
/// granule; with it, DESTROYED granules change too.
#[test]
fn ipa_state_set_and_destroyed_granules() {
    let mut s = sim();
    let buf = Pages::<{ 3 * 4096 }>::new();
    let b = buf.ipa();
    s.host_set_ripas(b + 4096, b + 8192, Ripas::Destroyed);
    let c = rsi::ipa_state_set(
        &mut s,
        Ipa(b),
        Ipa(b + 3 * 4096),
        Ripas::Ram,
        RipasChangeDestroyed::NoChange,
    )
    .unwrap();
    assert_eq!(c.next, Ipa(b + 4096));
    let c = rsi::ipa_state_set(
        &mut s,
        Ipa(b),
        Ipa(b + 3 * 4096),
        Ripas::Ram,
        RipasChangeDestroyed::Change,
    )
    .unwrap();
    assert_eq!(c.next, Ipa(b + 3 * 4096));
    assert_eq!(
        rsi::ipa_state_get(&mut s, Ipa(b), Ipa(b + 3 * 4096)).unwrap(),
        (Ripas::Ram, Ipa(b + 3 * 4096))
    );
}

/// B5.3.11 failure conditions: unaligned or empty range, range outside the protected IPA
/// space, or a RIPAS other than EMPTY/RAM is ERROR_INPUT (and causes no exit).
#[test]
fn ipa_state_set_rejects_bad_ranges() {
    let mut s = sim();
    let cases = [
        (0x1001, 0x3000, 1, "base not aligned"),
        (0x1000, 0x3001, 1, "top not aligned"),
        (0x3000, 0x3000, 1, "empty range"),
        (0x4000, 0x3000, 1, "top below base"),
        (
            PAR_TOP - 0x1000,
            PAR_TOP + 0x1000,
            0,
            "range leaves the protected IPA space",
        ),
        (0x1000, 0x3000, 2, "DESTROYED requested"),
        (0x1000, 0x3000, 9, "undefined RIPAS"),
    ];
    for (base, top, ripas, what) in cases {
        assert_eq!(
            raw::ipa_state_set(&mut s, Ipa(base), Ipa(top), ripas, 0),
            Err(RsiError::ErrorInput),
            "{what}"
        );
    }
    assert!(s.exits().is_empty());
    assert_eq!(
        rsi::ipa_state_set(
            &mut s,
            Ipa(0x1000),
            Ipa(0x1800),
            Ripas::Ram,
            RipasChangeDestroyed::NoChange
        ),
        Err(RsiError::BadArgument(BadArgument::Range))
    );
    assert_eq!(
        rsi::ipa_state_set(
            &mut s,
            Ipa(0x1000),
            Ipa(0x2000),
            Ripas::Destroyed,
            RipasChangeDestroyed::NoChange
        ),
        Err(RsiError::BadArgument(BadArgument::Ripas(Ripas::Destroyed)))
    );
}

/// B5.3.12: x1 is the end of the run of equal RIPAS from base, capped at end.
#[test]
fn ipa_state_get_reports_runs() {
    let mut s = sim();
    let buf = Pages::<{ 4 * 4096 }>::new();
    let b = buf.ipa();
    s.host_set_ripas(b + 4096, b + 3 * 4096, Ripas::Empty);
    assert_eq!(
        rsi::ipa_state_get(&mut s, Ipa(b), Ipa(b + 4 * 4096)).unwrap(),
        (Ripas::Ram, Ipa(b + 4096))
    );
    assert_eq!(
        rsi::ipa_state_get(&mut s, Ipa(b + 4096), Ipa(b + 4 * 4096)).unwrap(),
        (Ripas::Empty, Ipa(b + 3 * 4096))
    );
    assert_eq!(
        rsi::ipa_state_get(&mut s, Ipa(b + 4096), Ipa(b + 2 * 4096)).unwrap(),
        (Ripas::Empty, Ipa(b + 2 * 4096))
    );
}

/// B5.3.12 failure conditions: unaligned bounds, end not above base, end outside the
/// protected IPA space are ERROR_INPUT.
#[test]
fn ipa_state_get_rejects_bad_ranges() {
    let mut s = sim();
    for (base, end, what) in [
        (0x1001, 0x2000, "base"),
        (0x1000, 0x2001, "end"),
        (0x2000, 0x2000, "empty"),
        (0x1000, PAR_TOP + 0x1000, "unprotected"),
    ] {
        assert_eq!(
            raw::ipa_state_get(&mut s, Ipa(base), Ipa(end)),
            Err(RsiError::ErrorInput),
            "{what}"
        );
    }
}

// ---- RSI_HOST_CALL (B5.3.3) ----

/// B5.3.3: the host sees the immediate and registers; its reply lands in the structure.
#[test]
fn host_call_round_trip() {
    let mut s = sim();
    let mut call = Box::new(RsiHostCall::new(CONSOLE_WRITE));
    call.gprs[0] = 5;
    pack_bytes(b"hello", &mut call.gprs[1..]);
    call.gprs[30] = 0xdead;
    rsi::host_call(&mut s, &mut call).unwrap();
    assert_eq!(s.console(), b"hello");
    assert_eq!(call.gprs[0], 5, "the host reports how many bytes it took");
    assert_eq!(call.gprs[30], 0xdead);
    assert!(matches!(
        s.exits(),
        [rmm_model::RecExit::HostCall {
            imm: CONSOLE_WRITE,
            ..
        }]
    ));
}

/// B5.3.3 / TF-RMM `host_call.c`: the structure must be 256-byte aligned, protected and RAM.
#[test]
fn host_call_rejects_bad_addresses() {
    let mut s = sim();
    let page = Pages::<4096>::new();
    s.host_set_ripas(page.ipa() + 4096 - 4096, page.ipa() + 4096, Ripas::Empty);
    // SAFETY: every case is refused before the RMM touches memory.
    unsafe {
        assert_eq!(
            raw::host_call(&mut s, Ipa(page.ipa() + 0x80)),
            Err(RsiError::ErrorInput),
            "unaligned"
        );
        assert_eq!(
            raw::host_call(&mut s, Ipa(PAR_TOP)),
            Err(RsiError::ErrorInput),
            "unprotected"
        );
        assert_eq!(
            raw::host_call(&mut s, Ipa(page.ipa())),
            Err(RsiError::ErrorInput),
            "EMPTY"
        );
    }
    assert!(s.exits().is_empty());
}

// ---- PSCI and SMCCC through the RMM (cca-abi.md §1.3) ----

/// TF-RMM: PSCI 1.1; PSCI_FEATURES knows SYSTEM_OFF but (like TF-RMM) not PSCI_VERSION.
#[test]
fn psci_version_and_features() {
    let mut s = sim();
    let v = psci::version(&mut s).unwrap();
    assert_eq!((v.major, v.minor), (1, 1));
    assert_eq!(psci::features(&mut s, psci::PSCI_SYSTEM_OFF), Ok(0));
    assert_eq!(
        psci::features(&mut s, psci::PSCI_VERSION),
        Err(PsciError::NotSupported)
    );
    assert_eq!(s.call(regs(0x8000_0000, &[]))[0], 0x1_0002, "SMCCC 1.2");
}

/// TF-RMM: SYSTEM_OFF exits to the host and the realm is off for good.
#[test]
fn psci_system_off_stops_the_realm() {
    let mut s = sim();
    psci::system_off(&mut s).unwrap();
    assert!(s.model().is_off());
    assert!(matches!(
        s.exits(),
        [rmm_model::RecExit::Psci {
            fid: 0x8400_0008,
            ..
        }]
    ));
}

/// TF-RMM: CPU_ON of the caller is ALREADY_ON, of an unknown MPIDR INVALID_PARAMETERS, of
/// another REC a host-completed exit; AFFINITY_INFO then reports it on.
#[test]
fn psci_cpu_on_and_affinity_info() {
    let mut s = Simulator::new(RealmConfig {
        recs: 2,
        ..config()
    });
    assert_eq!(
        psci::cpu_on(&mut s, 0, 0x8000_0000, 0),
        Err(PsciError::AlreadyOn)
    );
    assert_eq!(
        psci::cpu_on(&mut s, 0x55, 0x8000_0000, 0),
        Err(PsciError::InvalidParameters)
    );
    assert_eq!(
        psci::cpu_on(&mut s, 1, PAR_TOP, 0),
        Err(PsciError::InvalidAddress)
    );
    assert_eq!(psci::affinity_info(&mut s, 1), Ok(AffinityState::Off));
    assert_eq!(psci::cpu_on(&mut s, 1, 0x8000_0000, 7), Ok(()));
    assert!(s.model().recs()[1].runnable());
    assert_eq!(psci::affinity_info(&mut s, 1), Ok(AffinityState::On));
    assert_eq!(
        psci::cpu_on(&mut s, 1, 0x8000_0000, 7),
        Err(PsciError::AlreadyOn)
    );
}

/// SMCCC: a function id nobody implements is SMC_UNKNOWN, in and out of the RSI range.
/// (0x19A is defined but not dispatched; 0x19E and 0x1AD are unused. TF-RMM v0.8.0 does
/// dispatch the RSI 1.1 plane commands such as 0x1AF: see `tests/rsi11.rs`.)
#[test]
fn unknown_function_ids() {
    let mut s = sim();
    assert_eq!(s.call(regs(0xC400_019A, &[]))[0], u64::MAX);
    assert_eq!(s.call(regs(0xC400_019E, &[]))[0], u64::MAX);
    assert_eq!(s.call(regs(0xC400_01AD, &[]))[0], u64::MAX);
    assert_eq!(s.call(regs(0x8400_00FF, &[]))[0], u64::MAX);
}

// ---- Measured boot: event log and offline replay ----

/// The log realm-sdk writes replays to the REMs the RMM model computed, for short data and
/// for data over 64 bytes (hashed first), with both algorithms.
#[test]
fn event_log_replays_to_the_model_rems() {
    use cca_abi::eventlog::{LogWriter, events, replay};
    for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let mut s = Simulator::new(RealmConfig {
            hash_algorithm: alg,
            rim: alg.hash(&[b"rim"]),
            ..config()
        });
        let mut realm = Realm::new(&mut s).unwrap();
        let mut buf = [0u8; 1024];
        let mut log = LogWriter::new(&mut buf).unwrap();
        realm
            .measure(&mut log, RemIndex::REM0, b"kernel", "kernel image")
            .unwrap();
        realm
            .measure(&mut log, RemIndex::REM0, &[9; 5000], "initrd")
            .unwrap();
        realm
            .measure(&mut log, RemIndex::REM3, &[1; 64], "config")
            .unwrap();
        assert_eq!(replay(log.as_bytes(), alg).unwrap(), realm.rems().unwrap());
        let names: Vec<&str> = events(log.as_bytes())
            .unwrap()
            .map(|e| e.unwrap().description)
            .collect();
        assert_eq!(names, ["kernel image", "initrd", "config"]);
    }
}

/// The host carries the log and relabels the kernel as the initrd: the log no longer
/// accounts for the REMs the RMM holds.
#[test]
fn relabelled_event_log_does_not_check() {
    use cca_abi::eventlog::{CheckError, LogWriter, check};
    let mut s = sim();
    let mut realm = Realm::new(&mut s).unwrap();
    let mut buf = [0u8; 256];
    let mut log = LogWriter::new(&mut buf).unwrap();
    realm
        .measure(&mut log, RemIndex::REM1, b"kernel bytes", "kernel")
        .unwrap();
    let len = log.len();
    let rems = realm.rems().unwrap();
    let rems = [0, 1, 2, 3].map(|i| rems[i].as_bytes().to_vec());
    let slices = [&rems[0][..], &rems[1][..], &rems[2][..], &rems[3][..]];
    let alg = realm.hash_algorithm();
    assert_eq!(check(&buf[..len], alg, slices), Ok(()));
    buf[len - 6..len].copy_from_slice(b"initrd");
    assert_eq!(
        check(&buf[..len], alg, slices),
        Err(CheckError::RemMismatch { index: 2 })
    );
}

/// A refused extension is not logged; a full log extends nothing.
#[test]
fn event_log_stays_consistent_on_errors() {
    use cca_abi::eventlog::{LogError, LogWriter};
    use realm_sdk::MeasureError;
    let mut s = sim();
    let mut realm = Realm::new(&mut s).unwrap();
    let mut buf = [0u8; 40];
    let mut log = LogWriter::new(&mut buf).unwrap();
    let before = realm.rems().unwrap();
    assert_eq!(
        realm.measure(&mut log, RemIndex::REM1, &[0; 64], "too big for the log"),
        Err(MeasureError::Log(LogError::Full))
    );
    assert_eq!(realm.rems().unwrap(), before, "nothing extended");
    assert!(log.is_empty());
}

// ---- Attestation: real tokens from the model, through the RSI protocol ----

/// The model's issuer makes a CCA token through INIT/CONTINUE that parses and verifies
/// fully (realm signature, binding, platform signature with the test anchor) and carries
/// the realm's challenge, RIM, REMs and RPV.
#[test]
fn model_tokens_verify() {
    use rmm_model::token::InsecureTestIssuer;
    for (alg, steps) in [(HashAlgorithm::Sha256, 0), (HashAlgorithm::Sha512, 2)] {
        let issuer = InsecureTestIssuer::new();
        let anchor = issuer.trust_anchor();
        let cfg = RealmConfig {
            hash_algorithm: alg,
            rim: alg.hash(&[b"rim"]),
            signing_steps: steps,
            ..config()
        };
        let mut s = Simulator::with_issuer(cfg, Box::new(issuer));
        let mut realm = Realm::new(&mut s).unwrap();
        realm.measurement_extend(RemIndex::REM1, b"app").unwrap();
        // A verifier's nonce, through the safe, domain-separated construction.
        let nonce: Vec<u8> = (0..32).map(|i| i as u8 ^ 0x5c).collect();
        let challenge = realm_sdk::Challenge::for_verifier(&nonce);
        assert_eq!(challenge.as_bytes(), &cca_abi::challenge::verifier(&nonce));
        let mut buf = Pages::<4096>::new();
        let token = realm
            .attestation_token(&challenge, &mut buf.0)
            .unwrap()
            .to_vec();
        let t = cca_token::Token::parse(&token).unwrap();
        let rim = realm.rim().unwrap();
        let policy = cca_token::Policy {
            challenge: Some(challenge.as_bytes()),
            rim: Some(rim.as_bytes()),
            personalization_value: Some(realm.personalization_value()),
        };
        t.verify(&[anchor], &policy).unwrap();
        let rems = realm.rems().unwrap();
        assert_eq!(
            t.realm_claims.rems().map(<[u8]>::to_vec),
            rems.map(|r| r.as_bytes().to_vec())
        );
        assert_eq!(t.realm_claims.hash_algorithm, alg.token_name());
    }
}

/// `count_recs` finds every REC the RMM knows, from 1 to 16, by AFFINITY_INFO alone: the
/// probes past the last REC are refused by the RMM without a host exit, and no REC starts.
#[test]
fn psci_count_recs_follows_the_realm() {
    for recs in [1, 2, 4, 16] {
        let mut s = Simulator::new(RealmConfig { recs, ..config() });
        assert_eq!(psci::count_recs(&mut s), recs, "{recs} RECs");
        // One exit per existing secondary REC; none for the refused MPIDR.
        assert_eq!(s.exits().len(), recs - 1);
        assert!(s.model().recs()[1..].iter().all(|r| !r.runnable()));
    }
}

/// The MPIDR layout matches the model's (and so TF-RMM's `mpidr_to_rec_idx`).
#[test]
fn psci_rec_mpidr_matches_the_rmm_layout() {
    for i in [0, 1, 15, 16, 17, 255, 4096, 1 << 20] {
        assert_eq!(psci::rec_mpidr(i), rmm_model::rec_mpidr(i), "REC {i}");
    }
    assert_eq!(psci::rec_mpidr(17), 0x101);
}
