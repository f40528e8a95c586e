"""Audio editing with text prompts on latent diffusion models (see the README)."""

import logging


def _no_figure_saver_warning(record: logging.LogRecord) -> bool:
    # SpeechBrain's train_logger warns on import when torchvision is missing; no logger of ours saves figures.
    return not record.getMessage().startswith("torchvision is not available")


logging.getLogger("speechbrain.utils.train_logger").addFilter(_no_figure_saver_warning)
