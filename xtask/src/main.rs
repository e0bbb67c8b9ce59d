//! `cargo xtask`: build realm payloads and run them on QEMU.
//!
//! ```text
//! cargo xtask demo              build and run the `hello` realm on QEMU (EL2 harness + model)
//! cargo xtask run NAME [--pl011] [--x1 N]
//!                               run the payload package NAME (an example, or one's own
//!                               added to the workspace); --pl011 selects the PL011 console,
//!                               --x1 sets the REC's x1 at entry (selftest: how it ends)
//! cargo xtask image NAME        build NAME and write its flat image; print path and size
//! cargo xtask tf-rmm DIR [NAME] [--pl011] [--x1 N]
//!                               run NAME (default hello) on TF-RMM under QEMU with RME,
//!                               launched by rmi-host; DIR holds the user's bl1.bin and fip.bin;
//!                               REALM_PARAMS in the environment sets rmi-host's realm
//!                               parameters (examples/rmi-host/build.rs)
//! cargo xtask seal [--tf-rmm DIR --anchors TA.json]
//!                               the sealing demo: four realms of the `seal` example and a key
//!                               broker on loopback, under the EL2 harness (default) or on
//!                               TF-RMM, whose platform tokens TA.json's key verifies
//! cargo xtask inference [--simulate | --tf-rmm DIR --anchors TA.json]
//!                               attested inference (xtask::inference): the encrypted model,
//!                               the broker, the realm classifying the digits on its disk, the
//!                               verifier, the tamper cases and the benchmark, under the EL2
//!                               harness (default), on TF-RMM, or --simulate: the pipeline in
//!                               this process on the RMM model
//! cargo xtask inference-bench [--tf-rmm DIR]
//!                               benchmark: the inference kernel in a realm (the
//!                               `inference-bench` payload: bit-exactness and inferences/s)
//!                               against the same kernel natively on this host (baseline)
//! cargo xtask size              benchmark: flat image sizes of the examples against the
//!                               `minimal` payload (the runtime alone) as the baseline
//! cargo xtask bench-launch DIR [NAME] [--runs N]
//!                               benchmark: boots NAME (default attest) on TF-RMM N times
//!                               (default 5) per variant and prints min/median/max per phase:
//!                               on-demand population against the eager builder (baseline),
//!                               and on demand with 1 GiB of realm RAM
//! cargo xtask bench-virtio [DIR]
//!                               benchmark: bytes per second read and written through the
//!                               virtio block device by the `virtio` example (x1 = 1), against
//!                               a memcpy of the same 4 MiB inside the realm (baseline); under
//!                               the EL2 harness, and on TF-RMM too if DIR holds the firmware
//! cargo xtask bench-smp [DIR] [--recs N] [--runs R]
//!                               benchmark: the smp example on a realm of N RECs (default 4),
//!                               R times (default 3), under the EL2 harness and (with DIR) on
//!                               TF-RMM: median time and speed-up on 1, 2, 4, ... RECs against
//!                               1 REC in the same run (xtask::bench_smp)
//! ```

use std::process::ExitCode;

use xtask::{EXAMPLES, build_payload, run_example};

/// Parses `[NAME] [--pl011] [--x1 N]` (NAME defaults to hello) into the payload and the
/// REC's `x0`, `x1`. NAME is any payload package of the workspace, not only the examples.
fn name_and_entry<'a>(args: &[&'a str]) -> Option<(&'a str, [u64; 2])> {
    let (name, flags) = match args.first() {
        Some(n) if !n.starts_with("--") => (*n, &args[1..]),
        _ => ("hello", args),
    };
    let mut entry = [0u64; 2];
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match *flag {
            "--pl011" => entry[0] |= 1,
            "--x1" => entry[1] = it.next()?.parse().ok()?,
            _ => return None,
        }
    }
    Some((name, entry))
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask demo | run NAME [--pl011] [--x1 N] | image NAME | tf-rmm DIR [NAME] [--pl011] [--x1 N] | seal [--tf-rmm DIR --anchors TA.json] | inference [--simulate | --tf-rmm DIR --anchors TA.json] | inference-bench [--tf-rmm DIR] | size | bench-launch DIR [NAME] [--runs N] | bench-virtio [DIR] | bench-smp [DIR] [--recs N] [--runs R]"
    );
    eprintln!(
        "NAME: a payload package of the workspace; examples: {}",
        EXAMPLES.join(", ")
    );
    ExitCode::from(2)
}

/// The launch benchmark ([`xtask::bench_launch`]).
fn bench_launch(fw: &xtask::Firmware, name: &str, runs: usize) -> Result<(), xtask::Error> {
    use xtask::bench_launch::{Variant, bench};
    let variant = |name: &str, params: &str| Variant {
        name: name.into(),
        params: params.into(),
        runs,
    };
    let variants = [
        variant("on demand, 32 MiB", "populate=on-demand"),
        variant("eager (baseline), 32 MiB", "populate=eager"),
        variant("on demand, 1 GiB", "populate=on-demand,ram_size=0x40000000"),
    ];
    print!("{}", bench(fw, name, &variants)?);
    Ok(())
}

/// The image-size benchmark: every example's release flat image next to `minimal`.
fn size() -> Result<(), xtask::Error> {
    let baseline = build_payload("minimal")?.1.bytes.len();
    println!("{:<10} {:>9} {:>10}", "payload", "bytes", "vs minimal");
    for name in EXAMPLES {
        let bytes = build_payload(name)?.1.bytes.len();
        #[allow(clippy::cast_precision_loss, reason = "image sizes are far below 2^52")]
        let ratio = bytes as f64 / baseline as f64;
        println!("{name:<10} {bytes:>9} {ratio:>9.2}x");
    }
    Ok(())
}

/// The attested-inference story (`xtask::inference`), printing the realm's output, each
/// check, and the benchmark.
fn inference(args: &[&str]) -> Result<(), xtask::Error> {
    use xtask::inference::Platform;
    let (platform, anchors) = match args {
        [] => (
            Platform::Harness(xtask::build_harness()?),
            vec![rmm_model::token::InsecureTestIssuer::new().trust_anchor()],
        ),
        ["--simulate"] => (
            Platform::Simulator,
            vec![rmm_model::token::InsecureTestIssuer::new().trust_anchor()],
        ),
        ["--tf-rmm", dir, "--anchors", file] => {
            let (firmware, anchors) = firmware_and_anchors(dir, file)?;
            (Platform::TfRmm(firmware), anchors)
        }
        _ => {
            return Err(xtask::Error::Build(
                "usage: cargo xtask inference [--simulate | --tf-rmm DIR --anchors TA.json]".into(),
            ));
        }
    };
    let story = xtask::inference::demo(&platform, &anchors)?;
    print!("{}", story.output);
    let mut failed = 0;
    for check in &story.checks {
        match &check.outcome {
            Ok(what) => println!("ok: {}: {what}", check.what),
            Err(why) => {
                failed += 1;
                println!("FAILED: {}: {why}", check.what);
            }
        }
    }
    let b = story.bench;
    let payload = if b.payload_bytes == 0 {
        "none (simulated)".to_owned()
    } else {
        format!("{} bytes", b.payload_bytes)
    };
    println!(
        "benchmark: {:.0} inferences/s in the realm; baseline, the same kernel natively on \
         this host: {:.0} inferences/s (realm/host {:.3}); disk read at {:.0} bytes/s; payload {payload}",
        b.realm_per_s,
        b.host_per_s,
        if b.host_per_s > 0.0 {
            b.realm_per_s / b.host_per_s
        } else {
            0.0
        },
        b.disk_bytes_per_s,
    );
    println!(
        "batch 0's evidence for `cca-token verify-inference`: {}",
        story.evidence.display()
    );
    if failed > 0 {
        return Err(xtask::Error::Realm(format!("{failed} checks failed")));
    }
    Ok(())
}

/// The inference kernel in a realm against the same kernel natively on this host.
fn inference_bench(args: &[&str]) -> Result<(), xtask::Error> {
    let output = match args {
        [] => xtask::run_example("inference-bench", [0, 0])?,
        ["--tf-rmm", dir] => {
            let firmware = xtask::Firmware::in_dir(std::path::Path::new(dir)).ok_or_else(|| {
                xtask::Error::Build(format!("{dir} must hold bl1.bin and fip.bin"))
            })?;
            xtask::run_on_tf_rmm(
                &firmware,
                "inference-bench",
                [0, 0],
                std::time::Duration::from_secs(300),
                &mut xtask::NoServices,
            )?
        }
        _ => {
            return Err(xtask::Error::Build(
                "usage: cargo xtask inference-bench [--tf-rmm DIR]".into(),
            ));
        }
    };
    print!("{output}");
    xtask::check_realm_end(&output).map_err(xtask::Error::Realm)?;
    let run = xtask::inference::KernelRun::parse(&output)
        .ok_or_else(|| xtask::Error::Realm("no `inference-bench:` line".into()))?;
    let host = xtask::inference::host_inferences_per_second();
    println!(
        "benchmark: {:.0} inferences/s in the realm; baseline, the same kernel natively on \
         this host: {host:.0} inferences/s (realm/host {:.3}); {}/{} outputs bit-exact, {}/{} correct",
        run.per_second(),
        if host > 0.0 {
            run.per_second() / host
        } else {
            0.0
        },
        run.exact,
        run.total,
        run.correct,
        run.total
    );
    if run.exact != run.total {
        return Err(xtask::Error::Realm(format!(
            "{} outputs differ from the reference",
            run.total - run.exact
        )));
    }
    Ok(())
}

/// The sealing demo (`xtask::seal`), printing each realm's output.
/// `--tf-rmm DIR --anchors FILE`: the reference firmware in `dir` and the trust anchors
/// (JSON) its tokens are checked against.
fn firmware_and_anchors(
    dir: &str,
    file: &str,
) -> Result<(xtask::Firmware, Vec<cca_token::TrustAnchor>), xtask::Error> {
    let firmware = xtask::Firmware::in_dir(std::path::Path::new(dir))
        .ok_or_else(|| xtask::Error::Build(format!("{dir} must hold bl1.bin and fip.bin")))?;
    let json = std::fs::read_to_string(file).map_err(|e| xtask::Error::Io(file.to_owned(), e))?;
    let anchors = cca_token::anchors::from_json(&json)
        .map_err(|e| xtask::Error::Build(format!("{file}: {e}")))?;
    Ok((firmware, anchors))
}

fn seal(args: &[&str]) -> Result<(), xtask::Error> {
    let (platform, anchors) = match args {
        [] => (
            xtask::seal::Platform::Harness(xtask::build_harness()?),
            vec![rmm_model::token::InsecureTestIssuer::new().trust_anchor()],
        ),
        ["--tf-rmm", dir, "--anchors", file] => {
            let (firmware, anchors) = firmware_and_anchors(dir, file)?;
            (xtask::seal::Platform::TfRmm(firmware), anchors)
        }
        _ => {
            return Err(xtask::Error::Build(
                "usage: cargo xtask seal [--tf-rmm DIR --anchors TA.json]".into(),
            ));
        }
    };
    let stages = xtask::seal::demo(&platform, &anchors)?;
    for (i, stage) in stages.iter().enumerate() {
        println!("== {}. {}", i + 1, stage.title);
        print!("{}", stage.output);
    }
    // Every realm of the story ends by returning from `main`, refused or not.
    for (i, stage) in stages.iter().enumerate() {
        xtask::check_realm_end(&stage.output)
            .map_err(|reason| xtask::Error::Realm(format!("realm {}: {reason}", i + 1)))?;
    }
    Ok(())
}

/// The virtio benchmark: the `virtio` example with x1 = 1 and a 4 MiB disk image, under the
/// harness and (with firmware) on TF-RMM; prints the realm's `bench:` lines.
fn bench_virtio(fw: Option<&xtask::Firmware>) -> Result<(), xtask::Error> {
    use std::time::Duration;
    let disk =
        std::env::temp_dir().join(format!("realm-sdk-bench-virtio-{}.img", std::process::id()));
    let bytes: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&disk, bytes).map_err(|e| xtask::Error::Io(disk.display().to_string(), e))?;
    let (image, flat) = build_payload("virtio")?;
    let mut runs = vec![(
        "EL2 harness",
        xtask::Qemu {
            harness: xtask::build_harness()?,
            image: image.clone(),
            image_size: flat.bytes.len() as u64,
            entry: [0, 1],
            timeout: Duration::from_secs(300),
            rmm: xtask::ModelRmm::default(),
            disk: Some(disk.clone()),
            recs: 1,
        }
        .run(),
    )];
    if let Some(fw) = fw {
        let out = xtask::tf_rmm_qemu(fw, &image, [0, 1], "").and_then(|mut cmd| {
            cmd.arg("-device").arg(xtask::disk_device(
                &disk,
                cca_abi::virtio::RMI_HOST_DISK_PA,
            )?);
            xtask::run_timed(cmd, Duration::from_secs(300), &mut xtask::NoServices)
                .map(|o| o.text())
        });
        runs.push(("TF-RMM", out));
    }
    let _ = std::fs::remove_file(&disk);
    for (name, out) in runs {
        let out = out?;
        println!("{name}:");
        for line in out.lines().filter(|l| l.starts_with("bench: ")) {
            println!("  {line}");
        }
        xtask::check_realm_end(&out).map_err(xtask::Error::Realm)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["demo"] => run_example("hello", [0, 0]).and_then(|out| print_run(&out)),
        ["run", rest @ ..] => {
            let Some((name, entry)) = name_and_entry(rest) else {
                return usage();
            };
            run_example(name, entry).and_then(|out| print_run(&out))
        }
        ["image", name] if !name.starts_with('-') => build_payload(name).map(|(path, image)| {
            println!(
                "{}: {} bytes, loads at {:#x}",
                path.display(),
                image.bytes.len(),
                image.load_address
            );
        }),
        ["size"] => size(),
        ["bench-launch", dir, rest @ ..] => {
            let (name, runs) = match rest {
                [] => ("attest", 5),
                [name] if EXAMPLES.contains(name) => (*name, 5),
                ["--runs", n] => ("attest", n.parse().unwrap_or(0)),
                [name, "--runs", n] if EXAMPLES.contains(name) => (*name, n.parse().unwrap_or(0)),
                _ => return usage(),
            };
            if runs == 0 {
                return usage();
            }
            let Some(fw) = xtask::Firmware::in_dir(std::path::Path::new(dir)) else {
                eprintln!("xtask: {dir} must hold bl1.bin and fip.bin (see the README)");
                return ExitCode::FAILURE;
            };
            bench_launch(&fw, name, runs)
        }
        ["bench-smp", rest @ ..] => {
            let (mut dir, mut recs, mut runs) = (None, 4, 3);
            let mut args = rest.iter();
            while let Some(arg) = args.next() {
                match (*arg, args.clone().next()) {
                    ("--recs", Some(n)) => {
                        recs = n.parse().unwrap_or(0);
                        args.next();
                    }
                    ("--runs", Some(n)) => {
                        runs = n.parse().unwrap_or(0);
                        args.next();
                    }
                    (d, _) if dir.is_none() && !d.starts_with("--") => dir = Some(d),
                    _ => return usage(),
                }
            }
            if !(1..=8).contains(&recs) || runs == 0 {
                return usage();
            }
            let fw = match dir {
                Some(dir) => match xtask::Firmware::in_dir(std::path::Path::new(dir)) {
                    Some(fw) => Some(fw),
                    None => {
                        eprintln!("xtask: {dir} must hold bl1.bin and fip.bin (see the README)");
                        return ExitCode::FAILURE;
                    }
                },
                None => None,
            };
            xtask::bench_smp::bench(fw.as_ref(), recs, runs).map(|table| print!("{table}"))
        }
        ["seal", rest @ ..] => seal(rest),
        ["inference", rest @ ..] => inference(rest),
        ["inference-bench", rest @ ..] => inference_bench(rest),
        ["bench-virtio", rest @ ..] => {
            let fw = match rest {
                [] => None,
                [dir] => match xtask::Firmware::in_dir(std::path::Path::new(dir)) {
                    Some(fw) => Some(fw),
                    None => {
                        eprintln!("xtask: {dir} must hold bl1.bin and fip.bin (see the README)");
                        return ExitCode::FAILURE;
                    }
                },
                _ => return usage(),
            };
            bench_virtio(fw.as_ref())
        }
        ["tf-rmm", dir, rest @ ..] => {
            let Some((name, entry)) = name_and_entry(rest) else {
                return usage();
            };
            let Some(fw) = xtask::Firmware::in_dir(std::path::Path::new(dir)) else {
                eprintln!("xtask: {dir} must hold bl1.bin and fip.bin (see the README)");
                return ExitCode::FAILURE;
            };
            // rmi-host's realm parameters beyond the defaults, e.g. REALM_PARAMS=sve_vl=1.
            let params = std::env::var("REALM_PARAMS").unwrap_or_default();
            build_payload(name)
                .and_then(|(image, _)| {
                    xtask::run_image_on_tf_rmm_with(
                        &fw,
                        &image,
                        entry,
                        &params,
                        std::time::Duration::from_secs(300),
                        &mut xtask::NoServices,
                    )
                })
                .and_then(|out| print_run(&out))
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a run's output and says how the realm ended ([`xtask::check_realm_end`]): the
/// exit code is non-zero unless it switched itself off after `main` returned.
fn print_run(output: &str) -> Result<(), xtask::Error> {
    print!("{output}");
    xtask::check_realm_end(output).map_err(xtask::Error::Realm)
}
