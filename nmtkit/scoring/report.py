"""A score report: every metric for one or more systems, as JSON for programs and tables for people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from nmtkit.scoring.meteor import meteor
from nmtkit.scoring.metrics import ScoreOptions, corpus_scores, sentence_scores

PLAIN_WIDTH = 1000  # wide enough that rich never wraps a cell: plain text is as wide as it needs
METRIC_COLUMNS = (("bleu", "BLEU"), ("chrf", "chrF"), ("chrf++", "chrF++"), ("ter", "TER"),
                  ("meteor", "METEOR"))


@dataclass
class Report:
    systems: list[dict[str, Any]]
    significance: dict[str, Any] | None = None
    by_length: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """One system: its numbers at the top level. Several: a `systems` list and the tests."""
        extra = {"by_length": self.by_length} if self.by_length else {}
        if len(self.systems) == 1:
            return {**self.systems[0], **extra}
        return {"systems": self.systems, "significance": self.significance, **extra}

    def sentence_tsv(self) -> str:
        """Per-sentence scores, one line per system and sentence, with a header."""
        lines = ["system\tline\tBLEU\tchrF\tTER\tMETEOR"]
        for system in self.systems:
            for number, s in enumerate(system["per_sentence"], 1):
                lines.append(f"{system['system']}\t{number}\t{s['bleu']:.2f}\t{s['chrf']:.2f}\t"
                             f"{s['ter']:.2f}\t{s['meteor']:.2f}")
        return "\n".join(lines) + "\n"

    def render(self) -> list:
        """rich renderables: the scores, then the comparison and length tables when there are any."""
        parts = [_single_table(self.systems[0]) if len(self.systems) == 1 else _systems_table(self.systems)]
        if self.significance:
            parts.append(_significance_table(self.significance))
        if self.by_length:
            parts.append(_by_length_table(self.by_length))
        return parts

    def plain_text(self) -> str:
        """The tables without boxes or colours, each column as wide as its contents, for a file
        or a pager (`score ... > report.txt`)."""
        from rich.console import Console

        console = Console(width=PLAIN_WIDTH, color_system=None, force_terminal=False, highlight=False)
        with console.capture() as captured:
            for number, part in enumerate(self.render()):
                part.box, part.title_justify = None, "left"
                console.print(*([""] if number else []), part)
        return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def score_system(name: str, hyps: Sequence[str], refs: Sequence[Sequence[str]],
                 options: ScoreOptions, per_sentence: bool) -> dict[str, Any]:
    scores = {"system": name, "sentences": len(hyps), **corpus_scores(hyps, refs, options)}
    met = meteor(hyps, refs, options)
    meteor_sentences = met.pop("sentences")
    scores["meteor"] = met
    if per_sentence:
        scores["per_sentence"] = [
            {**s, "meteor": m} for s, m in zip(sentence_scores(hyps, refs, options), meteor_sentences)
        ]
    return scores


def _meteor_note(met: dict) -> str:
    return "; ".join([met["implementation"], f"matchers: {', '.join(met['matchers'])}", *met["notes"]])


def _single_table(system: dict):
    from rich.table import Table

    bleu = system["bleu"]
    table = Table(title=f"{system['system']}: {system['sentences']} sentences")
    for column in ("metric", "score", "details"):
        table.add_column(column, justify="right" if column == "score" else "left")
    table.add_row(
        "BLEU", f"{bleu['score']:.2f}",
        "/".join(f"{p:.1f}" for p in bleu["precisions"])
        + f" (BP {bleu['brevity_penalty']:.3f}, ratio {bleu['length_ratio']:.3f}, "
        f"hyp {bleu['hyp_length']}, ref {bleu['ref_length']})\n{bleu['signature']}",
    )
    for key, label in METRIC_COLUMNS[1:4]:
        table.add_row(label, f"{system[key]['score']:.2f}", system[key]["signature"])
    table.add_row("METEOR", f"{system['meteor']['score']:.2f}", _meteor_note(system["meteor"]))
    return table


def _systems_table(systems: list[dict]):
    from rich.table import Table

    table = Table(title=f"{len(systems)} systems, {systems[0]['sentences']} sentences",
                  caption="\n".join(
                      [f"{label}: {systems[0][key]['signature']}" for key, label in METRIC_COLUMNS[:4]]
                      + [f"METEOR: {_meteor_note(systems[0]['meteor'])}"]),
                  caption_justify="left")
    table.add_column("system")
    for _, label in METRIC_COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("BLEU details")
    for system in systems:
        bleu = system["bleu"]
        table.add_row(system["system"], *(f"{system[key]['score']:.2f}" for key, _ in METRIC_COLUMNS),
                      "/".join(f"{p:.1f}" for p in bleu["precisions"])
                      + f" BP {bleu['brevity_penalty']:.3f}")
    return table


def _p_value(p: float | None) -> str:
    return "(baseline)" if p is None else f"{p:.4f}" + (" *" if p < 0.05 else "")


def _significance_table(sig: dict):
    from rich.table import Table

    table = Table(
        title=f"paired tests against {sig['baseline']}",
        caption=f"mean and 95% CI from {sig['bootstrap_samples']} bootstrap resamples; p-values from "
                f"paired bootstrap and from approximate randomisation ({sig['ar_trials']} trials); "
                f"seed {sig['seed']}; * p < 0.05",
        caption_justify="left",
    )
    table.add_column("system")
    for label in ("BLEU", "chrF"):
        table.add_column(f"{label} mean ± CI", justify="right")
        table.add_column("p (bootstrap)", justify="right")
        table.add_column("p (AR)", justify="right")
    for row in sig["systems"]:
        cells = [row["system"]]
        for metric in ("bleu", "chrf"):
            m = row[metric]
            cells += [f"{m['mean']:.2f} ± {m['ci95']:.2f}", _p_value(m["p_bootstrap"]),
                      _p_value(m["p_randomisation"])]
        table.add_row(*cells)
    return table


def _by_length_table(by_length: dict):
    from rich.table import Table

    table = Table(title=f"BLEU by {by_length['length_of']} length (words)")
    table.add_column("length")
    table.add_column("sentences", justify="right")
    names = list(by_length["buckets"][0]["bleu"])
    for name in names:
        table.add_column(name, justify="right")
    for row in by_length["buckets"]:
        table.add_row(row["bucket"], str(row["sentences"]), *(f"{row['bleu'][n]:.2f}" for n in names))
    return table
