"""A model directory's search graph, traced once and kept beside the weights.

Before it searches, a `translate` call builds the Keras model and traces the search graph from
it; for a one-line input that is most of nmtkit's own start-up. So the first call with given
search settings keeps the traced graph, with the weights, as a SavedModel in
`MODEL_DIR/compiled/WEIGHTS/KEY/`, and later calls load it instead: no Keras model, no tracing.
WEIGHTS starts the weights' checksum: graphs of older weights are removed when one is kept.

KEY is a digest of everything the graph depends on: the weights' recorded checksum, the model
recipe, the search options, the precision, the TensorFlow version and the source of the modules
that build the graph; so a new best model, other settings or another nmtkit never load a stale
graph, and a graph whose weights file no longer has its checksum is not used. Writing the
graph is best effort: a model directory that cannot be written (read-only, full) is traced
every time, and a kept graph that cannot be loaded is traced and written again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import tensorflow as tf

import nmtkit
from nmtkit.artifacts import LoadedModel
from nmtkit.atomic import atomic_dir
from nmtkit.search import Hypotheses, SearchOptions

COMPILED = "compiled"
# The modules whose code is in the graph: a change to any of them makes a new key.
GRAPH_SOURCES = ("search.py", "translate.py", "models")


def compiled_search(loaded: LoadedModel, options: SearchOptions, trace: Callable[[], Callable]) -> Callable:
    """The graph kept in the model directory for `options`, or the tf.function `trace()` makes
    (`Translator.search_ids` over `loaded.model`), then kept."""
    digest = loaded.recorded_weights_digest()
    if digest is None:  # a directory without checksums: nothing says which weights a graph holds
        return trace()
    kept = _load(_folder(loaded, options, digest))
    if kept is not None and loaded.weights_are(digest):
        return kept
    traced = trace()  # builds the model, loading the weights that the graph will hold
    traced.get_concrete_function()
    if loaded.weights_digest is not None:
        _keep(loaded, _folder(loaded, options, loaded.weights_digest), traced)
    return traced


def skip_graph_rewrites_on_cpu() -> None:
    """Turn TensorFlow's graph rewrites (Grappler) off for this process where no GPU is visible:
    they took about 0.25 s of a kept graph's first call, half of nmtkit's own start-up for a
    one-line `translate`, and test_2016_flickr translated no slower without them (bfloat16, and
    float32 on AVX2). On a GPU they place ops and choose kernels, so they stay on there."""
    if not tf.config.list_physical_devices("GPU"):
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


def _folder(loaded: LoadedModel, options: SearchOptions, weights_digest: str) -> Path:
    return loaded.path / COMPILED / weights_digest[:16] / _key(loaded, options, weights_digest)


def _key(loaded: LoadedModel, options: SearchOptions, weights_digest: str) -> str:
    described = json.dumps({
        "weights": weights_digest, "model": dataclasses.asdict(loaded.recipe.model),
        "vocabularies": [len(loaded.src_vocab), len(loaded.tgt_vocab)], "options": dataclasses.asdict(options),
        "policy": loaded.policy, "tensorflow": tf.__version__, "code": _code_digest(),
    }, sort_keys=True)
    return hashlib.sha256(described.encode("utf-8")).hexdigest()[:24]


def _code_digest() -> str:
    digest = hashlib.sha256()
    root = Path(nmtkit.__file__).parent
    for name in GRAPH_SOURCES:
        for path in sorted((root / name).rglob("*.py")) if (root / name).is_dir() else [root / name]:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _load(path: Path) -> Callable | None:
    if not path.is_dir():
        return None
    try:
        kept = tf.saved_model.load(str(path))
    except Exception:  # damaged or unreadable: traced and written anew (`_keep` replaces it)
        return None

    def search(src, seed):
        return Hypotheses(*kept.search(src, seed))

    search.kept = kept  # the restored variables live as long as the function
    return search


def _keep(loaded: LoadedModel, folder: Path, traced: Callable) -> None:
    """Write the traced graph to `folder` and remove those kept for other weights."""
    module = tf.Module()
    # The variables the graph reads (the weights, and tables made from them), not the Keras
    # model: a tracked model would add its own traced call (the training graph, with its
    # gradients) to what every later translate call loads.
    module.weights = list(traced.get_concrete_function().variables)
    module.search = traced
    try:
        with atomic_dir(folder, overwrite=True) as staging:
            tf.saved_model.save(module, str(staging))
        for other in folder.parent.parent.iterdir():
            if other != folder.parent and not other.name.startswith("."):
                shutil.rmtree(other, ignore_errors=True)
    except OSError:  # a model directory that cannot be written is traced every time
        pass
