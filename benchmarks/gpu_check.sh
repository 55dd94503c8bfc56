#!/usr/bin/env bash
# Issue 5's GPU measurements in one call, sized for one 10-minute command on a lent GPU:
#
#   device run: command "bash benchmarks/gpu_check.sh", timeout_s 600
#
# Uses the machine's own python3 and JAX (no install: the scripts import toyscale from this
# checkout). Steps, each with its own time limit so that one failure does not cost the rest:
#   1. smoke: the phase-diagram script end to end at toy sizes (does it run with this JAX? if
#      not, the script stops there, leaving the device time for a fixed rerun);
#   2. the paper sweep end to end (benchmarks/paper_sweep.py: 1,020 models, 20,000 steps),
#      given what is left of BUDGET_S but RESERVE_S;
#   3. with the time left, a tenth of it (2,000 steps, all models) with float32 products, then
#      with bf16 products, the dense sampler and the hash generator.
# Writes into $OUT (runs/gpu_check when unset): log.txt, paper.json, chunks.txt (the paper
# sweep's chunk files with their times, also when step 2 was cut short; its start epoch is
# in log.txt), the paper figure and tenth_*.json: 8 files at most, the device tool's limit.
# EXTRA="--set KEY=VALUE ..." is added to every run (e.g. tiny steps, to try this on a CPU).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
BUDGET_S=${BUDGET_S:-580}
RESERVE_S=${RESERVE_S:-30}
MIN_TENTH_S=${MIN_TENTH_S:-90}
EXTRA=${EXTRA:-}
SMOKE=${SMOKE:-1}   # 0: skip the smoke run (once it is known to work on that machine)
PAPER=${PAPER:-1}   # 0: skip the paper sweep and give all the time to the tenths
# The tenths' engines, in order (each a train.KEY=VALUE setting).
ENGINES=${ENGINES:-matmul_precision=float32 matmul_precision=bfloat16 sampler=dense rng=hash}
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
TENTH="--set train.steps=2000 --set train.warmup=200"

left() { echo $((BUDGET_S - SECONDS)); }
step() {  # step NAME LIMIT_S ARGS...: one paper_sweep.py run under a time limit
    local name=$1 limit=$2
    shift 2
    if [ "$limit" -lt 30 ]; then
        echo "== $name: skipped, $limit s left"
        return 0
    fi
    echo "== $name ($(date -u +%T), limit ${limit} s): paper_sweep.py $* $EXTRA"
    # shellcheck disable=SC2086
    timeout --signal=TERM --kill-after=10 "$limit" "$PY" benchmarks/paper_sweep.py --no-progress "$@" $EXTRA
    local rc=$?
    echo "== $name: exit $rc after $SECONDS s in all"
    return $rc
}

{
    echo "== environment"
    timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
    timeout 60 "$PY" -c "import sys, jax, jaxlib, optax, numpy; print(sys.version.split()[0], 'jax', jax.__version__, \
'jaxlib', jaxlib.__version__, 'optax', optax.__version__, 'numpy', numpy.__version__, jax.devices())" 2>&1
    if [ "$SMOKE" != 0 ] && ! step smoke 90 --preset smoke; then  # nothing bigger can work: end now, so a fixed rerun has the time
        echo "== smoke failed after $SECONDS s; stopping"
        exit 1
    fi
    if [ "$PAPER" != 0 ]; then
        step paper $(($(left) - RESERVE_S)) --out "$WORK/paper" --json "$OUT/paper.json"
        ls -l --time-style=+%s.%N "$WORK/paper/sweep/chunks" >"$OUT/chunks.txt" 2>&1
        cp "$WORK"/paper/phase_diagram_*.png "$OUT/" 2>/dev/null
    fi
    # Each tenth gets an equal share of what is left, or all of it when a share would be under
    # MIN_TENTH_S (compile alone takes a while): then the first ones run and the rest are skipped.
    read -ra engines <<<"$ENGINES"
    for i in "${!engines[@]}"; do
        engine=${engines[$i]}
        share=$(( ($(left) - 5) / (${#engines[@]} - i) ))
        [ "$share" -lt "$MIN_TENTH_S" ] && share=$(($(left) - 5))
        # shellcheck disable=SC2086
        step "tenth $engine" "$share" $TENTH --set "train.$engine" --json "$OUT/tenth_${engine#*=}.json"
    done
    echo "== done after $SECONDS s"
} 2>&1 | tee "$OUT/log.txt"
rm -rf "$WORK"
