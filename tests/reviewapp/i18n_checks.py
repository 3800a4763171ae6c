"""What the i18n tests look for: the words a template shows outside {% translate %} and
{% blocktranslate %}, and the entries of a .po catalogue."""

import ast
import html
import re
from pathlib import Path

from django.template import engines
from django.template.base import TextNode
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]
# Words that are the same in both languages: the brand, units, technical abbreviations, key names.
ALLOWED = {"Vigia", "s", "px", "fps", "x", "h", "IoU", "PSI", "KS", "D", "p", "CSV", "P", "N", "S", "U"}
# Attributes a person reads (others, like class or name, are code).
READ_ATTRIBUTES = re.compile(r'\b(?:title|alt|aria-label|placeholder)="([^"{]*)"')
SKIP = re.compile(r"<(script|style)\b.*?</\1>|<!--.*?-->", re.S)
TAG = re.compile(r"<[^>]*>")
WORD = re.compile(r"[^\W\d_]+")
# What Django's templatize (makemessages' first step) makes of {% translate %} and {% blocktranslate %}.
CALL = re.compile(r"\b(n?gettext)\((u'(?:[^'\\]|\\.)*')(?:, (u'(?:[^'\\]|\\.)*'), count)?\)")


def templates() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html"))


def _text_nodes(nodelist):
    for node in nodelist:
        if isinstance(node, TextNode):
            yield node.s
        for attr in getattr(node, "child_nodelists", ()):
            yield from _text_nodes(getattr(node, attr, None) or [])
        if hasattr(node, "blocks") and isinstance(node.blocks, dict):  # {% extends %}'s blocks
            for block in node.blocks.values():
                yield from _text_nodes(block.nodelist)


def untranslated_words(path: Path) -> list[str]:
    """The words of `path` a reader sees that no {% translate %} covers. The text between tags
    is joined first, so a <script> or <style> split by a template tag is still skipped."""
    template = engines["django"].from_string(path.read_text())
    text = SKIP.sub(" ", "\x00".join(_text_nodes(template.template.nodelist)).replace("\x00", ""))
    readable = READ_ATTRIBUTES.findall(text) + [html.unescape(t) for t in TAG.split(text)]
    return [w for chunk in readable for w in WORD.findall(chunk) if w not in ALLOWED]


def template_msgids(path: Path) -> set[str]:
    """The msgids a template asks for, as makemessages would extract them."""
    return {ast.literal_eval(m.group(2)) for m in CALL.finditer(templatize(path.read_text()))}


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (a list), flags; the header skipped."""
    entries, entry, field = [], None, None

    def close():
        if entry is not None and entry.get("msgid"):
            entries.append(entry)

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            close()
            entry, field = None, None
            continue
        entry = entry if entry is not None else {"msgid": "", "msgstr": [], "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            _append(entry, field, ast.literal_eval(line))
        else:
            field, _, value = line.partition(" ")
            if field.startswith("msgstr"):
                entry["msgstr"].append("")
            _append(entry, field, ast.literal_eval(value))
    return entries


def _append(entry, field, value):
    if field.startswith("msgstr"):
        entry["msgstr"][-1] += value
    else:
        entry[field] = entry.get(field, "") + value
