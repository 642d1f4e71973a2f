#!/usr/bin/env bash
# The GPU path, for a session lent a GPU machine: installs with the gpu extra, checks that
# TensorFlow sees the GPU and picks cuDNN for the encoder's LSTM, trains the reference recipe for
# a few minutes in mixed precision (bfloat16, then float16 with loss scaling), and prints training
# tokens/s and translation sentences/s (beam 5 and greedy) with BLEU; with several GPUs, also
# MirroredStrategy over all of them and `--workers N` with one process per GPU.
#
#   bench/gpu_check.sh DATA_DIR [MINUTES]
#
# DATA_DIR holds Multi30k {train,val,test_2016_flickr}.{de,en}[.gz]; MINUTES (default 3) is the
# training budget of each precision. Prints one block of figures per precision.
set -euo pipefail
DATA=$(cd "${1:?usage: bench/gpu_check.sh DATA_DIR [MINUTES]}" && pwd)
MINUTES=${2:-3}
cd "$(dirname "$0")/.."
make --quiet install
.venv/bin/pip install --quiet -e '.[gpu]'
NMTKIT=.venv/bin/nmtkit
RUN=runs/gpu-check
mkdir -p "$RUN"
.venv/bin/python - <<'PY'
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print("GPUs:", gpus)
assert gpus, "TensorFlow sees no GPU"
print("build:", {k: v for k, v in tf.sysconfig.get_build_info().items() if "cuda" in k or "cudnn" in k})
import keras, time
layer = keras.layers.LSTM(512, return_sequences=True)  # cuDNN-eligible settings (the defaults)
x = tf.random.normal([64, 30, 256])
layer(x)
began = time.perf_counter()
for _ in range(20):
    y = layer(x)
_ = y.numpy()
print(f"LSTM 64x30x512 forward: {(time.perf_counter() - began) / 20 * 1000:.2f} ms "
      "(cuDNN takes well under 1 ms; the generic kernel several)")
PY
SETS=(--set "data.root=$DATA" --set "data.prepared=$RUN/data")
$NMTKIT preprocess recipes/multi30k-de-en.yaml "${SETS[@]}"
gunzip -c -f "$DATA"/test_2016_flickr.de* > "$RUN/test.de"
gunzip -c -f "$DATA"/test_2016_flickr.en* > "$RUN/test.en"
for precision in mixed_bfloat16 mixed_float16; do
  echo "== $precision, $MINUTES minutes"
  $NMTKIT train recipes/multi30k-de-en.yaml "${SETS[@]}" --set "train.model_dir=$RUN/$precision" \
      --set "train.precision=$precision" --set "train.max_minutes=$MINUTES" --set train.epochs=1000 \
      --device gpu --overwrite
  for beam in 5 1; do
    start=$(date +%s.%N)
    $NMTKIT translate --model "$RUN/$precision" --beam $beam < "$RUN/test.de" > "$RUN/test.$precision.beam$beam.en"
    end=$(date +%s.%N)
    bleu=$($NMTKIT score --json --ref "$RUN/test.en" "$RUN/test.$precision.beam$beam.en" | .venv/bin/python -c "import json,sys; print(round(json.load(sys.stdin)['bleu']['score'], 2))")
    echo "translate beam $beam: $(.venv/bin/python -c "print(f'{1000 / ($end - $start):.0f}')") sent/s (whole command), BLEU $bleu"
  done
done

# Several GPUs: MirroredStrategy over every visible GPU in one process, then `--workers N` with
# one process per GPU (MultiWorkerMirroredStrategy over 127.0.0.1); the same recipe and budget,
# so the figures compare with the single-GPU ones above. Skipped on a machine with one GPU.
GPUS=$(.venv/bin/python -c "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))")
if [ "$GPUS" -gt 1 ]; then
  for mode in mirrored workers; do
    echo "== $GPUS GPUs, $mode, mixed_bfloat16, $MINUTES minutes"
    extra=(); [ $mode = workers ] && extra=(--workers "$GPUS")
    $NMTKIT train recipes/multi30k-de-en.yaml "${SETS[@]}" --set "train.model_dir=$RUN/$mode" \
        --set train.precision=mixed_bfloat16 --set "train.max_minutes=$MINUTES" --set train.epochs=1000 \
        --device gpu --overwrite "${extra[@]}"
    .venv/bin/python -c "import json; t = json.load(open('$RUN/$mode/manifest.json'))['training']; print(f\"$mode: {t['steps']} steps, {t['train_tokens_per_s']:,.0f} target tok/s, {t['replicas']} replicas, {t.get('workers', 1)} workers; best valid loss {t['best']['valid_loss']:.3f}\")"
  done
else
  echo "== one GPU: the multi-GPU case (MirroredStrategy, --workers one process per GPU) needs several"
fi
