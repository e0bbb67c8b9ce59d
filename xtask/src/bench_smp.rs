//! `cargo xtask bench-smp [DIR] [--recs N] [--runs R]`: the speed-up of the `smp` example on
//! 1, 2, 4, ... RECs, with 1 REC as the baseline in the same run.
//!
//! The example times the same computation on REC 0 alone, then split across 2, 4, ... RECs
//! up to the realm's REC count, in one realm, and prints a line per count
//! (`examples/smp/src/main.rs`). This benchmark boots a realm of N RECs (default 4) R times
//! (default 3) under the EL2 harness (QEMU `-smp N`, REC i on CPU i) and, with DIR (TF-A +
//! TF-RMM), on TF-RMM through rmi-host (REC i on physical CPU i), and prints per platform
//! and REC count the median time and the median of the per-run speed-ups. Every run's result
//! check must pass. The numbers measure QEMU's threads on the machine that runs it: a
//! speed-up needs as many free host cores as RECs.

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

/// The table rows of one platform: per REC count, the median time and the median speed-up
/// over 1 REC of the same run.
#[must_use]
pub fn table(platform: &str, runs: &[Times]) -> String {
    let mut out = String::new();
    let counts: Vec<usize> = runs
        .first()
        .map(|r| r.iter().map(|t| t.0).collect())
        .unwrap_or_default();
    for count in counts {
        let times: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.iter().find(|t| t.0 == count).map(|t| t.1 as f64))
            .collect();
        let speedups: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let base = r.first()?.1 as f64;
                let t = r.iter().find(|t| t.0 == count)?.1 as f64;
                (t > 0.0).then(|| base / t)
            })
            .collect();
        let _ = writeln!(
            out,
            "| {platform} | {count} | {:.0} | {:.2} |",
            median(times),
            median(speedups)
        );
    }
    out
}

/// Runs the benchmark: the harness, and TF-RMM if `firmware` is given.
///
/// # Errors
///
/// A build or QEMU failure, or a run whose result check did not pass.
pub fn bench(firmware: Option<&Firmware>, recs: usize, runs: usize) -> Result<String, Error> {
    let (image, flat) = build_payload("smp")?;
    let harness = build_harness()?;
    let mut report = String::from(
        "| platform | RECs | median time (us) | median speed-up over 1 REC |\n|---|---|---|---|\n",
    );
    let mut results = Vec::new();
    for run in 0..runs {
        let output = Qemu {
            harness: harness.clone(),
            image: image.clone(),
            image_size: flat.bytes.len() as u64,
            entry: [0, 0],
            recs,
            timeout: Duration::from_secs(300),
            rmm: ModelRmm::default(),
        }
        .run()?;
        let times = parse(&output).ok_or_else(|| {
            Error::Build(format!(
                "harness run {run}: the smp example failed:\n{output}"
            ))
        })?;
        eprintln!("bench-smp: harness run {run}: {times:?}");
        results.push(times);
    }
    report.push_str(&table("EL2 harness", &results));
    if let Some(firmware) = firmware {
        let mut results = Vec::new();
        let params = format!("recs={recs}");
        for run in 0..runs {
            let output = crate::run_image_on_tf_rmm_with(
                firmware,
                &image,
                [0, 0],
                &params,
                Duration::from_secs(600),
                &mut crate::NoServices,
            )?;
            let times = parse(&output).ok_or_else(|| {
                Error::Build(format!(
                    "TF-RMM run {run}: the smp example failed:\n{output}"
                ))
            })?;
            eprintln!("bench-smp: TF-RMM run {run}: {times:?}");
            results.push(times);
        }
        report.push_str(&table("TF-RMM", &results));
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
        let t = table("h", &[times.clone(), times]);
        assert!(t.contains("| h | 2 | 500 | 2.00 |"), "{t}");
        assert!(t.contains("| h | 4 | 400 | 2.50 |"), "{t}");
        // No passed check, no times.
        assert_eq!(parse(&out.replace("passed", "FAILED")), None);
    }
}
