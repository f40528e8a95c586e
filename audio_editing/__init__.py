"""Audio editing with text prompts on latent diffusion models (see the README)."""

import logging


def _no_figure_saver_warning(record: logging.LogRecord) -> bool:
    # SpeechBrain's train_logger warns on import when torchvision is missing; no logger of ours saves figures.
    return not record.getMessage().startswith("torchvision is not available")


logging.getLogger("speechbrain.utils.train_logger").addFilter(_no_figure_saver_warning)

__all__ = ["Editor", "Fit", "Edit"]


def __getattr__(name):
    # The Python API (audio_editing.api) on first use: ``import audio_editing`` stays light (no torch).
    if name in __all__:
        from audio_editing import api

        return getattr(api, name)
    raise AttributeError(f"module 'audio_editing' has no attribute {name!r}")
