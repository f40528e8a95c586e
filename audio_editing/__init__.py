"""Audio editing with text prompts on latent diffusion models (see the README)."""

import logging


def _no_figure_saver_warning(record: logging.LogRecord) -> bool:
    # SpeechBrain's train_logger warns on import when torchvision is missing; no logger of ours saves figures.
    return not record.getMessage().startswith("torchvision is not available")


logging.getLogger("speechbrain.utils.train_logger").addFilter(_no_figure_saver_warning)

# SpeechBrain's run log (log.txt) records every logger at DEBUG. These libraries' DEBUG output (numba's
# bytecode dumps, matplotlib's font search: about 290 kB per edit) says nothing about the run.
QUIET_LOGGERS = ("numba", "matplotlib", "PIL", "h5py", "fsspec", "urllib3", "filelock", "httpx")
for _name in QUIET_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)

__all__ = ["Editor", "Fit", "Edit"]


def __getattr__(name):
    # The Python API (audio_editing.api) on first use: ``import audio_editing`` stays light (no torch).
    if name in __all__:
        from audio_editing import api

        return getattr(api, name)
    raise AttributeError(f"module 'audio_editing' has no attribute {name!r}")
