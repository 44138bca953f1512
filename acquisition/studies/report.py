"""A study's report: the table (CSV), the heat maps (PNG) and one HTML page."""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.campaigns.index import CampaignIndex
from acquisition.studies.maps import axis_values, draw_maps
from acquisition.studies.spec import Study
from acquisition.studies.table import FIGURES, study_rows, write_table

log = logging.getLogger(__name__)
#: the conditions a published point is measured at (acquisition.studies.published)
CONDITIONS = ("material", "dopant_fraction", "temperature_k", "frequency_hz", "duty_cycle")


@dataclass
class StudyReport:
    folder: Path
    table: Path
    page: Path
    maps: list[Path] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def fixed_conditions(study: Study, rows: list[dict[str, Any]], rig_sample: Any) -> dict[str, Any]:
    """What the study holds constant, in the published points' terms (CW when no row was chopped)."""
    from sim_backends.physics import get_material

    fixed: dict[str, Any] = {}
    step = study.campaign.steps[0]
    material = step.sample.get("material", rig_sample.material)
    if isinstance(material, str) and "material" not in study.axes:
        fixed["material"] = material
        fraction = step.sample.get("dopant_fraction", rig_sample.dopant_fraction)
        if fraction is None:
            fraction = get_material(material).dopant_fraction
        if isinstance(fraction, (int, float)):
            fixed["dopant_fraction"] = float(fraction)
    for key in ("temperature_k", "frequency_hz", "duty_cycle"):
        values = axis_values(rows, key)
        if len(values) == 1:
            fixed[key] = values[0]
    return fixed


def write_study_report(study: Study, folder: Path, rig_sample: Any) -> StudyReport:
    index = CampaignIndex(folder)
    try:
        runs = index.runs("complete")
    finally:
        index.close()
    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = study_rows(runs, study.axes)
    table = write_table(out / "study.csv", rows)
    varied = [a for a in [*study.axes, "frequency_hz", "duty_cycle"] if len(axis_values(rows, a)) > 1]
    facets = [a for a in varied if a not in (study.map_x, study.map_y)]
    maps = draw_maps(out, rows, study.map_x, study.map_y, facets, fixed_conditions(study, rows, rig_sample))
    page = _write_html(out / "index.html", study, rows, maps, table)
    log.info("study report written to %s (%d maps)", out, len(maps))
    return StudyReport(folder=out, table=table, page=page, maps=maps, rows=rows)


def _write_html(path: Path, study: Study, rows: list[dict[str, Any]], maps: list[Path], table: Path) -> Path:
    campaign = study.campaign
    columns = [c for c in [*study.axes, "repeat", "frequency_hz", "duty_cycle", *FIGURES]
               if any(c in r for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    images = "".join(f'<figure><img src="{p.name}" alt="{p.stem}"><figcaption>{p.stem}</figcaption></figure>'
                     for p in maps)
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(campaign.name)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head>"
            f"<body><h1>Study {html.escape(campaign.name)}</h1><p>{html.escape(campaign.description)}</p>"
            f"<p>{len(rows)} map points; axes: {html.escape(', '.join(study.axes))}; "
            f"experiment {html.escape(str(campaign.steps[0].experiment))}. Published points (physics.md) "
            f"are red stars where a map spans their conditions. Table: <a href='{table.name}'>{table.name}</a>."
            f"</p>{images}<h2>Table</h2><table><tr>{head}</tr>{body}</table></body></html>")
    path.write_text(text, encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "+".join(map(str, value)) or "none"
    return str(value)
