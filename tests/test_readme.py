"""The README's code that claims to run does: its Python API section, as a doctest."""

import doctest
import tempfile

from tests.conftest import REPO


def test_the_readmes_python_api_section_runs_as_written(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)  # its paths are the repository's; it writes only under a temporary folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    failures, tried = doctest.testfile(str(REPO / "README.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried >= 10 and failures == 0
