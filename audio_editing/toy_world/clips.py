"""The training clips of the embedded model: rendered toy-world scenes kept as log-mel, with captions.

Stage 1 of :func:`~audio_editing.toy_world.train.train_toy_world`. Clips are rendered in chunks,
each from its own seed, so the data depend only on the seed and the chunk size, not on how many
worker processes render them.
"""

import contextlib
import multiprocessing
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from audio_editing import toy_world
from audio_editing.backbones.mel import LogMel

SPLIT_SEED_KEYS = {"train": 0, "heldout": 1}


@dataclass
class ClipSet:
    """Rendered clips kept as log-mel, with their captions.

    Attributes
    ----------
    mels : torch.Tensor
        [N, 1, frames, n_mels] float16 log-mel (the backbone's ``mel`` of each clip).
    captions : list of list of str
        Several captions of each clip's scene (different wordings of one scene).
    """

    mels: torch.Tensor
    captions: List[List[str]]

    def __len__(self) -> int:
        return len(self.captions)

    def save(self, path) -> None:
        torch.save({"mels": self.mels, "captions": self.captions}, path)

    @classmethod
    def load(cls, path) -> "ClipSet":
        state = torch.load(path)
        return cls(state["mels"], state["captions"])


def chunk_seed(seed: int, split: str, chunk_index: int) -> int:
    """The ``generate_examples`` seed of one chunk of clips (independent streams per split)."""
    return int(np.random.SeedSequence([seed, SPLIT_SEED_KEYS[split], chunk_index]).generate_state(1)[0])


def render_clip_chunk(task) -> ClipSet:
    """Render one chunk of clips: ``task = (seed, num_clips, split, captions_per_clip, recaption_vocabulary)``.

    The first caption of a clip is the one ``generate_examples`` drew; the others
    re-caption the same scene, in ``recaption_vocabulary``, with a generator seeded from the chunk seed.
    """
    seed, num_clips, split, captions_per_clip, recaption_vocabulary = task
    caption_rng = np.random.default_rng([seed, 1])
    wavs, captions = [], []
    for wav, first_caption, scene in toy_world.generate_examples(num_clips, seed, split=split):
        wavs.append(wav)
        captions.append([first_caption] + [toy_world.caption(scene, caption_rng, recaption_vocabulary)
                                           for _ in range(captions_per_clip - 1)])
    mels = LogMel(sample_rate=toy_world.SAMPLE_RATE)(torch.from_numpy(np.stack(wavs)))[:, None]
    return ClipSet(mels.half(), captions)


def _single_thread_worker() -> None:
    torch.set_num_threads(1)


@contextlib.contextmanager
def worker_pool(num_workers: int):
    """``num_workers`` single-threaded spawned processes for :func:`make_clip_set`, or None when
    ``num_workers <= 1`` (render in this process)."""
    if num_workers <= 1:
        yield None
        return
    with multiprocessing.get_context("spawn").Pool(num_workers, initializer=_single_thread_worker) as pool:
        yield pool


def make_clip_set(num_clips: int, seed: int, split: str, captions_per_clip: int = 1,
                  chunk_size: int = 100, pool=None, progress: bool = True,
                  recaption_vocabulary: Optional[str] = None) -> ClipSet:
    """Render ``num_clips`` toy-world clips of ``toy_world.CLIP_SECONDS`` as log-mel.

    Parameters
    ----------
    num_clips : int
        Number of clips.
    seed : int
        Seed of the whole set; chunk ``i`` uses :func:`chunk_seed` ``(seed, split, i)``.
    split : {"train", "heldout"}
        Caption vocabulary (the two splits also draw different scenes).
    captions_per_clip : int
        Captions kept per clip.
    chunk_size : int
        Clips per chunk (the unit of work of one worker; part of the data's definition).
    pool : multiprocessing.pool.Pool, optional
        Workers (see :func:`worker_pool`); None renders in this process. The result does not depend on it.
    progress : bool
        Show a progress bar.
    recaption_vocabulary : str, optional
        Vocabulary of every caption after a clip's first (``toy_world.VOCABULARIES``; default: ``split``).

    Returns
    -------
    ClipSet
    """
    tasks = [(chunk_seed(seed, split, index), min(chunk_size, num_clips - start), split, captions_per_clip,
              recaption_vocabulary or split)
             for index, start in enumerate(range(0, num_clips, chunk_size))]
    results = pool.imap(render_clip_chunk, tasks) if pool is not None else map(render_clip_chunk, tasks)
    chunks = []
    with tqdm(total=num_clips, desc=f"rendering {split} clips", unit="clip", disable=not progress) as bar:
        for chunk in results:
            chunks.append(chunk)
            bar.update(len(chunk))
    return ClipSet(torch.cat([chunk.mels for chunk in chunks]),
                   [captions for chunk in chunks for captions in chunk.captions])


def _batches(total: int, batch_size: int):
    return (slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size))
