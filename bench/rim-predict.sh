#!/usr/bin/env bash
# Whole-process benchmark of `rim-predict` on a 64 MiB image: the default path (the image
# file memory-mapped, DATA content hashed on every core) against the single-threaded
# read-into-memory path as the named baseline (`--no-mmap --threads 1`: the file read with
# one read_to_end, the library's sequential predictor), in one run, plus the two steps in
# between. Each variant runs with and without --ram-size (RIPAS over 128 MiB at level 3, as
# rmi-shim's builder and rmi-host do it).
#
#   bash bench/rim-predict.sh            # hyperfine if installed (apt-get install hyperfine)
#   RUNS=20 bash bench/rim-predict.sh    # more runs per variant
#   OLD=path/to/rim-predict bash bench/rim-predict.sh   # also time another build, as "old"
#   PEER=path/to/realm-measurements PEER_CONFIGS=path/to/its/configs bash bench/rim-predict.sh
#       # also time veraison's cca-realm-measurements on the same file (its kvmtool mode,
#       # 256 MiB of guest RAM, the file as the kernel: what a user of it runs for this image)
#
# The image starts with an arm64 Image header (magic "ARM\x64", image_size 64 MiB), so that
# cca-realm-measurements takes it as a kernel; rim-predict hashes it as any flat image.
# The image is random bytes in target/bench/ (made once); every variant reads it from the
# page cache (warm-up runs first), so the numbers are hashing and process cost, not disk.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-10}"
cargo build --release --quiet -p rmi-shim --features std --bin rim-predict
bin="$PWD/target/release/rim-predict"
image="$PWD/target/bench/rim-predict-64MiB.bin"
if [ ! -s "$image" ] || [ "$(stat -c %s "$image")" -ne $((64 << 20)) ] \
    || [ "$(dd if="$image" bs=1 skip=56 count=4 2>/dev/null)" != $'ARM\x64' ]; then
    mkdir -p "$(dirname "$image")"
    {
        # code0 (MZ), code1, text_offset 0, image_size 64 MiB, flags 0xa, res2..4, magic, res5
        printf '\x4d\x5a\x00\x91\x00\x00\x00\x00'
        printf '\x00\x00\x00\x00\x00\x00\x00\x00'
        printf '\x00\x00\x00\x04\x00\x00\x00\x00'
        printf '\x0a\x00\x00\x00\x00\x00\x00\x00'
        head -c 24 /dev/zero
        printf 'ARM\x64'
        head -c 4 /dev/zero
        head -c $(((64 << 20) - 64)) /dev/urandom
    } >"$image"
fi
echo "rim-predict on $image ($(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"

args="--s2sz 39 --ipa-base 0x80000000"
ram="--ram-size 0x8000000"
names=() commands=()
add() { names+=("$1"); commands+=("$2"); }
for r in "" "$ram"; do
    suffix=""; [ -n "$r" ] && suffix=", --ram-size"
    add "baseline: read + 1 thread$suffix" "$bin --no-mmap --threads 1 $args $r $image"
    add "read + all cores$suffix" "$bin --no-mmap $args $r $image"
    add "mmap + 1 thread$suffix" "$bin --threads 1 $args $r $image"
    add "new default: mmap + all cores$suffix" "$bin $args $r $image"
    if [ -n "${OLD:-}" ]; then
        add "old build$suffix" "$OLD $args $r $image"
    fi
done

peer=()
if [ -n "${PEER:-}" ]; then
    configs="${PEER_CONFIGS:?PEER_CONFIGS must name the configs folder of cca-realm-measurements}"
    peer=(--command-name "cca-realm-measurements (kvmtool, -m 256)"
        "$PEER -c $configs/qemu-max-8.2.conf -c $configs/kvm.conf -k $image kvmtool -c 1 -m 256 --realm -k $image")
fi

# Every variant must print the same RIM (two RIMs: with and without --ram-size).
distinct=$(for c in "${commands[@]}"; do $c; done | sort -u | wc -l)
if [ "$distinct" -ne 2 ]; then
    echo "bench/rim-predict.sh: the variants disagree on the RIM" >&2
    exit 1
fi

if command -v hyperfine >/dev/null; then
    hargs=(--warmup 2 --runs "$runs" --style basic --export-markdown target/bench/rim-predict.md)
    for i in "${!commands[@]}"; do
        hargs+=(--command-name "${names[$i]}" "${commands[$i]}")
    done
    hyperfine "${hargs[@]}" "${peer[@]}"
    echo "table: target/bench/rim-predict.md"
else
    echo "(hyperfine is not installed: best of $runs wall-clock runs)"
    for i in "${!commands[@]}"; do
        best=""
        for _ in $(seq 2); do ${commands[$i]} >/dev/null; done
        for _ in $(seq "$runs"); do
            t0=$(date +%s%N)
            ${commands[$i]} >/dev/null
            t=$((($(date +%s%N) - t0) / 1000000))
            if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        done
        printf '%-45s %6d ms\n' "${names[$i]}" "$best"
    done
fi
