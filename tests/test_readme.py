"""The README's code that claims to run does: its Python API section, as a doctest."""

import doctest
import tempfile

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_readmes_python_api_section_runs_as_written(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)  # its paths are the repository's; it writes only under a temporary folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    failures, tried = doctest.testfile(str(REPO / "README.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried >= 10 and failures == 0


def test_every_relative_link_in_the_readmes_resolves():
    """A link in the README, a recipe's README or the experiment index names a file or folder that exists."""
    import re
    readmes = [REPO / "README.md", REPO / "docs" / "experiments" / "README.md",
               *sorted(REPO.glob("recipes/*/README.md"))]
    broken = []
    for readme in readmes:
        text = re.sub(r"```.*?```", "", readme.read_text(), flags=re.S)   # code is not a link
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#")[0]
            if not path or re.match(r"[a-z][a-z0-9+.-]*:", path):   # an anchor on the same page, or a URL
                continue
            if not (readme.parent / path).exists():
                broken.append(f"{readme.relative_to(REPO)}: {target}")
    assert not broken, broken
