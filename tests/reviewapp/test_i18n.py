"""Portuguese and English: every template string is translated, the pt_BR catalogue is complete,
the browser's language picks the page's, and times are the viewer's."""

import pytest

from tests.reviewapp.i18n_checks import ROOT, po_entries, template_msgids, templates, untranslated_words

CATALOGUE = ROOT / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_template_string_is_translated(path):
    assert untranslated_words(path) == []


def test_the_checker_sees_an_untranslated_string(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '{% load i18n %}<p title="Hover me">{% translate "Fine" %} {{ x }} Forgotten</p>'
        "<style>p { color: red }</style>{% if x %}<b>Also forgotten</b>{% endif %}"
    )
    assert untranslated_words(page) == ["Hover", "me", "Forgotten", "Also", "forgotten"]


def test_the_catalogue_is_complete():
    entries = po_entries(CATALOGUE)
    assert len(entries) > 200
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    assert [e["msgid"] for e in entries if not all(e["msgstr"])] == []


def test_every_template_msgid_is_in_the_catalogue():
    """A string wrapped but not yet extracted (makemessages not rerun) would show in English."""
    msgids = {e["msgid"] for e in po_entries(CATALOGUE)}
    wanted = {(str(p.relative_to(ROOT)), m) for p in templates() for m in template_msgids(p)}
    assert len(wanted) > 200
    assert sorted(w for w in wanted if w[1] not in msgids) == []
