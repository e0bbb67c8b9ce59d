//! Every typed RMI call against a fake conduit that records the registers it receives and
//! answers with scripted replies (cca-abi.md §4.1 registers, §4.2 status packing).

use std::collections::VecDeque;

use cca_abi::AbiVersion;
use cca_abi::rmi::{
    self, Granule, Ipa, RmiDataMeasureContent, RmiReply, RmiReturn, RmiRipas, RmiRttEntryState,
    RmiStatus, RttLevel,
};
use cca_abi::smccc::{Conduit, Regs};
use rmi_shim::link::V1;
use rmi_shim::rmi::{self as calls, PsciCompleteStatus};
use rmi_shim::version::{self, Negotiated, VersionError};
use rmi_shim::{Error, Malformed};

/// Records every call and answers from a script.
#[derive(Default)]
struct Fake {
    seen: Vec<Regs>,
    replies: VecDeque<Regs>,
}

impl Fake {
    /// A fake RMM that negotiated RMI 1.0 (these tests check the RMI 1.0 calls).
    fn answering(replies: &[Regs]) -> V1<Self> {
        V1::assume(Self {
            seen: Vec::new(),
            replies: replies.iter().copied().collect(),
        })
    }

    /// The one call made: FID and `x1..x5`; also checks `x6..x17` are zero.
    fn only_call(&self) -> (u64, [u64; 5]) {
        assert_eq!(self.seen.len(), 1, "expected exactly one SMC");
        let r = self.seen[0];
        assert_eq!(r[6..], [0; 12], "registers beyond x5 must be zero");
        (r[0], [r[1], r[2], r[3], r[4], r[5]])
    }
}

impl Conduit for Fake {
    fn call(&mut self, regs: Regs) -> Regs {
        self.seen.push(regs);
        self.replies
            .pop_front()
            .expect("the test scripted too few replies")
    }
}

fn ok(out: &[u64]) -> Regs {
    RmiReply::success(out).to_regs()
}

fn err(status: RmiStatus, index: u8) -> Regs {
    RmiReply::error(RmiReturn::new(status, index)).to_regs()
}

fn g(pa: u64) -> Granule {
    Granule::new(pa).unwrap()
}

fn ipa(v: u64) -> Ipa {
    Ipa::new(v).unwrap()
}

fn level(l: i8) -> RttLevel {
    RttLevel::new(l).unwrap()
}

const RD: u64 = 0x7820_0000;
const REC: u64 = 0x7820_4000;

/// The commands without results: encoding and success, against cca-abi.md §4.1.
#[test]
fn encodings_of_commands_without_results() {
    type Case = (fn(&mut V1<Fake>) -> Result<(), Error>, u32, [u64; 5]);
    let cases: [Case; 12] = [
        (
            |c| calls::granule_delegate(c, g(0x7820_1000)),
            rmi::RMI_GRANULE_DELEGATE,
            [0x7820_1000, 0, 0, 0, 0],
        ),
        (
            |c| calls::granule_undelegate(c, g(0x7820_1000)),
            rmi::RMI_GRANULE_UNDELEGATE,
            [0x7820_1000, 0, 0, 0, 0],
        ),
        (
            |c| {
                calls::data_create(
                    c,
                    g(RD),
                    g(0x7820_8000),
                    ipa(0x3000),
                    g(0x7200_3000),
                    RmiDataMeasureContent::MeasureContent,
                )
            },
            rmi::RMI_DATA_CREATE,
            [RD, 0x7820_8000, 0x3000, 0x7200_3000, 1],
        ),
        (
            |c| {
                calls::data_create(
                    c,
                    g(RD),
                    g(0x7820_9000),
                    ipa(0x1000),
                    g(0x7200_3000),
                    RmiDataMeasureContent::NoMeasureContent,
                )
            },
            rmi::RMI_DATA_CREATE,
            [RD, 0x7820_9000, 0x1000, 0x7200_3000, 0],
        ),
        (
            |c| calls::data_create_unknown(c, g(RD), g(0x7820_9000), ipa(0x5000)),
            rmi::RMI_DATA_CREATE_UNKNOWN,
            [RD, 0x7820_9000, 0x5000, 0, 0],
        ),
        (
            |c| calls::realm_activate(c, g(RD)),
            rmi::RMI_REALM_ACTIVATE,
            [RD, 0, 0, 0, 0],
        ),
        (
            |c| calls::realm_create(c, g(RD), g(0x7200_0000)),
            rmi::RMI_REALM_CREATE,
            [RD, 0x7200_0000, 0, 0, 0],
        ),
        (
            |c| calls::realm_destroy(c, g(RD)),
            rmi::RMI_REALM_DESTROY,
            [RD, 0, 0, 0, 0],
        ),
        (
            |c| calls::rec_create(c, g(RD), g(REC), g(0x7200_1000)),
            rmi::RMI_REC_CREATE,
            [RD, REC, 0x7200_1000, 0, 0],
        ),
        (
            |c| calls::rec_destroy(c, g(REC)),
            rmi::RMI_REC_DESTROY,
            [REC, 0, 0, 0, 0],
        ),
        (
            |c| calls::rec_enter(c, g(REC), g(0x7200_2000)),
            rmi::RMI_REC_ENTER,
            [REC, 0x7200_2000, 0, 0, 0],
        ),
        (
            |c| calls::rtt_create(c, g(RD), g(0x7820_2000), ipa(0), level(2)),
            rmi::RMI_RTT_CREATE,
            [RD, 0x7820_2000, 0, 2, 0],
        ),
    ];
    for (f, fid, args) in cases {
        let mut fake = Fake::answering(&[ok(&[])]);
        f(&mut fake).unwrap();
        assert_eq!(fake.only_call(), (u64::from(fid), args));
    }

    let mut fake = Fake::answering(&[ok(&[])]);
    calls::rtt_map_unprotected(&mut fake, g(RD), ipa(1 << 38), level(3), 0x9000_0000_04C4).unwrap();
    assert_eq!(
        fake.only_call(),
        (
            u64::from(rmi::RMI_RTT_MAP_UNPROTECTED),
            [RD, 1 << 38, 3, 0x9000_0000_04C4, 0]
        )
    );

    // PSCI_COMPLETE takes three arguments; DENIED is -3 sign-extended (cca-abi.md §4.1).
    for (status, raw) in [
        (PsciCompleteStatus::Success, 0),
        (PsciCompleteStatus::Denied, u64::MAX - 2),
    ] {
        let mut fake = Fake::answering(&[ok(&[])]);
        calls::psci_complete(&mut fake, g(REC), g(0x7820_5000), status).unwrap();
        assert_eq!(
            fake.only_call(),
            (
                u64::from(rmi::RMI_PSCI_COMPLETE),
                [REC, 0x7820_5000, raw, 0, 0]
            )
        );
    }
}

/// The commands with results decode them (cca-abi.md §4.1 outputs).
#[test]
fn commands_with_results() {
    let mut fake = Fake::answering(&[ok(&[0x7820_8000, 0x1000])]);
    let d = calls::data_destroy(&mut fake, g(RD), ipa(0)).unwrap();
    assert_eq!((d.data, d.top), (g(0x7820_8000), 0x1000));
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_DATA_DESTROY), [RD, 0, 0, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[0x7820_3000, 0x4000_0000])]);
    let d = calls::rtt_destroy(&mut fake, g(RD), ipa(0), level(3)).unwrap();
    assert_eq!((d.rtt, d.top), (g(0x7820_3000), 0x4000_0000));
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_RTT_DESTROY), [RD, 0, 3, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[3, 1, 0x7820_8000, 1])]);
    let e = calls::rtt_read_entry(&mut fake, g(RD), ipa(0x2000), level(3)).unwrap();
    assert_eq!(e.level, level(3));
    assert_eq!(e.state, RmiRttEntryState::Assigned);
    assert_eq!(e.desc, 0x7820_8000);
    assert_eq!(e.ripas, RmiRipas::Ram);
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_RTT_READ_ENTRY), [RD, 0x2000, 3, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[0x4000_0000])]);
    assert_eq!(
        calls::rtt_unmap_unprotected(&mut fake, g(RD), ipa(1 << 38), level(3)).unwrap(),
        0x4000_0000
    );
    assert_eq!(
        fake.only_call(),
        (
            u64::from(rmi::RMI_RTT_UNMAP_UNPROTECTED),
            [RD, 1 << 38, 3, 0, 0]
        )
    );

    let mut fake = Fake::answering(&[ok(&[0x28f_3431_7f34])]);
    let f = calls::features0(&mut fake).unwrap();
    assert_eq!((f.s2sz, f.max_recs_order), (52, 10));
    assert_eq!(fake.only_call(), (u64::from(rmi::RMI_FEATURES), [0; 5]));

    let mut fake = Fake::answering(&[ok(&[7])]);
    assert_eq!(calls::features(&mut fake, 1).unwrap(), 7);
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_FEATURES), [1, 0, 0, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[0x7820_3000])]);
    assert_eq!(
        calls::rtt_fold(&mut fake, g(RD), ipa(0x20_0000), level(3)).unwrap(),
        g(0x7820_3000)
    );
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_RTT_FOLD), [RD, 0x20_0000, 3, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[16])]);
    assert_eq!(calls::rec_aux_count(&mut fake, g(RD)).unwrap(), 16);
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_REC_AUX_COUNT), [RD, 0, 0, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[0x6000])]);
    assert_eq!(
        calls::rtt_init_ripas(&mut fake, g(RD), ipa(0), ipa(0x6000)).unwrap(),
        ipa(0x6000)
    );
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_RTT_INIT_RIPAS), [RD, 0, 0x6000, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[0x2000])]);
    assert_eq!(
        calls::rtt_set_ripas(&mut fake, g(RD), g(REC), ipa(0x1000), ipa(0x3000)).unwrap(),
        ipa(0x2000)
    );
    assert_eq!(
        fake.only_call(),
        (
            u64::from(rmi::RMI_RTT_SET_RIPAS),
            [RD, REC, 0x1000, 0x3000, 0]
        )
    );
}

/// Error replies: a refusal keeps status, index and outputs; SMC_UNKNOWN and malformed
/// replies are told apart (cca-abi.md §4.2, §1.1).
#[test]
fn error_replies() {
    // (ERROR_RTT, 2) from DATA_CREATE: the level-3 table is missing.
    let mut fake = Fake::answering(&[err(RmiStatus::ErrorRtt, 2)]);
    let e = calls::data_create(
        &mut fake,
        g(RD),
        g(0x7820_8000),
        ipa(0),
        g(0x7200_3000),
        RmiDataMeasureContent::MeasureContent,
    )
    .unwrap_err();
    let Error::Refused { fid, ret, .. } = e else {
        panic!("expected a refusal, got {e:?}")
    };
    assert_eq!(fid, rmi::RMI_DATA_CREATE);
    assert_eq!(ret.rtt_level(), Some(level(2)));
    assert_eq!(e.status(), Some(RmiStatus::ErrorRtt));

    // DATA_DESTROY reports the top of the non-live region even on ERROR_RTT.
    let mut reply = err(RmiStatus::ErrorRtt, 3);
    reply[2] = 0x20_0000;
    let mut fake = Fake::answering(&[reply]);
    let e = calls::data_destroy(&mut fake, g(RD), ipa(0x7000)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                out: [_, 0x20_0000, _, _],
                ..
            }
        ),
        "{e:?}"
    );

    // (ERROR_REALM, 1): REC_ENTER after SYSTEM_OFF.
    let mut fake = Fake::answering(&[err(RmiStatus::ErrorRealm, 1)]);
    let e = calls::rec_enter(&mut fake, g(REC), g(0x7200_2000)).unwrap_err();
    assert!(matches!(
        e,
        Error::Refused {
            ret: RmiReturn {
                status: RmiStatus::ErrorRealm,
                index: 1
            },
            ..
        }
    ));

    let mut fake = Fake::answering(&[err(RmiStatus::ErrorInput, 0)]);
    assert_eq!(
        calls::granule_delegate(&mut fake, g(0x1000))
            .unwrap_err()
            .status(),
        Some(RmiStatus::ErrorInput)
    );

    // SMC_UNKNOWN: no RMM behind the conduit.
    let mut fake = Fake::answering(&[[u64::MAX; 18]]);
    assert_eq!(
        calls::realm_activate(&mut fake, g(RD)).unwrap_err(),
        Error::NotImplemented {
            fid: rmi::RMI_REALM_ACTIVATE
        }
    );

    // Malformed status words: a status no revision defines, bits above 15, SUCCESS with an
    // index.
    for x0 in [0x09, 0x1_0000, 0x100] {
        let mut r = [0; 18];
        r[0] = x0;
        let mut fake = Fake::answering(&[r]);
        assert_eq!(
            calls::rec_destroy(&mut fake, g(REC)).unwrap_err(),
            Error::Malformed {
                fid: rmi::RMI_REC_DESTROY,
                problem: Malformed::Status(x0)
            }
        );
    }

    // Malformed results.
    type BadOutput = (fn(&mut V1<Fake>) -> Result<(), Error>, Regs, u8, u64);
    let bad_outputs: [BadOutput; 6] = [
        (
            |c| calls::rtt_fold(c, g(RD), ipa(0), level(3)).map(drop),
            ok(&[0x7820_3800]),
            1,
            0x7820_3800,
        ),
        (
            |c| calls::rec_aux_count(c, g(RD)).map(drop),
            ok(&[17]),
            1,
            17,
        ),
        (
            |c| calls::rtt_read_entry(c, g(RD), ipa(0), level(3)).map(drop),
            ok(&[4, 0, 0, 0]),
            1,
            4,
        ),
        (
            |c| calls::rtt_read_entry(c, g(RD), ipa(0), level(3)).map(drop),
            ok(&[3, 4, 0, 0]),
            2,
            4,
        ),
        (
            |c| calls::rtt_read_entry(c, g(RD), ipa(0), level(3)).map(drop),
            ok(&[3, 0, 0, 9]),
            4,
            9,
        ),
        (
            |c| calls::rtt_init_ripas(c, g(RD), ipa(0), ipa(0x6000)).map(drop),
            ok(&[0x7000]),
            1,
            0x7000,
        ),
    ];
    for (f, reply, register, value) in bad_outputs {
        let mut fake = Fake::answering(&[reply]);
        let e = f(&mut fake).unwrap_err();
        assert!(
            matches!(e, Error::Malformed { problem: Malformed::Output { register: r, value: v }, .. } if r == register && v == value),
            "{e:?}"
        );
    }
}

/// RMI_VERSION replies of cca-abi.md §4.1 and §9: 1.0-rel0, v0.8.0 with and without
/// `RMM_V1_1`, v0.9.0 (2.0 only).
#[test]
fn version_negotiation() {
    let v1_0 = AbiVersion::V1_0.encode();
    let v1_1 = AbiVersion::V1_1.encode();
    let v2_0 = AbiVersion::V2_0.encode();

    let mut fake = Fake::answering(&[ok(&[v1_0, v1_0])]);
    assert_eq!(
        version::negotiate(&mut fake).unwrap(),
        Negotiated {
            version: AbiVersion::V1_0,
            lower: AbiVersion::V1_0,
            higher: AbiVersion::V1_0
        }
    );
    assert_eq!(
        fake.only_call(),
        (u64::from(rmi::RMI_VERSION), [0x10000, 0, 0, 0, 0])
    );

    let mut fake = Fake::answering(&[ok(&[v1_0, v1_1])]);
    assert_eq!(
        version::negotiate(&mut fake).unwrap().higher,
        AbiVersion::V1_1
    );

    let mut fake = Fake::answering(&[err(RmiStatus::ErrorInput, 0)]);
    fake.replies[0][1] = v2_0;
    fake.replies[0][2] = v2_0;
    let e = version::negotiate(&mut fake).unwrap_err();
    assert_eq!(
        e,
        VersionError::Rmi2Only {
            lower: AbiVersion::V2_0,
            higher: AbiVersion::V2_0
        }
    );
    assert!(e.to_string().contains("RMI 2.0"), "{e}");

    // A refusal offering something other than 2.0.
    let mut reply = err(RmiStatus::ErrorInput, 0);
    reply[1] = AbiVersion::new(0, 9).encode();
    reply[2] = AbiVersion::new(0, 9).encode();
    let mut fake = Fake::answering(&[reply]);
    assert!(matches!(
        version::negotiate(&mut fake),
        Err(VersionError::Unsupported { .. })
    ));

    let mut fake = Fake::answering(&[[u64::MAX; 18]]);
    assert_eq!(
        version::negotiate(&mut fake),
        Err(VersionError::Call(Error::NotImplemented {
            fid: rmi::RMI_VERSION
        }))
    );

    // Success, but the revisions exclude 1.0 or do not decode: malformed.
    for out in [[v1_1, v1_1], [v1_0, 1 << 31]] {
        let mut fake = Fake::answering(&[ok(&out)]);
        assert!(
            matches!(
                version::negotiate(&mut fake),
                Err(VersionError::Call(Error::Malformed { .. }))
            ),
            "{out:x?}"
        );
    }
}
