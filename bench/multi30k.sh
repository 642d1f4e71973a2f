#!/usr/bin/env bash
# Train the reference recipe on Multi30k for a wall-clock budget, then translate
# test_2016_flickr with beam 5 and greedy search, and print BLEU and chrF (sacrebleu, with
# signatures), training target tokens/s, translation sentences/s and peak memory.
#
#   bench/multi30k.sh DATA_DIR [MINUTES] [RECIPE]
#
# DATA_DIR holds {train,val,test_2016_flickr}.{de,en}[.gz]; MINUTES defaults to 25 (the peer's
# budget, see the README); RECIPE defaults to recipes/multi30k-de-en.yaml. Extra recipe
# overrides can be passed in NMTKIT_SET (e.g. NMTKIT_SET="train.precision=float32").
# PEER_WORK=<WORK of ../shared/peers/onmt/run_onmt_multi30k.sh run on this machine> prints the
# peer's training figures beside nmtkit's, over the same spans (see bench/peer.py).
set -euo pipefail
DATA=$(cd "${1:?usage: bench/multi30k.sh DATA_DIR [MINUTES] [RECIPE]}" && pwd)
MINUTES=${2:-25}
RECIPE=${3:-recipes/multi30k-de-en.yaml}
cd "$(dirname "$0")/.."
make --quiet install
NMTKIT=.venv/bin/nmtkit
RUN=runs/bench-$(basename "$RECIPE" .yaml)
mkdir -p "$RUN"
SETS=(--set "data.root=$DATA" --set "data.prepared=$RUN/data" --set "train.model_dir=$RUN/model")
for kv in ${NMTKIT_SET:-}; do SETS+=(--set "$kv"); done
SRC=$(sed -n 's/^ *src_lang: *\([a-z]*\).*/\1/p' "$RECIPE")
TGT=$(sed -n 's/^ *tgt_lang: *\([a-z]*\).*/\1/p' "$RECIPE")

peak_mib() { awk '/Maximum resident/ {printf "%.0f", $NF / 1024}' "$1"; }
now() { date +%s.%N; }

echo "== preprocess" >&2
$NMTKIT preprocess "$RECIPE" "${SETS[@]}"
echo "== train ($MINUTES min budget)" >&2
/usr/bin/time -v -o "$RUN/train.time" $NMTKIT train "$RECIPE" "${SETS[@]}" \
    --set "train.max_minutes=$MINUTES" --set train.epochs=1000 --overwrite 2> >(tee "$RUN/train.log" >&2)

gunzip -c -f "$DATA/test_2016_flickr.$SRC"* > "$RUN/test.$SRC"
gunzip -c -f "$DATA/test_2016_flickr.$TGT"* > "$RUN/test.$TGT"
for beam in 5 1; do
  echo "== translate test_2016_flickr, beam $beam" >&2
  start=$(now)
  /usr/bin/time -v -o "$RUN/translate.beam$beam.time" $NMTKIT translate --model "$RUN/model" \
      --beam $beam < "$RUN/test.$SRC" > "$RUN/test.beam$beam.$TGT"
  echo "$start $(now)" > "$RUN/translate.beam$beam.seconds"
  $NMTKIT score --json --ref "$RUN/test.$TGT" "$RUN/test.beam$beam.$TGT" > "$RUN/score.beam$beam.json"
done

.venv/bin/python - "$RUN" "$(peak_mib "$RUN/train.time")" "$(peak_mib "$RUN/translate.beam5.time")" "${PEER_WORK:-}" <<'PY'
import json, sys
from pathlib import Path
sys.path.insert(0, "bench")
from peer import describe_cpu, peer_training, wall_seconds
run, train_rss, translate_rss = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
manifest = json.loads((run / "model" / "manifest.json").read_text())
t = manifest["training"]
wall = wall_seconds((run / "train.time").read_text())
print(f"CPU: {describe_cpu()}")
print(f"model: {manifest['parameters']:,} parameters; vocab src {manifest['data']['vocab']['src']} tgt {manifest['data']['vocab']['tgt']}")
print(f"training: {t['steps']} steps, {t['epochs']} epochs in the budget; target tok/s (EOS included) "
      f"{t['train_tokens_per_s']:,.0f} over the training steps, {t['target_tokens'] / wall:,.0f} over the whole "
      f"process ({wall:.0f} s); peak RSS {train_rss} MiB")
if sys.argv[4]:
    p = peer_training(Path(sys.argv[4]))
    print(f"peer ({sys.argv[4]}): {p['steps']} steps, {p['epochs']:.2f} epochs; target tok/s {p['steps_tokens_per_s']:,.0f} "
          f"over its steps, {p['process_tokens_per_s']:,.0f} over its whole process ({p['process_s']:.0f} s); "
          f"peak RSS {p['peak_mib']:.0f} MiB")
    print(f"nmtkit / peer: {t['train_tokens_per_s'] / p['steps_tokens_per_s']:.2f}x over the steps, "
          f"{t['target_tokens'] / wall / p['process_tokens_per_s']:.2f}x over the whole process, "
          f"{float(train_rss) / p['peak_mib']:.2f}x the peak memory")
print(f"best validation: loss {t['best']['valid_loss']:.3f} ppl {t['best']['valid_ppl']:.2f} "
      f"acc {t['best']['valid_acc']:.1f}% at step {t['best']['step']}")
for beam in (5, 1):
    score = json.loads((run / f"score.beam{beam}.json").read_text())
    start, end = map(float, (run / f"translate.beam{beam}.seconds").read_text().split())
    seconds = end - start
    n, b = score["sentences"], score["bleu"]
    print(f"test_2016_flickr beam {beam}: BLEU {b['score']:.1f} chrF {score['chrf']['score']:.1f} "
          f"METEOR {score['meteor']['score']:.1f} ({'/'.join(f'{p:.1f}' for p in b['precisions'])}, "
          f"BP {b['brevity_penalty']:.3f}, ratio {b['length_ratio']:.3f}); "
          f"{n / seconds:.0f} sent/s ({seconds:.1f} s whole command)")
print("BLEU signature:", score["bleu"]["signature"])
print("chrF signature:", score["chrf"]["signature"])
print(f"translation peak RSS (beam 5): {translate_rss} MiB")
PY
