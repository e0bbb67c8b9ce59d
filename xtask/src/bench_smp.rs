//! `cargo xtask bench-smp [DIR] [--recs N] [--runs R]`: the speed-up of the `smp` example on
//! 1, 2, 4, ... RECs, with 1 REC as the baseline in the same run.
//!
//! The example times the same computation on REC 0 alone, then split across 2, 4, ... RECs
//! up to the realm's REC count, in one realm, and prints a line per count
//! (`examples/smp/src/main.rs`). This benchmark boots a realm of N RECs (default 4) R times
//! (default 3) under the EL2 harness (QEMU `-smp N`, REC i on CPU i) and, with DIR (TF-A +
//! TF-RMM), on TF-RMM through rmi-host (REC i on physical CPU i), and a realm of 1 REC as
//! often on each, and prints per platform and REC count the median time, the median of the
//! per-run speed-ups over 1 REC, and the speed-up over the 1-REC realm ([`bench()`] says why
//! two baselines). Every run's result check must pass. The numbers measure QEMU's threads
//! on the machine that runs it: a speed-up needs as many free host cores as RECs.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{Error, Firmware, ModelRmm, Qemu, build_harness, build_payload};

/// One run's times: (REC count, microseconds), 1 REC first.
pub type Times = Vec<(usize, u64)>;

/// Parses the example's timing lines; `None` unless the result check passed.
#[must_use]
pub fn parse(output: &str) -> Option<Times> {
    let mut times = Vec::new();
    let mut passed = false;
    for line in output.lines().map(str::trim_end) {
        if line == "smp: result check passed" {
            passed = true;
        }
        let Some(rest) = line.strip_prefix("smp: ") else {
            continue;
        };
        let Some((count, rest)) = rest.split_once(" REC") else {
            continue;
        };
        let Ok(count) = count.parse::<usize>() else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(": ").or_else(|| rest.strip_prefix("s: ")) else {
            continue;
        };
        let Some((us, _)) = rest.split_once(" us") else {
            continue;
        };
        if let Ok(us) = us.parse::<u64>() {
            times.push((count, us));
        }
    }
    (passed && times.first().is_some_and(|t| t.0 == 1)).then_some(times)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One platform of the benchmark: boots a realm of `recs` RECs `runs` times with `run` and
/// parses each output.
fn runs_of(
    what: &str,
    recs: usize,
    runs: usize,
    run: &mut dyn FnMut(usize) -> Result<String, Error>,
) -> Result<Vec<Times>, Error> {
    (0..runs)
        .map(|i| {
            let output = run(recs)?;
            let times = parse(&output).ok_or_else(|| {
                Error::Build(format!("{what} run {i}: the smp example failed:\n{output}"))
            })?;
            eprintln!("bench-smp: {what}, {recs} RECs, run {i}: {times:?}");
            Ok(times)
        })
        .collect()
}

/// The rows of one platform: the realm of 1 REC (no other CPU) as its own baseline, then
/// the realm of `recs` RECs with the speed-ups over both baselines.
fn platform_table(platform: &str, alone: &[Times], runs: &[Times]) -> String {
    let alone_us = median(
        alone
            .iter()
            .filter_map(|r| r.first())
            .map(|t| t.1 as f64)
            .collect(),
    );
    let mut out = format!("| {platform}, realm of 1 REC | 1 | {alone_us:.0} | 1.00 | 1.00 |\n");
    let counts: Vec<usize> = runs
        .first()
        .map(|r| r.iter().map(|t| t.0).collect())
        .unwrap_or_default();
    for count in counts {
        let times: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.iter().find(|t| t.0 == count).map(|t| t.1 as f64))
            .collect();
        let in_run: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let base = r.first()?.1 as f64;
                let t = r.iter().find(|t| t.0 == count)?.1 as f64;
                (t > 0.0).then(|| base / t)
            })
            .collect();
        let time = median(times);
        let over_alone = if time > 0.0 { alone_us / time } else { 0.0 };
        let _ = writeln!(
            out,
            "| {platform}, realm of {} RECs | {count} | {time:.0} | {:.2} | {over_alone:.2} |",
            runs.first().map_or(0, |r| r.last().map_or(0, |t| t.0)),
            median(in_run),
        );
    }
    out
}

/// Runs the benchmark: the harness, and TF-RMM if `firmware` is given. On each platform a
/// realm of 1 REC (no other CPU: nothing else competes for the machine's cores) is the
/// first baseline; the realm of `recs` RECs then reports each REC count against its own
/// 1-REC phase (the second baseline, same run: the CPUs waiting for their REC spin, so that
/// phase shares the machine with them) and against the 1-REC realm.
///
/// # Errors
///
/// A build or QEMU failure, or a run whose result check did not pass.
pub fn bench(firmware: Option<&Firmware>, recs: usize, runs: usize) -> Result<String, Error> {
    let (image, flat) = build_payload("smp")?;
    let harness = build_harness()?;
    let mut report = String::from(
        "| realm | RECs used | median time (us) | speed-up over 1 REC, same run | speed-up over the 1-REC realm |\n|---|---|---|---|---|\n",
    );
    let mut on_harness = |recs: usize| {
        Qemu {
            harness: harness.clone(),
            image: image.clone(),
            image_size: flat.bytes.len() as u64,
            entry: [0, 0],
            recs,
            timeout: Duration::from_secs(300),
            rmm: ModelRmm::default(),
            disk: None,
        }
        .run()
    };
    let alone = runs_of("harness", 1, runs, &mut on_harness)?;
    let many = runs_of("harness", recs, runs, &mut on_harness)?;
    report.push_str(&platform_table("EL2 harness", &alone, &many));
    if let Some(firmware) = firmware {
        let mut on_tf_rmm = |recs: usize| {
            crate::run_image_on_tf_rmm_with(
                firmware,
                &image,
                [0, 0],
                &format!("recs={recs}"),
                Duration::from_secs(600),
                &mut crate::NoServices,
            )
        };
        let alone = runs_of("TF-RMM", 1, runs, &mut on_tf_rmm)?;
        let many = runs_of("TF-RMM", recs, runs, &mut on_tf_rmm)?;
        report.push_str(&platform_table("TF-RMM", &alone, &many));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_example_lines() {
        let out = "smp: 4 RECs, 16 chains of 12000 SHA-256 links\n\
                   smp: REC 0 of 1 ran 16 chains\n\
                   smp: 1 REC: 1000 us (baseline)\n\
                   smp: REC 1 of 2 ran 8 chains\n\
                   smp: 2 RECs: 500 us, speed-up 2.00 over 1 REC, result matches\n\
                   smp: 4 RECs: 400 us, speed-up 2.50 over 1 REC, result matches\n\
                   smp: result check passed\n";
        let times = parse(out).unwrap();
        assert_eq!(times, vec![(1, 1000), (2, 500), (4, 400)]);
        let alone = vec![vec![(1, 800)]];
        let t = platform_table("h", &alone, &[times.clone(), times]);
        assert!(
            t.contains("| h, realm of 1 REC | 1 | 800 | 1.00 | 1.00 |"),
            "{t}"
        );
        assert!(
            t.contains("| h, realm of 4 RECs | 2 | 500 | 2.00 | 1.60 |"),
            "{t}"
        );
        assert!(
            t.contains("| h, realm of 4 RECs | 4 | 400 | 2.50 | 2.00 |"),
            "{t}"
        );
        // No passed check, no times.
        assert_eq!(parse(&out.replace("passed", "FAILED")), None);
    }
}
