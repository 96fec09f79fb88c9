"""The README and docs/ stay true to the tree: every relative link resolves, and the settings table
in docs/configuration.md names every setting of `api.settings.Settings` and nothing else."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from api.settings import Settings
from tests.conftest import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
CONFIGURATION = ROOT / "docs" / "configuration.md"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, and -1, -2
    after a repeated one."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(path.read_text()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)  # http(s), mailto
    ]


def test_the_docs_are_found() -> None:
    names = {path.name for path in DOCS}
    assert {"README.md", "architecture.md", "configuration.md", "errors.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        location, _, anchor = target.partition("#")
        resolved = (doc.parent / location).resolve() if location else doc
        if not resolved.exists():
            broken.append(f"{target}: no {os.path.relpath(resolved, ROOT)}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def _settings_rows() -> list[list[str]]:
    """The names in the first column of each row of the table under "## Settings"."""
    text = CONFIGURATION.read_text()
    section = re.search(r"^## Settings\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section is not None, "docs/configuration.md has no '## Settings' section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    assert len(rows) > 2, "the Settings section has no table"
    return [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in rows[2:]]


def test_every_setting_has_a_row_and_every_row_is_a_setting() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    rows = _settings_rows()
    assert all(rows), "a row of the settings table names no variable in its first column"
    named = [name for row in rows for name in row]
    unknown = sorted(set(named) - fields)
    missing = sorted(fields - set(named))
    repeated = sorted({name for name in named if named.count(name) > 1})
    assert not unknown, f"rows name variables that api.settings.Settings does not read: {unknown}"
    assert not missing, f"settings without a row in docs/configuration.md: {missing}"
    assert not repeated, f"settings with more than one row: {repeated}"
