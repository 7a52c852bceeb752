#!/usr/bin/env bash
# One command for the bundled model: check tools, render data, train, evaluate, export.
#   npm run train            full run (about 10,000 + 1,000 + 800 clips, then training)
#   npm run train -- --tiny  smoke config (a few dozen clips, one epoch) into a temp folder
# Environment overrides: CHANNELS (default 16-16-32-64-64; uniform e.g. 16), EPOCHS (4), EVALS (per epoch, 2), THREADS (2),
# MAX_MINUTES (0 = no limit), DEVICE (cpu | cuda | auto), JOBS (render processes, 2), N_TRAIN (training clips, 10000;
# a larger count keeps an earlier render's clips and renders the rest), INIT (a best.pt to continue from), LR (2e-3),
# WARMUP (0.1), EMA (0 = off), MIX (fraction of a batch mixed with another clip, 0.33), PATIENCE (3), RUN_NAME (cnn$CHANNELS), MACHINE (a provenance note), PY, FLUID_SF,
# TIM_SF, DATA, RUNS, OUT_MODELS, OUT_FIXTURES.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-/usr/bin/python3}
FLUID_SF=${FLUID_SF:-/usr/share/sounds/sf2/FluidR3_GM.sf2}
TIM_SF=${TIM_SF:-/usr/share/sounds/sf2/TimGM6mb.sf2}
TINY=0
for arg in "$@"; do
  case "$arg" in
    --tiny) TINY=1 ;;
    *) echo "train.sh: unknown argument '$arg' (expected --tiny)" >&2; exit 2 ;;
  esac
done

fail() { echo "train.sh: $1" >&2; exit 1; }
[ -x "$PY" ] || fail "expected Debian's python at $PY: install the Debian package python3"
"$PY" -c 'import numpy' 2>/dev/null || fail "numpy not importable by $PY: install the Debian package python3-numpy"
"$PY" -c 'import torch' 2>/dev/null || fail "torch not importable by $PY: install the Debian package python3-torch"
command -v fluidsynth >/dev/null || fail "fluidsynth not found: install the Debian package fluidsynth"
[ -f "$FLUID_SF" ] || fail "soundfont $FLUID_SF not found: install the Debian package fluid-soundfont-gm"
[ -f "$TIM_SF" ] || fail "soundfont $TIM_SF not found: install the Debian package timgm6mb-soundfont"

CHANNELS=${CHANNELS:-16-16-32-64-64}
if [ "$TINY" = 1 ]; then
  WORK=${WORK:-$(mktemp -d -t auralscope-tiny-XXXXXX)}
  DATA=${DATA:-$WORK/data}; RUNS=${RUNS:-$WORK/runs}
  OUT_MODELS=${OUT_MODELS:-$WORK/models}; OUT_FIXTURES=${OUT_FIXTURES:-$WORK/fixtures}
  N_TRAIN=32; N_VAL=16; N_TEST=16; CHUNK=16; JOBS=1
  EPOCHS=${EPOCHS:-1}; CHANNELS=${CHANNELS_TINY:-4}; MODEL_ID=auralscope-tiny
  TRAIN_ARGS=(--batch 16 --threads 1)
else
  DATA=${DATA:-training/data}; RUNS=${RUNS:-training/runs}
  OUT_MODELS=${OUT_MODELS:-models}; OUT_FIXTURES=${OUT_FIXTURES:-test/fixtures/model-parity}
  N_TRAIN=${N_TRAIN:-10000}; N_VAL=1000; N_TEST=800; CHUNK=40; JOBS=${JOBS:-2}
  EPOCHS=${EPOCHS:-4}; MODEL_ID=auralscope-cnn$CHANNELS
  TRAIN_ARGS=(--batch 32 --threads "${THREADS:-2}" --evals-per-epoch "${EVALS:-2}" --max-minutes "${MAX_MINUTES:-0}"
              --device "${DEVICE:-cpu}")
fi
TRAIN_ARGS+=(--lr "${LR:-2e-3}" --warmup "${WARMUP:-0.1}" --ema "${EMA:-0}" --patience "${PATIENCE:-3}" --mix "${MIX:-0.33}")
if [ -n "${INIT:-}" ]; then TRAIN_ARGS+=(--init "$INIT"); fi
RUN=$RUNS/${RUN_NAME:-cnn$CHANNELS}
echo "train.sh: data $DATA, run $RUN, model $OUT_MODELS/$MODEL_ID"

gen() {  # split clips seed soundfont
  if [ -f "$DATA/$1_x.npy" ] && [ -f "$DATA/$1_meta.json" ] && grep -q "\"clips\": $2," "$DATA/$1_meta.json"; then
    echo "train.sh: $DATA/$1 exists ($2 clips), not re-rendering"
  else
    nice -n 10 "$PY" training/gen_data.py --split "$1" --clips "$2" --seed "$3" --soundfont "$4" \
      --out "$DATA" --jobs "$JOBS" --chunk "$CHUNK"
  fi
}
gen val "$N_VAL" 2 "$FLUID_SF"
gen test "$N_TEST" 3 "$TIM_SF"
gen train "$N_TRAIN" 1 "$FLUID_SF"

nice -n 10 "$PY" training/train.py --data "$DATA" --run "$RUN" --channels "$CHANNELS" --epochs "$EPOCHS" "${TRAIN_ARGS[@]}"
"$PY" training/export.py --run "$RUN" --id "$MODEL_ID" --models "$OUT_MODELS" --fixtures "$OUT_FIXTURES" \
  --data "$DATA" ${MACHINE:+--machine "$MACHINE"} \
  --command "$(env | grep -E '^(CHANNELS|EPOCHS|EVALS|THREADS|MAX_MINUTES|DEVICE|N_TRAIN|INIT|LR|WARMUP|EMA|MIX|PATIENCE|RUN_NAME)=' | sort | tr '\n' ' ')npm run train$([ "$TINY" = 1 ] && echo ' -- --tiny' || true)"
echo "train.sh: done: $OUT_MODELS/$MODEL_ID"
