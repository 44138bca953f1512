"""The reproduction report: one table (published | simulated | tolerance | status | note) as
Markdown (``report.md``), one HTML page with the figures (``index.html``), and JSON
(``report.json``), all in the report folder."""
from __future__ import annotations

import html
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from acquisition.reproduce.base import FAIL, NOT_MEASURED, PASS, Row
from acquisition.reproduce.runner import GroupResult

HEADER = ("figure", "published", "source", "simulated", "tolerance", "status", "note")


def counts(results: list[GroupResult]) -> dict[str, int]:
    tally = Counter(row.status for r in results for row in r.rows)
    return {PASS: tally.get(PASS, 0), FAIL: tally.get(FAIL, 0), NOT_MEASURED: tally.get(NOT_MEASURED, 0)}


def _cells(row: Row) -> list[str]:
    return [row.figure, row.published.text, row.published.source, row.simulated, row.published.tolerance,
            row.status, row.note]


def markdown_table(results: list[GroupResult]) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for result in results:
        for row in result.rows:
            cells = _cells(row)
            cells[5] = f"**{row.status}**" if row.status != PASS else row.status
            lines.append("| " + " | ".join(escape(c) for c in cells) + " |")
    return "\n".join(lines)


def _summary_line(results: list[GroupResult]) -> str:
    c = counts(results)
    return f"{c[PASS]} pass, {c[FAIL]} fail, {c[NOT_MEASURED]} not measured"


def write_markdown(results: list[GroupResult], folder: Path, meta: dict[str, Any]) -> Path:
    problems = [f"- {r.group.name}: {r.problem}" for r in results if r.problem]
    text = (f"# avalab reproduce: the simulated rig against the published figures\n\n"
            f"{meta['when']}, avalab {meta['version']}, {'quick subset' if meta['quick'] else 'full set'}; "
            f"{_summary_line(results)}. Values are re-analysed from the run files under `campaigns/`.\n\n"
            + markdown_table(results) + "\n"
            + ("\n## Problems\n" + "\n".join(problems) + "\n" if problems else ""))
    path = folder / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def _relative(path: Path, folder: Path) -> str:
    return os.path.relpath(path, folder)


def write_html(results: list[GroupResult], folder: Path, meta: dict[str, Any]) -> Path:
    colours = {PASS: "#d8f0d8", FAIL: "#f6d5d5", NOT_MEASURED: "#eeeeee"}
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>avalab reproduce</title><style>",
             "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:3px 6px;font-size:13px;vertical-align:top}"
             "img{max-width:100%;margin:0.5em 0;border:1px solid #ddd}h2{margin-top:1.5em}",
             "</style></head><body>",
             "<h1>avalab reproduce: the simulated rig against the published figures</h1>",
             f"<p>{html.escape(meta['when'])}, avalab {html.escape(meta['version'])}, "
             f"{'quick subset' if meta['quick'] else 'full set'}: <b>{html.escape(_summary_line(results))}</b>. "
             "Every value is re-analysed from a run file written by the normal application (campaign files "
             "and run files under <code>campaigns/</code>).</p>",
             "<table><tr>" + "".join(f"<th>{h}</th>" for h in (*HEADER, "runs")) + "</tr>"]
    for result in results:
        parts.append(f"<tr><th colspan='{len(HEADER) + 1}' style='text-align:left;background:#f4f4f4'>"
                     f"{html.escape(result.group.title)} ({html.escape(result.group.name)}, "
                     f"{result.wall_s:.0f} s)</th></tr>")
        for row in result.rows:
            cells = "".join(f"<td>{html.escape(c)}</td>" for c in _cells(row))
            links = " ".join(f"<a href='{html.escape(_relative(Path(p), folder))}'>{k + 1}</a>"
                             for k, p in enumerate(row.run_files[:12]))
            more = f" (+{len(row.run_files) - 12})" if len(row.run_files) > 12 else ""
            parts.append(f"<tr style='background:{colours.get(row.status, '#fff')}'>{cells}<td>{links}{more}</td></tr>")
    parts.append("</table>")
    for result in results:
        if result.problem:
            parts.append(f"<p><b>{html.escape(result.group.name)}</b>: {html.escape(result.problem)}</p>")
    for result in results:
        if result.figures:
            parts.append(f"<h2>{html.escape(result.group.title)}</h2>")
            parts += [f"<img src='{html.escape(_relative(p, folder))}' alt='{html.escape(p.stem)}'>"
                      for p in result.figures]
    parts.append("</body></html>")
    path = folder / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def report_dict(results: list[GroupResult], meta: dict[str, Any]) -> dict[str, Any]:
    return {**meta, "counts": counts(results),
            "groups": [{"name": r.group.name, "title": r.group.title, "wall_s": r.wall_s, "problem": r.problem,
                        "campaign_folder": str(r.campaign_folder) if r.campaign_folder else None,
                        "figures": [str(p) for p in r.figures]} for r in results],
            "rows": [row.to_json_dict() for r in results for row in r.rows]}


def write_json(results: list[GroupResult], folder: Path, meta: dict[str, Any]) -> Path:
    path = folder / "report.json"
    path.write_text(json.dumps(report_dict(results, meta), indent=1, default=str), encoding="utf-8")
    return path


def write_all(results: list[GroupResult], folder: Path, quick: bool) -> dict[str, Path]:
    from acquisition.version import version

    meta = {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "version": version(), "quick": quick}
    return {"markdown": write_markdown(results, folder, meta), "html": write_html(results, folder, meta),
            "json": write_json(results, folder, meta)}
