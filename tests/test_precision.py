"""`precision: auto`: bfloat16 only where the hardware computes it natively."""

import pytest

from nmtkit import cpu, precision
from nmtkit.config import recipe_from_dict
from nmtkit.data.textio import read_lines
from nmtkit.translate import Translator


def test_cpu_flags_come_from_cpuinfo_capped_by_onednn_max_cpu_isa(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert {"avx2", "avx512_bf16"} <= cpu.cpu_flags(info)
    assert cpu.cpu_flags(tmp_path / "missing") == set()
    for cap, expected in [("ALL", {"fpu", "avx2", "avx512f", "avx512_bf16"}), ("AVX2", {"fpu", "avx2"}),
                          ("avx512_core", {"fpu", "avx2", "avx512f"}),
                          ("AVX512_CORE_BF16", {"fpu", "avx2", "avx512f", "avx512_bf16"})]:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert cpu.onednn_flags(info) == expected


@pytest.mark.parametrize("native", [True, False])
def test_auto_follows_the_hardware_and_explicit_choices_stand(monkeypatch, native):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
    assert precision.dtype_policy("auto") == ("mixed_bfloat16" if native else "float32")
    for explicit in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert precision.dtype_policy(explicit) == explicit
    assert precision.dtype_policy("bfloat16") == "mixed_bfloat16"


def test_recipes_accept_auto():
    recipe = recipe_from_dict({"train": {"precision": "auto"}, "translate": {"precision": "auto"}})
    assert recipe.train.precision == recipe.translate.precision == "auto"


@pytest.mark.parametrize("native", [True, False])
def test_translation_with_auto_builds_the_chosen_arithmetic(monkeypatch, trained_model, native):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
    translator = Translator([trained_model], {"precision": "auto"})
    assert translator.model.dtype_policy.name == ("bfloat16" if native else "float32")


def test_bfloat16_weights_translate_as_mixed_precision_does(monkeypatch, trained_model, dates_dir):
    """Translation keeps bfloat16 weights: what mixed precision computes with anyway."""
    half = Translator([trained_model], {"precision": "bfloat16"})
    assert {w.dtype for w in half.model.weights} == {"bfloat16"}
    monkeypatch.setattr(precision, "inference_policy", precision.dtype_policy)
    mixed = Translator([trained_model], {"precision": "bfloat16"})
    assert {w.dtype for w in mixed.model.weights} == {"float32"}
    sources = read_lines(dates_dir / "test.txt")[:30]
    assert [t.text for t in half.translate(sources)] == [t.text for t in mixed.translate(sources)]
