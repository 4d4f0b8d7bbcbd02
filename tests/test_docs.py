"""The documentation a user reads: every relative link leads somewhere, the README stays short
and the decision log has an index that covers its sections."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "benchmarks" / "README.md",
                *(ROOT / "docs").glob("*.md")])


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a page's headings."""
    found = set()
    for line in markdown.splitlines():
        heading = re.match(r"#+\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            found.add(text.replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading(page):
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, fragment = link.partition("#")
        target = (page.parent / path) if path else page
        missing_heading = (target.exists() and fragment and target.suffix == ".md"
                           and fragment not in anchors(target.read_text()))
        if not target.exists() or missing_heading:
            broken.append(link)
    assert not broken, f"{page.name}: {broken}"


def test_the_readme_is_at_most_8_kb():
    assert len((ROOT / "README.md").read_bytes()) <= 8192


def test_the_decision_log_indexes_every_section():
    text = (ROOT / "docs" / "decisions.md").read_text()
    sections = {f"#{anchor}" for anchor in anchors(text)} - {"#decisions"}
    indexed = set(re.findall(r"^- \[[^]]+\]\((#[^)]+)\)", text, flags=re.MULTILINE))
    assert sections and indexed == sections
