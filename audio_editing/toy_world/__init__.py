"""The toy world: a procedural sound world, the embedded text-to-audio model trained on it, and its judge.

The world (NumPy and SciPy only: importing this package loads no torch):

* ``sounds.py``: the twelve sound-event classes, their synthesisers and :func:`sample_params`;
* ``scenes.py``: :class:`Event`, :class:`Scene`, :func:`sample_scene`, :func:`render_scene`;
* ``captions.py``: the wordings of every class in a ``"train"`` and a disjoint ``"heldout"``
  vocabulary, :func:`caption`, :func:`describe_event`;
* ``examples.py``: the training stream :func:`generate_examples`;
* ``benchmark.py``: the editing benchmark :func:`make_benchmark` and the command line
  ``python -m audio_editing.toy_world --benchmark OUT_DIR``.

The embedded model (``embedded:toy_world``, shipped in ``audio_editing/pretrained/toy_world``):

* ``model.py``: ``ToyBackbone``, the small mel-latent diffusion model, and its folder layout;
* ``evaluator.py``: ``ToyClap``, its contrastive audio-text evaluator (the scorer of its edits);
* ``clips.py``, ``train.py``: its training clips and stages (``recipes/toy_world/train.py``);
* ``checks.py``: its measurements (``recipes/toy_world/check_model.py``);
* ``judge.py``: the ground truth, a sound-event detector (a small CRNN on log-mel), its event
  annotations and the per-edit-type success rules; ``judge_train.py`` trains and checks it
  (``recipes/toy_world/train_judge.py``, ``check_judge.py``). The judge is never used to pick eta
  or to train anything the editor uses: it only says what an output contains, so a benchmark
  table can say whether an edit happened;
* ``loaders.py``: what ``audio_editing.registry`` calls to find the evaluator and the judge in a
  model folder.

The names most callers use are re-exported here (``toy_world.sample_scene(...)``).
"""

from audio_editing.toy_world.benchmark import EDIT_TYPES, make_benchmark
from audio_editing.toy_world.captions import CLASS_WORDINGS, SPLITS, VOCABULARIES, caption, describe_event
from audio_editing.toy_world.examples import generate_examples, write_examples
from audio_editing.toy_world.scenes import (BACKGROUND_PROBABILITY, CLIP_SAMPLES, CLIP_SECONDS, PEAK_LIMIT, Event,
                                            Scene, render_event, render_scene, sample_scene)
from audio_editing.toy_world.sounds import BACKGROUND_CLASSES, CLASSES, SAMPLE_RATE, duration_range, sample_params

__all__ = [
    "BACKGROUND_CLASSES", "BACKGROUND_PROBABILITY", "CLASSES", "CLASS_WORDINGS", "CLIP_SAMPLES", "CLIP_SECONDS",
    "EDIT_TYPES", "PEAK_LIMIT", "SAMPLE_RATE", "SPLITS", "VOCABULARIES", "Event", "Scene", "caption", "describe_event",
    "duration_range", "generate_examples", "make_benchmark", "render_event", "render_scene", "sample_params",
    "sample_scene", "write_examples",
]
