"""``report.html``: the Markdown report as one self-contained page, its figures embedded as base64 data URIs,
so it opens in a browser (or attaches to an e-mail) without the PNGs beside it.

The conversion is a small converter of its own rather than the ``markdown`` package (not a dependency of
seqssl): it covers only what :func:`seqssl.report.markdown.write_report` writes: ``#`` headings, paragraphs,
``- `` bullet lists, pipe tables (pandas ``to_markdown``, via tabulate, alignment row included), and inline
``code``, ``**bold**``, links and images. Anything else passes through as escaped paragraph text."""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

from ..io import atomic_write_text

STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;margin:0.5rem 0 1rem;font-size:0.85rem}
th,td{border:1px solid #ccc;padding:0.2rem 0.5rem}th{background:#f3f3f3}
code{background:#f3f3f3;padding:0 0.2rem;border-radius:3px}img{display:block;max-width:100%;margin:1rem 0}
.wide{overflow-x:auto}"""

_INLINE = re.compile(r"`([^`]+)`|!\[([^\]]*)\]\(([^)\s]+)\)|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

ImageSource = Callable[[str], str]


def data_uri(directory: Path) -> ImageSource:
    """Turn an image reference relative to ``directory`` into a ``data:`` URI of the file's bytes; a file
    that is not there keeps its reference (a broken image says more than a silently dropped one)."""
    def source(ref: str) -> str:
        path = Path(directory) / ref
        if not path.is_file():
            return ref
        mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    return source


def inline(text: str, image: ImageSource) -> str:
    """Escape ``text`` and turn its code spans, images, links and bold into HTML (code spans first, so a
    ``*`` or ``[`` inside backticks stays literal)."""
    out, end = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[end:match.start()]))
        code, alt, ref, label, href, bold = match.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif ref is not None:
            out.append(f'<img alt="{html.escape(alt)}" src="{html.escape(image(ref))}">')
        elif href is not None:
            out.append(f'<a href="{html.escape(href)}">{html.escape(label)}</a>')
        else:
            out.append(f"<strong>{html.escape(bold)}</strong>")
        end = match.end()
    return "".join(out) + html.escape(text[end:])


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _align(marker: str) -> str:
    """tabulate's alignment row cell (``:---``, ``---:``, ``:---:``) as a CSS ``text-align``."""
    left, right = marker.startswith(":"), marker.endswith(":")
    return "center" if left and right else "right" if right else "left"


def table(rows: list[str], image: ImageSource) -> str:
    """A pipe table: the header row, the alignment row, the body rows; in a box that scrolls sideways (the
    leakage table is wider than a page)."""
    header = _cells(rows[0])
    aligned = len(rows) > 1 and set(rows[1].replace("|", "").strip()) <= set(":- ")
    aligns = [_align(m) for m in _cells(rows[1])] if aligned else ["left"] * len(header)
    body = rows[2:] if aligned else rows[1:]

    def line(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag} style="text-align:{a}">{inline(c, image)}</{tag}>'
                                for c, a in zip(cells, aligns)) + "</tr>"
    return ('<div class="wide"><table><thead>' + line(header, "th") + "</thead><tbody>"
            + "".join(line(_cells(r), "td") for r in body) + "</tbody></table></div>")


def _kind(line: str) -> str:
    stripped = line.strip()
    if not stripped:
        return "blank"
    if re.match(r"#{1,6} ", stripped):
        return "heading"
    if stripped.startswith(("- ", "* ")):
        return "list"
    return "table" if stripped.startswith("|") else "text"


def markdown_to_html(text: str, image: ImageSource = str) -> str:
    """The HTML body of ``text``: runs of lines of one kind become one block (a list, a table, a paragraph);
    ``image`` maps each image reference to the ``src`` written."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        kind, j = _kind(lines[i]), i + 1
        if kind == "heading":
            hashes, _, title = lines[i].strip().partition(" ")
            blocks.append(f"<h{len(hashes)}>{inline(title, image)}</h{len(hashes)}>")
        elif kind != "blank":
            while j < len(lines) and _kind(lines[j]) == kind:
                j += 1
            run = [ln.strip() for ln in lines[i:j]]
            if kind == "list":
                blocks.append("<ul>" + "".join(f"<li>{inline(r[2:], image)}</li>" for r in run) + "</ul>")
            elif kind == "table":
                blocks.append(table(run, image))
            else:
                blocks.append("<p>" + "\n".join(inline(r, image) for r in run) + "</p>")
        i = j
    return "\n".join(blocks)


def write_html_report(markdown: str, path: Path, title: str = "seqssl report") -> None:
    """``path`` (atomically): a whole HTML page of ``markdown``, images beside ``path`` embedded."""
    path = Path(path)
    body = markdown_to_html(markdown, data_uri(path.parent))
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
    atomic_write_text(path, page)
