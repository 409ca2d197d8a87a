"""The repository paths that docs/architecture.md and README.md name exist.

A path is a backticked token, or a Markdown link target, that looks like a file or folder of
this repository: it contains a ``/`` or ends in a known extension, and its first segment is a
top-level entry of the repository. Backticked paths are read from the repository root, link
targets from the document's folder. Fenced code blocks (diagrams, shell sessions) are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parents[2]
ARCHITECTURE: Final = "docs/architecture.md"
DOCUMENTS: Final = (ARCHITECTURE, "README.md")
EXTENSIONS: Final = frozenset(
    {".py", ".md", ".toml", ".yml", ".yaml", ".xml", ".sh", ".service", ".timer", ".env"}
)
#: Top-level names that exist only on a machine that ran the stack (ignored by git).
LOCAL_ONLY: Final = frozenset({"data", "lake"})
#: Paths a document must name at least, so an extraction that matches nothing cannot pass.
MIN_PATHS: Final = 20

_FENCED = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PATH_LIKE = re.compile(r"^[\w./@-]+$")


def _top_level() -> frozenset[str]:
    return frozenset(
        entry.name
        for entry in REPO.iterdir()
        if not entry.name.startswith(".")
        and not entry.name.endswith(".egg-info")
        and entry.name not in LOCAL_ONLY
    )


def _is_repo_path(candidate: str, top_level: frozenset[str]) -> bool:
    if not _PATH_LIKE.match(candidate) or candidate.startswith(("/", "./", "../")):
        return False
    looks_like_a_path = "/" in candidate or PurePosixPath(candidate).suffix in EXTENSIONS
    return looks_like_a_path and candidate.split("/", 1)[0] in top_level


def named_paths(document: str) -> list[str]:
    """The repository paths ``document`` names (relative to the repository root), in order."""
    doc = REPO / document
    text = _FENCED.sub("", doc.read_text())
    top_level = _top_level()
    found: list[str] = []
    for span in _BACKTICKED.findall(text):
        for token in span.split():
            candidate = token.split("::", 1)[0]
            if _is_repo_path(candidate, top_level):
                found.append(candidate)
    for target in _LINK.findall(text):
        target = target.split("#", 1)[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        resolved = (doc.parent / target).resolve()
        if not resolved.is_relative_to(REPO):
            continue
        candidate = resolved.relative_to(REPO).as_posix()
        if _is_repo_path(candidate, top_level):
            found.append(candidate)
    return list(dict.fromkeys(found))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_a_document_names_exists(document: str) -> None:
    missing = [path for path in named_paths(document) if not (REPO / path).exists()]

    assert not missing, f"{document} names paths that do not exist: {missing}"


def test_the_architecture_names_enough_paths_and_the_main_mechanisms() -> None:
    paths = named_paths(ARCHITECTURE)
    text = (REPO / ARCHITECTURE).read_text().lower()

    assert len(paths) >= MIN_PATHS, paths
    for word in ("iceberg", "postgresql", "hedg", "rerout"):
        assert word in text, f"{ARCHITECTURE} does not mention {word!r}"
