//! RMI 2.0 calls (`rmi_shim::rmi2`) against fakes that play TF-RMM v0.9.0's replies
//! (digest rmi2.md §2–§7; TF-RMM `runtime/rmi/{version,granule,rtt,rec,sro}.c`), and against
//! hostile replies that must end in typed errors, never a panic or an endless loop.

use std::collections::{HashSet, VecDeque};

use cca_abi::AbiVersion;
use cca_abi::rmi::fids::{
    RMI_GRANULE_RANGE_DELEGATE, RMI_GRANULE_RANGE_UNDELEGATE, RMI_OP_CONTINUE, RMI_OP_MEM_DONATE,
    RMI_OP_MEM_RECLAIM, RMI_RMM_ACTIVATE, RMI_RMM_CONFIG_GET, RMI_RMM_CONFIG_SET, RMI_RTT_DATA_MAP,
    RMI_RTT_DATA_MAP_INIT, RMI_RTT_DATA_UNMAP,
};
use cca_abi::rmi::{
    ADDR_LIST_ENTRIES, Granule, Ipa, RMI_FEATURES, RMI_REC_CREATE, RMI_REC_DESTROY, RMI_VERSION,
    RmiAddrRangeDesc, RmiDataMeasureContent, RmiReply, RmiReturn, RmiStatus,
};
use cca_abi::smccc::{Conduit, Regs};
use rmi_shim::link::{RmiV2, V2};
use rmi_shim::rmi2::{self, AddrList, MAX_OP_CALLS, RangeError};
use rmi_shim::version::VersionError;
use rmi_shim::{Error, Malformed};

const G: u64 = 0x1000;
const RD: u64 = 0x8800_0000;
const REC: u64 = 0x8800_1000;
const PARAMS: u64 = 0x8700_0000;
/// Where the fake's auxiliary granules start: 64 delegated granules from here.
const POOL: u64 = 0x8900_0000;

fn g(pa: u64) -> Granule {
    Granule::new(pa).unwrap()
}

fn ipa(v: u64) -> Ipa {
    Ipa::new(v).unwrap()
}

fn regs(x: &[u64]) -> Regs {
    let mut r = [0; 18];
    r[..x.len()].copy_from_slice(x);
    r
}

fn ok(out: &[u64]) -> Regs {
    RmiReply::success(out).to_regs()
}

fn err(status: RmiStatus, index: u8) -> Regs {
    RmiReply::error(RmiReturn::new(status, index)).to_regs()
}

/// Reads entry `i` of the address list the host passed at `pa` (identity-mapped).
fn read_entry(pa: u64, i: usize) -> u64 {
    let p = std::ptr::with_exposed_provenance::<u64>(pa as usize + 8 * i);
    // SAFETY: `pa` is the address of the host's `[u64; 512]` list, exposed by
    // `AddrList::identity` just before this call; `i` is below the capacity the host passed.
    unsafe { p.read() }
}

/// Writes entry `i` of the address list at `pa` (identity-mapped), as the RMM does.
fn write_entry(pa: u64, i: usize, value: u64) {
    let p = std::ptr::with_exposed_provenance_mut::<u64>(pa as usize + 8 * i);
    // SAFETY: as in `read_entry`; the host does not touch the list during the call.
    unsafe { p.write(value) }
}

/// Records every call and answers from a script; after the script, answers `then`.
struct Scripted {
    seen: Vec<Regs>,
    replies: VecDeque<Regs>,
    then: Option<Regs>,
}

impl Scripted {
    fn new(replies: &[Regs]) -> Self {
        Self {
            seen: Vec::new(),
            replies: replies.iter().copied().collect(),
            then: None,
        }
    }

    fn forever(mut self, reply: Regs) -> Self {
        self.then = Some(reply);
        self
    }

    fn fids(&self) -> Vec<u32> {
        self.seen.iter().map(|r| r[0] as u32).collect()
    }
}

impl Conduit for Scripted {
    fn call(&mut self, regs: Regs) -> Regs {
        self.seen.push(regs);
        self.replies
            .pop_front()
            .or(self.then)
            .expect("the test scripted too few replies")
    }
}

/// TF-RMM v0.9.0's REC stateful operations (`rec.c`, `sro.c`), reduced to what the host
/// sees: one operation context with handle 7, 16 auxiliary granules, the expected-next-call
/// check, and reclaim lists that merge adjacent granules (`addr_list_add_block`).
struct V9 {
    seen: Vec<Regs>,
    delegated: HashSet<u64>,
    /// BUSY answers left for the next initiating command.
    busy: u32,
    /// Most granules one OP_MEM_DONATE consumes (TF-RMM: all it is given).
    take_per_donate: usize,
    /// Most granules one OP_MEM_RECLAIM returns (TF-RMM: the list capacity).
    give_per_reclaim: usize,
    /// The status OP_CONTINUE reports after the donation, e.g. ERROR_REALM.
    fail_continue: Option<u64>,
    expected: u32,
    donated: Vec<u64>,
    rec_aux: Vec<u64>,
    to_reclaim: Vec<u64>,
    /// The result OP_CONTINUE reports once everything was reclaimed.
    after_reclaim: Option<u64>,
    /// The entries of every OP_MEM_DONATE list, as read.
    donated_lists: Vec<Vec<u64>>,
}

const HANDLE: u64 = 7;
const AUX: usize = 16;

impl V9 {
    fn new() -> Self {
        Self {
            seen: Vec::new(),
            delegated: (0..64).map(|i| POOL + i * G).chain([REC]).collect(),
            busy: 0,
            take_per_donate: usize::MAX,
            give_per_reclaim: usize::MAX,
            fail_continue: None,
            expected: 0,
            donated: Vec::new(),
            rec_aux: Vec::new(),
            to_reclaim: Vec::new(),
            after_reclaim: None,
            donated_lists: Vec::new(),
        }
    }

    fn fids(&self) -> Vec<u32> {
        self.seen.iter().map(|r| r[0] as u32).collect()
    }

    fn start_reclaim(&mut self, granules: Vec<u64>, result: u64) -> Regs {
        self.to_reclaim = granules;
        self.after_reclaim = Some(result);
        self.expected = RMI_OP_MEM_RECLAIM;
        regs(&[0x20D, 0, 0])
    }

    fn donate(&mut self, list: u64, count: u64) -> Regs {
        let count = count.min(512 - (list % G) / 8) as usize;
        self.donated_lists
            .push((0..count).map(|i| read_entry(list, i)).collect());
        let mut consumed = 0u64;
        'list: for i in 0..count {
            let d = RmiAddrRangeDesc::from_raw(read_entry(list, i)).unwrap();
            for k in 0..d.granules() {
                if consumed as usize == self.take_per_donate || self.donated.len() == AUX {
                    break 'list;
                }
                let pa = d.pa + k * G;
                if !self.delegated.remove(&pa) {
                    if consumed == 0 {
                        let back = std::mem::take(&mut self.donated);
                        return self.start_reclaim(back, RmiStatus::ErrorInput.to_raw());
                    }
                    break 'list;
                }
                self.donated.push(pa);
                consumed += 1;
            }
        }
        let pending = (AUX - self.donated.len()) as u64;
        if pending > 0 {
            regs(&[0x10D, consumed, pending << 2])
        } else {
            self.expected = RMI_OP_CONTINUE;
            regs(&[0x00D, consumed, 0])
        }
    }

    fn reclaim(&mut self, list: u64, capacity: u64) -> Regs {
        let capacity = capacity.min(512 - (list % G) / 8) as usize;
        let n = self
            .to_reclaim
            .len()
            .min(capacity)
            .min(self.give_per_reclaim);
        let mut entries: Vec<RmiAddrRangeDesc> = Vec::new();
        for pa in self.to_reclaim.drain(..n) {
            self.delegated.insert(pa);
            let merged = entries.iter_mut().any(|e| {
                if pa + G == e.pa {
                    e.pa = pa;
                } else if pa != e.top() {
                    return false;
                }
                e.count += 1;
                true
            });
            if !merged {
                entries.push(RmiAddrRangeDesc::granule(g(pa)));
            }
        }
        for (i, e) in entries.iter().enumerate() {
            write_entry(list, i, e.to_raw());
        }
        if self.to_reclaim.is_empty() {
            self.expected = RMI_OP_CONTINUE;
            regs(&[0x00D, entries.len() as u64])
        } else {
            regs(&[0x20D, entries.len() as u64])
        }
    }
}

impl Conduit for V9 {
    fn call(&mut self, r: Regs) -> Regs {
        self.seen.push(r);
        let fid = r[0] as u32;
        let initiating = fid == RMI_REC_CREATE || fid == RMI_REC_DESTROY;
        if initiating && self.busy > 0 {
            self.busy -= 1;
            return err(RmiStatus::Busy, 0);
        }
        if !initiating && (r[1] != HANDLE || fid != self.expected) {
            // `sro.c`: an unknown handle or the wrong OP_* call.
            return err(RmiStatus::ErrorInput, 0);
        }
        match fid {
            RMI_REC_CREATE => {
                if !self.delegated.remove(&r[2]) {
                    return err(RmiStatus::ErrorInput, 0);
                }
                self.expected = RMI_OP_MEM_DONATE;
                regs(&[0x10D, HANDLE, (AUX as u64) << 2])
            }
            RMI_REC_DESTROY => {
                let aux = std::mem::take(&mut self.rec_aux);
                let mut reply = self.start_reclaim(aux, 0);
                reply[1] = HANDLE;
                reply
            }
            RMI_OP_MEM_DONATE => self.donate(r[2], r[3]),
            RMI_OP_MEM_RECLAIM => self.reclaim(r[2], r[3]),
            RMI_OP_CONTINUE => {
                self.expected = 0;
                if let Some(result) = self.after_reclaim.take() {
                    self.delegated.insert(REC);
                    return regs(&[result]);
                }
                if let Some(status) = self.fail_continue {
                    let back = std::mem::take(&mut self.donated);
                    return self.start_reclaim(back, status);
                }
                self.rec_aux = std::mem::take(&mut self.donated);
                ok(&[])
            }
            _ => err(RmiStatus::SmcUnknown, 0),
        }
    }
}

/// A supply of `n` consecutive delegated granules from [`POOL`].
fn supply(n: u64) -> impl FnMut() -> Option<Granule> {
    let mut next = 0;
    move || {
        (next < n).then(|| {
            next += 1;
            g(POOL + (next - 1) * G)
        })
    }
}

fn pool(range: std::ops::Range<u64>) -> Vec<Granule> {
    range.map(|i| g(POOL + i * G)).collect()
}

fn create(rmm: &mut V2<V9>, granules: u64) -> Result<rmi2::RecCreated, rmi2::SroError> {
    let mut page = Box::new([0u64; ADDR_LIST_ENTRIES]);
    let mut list = AddrList::identity(&mut page);
    rmi2::rec_create(
        rmm,
        g(RD),
        g(REC),
        g(PARAMS),
        &mut supply(granules),
        &mut list,
    )
}

fn destroy<C: RmiV2>(rmm: &mut C) -> Result<Vec<Granule>, rmi2::SroError> {
    let mut page = Box::new([0u64; ADDR_LIST_ENTRIES]);
    let mut list = AddrList::identity(&mut page);
    rmi2::rec_destroy(rmm, g(REC), &mut list)
}

/// Digest §6.5: REC_CREATE → 0x10D with 16 granules wanted → one OP_MEM_DONATE of 16
/// entries `P | 0x4` → 0x00D → OP_CONTINUE → SUCCESS.
#[test]
fn rec_create_in_one_donation() {
    let mut rmm = V2::assume(V9::new());
    let created = create(&mut rmm, 64).unwrap();
    assert_eq!(created.aux, pool(0..16));
    assert!(created.unused.is_empty());
    assert_eq!(
        rmm.fids(),
        [RMI_REC_CREATE, RMI_OP_MEM_DONATE, RMI_OP_CONTINUE]
    );
    assert_eq!(&rmm.seen[0][1..4], &[RD, REC, PARAMS]);
    let donate = rmm.seen[1];
    assert_eq!((donate[1], donate[3]), (HANDLE, 16));
    let expected: Vec<u64> = (0..16).map(|i| (POOL + i * G) | 0x4).collect();
    assert_eq!(
        rmm.donated_lists,
        [expected],
        "one delegated 4 KiB granule per entry"
    );
    assert_eq!(rmm.seen[2][1..3], [HANDLE, 0]);
}

/// The RMM may take fewer granules than offered: the rest are offered again until it has 16.
#[test]
fn rec_create_in_several_donations() {
    let mut rmm = V2::assume(V9::new());
    rmm.take_per_donate = 5;
    let created = create(&mut rmm, 64).unwrap();
    assert_eq!(created.aux, pool(0..16));
    assert!(
        created.unused.len() <= 16 - 15,
        "at most the last offer is left"
    );
    let donations: Vec<u64> = rmm
        .seen
        .iter()
        .filter(|r| r[0] as u32 == RMI_OP_MEM_DONATE)
        .map(|r| r[3])
        .collect();
    assert_eq!(donations, [16, 11, 6, 1]);
    assert_eq!(created.unused, Vec::<Granule>::new());
}

/// Digest §6.3: BUSY from the initiating command is retried; too many BUSY is Stalled.
#[test]
fn rec_create_busy() {
    let mut rmm = V2::assume(V9::new());
    rmm.busy = 3;
    create(&mut rmm, 16).unwrap();
    assert_eq!(rmm.fids()[..4], [RMI_REC_CREATE; 4]);

    let mut rmm = V2::assume(V9::new());
    rmm.busy = u32::MAX;
    let e = create(&mut rmm, 16).unwrap_err();
    assert!(
        matches!(
            e.error,
            Error::Stalled {
                fid: RMI_REC_CREATE,
                ..
            }
        ),
        "{e}"
    );
    assert!(rmm.seen.len() <= MAX_OP_CALLS as usize);
}

/// BLOCKED and a REC that is not DELEGATED are refusals of REC_CREATE itself.
#[test]
fn rec_create_refused_at_once() {
    let mut rmm = V2::assume(Scripted::new(&[err(RmiStatus::Blocked, 0)]));
    let mut page = [0u64; ADDR_LIST_ENTRIES];
    let e = rmi2::rec_create(
        &mut rmm,
        g(RD),
        g(REC),
        g(PARAMS),
        &mut supply(16),
        &mut AddrList::identity(&mut page),
    )
    .unwrap_err();
    assert_eq!(e.error.status(), Some(RmiStatus::Blocked));
    assert_eq!(e.error.fid(), RMI_REC_CREATE);
    assert!(e.returned.is_empty());

    let mut rmm = V2::assume(V9::new());
    rmm.delegated.remove(&REC);
    let e = create(&mut rmm, 16).unwrap_err();
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorInput));
}

/// Digest §6.5 step 4: OP_CONTINUE fails (realm not NEW) → the RMM asks for the granules
/// back → OP_MEM_RECLAIM → OP_CONTINUE reports the original error; the host has all 16 back.
#[test]
fn rec_create_failure_reclaims() {
    let mut rmm = V2::assume(V9::new());
    rmm.fail_continue = Some(RmiStatus::ErrorRealm.to_raw());
    rmm.give_per_reclaim = 6;
    let e = create(&mut rmm, 64).unwrap_err();
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorRealm));
    assert_eq!(e.error.fid(), RMI_OP_CONTINUE);
    let mut back = e.returned.clone();
    back.sort();
    assert_eq!(back, pool(0..16));
    assert_eq!(
        rmm.fids(),
        [
            RMI_REC_CREATE,
            RMI_OP_MEM_DONATE,
            RMI_OP_CONTINUE,
            RMI_OP_MEM_RECLAIM,
            RMI_OP_MEM_RECLAIM,
            RMI_OP_MEM_RECLAIM,
            RMI_OP_CONTINUE
        ]
    );
    assert!(rmm.delegated.contains(&REC));
}

/// The supply runs dry after 10 granules: the operation is ended through the RMM's failure
/// path (an NS granule offered first) and reported as OutOfGranules with the 10 back.
#[test]
fn rec_create_out_of_granules() {
    let mut rmm = V2::assume(V9::new());
    let e = create(&mut rmm, 10).unwrap_err();
    assert_eq!(
        e.error,
        Error::OutOfGranules {
            fid: RMI_REC_CREATE
        }
    );
    let mut back = e.returned.clone();
    back.sort();
    assert_eq!(back, pool(0..10));
    let last_donate = rmm
        .seen
        .iter()
        .rfind(|r| r[0] as u32 == RMI_OP_MEM_DONATE)
        .unwrap();
    assert_eq!(last_donate[3], 1);
    assert_eq!(*rmm.fids().last().unwrap(), RMI_OP_CONTINUE);
    assert!(e.to_string().contains("no granule left"), "{e}");
}

/// `sro.c`: a refused OP_* answers ERROR_INPUT and leaves the operation as it was; the
/// driver asks again ([`rmi2::OP_INPUT_RETRIES`] times), then reports it as a refusal of
/// that call and gives back the granules the RMM did not take.
#[test]
fn rec_create_wrong_op() {
    let mut rmm = V2::assume(Scripted::new(&[
        regs(&[0x10D, 3, 0x40]),
        err(RmiStatus::ErrorInput, 0),
        err(RmiStatus::ErrorInput, 0),
        err(RmiStatus::ErrorInput, 0),
    ]));
    let mut page = [0u64; ADDR_LIST_ENTRIES];
    let e = rmi2::rec_create(
        &mut rmm,
        g(RD),
        g(REC),
        g(PARAMS),
        &mut supply(64),
        &mut AddrList::identity(&mut page),
    )
    .unwrap_err();
    assert_eq!(e.error.fid(), RMI_OP_MEM_DONATE);
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorInput));
    assert_eq!(e.returned, pool(0..16));
    assert_eq!(rmm.seen[1][1], 3, "the handle of REC_CREATE's x1");
    assert_eq!(rmm.seen.len(), 2 + rmi2::OP_INPUT_RETRIES as usize);
    assert_eq!(
        e.error.to_string(),
        "RMI_OP_MEM_DONATE (0xc4000208) refused: RMI_ERROR_INPUT"
    );
}

/// A refusal that does not repeat (a transient one) costs one more call, and the operation
/// goes on.
#[test]
fn rec_create_survives_one_refused_donation() {
    let mut rmm = V2::assume(Scripted::new(&[
        regs(&[0x10D, 3, 0x40]),
        err(RmiStatus::ErrorInput, 0),
        regs(&[0x00D, 16, 0]),
        regs(&[0, 0, 0]),
    ]));
    let mut page = [0u64; ADDR_LIST_ENTRIES];
    let created = rmi2::rec_create(
        &mut rmm,
        g(RD),
        g(REC),
        g(PARAMS),
        &mut supply(64),
        &mut AddrList::identity(&mut page),
    )
    .unwrap();
    assert_eq!(created.aux, pool(0..16));
    assert_eq!(
        rmm.seen.iter().map(|r| r[0] as u32).collect::<Vec<_>>(),
        [
            RMI_REC_CREATE,
            RMI_OP_MEM_DONATE,
            RMI_OP_MEM_DONATE,
            RMI_OP_CONTINUE
        ]
    );
}

/// Digest §6.6: REC_DESTROY → 0x20D → OP_MEM_RECLAIM (entries merge adjacent granules) →
/// 0x00D → OP_CONTINUE → SUCCESS; every auxiliary granule comes back.
#[test]
fn rec_destroy_with_merged_entries() {
    let mut rmm = V2::assume(V9::new());
    create(&mut rmm, 16).unwrap();
    rmm.seen.clear();
    let mut page = Box::new([0u64; ADDR_LIST_ENTRIES]);
    let back = rmi2::rec_destroy(&mut rmm, g(REC), &mut AddrList::identity(&mut page)).unwrap();
    assert_eq!(back, pool(0..16));
    assert_eq!(page[0], POOL | 0x40, "one entry for 16 contiguous granules");
    assert_eq!(
        rmm.fids(),
        [RMI_REC_DESTROY, RMI_OP_MEM_RECLAIM, RMI_OP_CONTINUE]
    );

    // A list that starts 500 entries into its granule (12 fit, so two reclaims), and aux
    // granules in reverse order (merged at the front of an entry).
    #[repr(C, align(4096))]
    struct TwoPages([u64; 1024]);
    let mut rmm = V2::assume(V9::new());
    rmm.rec_aux = (0..16).rev().map(|i| POOL + i * G).collect();
    let mut pages = Box::new(TwoPages([0; 1024]));
    let window: &mut [u64; ADDR_LIST_ENTRIES] = (&mut pages.0[500..1012]).try_into().unwrap();
    let mut list = AddrList::identity(window);
    assert_eq!(list.capacity(), 12);
    let mut back = rmi2::rec_destroy(&mut rmm, g(REC), &mut list).unwrap();
    back.sort();
    assert_eq!(back, pool(0..16));
    let reclaims: Vec<u64> = rmm
        .seen
        .iter()
        .filter(|r| r[0] as u32 == RMI_OP_MEM_RECLAIM)
        .map(|r| r[3])
        .collect();
    assert_eq!(reclaims, [12, 12]);
    assert_eq!(
        pages.0[500],
        POOL | (4 << 2),
        "the last reclaim: granules 3, 2, 1, 0 merged backwards into one entry"
    );
    assert_eq!(pages.0[501], 0);
}

/// An RMM that never finishes: the driver stops after MAX_OP_CALLS calls with Stalled.
#[test]
fn no_progress_is_stalled() {
    // Donations that are never consumed.
    let mut rmm =
        V2::assume(Scripted::new(&[regs(&[0x10D, 0, 0x40])]).forever(regs(&[0x10D, 0, 0x40])));
    let mut page = [0u64; ADDR_LIST_ENTRIES];
    let e = rmi2::rec_create(
        &mut rmm,
        g(RD),
        g(REC),
        g(PARAMS),
        &mut supply(64),
        &mut AddrList::identity(&mut page),
    )
    .unwrap_err();
    assert!(matches!(e.error, Error::Stalled { .. }), "{e}");
    assert_eq!(rmm.seen.len(), MAX_OP_CALLS as usize);
    assert_eq!(e.returned, pool(0..16));

    // OP_CONTINUE answering "continue" forever, and reclaims returning nothing forever.
    for forever in [regs(&[0x00D]), regs(&[0x20D, 0])] {
        let mut rmm = V2::assume(Scripted::new(&[regs(&[0x20D, 1])]).forever(forever));
        let e = destroy(&mut rmm).unwrap_err();
        assert!(matches!(e.error, Error::Stalled { .. }), "{e}");
        assert_eq!(rmm.seen.len(), MAX_OP_CALLS as usize);
    }
}

/// Replies no TF-RMM v0.9.0 can give are Malformed.
#[test]
fn hostile_sro_replies() {
    let output = |r: u8| move |e: &Error| matches!(e, Error::Malformed { problem: Malformed::Output { register, .. }, .. } if *register == r);
    type Check = Box<dyn Fn(&Error) -> bool>;
    let create_cases: Vec<(&str, Vec<Regs>, Check)> = vec![
        (
            "reserved request bits",
            vec![regs(&[0x10D, 0, 1 << 20])],
            Box::new(output(2)),
        ),
        (
            "contiguous request",
            vec![regs(&[0x10D, 0, 0x40 | 1 << 16])],
            Box::new(output(2)),
        ),
        (
            "request for nothing",
            vec![regs(&[0x10D, 0, 0])],
            Box::new(output(2)),
        ),
        (
            "request beyond the bound",
            vec![regs(&[0x10D, 0, 0x3FFF << 2])],
            Box::new(output(2)),
        ),
        (
            "more consumed than offered",
            vec![regs(&[0x10D, 0, 0x40]), regs(&[0x10D, 17, 0x40])],
            Box::new(output(1)),
        ),
        (
            "reserved memory request 3",
            vec![regs(&[0x30D, 0, 0])],
            Box::new(|e: &Error| {
                matches!(
                    e,
                    Error::Malformed {
                        problem: Malformed::Status(0x30D),
                        ..
                    }
                )
            }),
        ),
        (
            "SUCCESS from OP_MEM_DONATE",
            vec![regs(&[0x10D, 0, 0x40]), ok(&[])],
            Box::new(
                |e: &Error| matches!(e, Error::Malformed { fid, problem: Malformed::Status(0) } if *fid == RMI_OP_MEM_DONATE),
            ),
        ),
        (
            "reclaim of a granule never donated",
            vec![regs(&[0x20D, 0, 0]), regs(&[0x00D, 1])],
            Box::new(|e: &Error| {
                matches!(
                    e,
                    Error::Malformed {
                        problem: Malformed::AddrListEntry { index: 0, .. },
                        ..
                    }
                )
            }),
        ),
        (
            "undefined status",
            vec![regs(&[0x10])],
            Box::new(|e: &Error| {
                matches!(
                    e,
                    Error::Malformed {
                        problem: Malformed::Status(0x10),
                        ..
                    }
                )
            }),
        ),
    ];
    for (name, script, check) in create_cases {
        let mut rmm = V2::assume(Scripted::new(&script));
        let mut page = [0u64; ADDR_LIST_ENTRIES];
        // The reclaim case reads whatever is in the list: put a granule the op never held.
        page[0] = RmiAddrRangeDesc::granule(g(0x7000_0000)).to_raw();
        let e = rmi2::rec_create(
            &mut rmm,
            g(RD),
            g(REC),
            g(PARAMS),
            &mut supply(64),
            &mut AddrList::identity(&mut page),
        )
        .unwrap_err();
        assert!(check(&e.error), "{name}: {}", e.error);
    }

    // Reclaim lists: more entries than the capacity, reserved bits, an undelegated range,
    // an entry of 1 GiB (past the bound), a granule twice.
    let entry_cases: [(u64, u64, u64); 5] = [
        (513, 0, 1),
        (1, POOL | 0x4 | 1 << 55, 0),
        (1, POOL | 0x4 | 1 << 63, 0),
        (1, 0x4000_0000 | 0x4 | 0b10, 0),
        (2, POOL | 0x4, POOL | 0x4),
    ];
    for (n, e0, e1) in entry_cases {
        let mut rmm = V2::assume(Scripted::new(&[regs(&[0x20D, HANDLE]), regs(&[0x00D, n])]));
        let mut page = Box::new([0u64; ADDR_LIST_ENTRIES]);
        page[0] = e0;
        page[1] = e1;
        let e =
            rmi2::rec_destroy(&mut rmm, g(REC), &mut AddrList::identity(&mut page)).unwrap_err();
        assert!(
            matches!(
                e.error,
                Error::Malformed {
                    fid: RMI_OP_MEM_RECLAIM,
                    ..
                }
            ),
            "{n} {e0:#x}: {}",
            e.error
        );
    }

    // Destruction never asks for memory.
    let mut rmm = V2::assume(Scripted::new(&[regs(&[0x10D, 1, 0x40])]));
    assert!(matches!(
        destroy(&mut rmm).unwrap_err().error,
        Error::Malformed { .. }
    ));
}

/// Pseudo-random replies to every call: the drivers end with an error or a result, within
/// their bound, and never panic.
#[test]
fn random_replies_never_panic() {
    struct Chaos(u64, usize);
    impl Conduit for Chaos {
        fn call(&mut self, _: Regs) -> Regs {
            self.1 += 1;
            let mut next = || {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            };
            let statuses = [0, 1, 0xA, 0xE, 0x00D, 0x10D, 0x20D, 0x30D, 0x40D, u64::MAX];
            let x0 = statuses[(next() % statuses.len() as u64) as usize];
            let small = |v: u64| if v.is_multiple_of(2) { v % 20 } else { v };
            regs(&[x0, small(next()), small(next()) & 0xFFFF_FFFF, next()])
        }
    }
    for seed in 1..400u64 {
        let mut rmm = V2::assume(Chaos(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 0));
        let mut page = Box::new([0u64; ADDR_LIST_ENTRIES]);
        let _ = rmi2::rec_create(
            &mut rmm,
            g(RD),
            g(REC),
            g(PARAMS),
            &mut supply(2000),
            &mut AddrList::identity(&mut page),
        );
        let _ = rmi2::rec_destroy(&mut rmm, g(REC), &mut AddrList::identity(&mut page));
        assert!(rmm.1 <= 2 * MAX_OP_CALLS as usize);
    }
}

/// Digest §2: 2.0 accepted; a 1.0 RMM refuses with what it offers; impossible offers.
#[test]
fn version_2_0() {
    let mut rmm = V2::assume(Scripted::new(&[ok(&[0x20000, 0x20000])]));
    let v = rmi2::version(&mut rmm).unwrap();
    assert_eq!((v.version, v.higher), (AbiVersion::V2_0, AbiVersion::V2_0));
    assert_eq!(&rmm.seen[0][..2], &[u64::from(RMI_VERSION), 0x20000]);

    let mut rmm = V2::assume(Scripted::new(&[regs(&[1, 0x10000, 0x10000])]));
    let e = rmi2::version(&mut rmm).unwrap_err();
    assert_eq!(
        e,
        VersionError::NotRmi2 {
            lower: AbiVersion::V1_0,
            higher: AbiVersion::V1_0
        }
    );
    assert_eq!(
        e.to_string(),
        "the RMM refused RMI 2.0 and offers RMI 1.0..1.0"
    );

    for bad in [
        ok(&[0x20000, 0x10000]),
        ok(&[0x20000, 1 << 40]),
        regs(&[0x0B]),
    ] {
        let mut rmm = V2::assume(Scripted::new(&[bad]));
        assert!(matches!(
            rmi2::version(&mut rmm),
            Err(VersionError::Call(_))
        ));
    }
}

/// Digest §3, §7: the boot-step commands' registers and the typed feature registers.
#[test]
fn boot_steps_and_features() {
    let mut rmm = V2::assume(Scripted::new(&[
        ok(&[]),
        ok(&[]),
        ok(&[]),
        err(RmiStatus::ErrorGlobal, 0),
    ]));
    rmi2::rmm_config_get(&mut rmm, g(0x8700_1000)).unwrap();
    rmi2::rmm_config_set(&mut rmm, g(0x8700_1000)).unwrap();
    rmi2::rmm_activate(&mut rmm).unwrap();
    let e = rmi2::rmm_activate(&mut rmm).unwrap_err();
    assert_eq!(e.status(), Some(RmiStatus::ErrorGlobal));
    assert_eq!(
        e.to_string(),
        "RMI_RMM_ACTIVATE (0xc4000202) refused: RMI_ERROR_GLOBAL"
    );
    assert_eq!(
        rmm.fids(),
        [
            RMI_RMM_CONFIG_GET,
            RMI_RMM_CONFIG_SET,
            RMI_RMM_ACTIVATE,
            RMI_RMM_ACTIVATE
        ]
    );
    assert_eq!(rmm.seen[0][1], 0x8700_1000);

    let r1 = 1 | 1 << 3 | 1 << 5 | 10 << 6 | 5 << 14;
    let mut rmm = V2::assume(Scripted::new(&[
        ok(&[39 | 1 << 14]),
        ok(&[r1]),
        ok(&[0]),
        ok(&[3]),
        ok(&[7]),
    ]));
    assert_eq!(rmi2::features0(&mut rmm).unwrap().s2sz, 39);
    assert_eq!(rmi2::features1(&mut rmm).unwrap().max_recs(), 1023);
    assert!(!rmi2::features2(&mut rmm).unwrap().da);
    assert_eq!(rmi2::features3(&mut rmm).unwrap().max_num_aux_planes, 3);
    assert_eq!(rmi2::features4(&mut rmm).unwrap().mec_count, 7);
    let indices: Vec<u64> = rmm.seen.iter().map(|r| r[1]).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4]);
    assert!(rmm.fids().iter().all(|f| *f == RMI_FEATURES));
}

/// A fake range command as TF-RMM v0.9.0 answers it: one granule per call, `x1 = base + 4K`;
/// fails at `fail_at` with ERROR_INPUT and `x1 = base`.
struct OnePerCall {
    seen: Vec<Regs>,
    fail_at: u64,
}

impl Conduit for OnePerCall {
    fn call(&mut self, r: Regs) -> Regs {
        self.seen.push(r);
        let base = if r[0] as u32 == RMI_RTT_DATA_MAP {
            r[2]
        } else {
            r[1]
        };
        if base == self.fail_at {
            return regs(&[1, base]);
        }
        ok(&[base + G])
    }
}

/// Digest §4.1: the host loops RANGE_(UN)DELEGATE with base = x1 until top, and learns how
/// far it got when one fails.
#[test]
fn range_delegation_loops() {
    let mut rmm = V2::assume(OnePerCall {
        seen: Vec::new(),
        fail_at: 0,
    });
    rmi2::granule_range_delegate(&mut rmm, g(POOL), g(POOL + 16 * G)).unwrap();
    assert_eq!(rmm.seen.len(), 16);
    assert!(
        rmm.seen
            .iter()
            .all(|r| r[0] as u32 == RMI_GRANULE_RANGE_DELEGATE)
    );
    assert!(rmm.seen.iter().all(|r| r[2] == POOL + 16 * G));
    assert_eq!(rmm.seen[15][1], POOL + 15 * G);

    let mut rmm = V2::assume(OnePerCall {
        seen: Vec::new(),
        fail_at: POOL + 5 * G,
    });
    let e: RangeError =
        rmi2::granule_range_undelegate(&mut rmm, g(POOL), g(POOL + 16 * G)).unwrap_err();
    assert_eq!(e.reached, POOL + 5 * G);
    assert_eq!(e.error.fid(), RMI_GRANULE_RANGE_UNDELEGATE);
    assert_eq!(e.error.status(), Some(RmiStatus::ErrorInput));

    // Empty range: no call. A reply that does not advance, or jumps past top: Malformed.
    let mut rmm = V2::assume(Scripted::new(&[]));
    rmi2::granule_range_delegate(&mut rmm, g(POOL), g(POOL)).unwrap();
    for x1 in [POOL, POOL + 17 * G, POOL + 0x800] {
        let mut rmm = V2::assume(Scripted::new(&[ok(&[x1])]));
        let e = rmi2::granule_range_delegate(&mut rmm, g(POOL), g(POOL + 16 * G)).unwrap_err();
        assert!(matches!(e.error, Error::Malformed { .. }), "{x1:#x}");
        assert_eq!(e.reached, POOL);
    }
    // BUSY is retried, but not forever.
    let mut rmm = V2::assume(Scripted::new(&[err(RmiStatus::Busy, 0), ok(&[POOL + G])]));
    rmi2::granule_range_delegate(&mut rmm, g(POOL), g(POOL + G)).unwrap();
    let mut rmm = V2::assume(Scripted::new(&[]).forever(err(RmiStatus::Busy, 0)));
    let e = rmi2::granule_range_delegate(&mut rmm, g(POOL), g(POOL + G)).unwrap_err();
    assert!(matches!(e.error, Error::Stalled { .. }));
}

/// Digest §5.1–§5.2: DATA_MAP_INIT's registers; DATA_MAP one granule per call with flags
/// SINGLE and the granule in x5.
#[test]
fn data_map() {
    let mut rmm = V2::assume(Scripted::new(&[ok(&[])]));
    rmi2::rtt_data_map_init(
        &mut rmm,
        g(RD),
        g(POOL),
        ipa(0x8000_0000),
        g(PARAMS),
        RmiDataMeasureContent::MeasureContent,
    )
    .unwrap();
    assert_eq!(
        rmm.seen[0][..6],
        [
            u64::from(RMI_RTT_DATA_MAP_INIT),
            RD,
            POOL,
            0x8000_0000,
            PARAMS,
            1
        ]
    );
    let e = rmi2::rtt_data_map_init(
        &mut V2::assume(Scripted::new(&[err(RmiStatus::ErrorRtt, 2)])),
        g(RD),
        g(POOL),
        ipa(0x8000_0000),
        g(PARAMS),
        RmiDataMeasureContent::NoMeasureContent,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("RMI_DATA_CREATE / RMI_RTT_DATA_MAP_INIT (0xc4000153)"),
        "{e}"
    );

    let data = pool(0..4);
    let mut rmm = V2::assume(OnePerCall {
        seen: Vec::new(),
        fail_at: 0,
    });
    rmi2::rtt_data_map(&mut rmm, g(RD), ipa(0x8000_0000), &data).unwrap();
    for (i, r) in rmm.seen.iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            r[..6],
            [
                u64::from(RMI_RTT_DATA_MAP),
                RD,
                0x8000_0000 + i * G,
                0x8000_4000,
                1,
                POOL + i * G
            ]
        );
    }
    let mut rmm = V2::assume(OnePerCall {
        seen: Vec::new(),
        fail_at: 0x8000_2000,
    });
    let e = rmi2::rtt_data_map(&mut rmm, g(RD), ipa(0x8000_0000), &data).unwrap_err();
    assert_eq!(e.reached, 0x8000_2000, "data[..2] mapped");
    // V9 maps one granule per call: a reply that claims two is impossible.
    let mut rmm = V2::assume(Scripted::new(&[ok(&[0x8000_2000])]));
    let e = rmi2::rtt_data_map(&mut rmm, g(RD), ipa(0x8000_0000), &data).unwrap_err();
    assert!(matches!(
        e.error,
        Error::Malformed {
            problem: Malformed::Output { register: 1, .. },
            ..
        }
    ));
}

/// Digest §5.3: DATA_UNMAP reports the freed granule as `PA | 0x4` in x2, or 0.
#[test]
fn data_unmap() {
    let base = ipa(0x8000_0000);
    let top = ipa(0x8200_0000);
    let mut rmm = V2::assume(Scripted::new(&[
        ok(&[0x8000_1000, POOL | 0x4, 0]),
        ok(&[0x8010_0000, 0, 0]),
    ]));
    let u = rmi2::rtt_data_unmap(&mut rmm, g(RD), base, top).unwrap();
    assert_eq!(u.next, ipa(0x8000_1000));
    assert_eq!(u.granule(), Some(g(POOL)));
    assert_eq!(
        rmm.seen[0][..6],
        [
            u64::from(RMI_RTT_DATA_UNMAP),
            RD,
            0x8000_0000,
            0x8200_0000,
            1,
            0
        ]
    );
    let u = rmi2::rtt_data_unmap(&mut rmm, g(RD), base, top).unwrap();
    assert_eq!((u.next, u.freed), (ipa(0x8010_0000), None));

    for (out, register) in [
        ([0x8000_0000, 0, 0], 1),
        ([0x8300_0000, 0, 0], 1),
        ([0x8000_1000, POOL | 0x4 | 1 << 63, 0], 2),
        ([0x8000_1000, POOL | 0x4 | 1 << 60, 0], 2),
        ([0x8000_1000, POOL, 0], 2),
        ([0x8000_1000, POOL | 0x4, 5], 3),
    ] {
        let mut rmm = V2::assume(Scripted::new(&[ok(&out)]));
        let e = rmi2::rtt_data_unmap(&mut rmm, g(RD), base, top).unwrap_err();
        assert!(
            matches!(e, Error::Malformed { problem: Malformed::Output { register: r, .. }, .. } if r == register),
            "{out:x?}: {e}"
        );
    }
}
