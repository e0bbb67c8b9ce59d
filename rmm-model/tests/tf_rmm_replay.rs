//! Replays every RMI call the TF-RMM v0.8.0 test vectors recorded (../shared/testdata/tf-rmm,
//! `realm.json` `rmi_calls`) against the model, with the vectors' own parameter pages and
//! DATA sources, and checks that the model answers each call exactly as TF-RMM did (x0..x2)
//! and measures the same RIM (`rim.hex`). `RMI_REC_ENTER` calls are not in the recording.

use cca_abi::rmi::{RmiCommand, RmiReturn, RmiStatus};
use cca_abi::smccc::{Conduit, regs};
use rmm_model::rmi::{Rmm, RmmConfig};
use serde_json::Value;

#[repr(C, align(4096))]
struct Page([u8; 4096]);

fn page(bytes: &[u8]) -> Box<Page> {
    let mut p = Box::new(Page([0; 4096]));
    p.0.copy_from_slice(bytes);
    p
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn replay(variant: &str) {
    let Some(json) =
        testdata::read_to_string(&format!("tf-rmm/tf-rmm-v0.8.0/{variant}/realm.json"))
    else {
        return;
    };
    let dir = testdata::root().join("tf-rmm/tf-rmm-v0.8.0").join(variant);
    let realm: Value = serde_json::from_str(&json).unwrap();
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let realm_params = page(&read("realm-params.bin"));
    let rec_params = page(&read("rec-params.bin"));
    let mut sources = std::collections::BTreeMap::new();
    for d in realm["data_create"].as_array().unwrap() {
        sources.insert(hex(&d["ipa"]), page(&read(d["file"].as_str().unwrap())));
    }
    let addr = |p: &Page| std::ptr::from_ref(p).expose_provenance() as u64;

    // QEMU's delegable range: from the end of the RMM carve-out to 4 GiB.
    let mut rmm = Rmm::new(RmmConfig {
        delegable: (0x4190_0000, 0x1_0000_0000),
        ..RmmConfig::default()
    });
    let rim_hex = std::fs::read_to_string(dir.join("rim.hex")).unwrap();
    let mut rd = 0;
    for (i, call) in realm["rmi_calls"].as_array().unwrap().iter().enumerate() {
        let fid = u32::try_from(hex(&call["fid"])).unwrap();
        let mut args: Vec<u64> = call["args"].as_array().unwrap().iter().map(hex).collect();
        let cmd = RmiCommand::from_regs(&regs(fid, &args)).expect("an RMI 1.0 command");
        match cmd {
            RmiCommand::RealmCreate { rd: r, .. } => {
                rd = r;
                args[1] = addr(&realm_params);
            }
            RmiCommand::RecCreate { .. } => args[2] = addr(&rec_params),
            RmiCommand::DataCreate { ipa, .. } => args[3] = addr(&sources[&ipa]),
            RmiCommand::RealmActivate { .. } => {
                assert_eq!(
                    rmm.rim(rd).unwrap().to_string(),
                    rim_hex.trim(),
                    "{variant}: RIM before activation"
                );
            }
            _ => {}
        }
        let got = rmm.call(regs(fid, &args));
        let want: Vec<u64> = call["ret"].as_array().unwrap().iter().map(hex).collect();
        assert_eq!(
            &got[..3],
            &want[..],
            "{variant}: call {i} {} returned {:?}, TF-RMM {:?}",
            call["cmd"],
            RmiReturn::from_raw(got[0]),
            RmiReturn::from_raw(want[0])
        );
    }
    assert_eq!(
        rmm.delegated_count(),
        0,
        "{variant}: teardown left granules delegated"
    );
    assert!(
        rmm.log()
            .iter()
            .all(|(_, r)| r.status == RmiStatus::Success)
    );
}

#[test]
fn replay_sha256() {
    replay("sha256");
}

#[test]
fn replay_sha512() {
    replay("sha512");
}

#[test]
fn replay_sha256_rpv() {
    replay("sha256-rpv");
}
