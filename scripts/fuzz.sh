#!/usr/bin/env bash
# Runs every cargo-fuzz target of the parser, detection, edge HTTP, OpenAPI and OAuth crates for N
# seconds each, one after the other (one libFuzzer process at a time). Not part of
# test.sh: crashes found here become unit-test regressions in the crate itself.
#
#   scripts/fuzz.sh [seconds per target] [target ...]     (default: 60, all targets)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The toolchain is stable, so the
# sanitizer flags are unlocked with RUSTC_BOOTSTRAP. New corpus entries go to a
# scratch directory under the target dir; the committed seeds in
# crates/*/fuzz/corpus/<target>/ are only read. Crashes land in crates/*/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
only=("$@")
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2
    exit 1
}

failed=()
ran=0
for crate in rampart-parse rampart-detect rampart-http rampart-openapi rampart-oauth; do
    dir="crates/$crate/fuzz"
    targets=()
    for target in $(cd "crates/$crate" && cargo fuzz list); do
        if ((${#only[@]})) && [[ ! " ${only[*]} " == *" $target "* ]]; then
            continue
        fi
        targets+=("$target")
    done
    # A crate none of whose targets was asked for is not even built.
    ((${#targets[@]})) || continue
    (cd "crates/$crate" && cargo fuzz build -O --target-dir "$target_dir/$crate")
    for target in "${targets[@]}"; do
        ran=$((ran + 1))
        scratch="$target_dir/corpus/$crate/$target"
        mkdir -p "$scratch" "$dir/corpus/$target"
        printf '\n==> %s/%s for %ss\n' "$crate" "$target" "$seconds"
        if ! (cd "crates/$crate" && cargo fuzz run -O --target-dir "$target_dir/$crate" \
            "$target" "$scratch" "fuzz/corpus/$target" -- \
            -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
            -timeout=10 -print_final_stats=1); then
            failed+=("$crate/$target")
        fi
    done
done

if ((ran == 0)); then
    echo "no fuzz target named ${only[*]}" >&2
    exit 1
fi
if ((${#failed[@]})); then
    echo "failed: ${failed[*]} (inputs in crates/*/fuzz/artifacts/)" >&2
    exit 1
fi
echo "all targets ran ${seconds}s without a finding"
