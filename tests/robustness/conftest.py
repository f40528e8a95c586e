"""Helpers of the robustness tests."""

import numpy as np


def signal(seconds, rate, channels=1, peak=0.5, seed=0):
    """Deterministic noise bursts on a tone, [T, channels] float32 at ``peak``."""
    rng = np.random.default_rng(seed)
    t = np.arange(max(1, round(seconds * rate))) / rate
    mono = np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.3 * rng.standard_normal(len(t))
    data = np.stack([mono * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return (peak * data / np.abs(data).max()).astype("float32")
