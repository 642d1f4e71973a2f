#!/usr/bin/env bash
# Train the best recipes from scratch and evaluate them on Multi30k: the mean of the last
# train.keep_checkpoints checkpoints (`nmtkit average`), decoded with each recipe's beam size and
# length penalty, on val and test_2016_flickr; prints BLEU, chrF and METEOR (sacrebleu, with
# signatures), the training time and the path of the validation-curve PNG.
#
#   bench/quality.sh DATA_DIR [RECIPE]...
#
# DATA_DIR holds {train,val,test_2016_flickr}.{SRC,TGT}[.gz]; the recipes default to
# recipes/multi30k-de-en-best.yaml and recipes/multi30k-en-de-best.yaml (each trains for at most
# its train.max_minutes). Each recipe trains one model per seed in NMTKIT_SEEDS (default "1234
# 4321": the best recipes are ensembles of two; NMTKIT_SEEDS=1234 trains a single model), all on the
# same preprocessed data, and their ensemble is evaluated. Everything goes to
# runs/quality-RECIPE/ (models in model-SEED/). Extra recipe overrides can be passed in NMTKIT_SET;
# NMTKIT_REUSE=1 evaluates already trained models again instead of training them.
set -euo pipefail
DATA=$(cd "${1:?usage: bench/quality.sh DATA_DIR [RECIPE]...}" && pwd)
shift
RECIPES=("$@")
[ ${#RECIPES[@]} -gt 0 ] || RECIPES=(recipes/multi30k-de-en-best.yaml recipes/multi30k-en-de-best.yaml)
cd "$(dirname "$0")/.."
make --quiet install
NMTKIT=.venv/bin/nmtkit
reusing() { [ "${NMTKIT_REUSE:-0}" = 1 ] && [ -f "$1" ]; }

for RECIPE in "${RECIPES[@]}"; do
  RUN=runs/quality-$(basename "$RECIPE" .yaml)
  mkdir -p "$RUN"
  SETS=(--set "data.root=$DATA" --set "data.prepared=$RUN/data")
  for kv in ${NMTKIT_SET:-}; do SETS+=(--set "$kv"); done
  # The recipe (overrides included) says what to average and how to decode: its translate
  # section can be tuned on val after training, so it is read here, not from the model.
  read -r SRC TGT LAST BEAM ALPHA < <(.venv/bin/python -c 'import sys
from nmtkit.config import load_recipe
r = load_recipe(sys.argv[1], [kv for kv in sys.argv[2:] if kv != "--set"])
print(r.data.src_lang, r.data.tgt_lang, r.train.keep_checkpoints, r.translate.beam_size, r.translate.length_penalty)
' "$RECIPE" "${SETS[@]}")
  reusing "$RUN/data/manifest.json" || $NMTKIT preprocess "$RECIPE" "${SETS[@]}"

  MODELS=()
  for seed in ${NMTKIT_SEEDS:-1234 4321}; do
    NAME=model-$seed
    if ! reusing "$RUN/$NAME/manifest.json"; then
      echo "== $RECIPE: train $NAME (seed $seed)" >&2
      start=$(date +%s)
      $NMTKIT train "$RECIPE" "${SETS[@]}" --set "train.model_dir=$RUN/$NAME" \
          --set "train.seed=$seed" --overwrite 2> >(tee "$RUN/$NAME.train.log" >&2)
      echo $(( $(date +%s) - start )) > "$RUN/$NAME.train.seconds"
    fi
    $NMTKIT plot "$RUN/$NAME"
    if [ "$LAST" -gt 1 ]; then
      $NMTKIT average "$RUN/$NAME" --output "$RUN/$NAME.averaged" --last "$LAST" --overwrite
      MODELS+=(--model "$RUN/$NAME.averaged")
    else
      MODELS+=(--model "$RUN/$NAME")
    fi
  done

  for split in val test_2016_flickr; do
    gunzip -c -f "$DATA/$split.$SRC"* > "$RUN/$split.$SRC"
    gunzip -c -f "$DATA/$split.$TGT"* > "$RUN/$split.$TGT"
    $NMTKIT translate "${MODELS[@]}" --beam "$BEAM" --length-penalty "$ALPHA" \
        < "$RUN/$split.$SRC" > "$RUN/$split.hyp.$TGT"
    $NMTKIT score --json --ref "$RUN/$split.$TGT" "$RUN/$split.hyp.$TGT" > "$RUN/$split.score.json"
  done

  .venv/bin/python - "$RUN" "$BEAM" "$ALPHA" "${MODELS[@]}" <<'PY'
import json, sys
from pathlib import Path
run, beam, alpha, models = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[5::2]
print(f"{run.name}: {len(models)} model(s), beam {beam}, length penalty {alpha}")
for model in models:
    trained = Path(model.removesuffix(".averaged"))
    t = json.loads((trained / "manifest.json").read_text())["training"]
    timed = Path(f"{trained}.train.seconds")  # written by this script's training step
    minutes = f"{float(timed.read_text()) / 60:.1f} min" if timed.exists() else "unknown time"
    print(f"  {model}: {t['steps']} steps, {t['epochs']} epochs, {minutes} training; best "
          f"validation loss {t['best']['valid_loss']:.3f} at step {t['best']['step']}; "
          f"validation curves: {trained / 'curves.png'}")
for split in ("val", "test_2016_flickr"):
    s = json.loads((run / f"{split}.score.json").read_text())
    b = s["bleu"]
    print(f"  {split:<16} BLEU {b['score']:.2f} chrF {s['chrf']['score']:.2f} METEOR {s['meteor']['score']:.2f} "
          f"({'/'.join(f'{p:.1f}' for p in b['precisions'])}, BP {b['brevity_penalty']:.3f})")
print(f"  BLEU signature: {b['signature']}")
print(f"  chrF signature: {s['chrf']['signature']}")
m = s["meteor"]
print(f"  METEOR: {m['implementation']}; matchers {', '.join(m['matchers'])}; parameters {m['parameters']}")
PY
done
