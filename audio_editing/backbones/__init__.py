"""Model families behind the one Backbone interface (``base.py``); classes are imported on first use.

``TangoBackbone`` (declare-lab/tango*, converted on load), ``AudioLDMBackbone`` (cvssp/audioldm*),
``AudioLDM2Backbone`` (cvssp/audioldm2*), ``StableAudioBackbone`` (stabilityai/stable-audio-open-1.0, stereo).
The embedded default lives in its own package, with the world it was trained on (``embedded:<name>`` sources:
``audio_editing.registry``).
"""

import importlib

_CLASSES = {
    "Backbone": "base", "TextCond": "base", "TangoBackbone": "tango",
    "AudioLDMBackbone": "audioldm", "AudioLDM2Backbone": "audioldm2", "StableAudioBackbone": "stable_audio",
}
__all__ = list(_CLASSES)


def __getattr__(name):
    if name in _CLASSES:
        return getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
