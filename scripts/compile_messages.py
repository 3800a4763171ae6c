"""Compiles locale/*/LC_MESSAGES/django.po into django.mo, like GNU msgfmt (which Django's
`compilemessages` needs and the image does not have): `make install`, the Dockerfile and the tests
run it. Only what a .po of this project uses: msgid, msgid_plural, msgstr[n], continued lines;
fuzzy entries are left out, as msgfmt does. Usage: python scripts/compile_messages.py [root]."""

import ast
import struct
import sys
from pathlib import Path


def parse(text: str) -> dict[str, str]:
    """{msgid (with its plural after a NUL): msgstr (the plural forms NUL-separated)}."""
    catalogue: dict[str, str] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        field = None
        fuzzy = False
        for line in block.splitlines():
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            elif line.startswith('"') and field:
                fields[field] += ast.literal_eval(line)
            elif line and not line.startswith("#"):
                field, _, value = line.partition(" ")
                fields[field] = ast.literal_eval(value)
        if "msgid" not in fields or (fuzzy and fields["msgid"]):
            continue
        if "msgid_plural" in fields:
            forms = [fields[k] for k in sorted(k for k in fields if k.startswith("msgstr["))]
            if all(forms):
                catalogue[fields["msgid"] + "\0" + fields["msgid_plural"]] = "\0".join(forms)
        elif fields.get("msgstr"):
            catalogue[fields["msgid"]] = fields["msgstr"]
    return catalogue


def mo_bytes(catalogue: dict[str, str]) -> bytes:
    """The GNU .mo format: a header, two tables of (length, offset), then the strings; no hash table."""
    keys = sorted(catalogue)
    ids = [k.encode() for k in keys]
    strs = [catalogue[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    offsets, blob = [], b""
    for s in ids + strs:
        offsets.append((len(s), start + len(blob)))
        blob += s + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    tables = b"".join(struct.pack("<2I", n, o) for n, o in offsets)
    return header + tables + blob


def compile_all(root: Path) -> list[Path]:
    written = []
    for po in sorted((root / "locale").glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(parse(po.read_text(encoding="utf-8"))))
        written.append(mo)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    for mo in compile_all(root):
        print(f"compiled {mo.relative_to(root)}")
