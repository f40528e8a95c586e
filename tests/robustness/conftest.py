"""Helpers of the robustness tests."""

import sys

import numpy as np
import pytest


def signal(seconds, rate, channels=1, peak=0.5, seed=0):
    """Deterministic noise bursts on a tone, [T, channels] float32 at ``peak``."""
    rng = np.random.default_rng(seed)
    t = np.arange(max(1, round(seconds * rate))) / rate
    mono = np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.3 * rng.standard_normal(len(t))
    data = np.stack([mono * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return (peak * data / np.abs(data).max()).astype("float32")


def shield_lazy_modules():
    """Give SpeechBrain's not-yet-loaded lazy modules a ``__file__`` of None.

    Hypothesis reads ``__file__`` of every module in ``sys.modules``; on SpeechBrain's
    deprecated-name redirects that lookup imports the target, and those need optional
    packages (k2, spacy, flair) that are not installed, so the lookup raises ImportError.
    """
    lazy = getattr(sys.modules.get("speechbrain.utils.importutils"), "LazyModule", None)
    if lazy is None:
        return
    for module in list(sys.modules.values()):
        if isinstance(module, lazy) and module.lazy_module is None and "__file__" not in vars(module):
            module.__file__ = None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    shield_lazy_modules()  # before Hypothesis's own hook scans sys.modules


@pytest.fixture(autouse=True)
def _shield_lazy_modules():
    shield_lazy_modules()  # modules imported by earlier tests
