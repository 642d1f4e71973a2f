"""`nmtkit info`: what a model directory holds, at a glance (as a dict for --json, or as text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nmtkit.artifacts import RECIPE
from nmtkit.checkpoints import checkpoint_dirs
from nmtkit.config import read_yaml_file, recipe_from_dict
from nmtkit.data.prepared import read_manifest
from nmtkit.errors import ModelDirError, RecipeError
from nmtkit.task_config import task_recipe_from_dict


def describe_model_dir(path: str | Path) -> dict[str, Any]:
    """The recipe's summary, parameters per component, training record, checkpoints and files
    of the model directory `path` (a translation model, or an algorithmic task's)."""
    path = Path(path)
    manifest = read_manifest(path, "model directory")
    raw = read_yaml_file(path / RECIPE, ModelDirError, "model recipe")
    info: dict[str, Any] = {"model_dir": str(path), "nmtkit_version": manifest.get("nmtkit_version")}
    if "task" in manifest:  # an algorithmic task's model: no vocabularies, one parameter count
        task_recipe = _recipe(task_recipe_from_dict, raw, path)
        info["task"] = {**vars(task_recipe.task), **{key: manifest.get(key) for key in (
            "sequences", "seconds", "stopped_by", "final_bits_per_sequence")}}
        info["architecture"] = vars(task_recipe.model)
        info["parameters"] = {"total": manifest["parameters"]}
    else:
        recipe = _recipe(recipe_from_dict, raw, path)
        data = manifest["data"]
        info["data"] = {"levels": {side: spec["level"] for side, spec in data["tokenizers"].items()},
                        "vocabularies": data["vocab"], "training_pairs": data["splits"]["train"]["pairs"]}
        info["architecture"] = vars(recipe.model)
        info["parameters"] = _parameters(recipe, data["vocab"])
        info["training"] = manifest["training"]
        if "averaged" in manifest:
            info["averaged"] = manifest["averaged"]
    info["checkpoints"] = [p.name for p in checkpoint_dirs(path)]
    info["files"] = {p.name + ("/" if p.is_dir() else ""): _size(p) for p in sorted(path.iterdir())}
    return info


def _recipe(parse, raw: dict, path: Path):
    try:
        return parse(raw, source=str(path / RECIPE))
    except RecipeError as exc:  # in a model directory, a damaged model directory
        raise ModelDirError(str(exc)) from None


def _parameters(recipe, vocab: dict[str, int]) -> dict[str, int]:
    """Parameters per component: the model is built (not loaded) from the recipe."""
    from nmtkit.models.seq2seq import build_model
    from nmtkit.precision import dtype_policy

    model = build_model(recipe.model, vocab["src"], vocab["tgt"], dtype_policy("float32"))
    return {**model.parameters_by_part(), "total": model.count_params()}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def format_info(info: dict[str, Any]) -> str:
    """`describe_model_dir`'s answer as sections of aligned rows that fit 80 columns."""
    version = f" (nmtkit {info['nmtkit_version']})" if info["nmtkit_version"] else ""
    sections: list[tuple[str, list[tuple[str, Any]]]] = [(f"model directory {info['model_dir']}{version}", [])]
    if "task" in info:
        task = dict(info["task"])
        trained = (f"{task.pop('sequences'):,} sequences, {task.pop('seconds'):.0f} s "
                   f"(stopped by {task.pop('stopped_by')})")
        cost = task.pop("final_bits_per_sequence")
        sections.append(("task", [*task.items(), ("trained", trained),
                                  ("last cost", "none" if cost is None else f"{cost:.3f} bits per sequence")]))
        sections.append(("model", list(info["architecture"].items())))
    else:
        data, vocab = info["data"], info["data"]["vocabularies"]
        sections.append(("data", [("levels", f"{data['levels']['src']} -> {data['levels']['tgt']}"),
                                  ("vocabularies", f"{vocab['src']:,} source, {vocab['tgt']:,} target"
                                                   + (" (joint)" if vocab.get("joint") else "")),
                                  ("training pairs", f"{data['training_pairs']:,}")]))
        sections.append(("architecture", _architecture(info["architecture"])))
    sections.append(("parameters", [(part, f"{count:>11,}") for part, count in info["parameters"].items()
                                    if count is not None]))
    if "training" in info:
        sections.append(("training", _training(info["training"])))
    if "averaged" in info:
        sections.append(("averaged", [("checkpoints", ", ".join(info["averaged"]["checkpoints"])),
                                      ("of", info["averaged"]["from"])]))
    sections.append(("checkpoints kept", [(name, "") for name in info["checkpoints"]] or [("none", "")]))
    sections.append(("files", [(name, f"{_human(size):>11}") for name, size in info["files"].items()]))
    lines = []
    for title, rows in sections:
        lines.append(title)
        lines += [f"  {key:<20} {value}".rstrip() for key, value in rows]
    return "\n".join(lines) + "\n"


def _architecture(arch: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("encoder", f"{'bidirectional ' if arch['encoder_bidirectional'] else ''}{arch['encoder_cell']}, "
                        f"{arch['encoder_layers']} x {arch['encoder_units']} units"
                        + (", residual" if arch["encoder_residual"] else "")),
            ("bridge", arch["bridge"])]
    if arch["type"] == "ntm":
        rows.append(("decoder", f"NTM, {arch['decoder_units']} units, memory {arch['memory_size']} x "
                                f"{arch['memory_width']}"))
    else:
        rows.append(("decoder", f"{arch['decoder_cell']}, {arch['decoder_layers']} x {arch['decoder_units']} units"))
    rows.append(("attention", arch["attention"] + (", input feeding" if arch["input_feeding"]
                                                   and arch["attention"] != "none" else "")))
    rows.append(("embeddings", f"{arch['embedding_dim']}" + (", shared" if arch["share_embeddings"] else "")
                 + (", tied to the output" if arch["tie_embeddings"] else "")))
    return rows


def _training(stats: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("steps", f"{stats['steps']:,} ({stats['epochs']} epochs, stopped by {stats['stopped_by']})"),
            ("time", f"{stats['train_seconds']:,.0f} s, {stats['train_tokens_per_s']:,.0f} target tokens/s"),
            ("precision", f"{stats['precision']}, {stats['replicas']} replica(s)")]
    best = stats.get("best")
    if best:
        figures = ", ".join(f"{key[len('valid_'):]} {value:.3f}" for key, value in best.items()
                            if key.startswith("valid_"))
        rows.append((f"best by {stats['valid_metric']}", f"{figures}"))
        rows.append(("  at", f"step {best['step']:,}, epoch {best['epoch']}"))
    return rows


def _human(size: float) -> str:
    if size < 1000:
        return f"{size:,.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:,.1f} {unit}"
