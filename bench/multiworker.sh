#!/usr/bin/env bash
# The reference recipe for a wall-clock budget on one process, then with `--workers 2` on the
# same machine: target tokens/s, seconds per step, validation loss at equal steps, and peak
# memory per process (the `--workers` run: per worker). On a CPU, N workers on one machine share
# its cores (each gets cores / N threads), so they are not faster than one process: the point is
# that they train the same model, and what the all-reduce and the per-step agreement cost.
#
#   bench/multiworker.sh DATA_DIR [MINUTES] [WORKERS]
#
# DATA_DIR holds Multi30k's {train,val}.{de,en}[.gz]; MINUTES (default 3) is each run's budget;
# WORKERS defaults to 2. Validation every 100 steps, so both runs have losses at the same steps.
#
# Measured (`bench/multiworker.sh ../shared/data/multi30k 2`: 2 minutes each, 2 AMD EPYC (Zen 4,
# family 25 model 17) cores, nothing else running, mixed_bfloat16 as `auto` chose):
#   1 process: 364 steps in 105.7 s of steps, 3,327 target tok/s, 290 ms/step; peak RSS 1804 MiB
#   2 workers: 220 steps in 104.3 s of steps, 2,078 target tok/s, 474 ms/step; peak RSS 1568 and 1510 MiB
#   validation loss at steps 100 / 200: 4.7726 / 4.0645 (1 process), 4.8311 / 4.0090 (2 workers)
# Two workers on two cores are 1.6x slower per step (184 ms more): each has one core and one
# thread for half the batch (smaller products, less efficient than one process's two threads on
# the whole batch), then the all-reduce of 9.1 M gradients (36 MB) over gRPC on 127.0.0.1, and
# the per-step agreement on stops. The losses differ because the recipe's dropout (0.3) draws
# each replica's masks from its own stream; with dropout 0 two workers reproduce one process
# (tests/test_multiworker.py: losses and weights equal within 1e-5).
set -euo pipefail
DATA=$(cd "${1:?usage: bench/multiworker.sh DATA_DIR [MINUTES] [WORKERS]}" && pwd)
MINUTES=${2:-3}
WORKERS=${3:-2}
cd "$(dirname "$0")/.."
NMTKIT=.venv/bin/nmtkit
RECIPE=recipes/multi30k-de-en.yaml
RUN=runs/bench-multiworker
mkdir -p "$RUN"
SETS=(--set "data.root=$DATA" --set "data.prepared=$RUN/data" --set "train.max_minutes=$MINUTES"
      --set train.epochs=1000 --set train.valid_every=100)

lscpu | sed -n 's/^Model name: *//p; s/^CPU(s): *//p' | paste -sd' ' | sed 's/^/CPU: /'
[ -f "$RUN/data/manifest.json" ] || $NMTKIT preprocess "$RECIPE" "${SETS[@]}" --quiet

# The peak resident memory of each worker (VmHWM), sampled each second while they run.
watch_workers() {  # LAUNCHER_PID OUT
  local launcher=$1 out=$2
  : > "$out"
  while kill -0 "$launcher" 2>/dev/null; do
    for pid in $(cat /proc/"$launcher"/task/"$launcher"/children 2>/dev/null); do
      hwm=$(awk '/VmHWM/ {print $2}' /proc/"$pid"/status 2>/dev/null || true)
      [ -n "$hwm" ] && echo "$pid $hwm" >> "$out"
    done
    sleep 1
  done
}

echo "== 1 process, $MINUTES min" >&2
/usr/bin/time -f "%M" -o "$RUN/one.rss" $NMTKIT train "$RECIPE" "${SETS[@]}" \
    --set "train.model_dir=$RUN/one" --overwrite 2> "$RUN/one.log" || { tail -3 "$RUN/one.log"; exit 1; }
echo "== --workers $WORKERS, $MINUTES min" >&2
$NMTKIT train "$RECIPE" "${SETS[@]}" --set "train.model_dir=$RUN/workers" --overwrite --workers "$WORKERS" \
    2> "$RUN/workers.log" &
launcher=$!
watch_workers $launcher "$RUN/workers.rss" &
wait $launcher || { tail -3 "$RUN/workers.log"; exit 1; }
wait

.venv/bin/python - "$RUN" "$WORKERS" <<'PY'
import json, sys
from collections import defaultdict
from pathlib import Path
run, workers = Path(sys.argv[1]), int(sys.argv[2])
def figures(name):
    t = json.loads((run / name / "manifest.json").read_text())["training"]
    losses = {m["step"]: m["valid_loss"] for m in map(json.loads, (run / name / "metrics.jsonl").read_text().splitlines())}
    return t, losses
one, one_losses = figures("one")
many, many_losses = figures("workers")
peaks = defaultdict(int)
for line in (run / "workers.rss").read_text().split("\n"):
    if line.strip():
        pid, kb = line.split()
        peaks[pid] = max(peaks[pid], int(kb))
for label, t in (("1 process", one), (f"{workers} workers", many)):
    print(f"{label}: {t['steps']} steps in {t['train_seconds']} s of steps, {t['train_tokens_per_s']:,.0f} target tok/s, "
          f"{1000 * t['train_seconds'] / t['steps']:.0f} ms/step ({t['precision']}, {t['replicas']} replicas)")
print(f"peak RSS: 1 process {int((run / 'one.rss').read_text().split()[-1]) // 1024} MiB; "
      f"{workers} workers " + ", ".join(f"{kb // 1024} MiB" for kb in peaks.values()))
common = sorted(set(one_losses) & set(many_losses))
print("validation loss at equal steps (1 process / workers): "
      + "; ".join(f"step {s}: {one_losses[s]:.4f} / {many_losses[s]:.4f}" for s in common))
PY
