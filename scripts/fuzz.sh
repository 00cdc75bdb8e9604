#!/usr/bin/env bash
# Runs each cargo-fuzz target for a set time and says what it found (see docs/fuzzing.md).
#
#     scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      default: 60 s, every target
#
# Needs the nightly toolchain and cargo-fuzz. The seeds in fuzz/corpus/<target> are read, never
# written: what libFuzzer learns goes to fuzz/scratch/<target> (kept between runs, not in git).
# A crasher lands in <fuzz dir>/artifacts/<target>/; keep it as a regression as the doc says.
#
# Settings from the environment:
#   FUZZ_SANITIZER  none (default: loa is safe Rust, and this is 2-3x faster) or address
#   FUZZ_RSS_MB     memory limit per target before libFuzzer calls it a crash (default 2048)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (default 10)
#   FUZZ_DIR        another cargo-fuzz project to build the targets from (default fuzz)
#   FUZZ_ARGS       more libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go on past a
#                   crash that is already known
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-60}
shift || true
fuzz_dir=${FUZZ_DIR:-fuzz}
sanitizer=${FUZZ_SANITIZER:-none}
rss_mb=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}
export CARGO_INCREMENTAL=0

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$fuzz_dir")
fi

echo "building ${#targets[@]} targets (sanitizer: $sanitizer)…"
cargo +nightly fuzz build -s "$sanitizer" --fuzz-dir "$fuzz_dir" >/dev/null

found=0
printf '%-14s %10s %9s %7s %7s  %s\n' target runs execs/s cov corpus result
for t in "${targets[@]}"; do
    seeds=$root/fuzz/corpus/$t
    scratch=$root/fuzz/scratch/$t
    artifacts=$root/$fuzz_dir/artifacts/$t
    log=$root/fuzz/scratch/$t.log
    [ -d "$seeds" ] || { echo "$t: no seed corpus at fuzz/corpus/$t" >&2; exit 1; }
    mkdir -p "$scratch" "$artifacts"
    # The targets write each input to a temporary file; one that crashes leaves it behind.
    export TMPDIR=$root/fuzz/scratch/tmp
    rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
    before=$(find "$artifacts" -type f | wc -l)
    status=0
    cargo +nightly fuzz run -s "$sanitizer" --fuzz-dir "$fuzz_dir" "$t" "$scratch" "$seeds" -- \
        -max_total_time="$secs" -rss_limit_mb="$rss_mb" -timeout="$timeout" \
        -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    units=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    after=$(find "$artifacts" -type f | wc -l)
    if [ "$status" -eq 0 ] && [ "$after" -eq "$before" ]; then
        result=clean
    else
        found=1
        newest=$(ls -t "$artifacts" 2>/dev/null | head -1)
        kind=$(grep -m1 -oE 'ERROR: libFuzzer: [a-z-]+|panicked at [^ ]*' "$log" || echo "exit $status")
        result="FOUND ($kind): ${artifacts#"$root"/}/$newest, log ${log#"$root"/}"
    fi
    printf '%-14s %10s %9s %7s %7s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
        "${units:-?}" "$result"
done
exit $found
