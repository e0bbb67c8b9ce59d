//! The TF-RMM v0.8.0 vectors in `shared/testdata/tf-rmm/tf-rmm-v0.8.0/` (captured from real
//! realms on QEMU; see that folder's README, "RIM model"), read in place:
//!
//! - `rim::predict` reproduces `rim.hex` exactly, and the `Rim` accumulator reproduces every
//!   intermediate `rim_after` of `rim_operations`;
//! - `realm-params.bin` and `rec-params.bin` decode through the zerocopy structures to the
//!   values `realm.json` lists (cca-abi.md §5.1, §5.2);
//! - every recorded RMI call decodes with `RmiCommand::from_regs`, and replaying it through
//!   the typed calls of `rmi_shim::rmi` produces exactly the recorded registers.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use cca_abi::measurement::{HashAlgorithm, Measurement};
use cca_abi::rim::content_hash;
use cca_abi::rmi::{
    Granule, Ipa, RmiCommand, RmiDataMeasureContent, RmiRealmParams, RmiRecParams, RmiReply,
    RmiReturn, RttLevel,
};
use cca_abi::smccc::{Conduit, Regs, regs};
use rmi_shim::link::V1;
use rmi_shim::rim::{
    DataGranule, MeasuredRealmParams, MeasuredRecParams, RealmBuild, Rim, RipasRange, predict,
};
use rmi_shim::rmi as calls;
use rmi_shim::version;
use serde_json::Value;
use zerocopy::FromBytes as _;

const VARIANTS: [&str; 3] = ["sha256", "sha512", "sha256-rpv"];

fn vector_dir(variant: &str) -> Option<PathBuf> {
    let realm = testdata::path(&format!("tf-rmm/tf-rmm-v0.8.0/{variant}/realm.json"))?;
    realm.parent().map(Path::to_path_buf)
}

/// A loaded vector.
struct Vector {
    dir: PathBuf,
    json: Value,
}

impl Vector {
    fn load(variant: &str) -> Option<Self> {
        let dir = vector_dir(variant)?;
        let text = fs::read_to_string(dir.join("realm.json")).expect("read realm.json");
        Some(Self {
            json: serde_json::from_str(&text).expect("parse realm.json"),
            dir,
        })
    }

    fn file(&self, name: &str) -> Vec<u8> {
        fs::read(self.dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn page(&self, name: &str) -> Box<[u8; 4096]> {
        self.file(name)
            .into_boxed_slice()
            .try_into()
            .expect("a 4 KiB page")
    }
}

/// `"0x27"` → 0x27.
fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Plain lowercase hex → bytes.
fn hex_bytes(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex_of(m: &Measurement) -> String {
    m.to_string()
}

fn ipa(v: u64) -> Ipa {
    Ipa::new(v).expect("granule-aligned IPA")
}

/// cca-abi.md §5.1: realm-params.bin decodes to realm.json's `realm_params`, and every byte
/// not listed is zero.
#[test]
fn realm_params_page_decodes() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        let page = v.page("realm-params.bin");
        let p = RmiRealmParams::read_from_bytes(&page[..]).expect("4 KiB");
        let j = &v.json["realm_params"];
        assert_eq!(p.flags0, hex_u64(&j["flags0"]), "{variant}");
        assert_eq!(u64::from(p.s2sz), hex_u64(&j["s2sz"]));
        assert_eq!(u64::from(p.sve_vl), hex_u64(&j["sve_vl"]));
        assert_eq!(u64::from(p.num_bps), hex_u64(&j["num_bps"]));
        assert_eq!(u64::from(p.num_wps), hex_u64(&j["num_wps"]));
        assert_eq!(u64::from(p.pmu_num_ctrs), hex_u64(&j["pmu_num_ctrs"]));
        assert_eq!(u64::from(p.hash_algo), hex_u64(&j["hash_algo"]));
        assert_eq!(p.rpv.to_vec(), hex_bytes(j["rpv"].as_str().expect("rpv")));
        assert_eq!(u64::from(p.vmid), hex_u64(&j["vmid"]));
        assert_eq!(p.rtt_base, hex_u64(&j["rtt_base"]));
        assert_eq!(
            p.rtt_level_start.cast_unsigned(),
            hex_u64(&j["rtt_level_start"])
        );
        assert_eq!(u64::from(p.rtt_num_start), hex_u64(&j["rtt_num_start"]));
        // Nothing else is set: rebuilding the page from the listed fields gives the same bytes.
        let mut rebuilt = RmiRealmParams::zeroed();
        rebuilt.flags0 = p.flags0;
        rebuilt.s2sz = p.s2sz;
        rebuilt.sve_vl = p.sve_vl;
        rebuilt.num_bps = p.num_bps;
        rebuilt.num_wps = p.num_wps;
        rebuilt.pmu_num_ctrs = p.pmu_num_ctrs;
        rebuilt.hash_algo = p.hash_algo;
        rebuilt.rpv = p.rpv;
        rebuilt.vmid = p.vmid;
        rebuilt.rtt_base = p.rtt_base;
        rebuilt.rtt_level_start = p.rtt_level_start;
        rebuilt.rtt_num_start = p.rtt_num_start;
        assert_eq!(
            zerocopy::IntoBytes::as_bytes(&rebuilt),
            &page[..],
            "{variant}"
        );
        // The RMI_REALM_CREATE call names this page.
        let create = v.json["rmi_calls"]
            .as_array()
            .expect("rmi_calls")
            .iter()
            .find(|c| c["cmd"] == "RMI_REALM_CREATE")
            .expect("a REALM_CREATE call");
        assert!(Granule::new(hex_u64(&create["args"][1])).is_some());
    }
}

/// cca-abi.md §5.2: rec-params.bin decodes to realm.json's `rec_params`; the aux granules are
/// the ones delegated before REC_CREATE.
#[test]
fn rec_params_page_decodes() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        let page = v.page("rec-params.bin");
        let p = RmiRecParams::read_from_bytes(&page[..]).expect("4 KiB");
        let j = &v.json["rec_params"];
        assert_eq!(p.flags, hex_u64(&j["flags"]), "{variant}");
        assert_eq!(p.mpidr, hex_u64(&j["mpidr"]));
        assert_eq!(p.pc, hex_u64(&j["pc"]));
        let gprs: Vec<u64> = j["gprs"]
            .as_array()
            .expect("gprs")
            .iter()
            .map(hex_u64)
            .collect();
        assert_eq!(p.gprs.to_vec(), gprs);
        assert_eq!(p.num_aux, hex_u64(&j["num_aux"]));
        let delegated: Vec<u64> = v.json["rmi_calls"]
            .as_array()
            .expect("rmi_calls")
            .iter()
            .filter(|c| c["cmd"] == "RMI_GRANULE_DELEGATE")
            .map(|c| hex_u64(&c["args"][0]))
            .collect();
        let aux = &p.aux[..usize::try_from(p.num_aux).expect("small")];
        for pa in aux {
            assert!(
                Granule::new(*pa).is_some() && delegated.contains(pa),
                "aux {pa:#x}"
            );
        }
        // Every other byte is zero.
        let mut rebuilt = RmiRecParams::zeroed();
        rebuilt.flags = p.flags;
        rebuilt.mpidr = p.mpidr;
        rebuilt.pc = p.pc;
        rebuilt.gprs = p.gprs;
        rebuilt.num_aux = p.num_aux;
        rebuilt.aux = p.aux;
        assert_eq!(
            zerocopy::IntoBytes::as_bytes(&rebuilt),
            &page[..],
            "{variant}"
        );
    }
}

/// The build description of a vector, owned.
struct Build {
    params: MeasuredRealmParams,
    ripas: Vec<RipasRange>,
    /// (ipa, flags, content)
    data: Vec<(Ipa, RmiDataMeasureContent, Box<[u8; 4096]>)>,
    recs: Vec<MeasuredRecParams>,
}

fn build_of(v: &Vector) -> Build {
    let realm_page = v.page("realm-params.bin");
    let realm = RmiRealmParams::read_from_bytes(&realm_page[..]).expect("4 KiB");
    let params = MeasuredRealmParams::from_params(&realm).expect("valid hash_algo");
    let ripas = v.json["rtt_init_ripas"]
        .as_array()
        .expect("rtt_init_ripas")
        .iter()
        .map(|r| RipasRange {
            base: ipa(hex_u64(&r["base"])),
            top: ipa(hex_u64(&r["top"])),
            level: RttLevel::new(
                i8::try_from(r["rtt_level"].as_i64().expect("level")).expect("small"),
            )
            .expect("valid level"),
        })
        .collect();
    let data = v.json["data_create"]
        .as_array()
        .expect("data_create")
        .iter()
        .map(|d| {
            let flags = RmiDataMeasureContent::from_raw(hex_u64(&d["flags"])).expect("0 or 1");
            let file = d["file"].as_str().expect("file");
            (ipa(hex_u64(&d["ipa"])), flags, v.page(file))
        })
        .collect();
    let rec_page = v.page("rec-params.bin");
    let rec = RmiRecParams::read_from_bytes(&rec_page[..]).expect("4 KiB");
    Build {
        params,
        ripas,
        data,
        recs: vec![MeasuredRecParams::from_params(&rec)],
    }
}

/// README "RIM model": predict() reproduces rim.hex exactly (and `measurements.rim`).
#[test]
fn predict_reproduces_rim_hex() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        let b = build_of(&v);
        let data: Vec<DataGranule<'_>> = b
            .data
            .iter()
            .map(|(ipa, flags, content)| DataGranule {
                ipa: *ipa,
                flags: *flags,
                content,
            })
            .collect();
        let build = RealmBuild {
            params: b.params,
            ripas: &b.ripas,
            data: &data,
            recs: &b.recs,
        };
        let rim = predict(&build).expect("a valid build");
        let expected = String::from_utf8(v.file("rim.hex")).expect("ascii");
        assert_eq!(hex_of(&rim), expected.trim(), "{variant}");
        assert_eq!(
            hex_of(&rim),
            v.json["measurements"]["rim"].as_str().expect("rim")
        );
        let alg = HashAlgorithm::from_encoding(hex_u64(&v.json["hash_algo"])).expect("alg");
        assert_eq!(rim.algorithm(), alg);
        assert_eq!(rim.as_bytes().len(), alg.digest_len());
    }
}

/// README "RIM model": the accumulator reproduces every intermediate `rim_after`, and the
/// RIPAS entries measured are the `measured_entries` the vector lists.
#[test]
fn every_intermediate_rim() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        let b = build_of(&v);
        let realm_page = v.page("realm-params.bin");
        let realm = RmiRealmParams::read_from_bytes(&realm_page[..]).expect("4 KiB");
        let rec_page = v.page("rec-params.bin");
        let rec = RmiRecParams::read_from_bytes(&rec_page[..]).expect("4 KiB");
        let mut rim: Option<Rim> = None;
        let (mut ripas, mut data) = (b.ripas.iter(), b.data.iter());
        let mut checked = 0;
        for op in v.json["rim_operations"].as_array().expect("rim_operations") {
            let name = op["op"].as_str().expect("op");
            match name {
                "RMI_REALM_CREATE" => rim = Some(Rim::realm_create(&realm).expect("valid")),
                "RMI_RTT_INIT_RIPAS" => {
                    let range = ripas.next().expect("as many INIT_RIPAS as listed");
                    assert_eq!(range.base.addr(), hex_u64(&op["base"]));
                    let listed: Vec<(u64, u64)> = op["measured_entries"]
                        .as_array()
                        .expect("measured_entries")
                        .iter()
                        .map(|e| (hex_u64(&e[0]), hex_u64(&e[1])))
                        .collect();
                    let entries: Vec<_> = range.entries().expect("aligned").collect();
                    assert_eq!(entries, listed, "{variant}");
                    let r = rim.as_mut().expect("created");
                    entries
                        .iter()
                        .for_each(|(base, top)| r.init_ripas_entry(*base, *top));
                }
                "RMI_DATA_CREATE" => {
                    let (ipa, flags, content) = data.next().expect("as many DATA as listed");
                    assert_eq!(ipa.addr(), hex_u64(&op["ipa"]));
                    assert_eq!(flags.to_raw(), hex_u64(&op["flags"]));
                    rim.as_mut()
                        .expect("created")
                        .data_create(ipa.addr(), *flags, content);
                }
                "RMI_REC_CREATE" => {
                    assert!(rim.as_mut().expect("created").rec_create(&rec), "RUNNABLE");
                }
                "RMI_REALM_ACTIVATE" => {}
                other => panic!("unexpected RIM operation {other}"),
            }
            if let Some(after) = op.get("rim_after").and_then(Value::as_str) {
                let now = rim.as_ref().expect("created").measurement();
                assert_eq!(hex_of(&now), after, "{variant}: after {name}");
                checked += 1;
            }
        }
        assert_eq!(checked, 1 + b.ripas.len() + b.data.len() + 1, "{variant}");
        // The content hashes the vector lists.
        for (d, (_, _, content)) in v.json["data_create"]
            .as_array()
            .expect("data")
            .iter()
            .zip(&b.data)
        {
            let h = content_hash(b.params.hash_algo, content);
            assert_eq!(
                hex_of(&h),
                d["content_hash"].as_str().expect("content_hash")
            );
        }
    }
}

/// Replays recorded calls: checks that each incoming SMC equals the recorded one and answers
/// with the recorded reply.
struct Replay {
    expected: VecDeque<(Regs, Regs)>,
}

impl Conduit for Replay {
    fn call(&mut self, got: Regs) -> Regs {
        let (want, reply) = self.expected.pop_front().expect("more calls than recorded");
        assert_eq!(got, want, "the typed call encoded different registers");
        reply
    }
}

fn g(v: u64) -> Granule {
    Granule::new(v).expect("granule")
}

fn l(v: u64) -> RttLevel {
    RttLevel::from_raw(v).expect("level")
}

/// Issues `cmd` through the typed API of `rmi_shim::rmi`.
fn typed_call(c: &mut V1<Replay>, cmd: RmiCommand) {
    use RmiCommand as C;
    let done = match cmd {
        C::GranuleDelegate { addr } => calls::granule_delegate(c, g(addr)),
        C::GranuleUndelegate { addr } => calls::granule_undelegate(c, g(addr)),
        C::RealmCreate { rd, params } => calls::realm_create(c, g(rd), g(params)),
        C::RecAuxCount { rd } => calls::rec_aux_count(c, g(rd)).map(|n| assert_eq!(n, 16)),
        C::RttCreate {
            rd,
            rtt,
            ipa: i,
            level,
        } => calls::rtt_create(c, g(rd), g(rtt), ipa(i), l(level)),
        C::RttInitRipas { rd, base, top } => {
            calls::rtt_init_ripas(c, g(rd), ipa(base), ipa(top)).map(|t| assert_eq!(t.addr(), top))
        }
        C::DataCreate {
            rd,
            data,
            ipa: i,
            src,
            flags,
        } => calls::data_create(
            c,
            g(rd),
            g(data),
            ipa(i),
            g(src),
            RmiDataMeasureContent::from_raw(flags).expect("flags"),
        ),
        C::RecCreate { rd, rec, params } => calls::rec_create(c, g(rd), g(rec), g(params)),
        C::RealmActivate { rd } => calls::realm_activate(c, g(rd)),
        C::RecDestroy { rec } => calls::rec_destroy(c, g(rec)),
        C::DataDestroy { rd, ipa: i } => calls::data_destroy(c, g(rd), ipa(i)).map(drop),
        C::RttDestroy { rd, ipa: i, level } => {
            calls::rtt_destroy(c, g(rd), ipa(i), l(level)).map(drop)
        }
        C::RealmDestroy { rd } => calls::realm_destroy(c, g(rd)),
        other => panic!("the vectors do not record {}", other.name()),
    };
    done.unwrap_or_else(|e| panic!("{}: {e}", cmd.name()));
}

/// Every recorded RMI call (cca-abi.md §4.1) decodes with `RmiCommand::from_regs` to the
/// recorded command name, and the typed API re-encodes it register for register.
#[test]
fn recorded_rmi_calls_replay() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        let mut expected = VecDeque::new();
        let mut commands = Vec::new();
        for call in v.json["rmi_calls"].as_array().expect("rmi_calls") {
            let fid = u32::try_from(hex_u64(&call["fid"])).expect("32-bit FID");
            let args: Vec<u64> = call["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(hex_u64)
                .collect();
            let request = regs(fid, &args);
            let cmd = RmiCommand::from_regs(&request).expect("an RMI 1.0 command");
            assert_eq!(cmd.name(), call["cmd"].as_str().expect("cmd"), "{variant}");
            assert_eq!(cmd.to_regs(), request, "{variant}: {}", cmd.name());
            let ret: Vec<u64> = call["ret"]
                .as_array()
                .expect("ret")
                .iter()
                .map(hex_u64)
                .collect();
            let mut out = [0; 4];
            out[..ret.len() - 1].copy_from_slice(&ret[1..]);
            let reply = RmiReply {
                ret: RmiReturn::from_raw(ret[0]),
                out,
            };
            assert!(reply.ret.is_success(), "{variant}: {}", cmd.name());
            expected.push_back((request, reply.to_regs()));
            commands.push(cmd);
        }
        let mut conduit = V1::assume(Replay { expected });
        for cmd in commands {
            typed_call(&mut conduit, cmd);
        }
        assert!(conduit.expected.is_empty());
    }
}

/// The recorded `RMI_VERSION` and `RMI_FEATURES(0)` replies: negotiation accepts the v0.8.0
/// RMM, and the realm's parameters fit what it advertised (cca-abi.md §4.3, §8).
#[test]
fn recorded_version_and_features() {
    for variant in VARIANTS {
        let Some(v) = Vector::load(variant) else {
            continue;
        };
        for probe in v.json["rmi_version_probes"].as_array().expect("probes") {
            assert_eq!(probe["req"], "1.0");
            let mut reply = regs(0, &[hex_u64(&probe["lower"]), hex_u64(&probe["higher"])]);
            reply[0] = hex_u64(&probe["status"]);
            let mut conduit = Replay {
                expected: [(regs(cca_abi::rmi::RMI_VERSION, &[0x10000]), reply)].into(),
            };
            let n = version::negotiate(&mut conduit).expect("a 1.0 RMM");
            assert_eq!(n.version, cca_abi::AbiVersion::V1_0);
        }
        let raw = hex_u64(&v.json["rmi_features"]["0"]);
        let mut conduit = V1::assume(Replay {
            expected: [(regs(cca_abi::rmi::RMI_FEATURES, &[0]), regs(0, &[raw]))].into(),
        });
        let f = calls::features0(&mut conduit).expect("features");
        let realm_page = v.page("realm-params.bin");
        let realm = RmiRealmParams::read_from_bytes(&realm_page[..]).expect("4 KiB");
        assert!(realm.s2sz <= u32::from(f.s2sz));
        assert!(realm.num_bps >= 1 && realm.num_bps <= u32::from(f.num_bps));
        assert!(realm.num_wps >= 1 && realm.num_wps <= u32::from(f.num_wps));
        let alg = HashAlgorithm::from_encoding(realm.hash_algo.into()).expect("alg");
        assert!(f.supports_hash(alg));
    }
}
