#!/usr/bin/env bash
# Issue 5's GPU measurements, sized for a lent GPU's 15 minutes (one command at most 10):
#
#   device run 1: command "bash benchmarks/gpu_check.sh", timeout_s 600
#   device run 2 (what is left, on the still-warm machine: a fresh one needs 4 minutes left):
#                 command "SMOKE=0 PAPER=0 BUDGET_S=200 bash benchmarks/gpu_check.sh", with
#                 BUDGET_S at most timeout_s - 15 and timeout_s what status's budget_left_s
#                 leaves (compare.json is written after each of its runs, and the runs are kept in
#                 COMPARE_OUT, so run 2 resumes a comparison that run 1 cut)
#
# What the first GPU session measured (one H200, benchmarks/RESULTS.md, thirteenth session):
# the float32 paper sweep takes more than 498 s (five of six widths in 449 s), so it cannot
# share one 10-minute call with anything. So the paper step now trains with bfloat16 products,
# the candidate for the 10-minute target, and the exponents of float32, bfloat16 and TF32 are
# compared at a tenth of the steps on part of the grid (in run 1 if time is left, else in run 2).
#
# Uses the machine's own python3 and JAX (no install: the scripts import toyscale from this
# checkout). Steps, each with its own time limit so that one failure does not cost the rest:
#   1. smoke: the phase-diagram script end to end at toy sizes (does it run with this JAX? if
#      not, the script stops there, leaving the device time for a fixed rerun);
#   2. the paper sweep end to end (benchmarks/paper_sweep.py: 1,020 models, 20,000 steps) with
#      PAPER_SET (default bfloat16 products), given what is left of BUDGET_S but RESERVE_S;
#      it prints each width's chunk as it lands, so a run cut short still shows its times;
#   3. with the time left (at least MIN_COMPARE_S), benchmarks/precision_check.py: the paper
#      preset at 2,000 steps on COMPARE_SET's grid (default gammas -1, 1 x alphas 0.5, 1, 1.5, 2:
#      48 models; sized so that run 2 above holds it), in float32, bfloat16 and tensorfloat32
#      products, and every alpha_m's change over its standard error (exit status 1, so this
#      step counts as failed, when one exceeds MAX_RATIO, default 1: outside the error bars);
#   4. with any time still left, a tenth of the paper run (2,000 steps, all models) for each of
#      ENGINES (default none; e.g. "sampler=dense rng=hash").
# Writes into $OUT (runs/gpu_check when unset): log.txt, paper.json, chunks.txt (the paper
# sweep's chunk files with their times; its start epoch is in log.txt), the paper figure (paper.png),
# compare.json and tenth_*.json: 8 files at most, the device tool's limit, with at most 3
# ENGINES.
# EXTRA="--set KEY=VALUE ..." is added to every run (e.g. tiny steps, to try this on a CPU, with
# JAX_PLATFORMS=cpu: the script asks JAX for a GPU otherwise).
# Exit status 0 when every step that ran finished; 1 when the smoke run failed (nothing after
# it ran) or a later step failed or hit its time limit (log.txt's last line names them).
set -u -o pipefail
set -f  # no globbing: settings such as gammas=[-1,1] must reach the scripts as written
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
BUDGET_S=${BUDGET_S:-580}
RESERVE_S=${RESERVE_S:-30}
MIN_COMPARE_S=${MIN_COMPARE_S:-120}
MIN_TENTH_S=${MIN_TENTH_S:-90}
EXTRA=${EXTRA:-}
SMOKE=${SMOKE:-1}   # 0: skip the smoke run (once it is known to work on that machine)
PAPER=${PAPER:-1}   # 0: skip the paper sweep
PAPER_SET=${PAPER_SET-train.matmul_precision=bfloat16}   # "" (set and empty) for the preset as published (float32)
COMPARE=${COMPARE:-1}   # 0: skip the comparison of the precisions
COMPARE_SET=${COMPARE_SET-gammas=[-1,1] alphas=[0.5,1,1.5,2]}
# The comparison's runs, kept (an ignored folder, which a warm machine keeps between calls) so
# that run 2 resumes a comparison that run 1's time limit cut: each experiment resumes its sweep.
# One folder per comparison's settings (a sweep refuses to resume into other settings' folder).
COMPARE_OUT=${COMPARE_OUT:-runs/gpu_check_compare-$(printf '%s' "$COMPARE_SET|$EXTRA" | cksum | cut -d' ' -f1)}
MAX_RATIO=${MAX_RATIO:-1}   # the comparison's acceptance rule: every |change| / stderr at most this
# The tenths' engines, in order (each a train.KEY=VALUE setting).
ENGINES=${ENGINES:-}
PY=${PYTHON:-python3}
# A GPU or an error: JAX falls back to the CPU with only a warning when its GPU backend fails
# to start, and the paper step would then spend its whole limit there (JAX_PLATFORMS=cpu to
# rehearse on a CPU).
export JAX_PLATFORMS=${JAX_PLATFORMS-cuda}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
TENTH="--set train.steps=2000 --set train.warmup=200"

left() { echo $((BUDGET_S - SECONDS)); }
sets() { for kv in "$@"; do printf -- '--set %s ' "$kv"; done; }  # sets A=1 B=2: --set A=1 --set B=2
run_limited() {  # run_limited NAME LIMIT_S SCRIPT ARGS...: one benchmark script under a time limit
    local name=$1 limit=$2
    shift 2
    if [ "$limit" -lt 30 ]; then
        echo "== $name: skipped, $limit s left"
        return 0
    fi
    echo "== $name ($(date -u +%T), limit ${limit} s): $* $EXTRA"
    # shellcheck disable=SC2086
    timeout --signal=TERM --kill-after=10 "$limit" "$PY" "$@" $EXTRA
    local rc=$?
    echo "== $name: exit $rc after $SECONDS s in all"
    return $rc
}

failed=""  # the steps that did not finish (an error, or their time limit)
{
    echo "== environment"
    timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
    timeout 60 "$PY" -c "import sys, jax, jaxlib, optax, numpy; print(sys.version.split()[0], 'jax', jax.__version__, \
'jaxlib', jaxlib.__version__, 'optax', optax.__version__, 'numpy', numpy.__version__, jax.devices())" 2>&1
    # shellcheck disable=SC2046  (the paper step's products: their program compiles here first)
    if [ "$SMOKE" != 0 ] && ! run_limited smoke 60 benchmarks/paper_sweep.py --no-progress --preset smoke \
            $(sets $PAPER_SET); then
        echo "== smoke failed after $SECONDS s; stopping"  # nothing bigger can work: a fixed rerun gets the time
        exit 1
    fi
    if [ "$PAPER" != 0 ]; then
        # shellcheck disable=SC2046
        run_limited paper $(($(left) - RESERVE_S)) benchmarks/paper_sweep.py --no-progress $(sets $PAPER_SET) \
            --out "$WORK/paper" --json "$OUT/paper.json" || failed="$failed paper"
        ls -l --time-style=+%s.%N "$WORK/paper/sweep/chunks" >"$OUT/chunks.txt" 2>&1
        # As paper.png: the figure's own name holds the settings ('=', '['), which the tool does not bring back.
        find "$WORK/paper" -maxdepth 1 -name 'phase_diagram_*.png' -exec cp {} "$OUT/paper.png" \;
    fi
    if [ "$COMPARE" != 0 ]; then
        if [ "$(left)" -lt "$MIN_COMPARE_S" ]; then
            echo "== compare: skipped, $(left) s left (under MIN_COMPARE_S = $MIN_COMPARE_S)"
        else
            # shellcheck disable=SC2046,SC2086
            run_limited compare $(($(left) - 5)) benchmarks/precision_check.py --experiments phase_diagram \
                --preset paper $TENTH $(sets $COMPARE_SET) --max-ratio "$MAX_RATIO" --out "$COMPARE_OUT" \
                --json "$OUT/compare.json" \
                || failed="$failed compare"
        fi
    fi
    # Each tenth gets an equal share of what is left, or all of it when a share would be under
    # MIN_TENTH_S (compile alone takes a while): then the first ones run and the rest are skipped.
    read -ra engines <<<"$ENGINES"
    for i in "${!engines[@]}"; do
        engine=${engines[$i]}
        share=$(( ($(left) - 5) / (${#engines[@]} - i) ))
        [ "$share" -lt "$MIN_TENTH_S" ] && share=$(($(left) - 5))
        # shellcheck disable=SC2086
        run_limited "tenth $engine" "$share" benchmarks/paper_sweep.py --no-progress $TENTH --set "train.$engine" \
            --json "$OUT/tenth_${engine#*=}.json" || failed="$failed tenth_$engine"
    done
    echo "== done after $SECONDS s${failed:+; failed or cut short:$failed}"
    [ -z "$failed" ]  # (the group's exit status: 1 if a step did not finish)
} 2>&1 | tee "$OUT/log.txt"
status=$?  # (the group's, through pipefail: tee itself succeeds)
rm -rf "$WORK"
exit "$status"
