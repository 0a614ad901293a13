"""The text printed on the summary image: per vertebra the numbers and findings."""

from __future__ import annotations

from dataclasses import dataclass

from node.analysis.types import FLAG_TEXT, Flag, LeakSite
from node.results.context import ResultContext, Vertebra
from node.results.seg import BODY_COLOURS, CEMENT_COLOUR, EXTRAVERTEBRAL_COLOUR

WHITE = "#ffffff"
GREY = "#b0b0b0"
WARN = "#ffb000"

SITE_NAMES = {LeakSite.DISC: "disc", LeakSite.CANAL: "canal",
              LeakSite.NEEDLE_TRACT: "needle tract", LeakSite.PARAVERTEBRAL: "paravertebral"}


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    colour: str = WHITE
    size: float = 15.0
    bold: bool = False


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _vertebra_lines(context: ResultContext, vertebra: Vertebra) -> list[Line]:
    level = vertebra.result
    cutoff = context.analysis.result.parameters.vf_cutoff_pct
    extra = level.extravertebral_ml
    sites = ", ".join(f"{SITE_NAMES[s]} {getattr(extra, s.value):.2f}"
                      for s in LeakSite if getattr(extra, s.value) >= 0.005)
    finding = "extensive" if level.extensive_expected else "limited"
    relation = ">=" if level.extensive_expected else "<"
    colour = _hex(BODY_COLOURS[(vertebra.index - 1) % len(BODY_COLOURS)])
    return [
        Line(f"{vertebra.name}", colour=colour, size=19, bold=True),
        Line(f"VF% {level.vf_pct:.2f} %  ({relation} cut-off {cutoff:g} %)", size=17, bold=True),
        Line(f"-> {finding} distribution expected", size=16),
        Line(f"VBV {level.vbv_ml:.2f} ml    CDV {level.cdv_ml:.2f} ml"),
        Line(f"Extravertebral cement {extra.total:.2f} ml" + (":" if sites else "")),
        *([Line(f"    {sites} ml", size=14)] if sites else []),
        Line(f"Leakage: {'YES' if level.leakage else 'no'}",
             colour=_hex(EXTRAVERTEBRAL_COLOUR) if level.leakage else WHITE,
             bold=level.leakage),
        Line(f"Score C{level.score.coronal} + S{level.score.sagittal} + A{level.score.axial}"
             f" = {level.score.total}/10  -> group {level.group.value}"),
        Line("", size=8),
    ]


def summary_lines(context: ResultContext) -> list[Line]:
    """Heading, one block per treated vertebra, flags, legend and provenance."""
    result = context.analysis.result
    source = context.sources[0]
    heading = f"vfnode VF% summary, CT series {source.get('SeriesNumber', '?')}"
    lines = [Line(heading, size=18, bold=True), Line("", size=8)]
    if not context.vertebrae and Flag.NO_BODY_AROUND_CEMENT in result.flags:
        lines += [Line("Cement found, but no vertebral body around it.", size=19, bold=True),
                  Line("Nothing measured: please read this series yourself.", colour=WARN),
                  Line("", size=8)]
    elif not context.vertebrae:
        lines += [Line("No cement found in this series.", size=19, bold=True),
                  Line("No treated vertebra: nothing to measure.", colour=GREY),
                  Line("", size=8)]
    for vertebra in context.vertebrae:
        lines += _vertebra_lines(context, vertebra)
    for flag in result.flags:
        if flag not in (Flag.NO_CEMENT_FOUND, Flag.NO_BODY_AROUND_CEMENT):
            lines.append(Line(f"Note: {FLAG_TEXT[flag]}", colour=WARN))
    hidden = len(context.vertebrae) - 3
    if hidden > 0:
        lines.append(Line(f"{hidden} more vertebra(e) in the SR; axial panels show 3.",
                          colour=WARN))
    lines += [
        Line("Outlines: vertebral body", colour=_hex(BODY_COLOURS[0]), size=13),
        Line("cement inside the body", colour=_hex(CEMENT_COLOUR), size=13),
        Line("extravertebral cement", colour=_hex(EXTRAVERTEBRAL_COLOUR), size=13),
        Line(f"Cement >= {result.parameters.cement_hu_min:g} HU, bone >= "
             f"{result.parameters.bone_hu_min:g} HU. vfnode {result.software_version}.",
             colour=GREY, size=12),
        Line("Automated measurement: to be confirmed by the radiologist.", colour=GREY,
             size=12),
    ]
    return lines
