"""report.html: a report as one self-contained page (tables, and the charts inline as base64 PNG), which an
analyst can open in any browser or attach to a mail. Nothing in it depends on the clock: the same warehouse
gives the same page."""

from __future__ import annotations

import base64
import html
from importlib.metadata import version

import pyarrow as pa

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1500px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
th { background: #f4f4f4; text-align: right; } th.text, td.text { text-align: left; } td { text-align: right; }
img { max-width: 100%; } p.meta { color: #555; font-size: 0.9em; } dl { font-size: 0.85em; color: #444; }
"""

_DEFINITIONS = [
    ("actives, eligible, participants", "at Dec 31: employees active; of them eligible under the design; enrolled"),
    ("participation rate", "enrolled eligible actives / eligible actives"),
    ("amounts", "the year's totals over everyone employed in it, in dollars (the files keep cents)"),
    ("cost", "employer cost rate: (match + core) / plan compensation"),
    ("start, end", "actives at Jan 1 and at Dec 31"),
    ("exp. terms, rate", "experienced terminations (of the Jan-1 workforce, scheduled ones included) and their "
                         "share of the start"),
    ("new-hire terms, rate", "terminations of the year's hires, and their share of the hires"),
    ("total pay, mean pay, growth", "annual pay of the actives at Dec 31, its mean, and the mean's growth on the "
                                    "year before"),
]


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else html.escape(fmt.format(value))


def html_table(table: pa.Table, shown: dict[str, tuple[str, str]], text_columns: set[str]) -> str:
    """``table``'s columns that ``shown`` names (heading, format), as an HTML table; ``text_columns`` read left
    to right, the others (numbers) align right."""
    columns = [c for c in shown if c in table.column_names]
    head = "".join(f'<th class="{"text" if c in text_columns else "num"}">{html.escape(shown[c][0])}</th>'
                   for c in columns)
    body = "\n".join("<tr>" + "".join(f'<td class="{"text" if c in text_columns else "num"}">'
                                      f"{_cell(r[c], shown[c][1])}</td>" for c in columns) + "</tr>"
                     for r in table.to_pylist())
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def text_table(rows: list[list[str]], text_columns: int) -> str:
    """Rows of cells already formatted (the first a heading) as an HTML table; the first ``text_columns``
    read left to right."""
    def cells(row: list[str], tag: str) -> str:
        return "".join(f'<{tag} class="{"text" if i < text_columns else "num"}">{html.escape(v)}</{tag}>'
                       for i, v in enumerate(row))
    body = "\n".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows[1:])
    return f"<table>\n<tr>{cells(rows[0], 'th')}</tr>\n{body}\n</table>"


def image(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def meta(text: str) -> str:
    return f'<p class="meta">{html.escape(text)}</p>'


def page(title: str, sections: list[str]) -> str:
    """The whole page: ``title``, the ``sections`` (HTML), the definitions of the metrics and the version."""
    definitions = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in _DEFINITIONS)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}'
            f"</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            + "\n".join(sections)
            + f"\n<h2>Definitions</h2>\n<dl>{definitions}</dl>\n"
            f'<p class="meta">arrow-events {html.escape(version("arrow-events"))}; the model: docs/model.md</p>\n'
            "</body>\n</html>\n")
