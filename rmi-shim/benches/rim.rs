//! RIM prediction of a 64 MiB image next to one plain SHA-256 pass over the same bytes.
//!
//! The goal is prediction within 1.2x of the plain hash. Per 4 KiB granule a plain pass runs
//! 64 SHA-256 compressions; prediction runs 65 for the content (64 + padding) and 5 for the
//! 256-byte DATA descriptor, plus 5 per RIPAS descriptor, so the floor is about 1.09x with
//! 2 MiB RIPAS entries and 1.17x with 4 KiB entries. `predict_parallel` moves the content
//! hashes to other threads.
//!
//! After the criterion groups, a direct best-of-5 timing prints the ratios on one line each.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use cca_abi::measurement::HashAlgorithm;
use cca_abi::rmi::{Ipa, RmiDataMeasureContent, RttLevel};
use criterion::{Criterion, Throughput};
use rmi_shim::rim::{FlatImage, MeasuredRealmParams, MeasuredRecParams};
use sha2::{Digest, Sha256};

const IMAGE_SIZE: usize = 64 << 20;

/// Deterministic, incompressible-looking bytes (xorshift64).
fn image() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(IMAGE_SIZE);
    while v.len() < IMAGE_SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

fn flat(bytes: &[u8], level: i8) -> FlatImage<'_> {
    const RECS: [MeasuredRecParams; 1] = [MeasuredRecParams {
        flags: 1,
        pc: 0x4000_0000,
        gprs: [0; 8],
    }];
    FlatImage {
        params: MeasuredRealmParams {
            flags0: 0,
            s2sz: 40,
            sve_vl: 0,
            num_bps: 5,
            num_wps: 3,
            pmu_num_ctrs: 0,
            hash_algo: HashAlgorithm::Sha256,
        },
        load: Ipa::new(0x4000_0000).expect("aligned"),
        bytes,
        flags: RmiDataMeasureContent::MeasureContent,
        unmeasured: &[],
        ripas_level: RttLevel::new(level).expect("valid level"),
        recs: &RECS,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

fn bench(c: &mut Criterion, bytes: &[u8]) {
    let mut g = c.benchmark_group("rim-64MiB");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(IMAGE_SIZE as u64));
    g.bench_function("sha256-plain", |b| b.iter(|| sha256(black_box(bytes))));
    g.bench_function("predict-ripas-l2", |b| {
        b.iter(|| flat(black_box(bytes), 2).predict())
    });
    g.bench_function("predict-ripas-l3", |b| {
        b.iter(|| flat(black_box(bytes), 3).predict())
    });
    g.bench_function("predict-parallel-ripas-l3", |b| {
        b.iter(|| flat(black_box(bytes), 3).predict_parallel(threads()));
    });
    g.finish();
}

/// Best of five runs of `f`.
fn best_of_5<T>(mut f: impl FnMut() -> T) -> Duration {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let bytes = image();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &bytes);
    c.final_summary();

    let plain = best_of_5(|| sha256(&bytes));
    let report = |name: &str, d: Duration| {
        println!(
            "ratio {name}: {:.3}x ({:.1} ms vs {:.1} ms plain SHA-256 of 64 MiB)",
            d.as_secs_f64() / plain.as_secs_f64(),
            d.as_secs_f64() * 1e3,
            plain.as_secs_f64() * 1e3
        );
    };
    report("predict-ripas-l2", best_of_5(|| flat(&bytes, 2).predict()));
    report("predict-ripas-l3", best_of_5(|| flat(&bytes, 3).predict()));
    let n = threads();
    report(
        &format!("predict-parallel-ripas-l3 ({n} threads)"),
        best_of_5(|| flat(&bytes, 3).predict_parallel(n)),
    );
}
