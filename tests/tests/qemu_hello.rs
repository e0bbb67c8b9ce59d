//! The `hello` realm payload, built for aarch64 as a flat image, run on QEMU under the EL2
//! harness with both consoles, against `expected/hello.txt`.
//!
//! Beyond the text, the RIM the realm reads with `RSI_MEASUREMENT_READ(0)` must equal the
//! one the harness computed and the one computed here offline from the same image, and
//! REM[0] after the extend is a literal: H(32 zero bytes ‖ "hello, realm").

use std::time::Duration;

use system_tests::{expected, match_output, qemu_or_skip};
use xtask::{Qemu, build_harness, build_payload};

fn run_hello(entry_x0: u64, console: &str) {
    let test = format!("hello ({console} console)");
    if !qemu_or_skip(&test) {
        return;
    }
    let harness = build_harness().expect("build el2-harness");
    let (image_path, image) = build_payload("hello").expect("build hello");
    let output = Qemu {
        harness,
        image: image_path,
        image_size: image.bytes.len() as u64,
        entry: [entry_x0, 0],
        recs: 1,
        timeout: Duration::from_secs(120),
        rmm: xtask::ModelRmm::default(),
        disk: None,
    }
    .run()
    .expect("run QEMU");
    let exp = expected("hello.txt").replace("CONSOLE", console);
    let captures = match_output(&exp, &output)
        .unwrap_or_else(|e| panic!("{test}: {e}\n--- output ---\n{output}"));
    let [size, harness_rim, realm_rim, hz, populated] = captures.as_slice() else {
        panic!("{test}: expected five captures, got {captures:?}");
    };
    assert!(
        hz.parse::<u64>().unwrap() > 0,
        "{test}: timer frequency {hz}"
    );
    // On-demand population: the realm reached a few pages beyond its image (stack, BSS,
    // heap), not its 32 MiB of RAM.
    let populated: usize = populated.parse().unwrap();
    assert!(
        (1..64).contains(&populated),
        "{test}: {populated} pages populated"
    );
    assert_eq!(size.parse::<usize>().unwrap(), image.bytes.len());
    let offline = el2_harness::measure::rim(&image.bytes, [entry_x0, 0])
        .expect("image fits")
        .to_string();
    assert_eq!(harness_rim, &offline, "{test}: harness RIM vs offline RIM");
    assert_eq!(
        realm_rim, &offline,
        "{test}: RIM read by the realm vs offline RIM"
    );
}

#[test]
fn hello_with_host_call_console() {
    run_hello(0, "host call");
}

#[test]
fn hello_with_pl011_console() {
    run_hello(cca_abi::hostcall::ENTRY_CONSOLE_PL011, "pl011");
}
