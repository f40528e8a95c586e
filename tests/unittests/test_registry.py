"""The registry: embedded models found from their source string, and the generic packages free of any family."""

import ast
import subprocess
import sys

import pytest

from audio_editing import registry
from audio_editing.errors import UserError
from audio_editing.evaluation.clap import load_scorer
from tests.conftest import REPO

GENERIC = ("editing", "evaluation", "backbones")


def test_a_model_folder_and_its_evaluator_folder_give_the_same_scorer(tiny_model_dir):
    scorer = registry.load_scorer(str(tiny_model_dir))
    assert type(scorer).__name__ == "ToyClap"
    assert type(registry.load_scorer(str(tiny_model_dir / "evaluator"))).__name__ == "ToyClap"
    assert type(load_scorer(str(tiny_model_dir))).__name__ == "ToyClap"


def test_an_embedded_name_without_a_model_is_a_user_error():
    assert registry.load_scorer("embedded:no_such_model") is None
    with pytest.raises(UserError, match="has no evaluator/ folder"):
        load_scorer("embedded:no_such_model")


def test_the_generic_packages_import_no_model_family():
    """``editing``, ``evaluation`` and ``backbones`` reach embedded models only through the registry."""
    offenders = []
    for package in GENERIC:
        for path in sorted((REPO / "audio_editing" / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):  # "from audio_editing import toy_world" too
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    continue
                offenders += [f"{path.name}: {name}" for name in names if name.startswith("audio_editing.toy_world")]
    assert not offenders


def test_the_toy_world_package_imports_without_torch():
    code = ("import sys, numpy, audio_editing.toy_world as world; "
            "world.render_scene(world.sample_scene(numpy.random.default_rng(0))); print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert run.stdout.strip() == "False"
