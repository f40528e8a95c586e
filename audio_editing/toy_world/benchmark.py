"""The editing benchmark: input/reference clip pairs with their scenes, and the command line.

A benchmark of 9 pairs per edit type of the registry (addition, style transfer, inpainting, removal:
36 clips; :func:`make_benchmark`), each with the ground truth of both clips (the scenes), which the
judge reads.

Command line::

    python -m audio_editing.toy_world --benchmark OUT_DIR [--seed 0]
    python -m audio_editing.toy_world --examples N --out DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import soundfile

from audio_editing.errors import UserError
from audio_editing.toy_world.captions import SPLITS, _check_split, caption, describe_event
from audio_editing.toy_world.examples import write_examples
from audio_editing.toy_world.scenes import (BACKGROUND_PROBABILITY, PEAK_LIMIT, Event, Scene, _draw_onset, _mixture,
                                            render_scene, sample_scene)
from audio_editing.toy_world.sounds import (BACKGROUND_CLASSES, CLASSES, SAMPLE_RATE, _EVENT_CLASSES, _SOUND_CLASSES,
                                            _pick, _seconds_to_samples, _uniform, sample_params)

# The edit types that draw from one shared stream, in this order (as every set made before removal was);
# every later type draws from a stream of its own, so adding one changes no clip of the others.
SHARED_STREAM = ("addition", "style_transfer", "inpainting")


# --------------------------------------------------------------------------
# Editing benchmark
# --------------------------------------------------------------------------


def _fits_unlimited(*scenes: Scene) -> bool:
    """True when no scene needs peak limiting (so event sums stay exact)."""
    return all(np.abs(_mixture(scene)).max() <= PEAK_LIMIT for scene in scenes)


def _background_avoiding(rng: np.random.Generator, excluded: Sequence[str]) -> Optional[str]:
    if rng.random() >= BACKGROUND_PROBABILITY:
        return None
    allowed = [label for label in BACKGROUND_CLASSES if label not in excluded]
    return _pick(rng, allowed) if allowed else None


def _addition_item(rng: np.random.Generator, split: str):
    while True:
        source = sample_scene(rng, n_events=int(rng.integers(1, 3)), background="random")
        present = {event.label for event in source.events} | {source.background}
        added_label = _pick(rng, [label for label in CLASSES if label not in present])
        low, high = _SOUND_CLASSES[added_label].duration_range
        duration = round(_uniform(rng, low, high), 3)
        onset = _draw_onset(rng, duration, source.seconds, source.events, added_label)
        added = Event(added_label, onset, duration, sample_params(added_label, rng, duration))
        target = Scene(source.events + [added], source.background, source.seconds, source.background_params)
        if _fits_unlimited(source, target):
            break
    fields = {
        "source_prompt": caption(source, rng, split),
        "target_prompt": caption(target, rng, split),
        "added_label": added_label,
        "added_prompt": describe_event(added_label, rng, split),
    }
    return source, target, render_scene(source), render_scene(target), fields


def _style_transfer_item(rng: np.random.Generator, split: str, source_label: str):
    target_label = _pick(rng, [label for label in _EVENT_CLASSES if label != source_label])
    while True:
        background = _background_avoiding(rng, (source_label, target_label))
        source = sample_scene(rng, labels=[source_label] * int(rng.integers(1, 4)), background=background)
        duration = source.events[0].duration
        variant = sample_params(target_label, rng, duration)
        target_events = [Event(target_label, event.onset, event.duration,
                               dict(variant, seed=int(rng.integers(2 ** 31)))) for event in source.events]
        target = Scene(target_events, source.background, source.seconds, source.background_params)
        if _fits_unlimited(source, target):
            break
    fields = {
        "source_prompt": caption(source, rng, split),
        "target_prompt": caption(Scene(target_events, None, target.seconds), rng, split),
        "target_caption": caption(target, rng, split),
        "source_label": source_label,
        "target_label": target_label,
    }
    return source, target, render_scene(source), render_scene(target), fields


def _inpainting_item(rng: np.random.Generator, split: str):
    while True:  # redraw until the observed part is audible: a silent input gives nothing to keep
        scene = sample_scene(rng, background="random")
        reference = render_scene(scene)
        event = scene.events[int(rng.integers(len(scene.events)))]
        span = _seconds_to_samples(_uniform(rng, 0.4, 0.9))
        onset = _seconds_to_samples(event.onset)
        earliest = max(0, onset - span + _seconds_to_samples(0.1))
        latest = min(onset, len(reference) - span)
        mask_start = int(rng.integers(earliest, latest + 1))
        masked = reference.copy()
        masked[mask_start:mask_start + span] = 0.0
        if np.abs(masked).max() >= 0.05:
            break
    fields = {
        "source_prompt": caption(scene, rng, split),
        "target_prompt": caption(scene, rng, split),
        "fill_prompt": describe_event(event.label, rng, split),
        "target_label": event.label,
        "mask_start": mask_start / SAMPLE_RATE,
        "mask_end": (mask_start + span) / SAMPLE_RATE,
    }
    return scene, scene, masked, reference, fields


def _removal_item(rng: np.random.Generator, split: str):
    while True:  # 2-3 events, one of them the only event of its class (what the prompt can leave out)
        source = sample_scene(rng, n_events=int(rng.integers(2, 4)), background="random")
        labels = [event.label for event in source.events]
        single = [event for event in source.events if labels.count(event.label) == 1]
        if not single:
            continue
        removed = single[int(rng.integers(len(single)))]
        target = Scene([event for event in source.events if event is not removed], source.background,
                       source.seconds, source.background_params)
        if _fits_unlimited(source, target):
            break
    fields = {
        "source_prompt": caption(source, rng, split),
        "target_prompt": caption(target, rng, split),
        "removed_label": removed.label,
        "removed_prompt": describe_event(removed.label, rng, split),
    }
    return source, target, render_scene(source), render_scene(target), fields


# every edit type of the registry has its items here (tests ask for it)
# The edit types this world makes benchmark items for, each with its item maker: every edit type of the editing
# registry (``editing/edit_types.py``; a test holds the two equal), named here so that the world needs no editor.
ITEMS = {"addition": _addition_item, "style_transfer": _style_transfer_item, "inpainting": _inpainting_item,
         "removal": _removal_item}
EDIT_TYPES = tuple(ITEMS)


def make_benchmark(out_dir: str | Path, seed: int = 0, n_per_type: int = 9, split: str = "train") -> Path:
    """Write the editing benchmark: input/reference clip pairs and a manifest.

    For each of :data:`EDIT_TYPES` ``n_per_type`` items ``<type>_<NN>`` are
    written as ``<id>_input.wav`` and ``<id>_reference.wav`` (16-bit PCM,
    16 kHz, 2.56 s) next to ``manifest.json``, a SpeechBrain-style dict of
    ``{id: {"wav", "reference", "edit_type", "source_prompt",
    "target_prompt", "duration", "input_scene", "reference_scene", ...}}``
    with file names relative to the manifest's folder.

    * ``addition``: the reference is the input scene plus one event of a new
      class (``added_label``, ``added_prompt``); every input event is
      rendered identically in both, so reference - input is the added event.
    * ``style_transfer``: one class repeated 1-3 times is re-rendered as
      another class at the same onsets and durations over the same background
      (``source_label``, ``target_label``; ``target_prompt`` describes the new
      sound, e.g. "a dog barks twice", ``target_caption`` the whole new
      scene). Both classes are discrete events, not rain or engine.
    * ``inpainting``: the input is the reference with ``[mask_start,
      mask_end)`` seconds (0.4-0.9 s, covering the onset of the
      ``target_label`` event) set to exact zeros; ``target_prompt`` captions
      the full scene and ``fill_prompt`` the missing event. The input is a
      damaged recording of the reference scene, so ``source_prompt`` captions
      that scene too.
    * ``removal``: the input scene has 2-3 events (and a background bed with
      probability 0.3); the reference is the same scene rendered without one
      event, the only one of its class (``removed_label``, ``removed_prompt``),
      so input - reference is that event; ``target_prompt`` captions the
      reference scene.

    Deterministic from ``seed`` and ``split`` (the caption vocabulary).
    Addition, style transfer and inpainting draw from one stream seeded with
    ``seed``; every other type from a stream of its own (``seed`` and its
    name), so adding an edit type leaves the others' clips as they were.

    Returns
    -------
    pathlib.Path
        Path of ``manifest.json``.
    """
    _check_split(split)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shared = np.random.default_rng(seed)
    source_labels = [_EVENT_CLASSES[index] for index in shared.permutation(len(_EVENT_CLASSES))]
    manifest = {}
    for edit_type in [*SHARED_STREAM, *(name for name in EDIT_TYPES if name not in SHARED_STREAM)]:
        rng = shared if edit_type in SHARED_STREAM else np.random.default_rng([seed, zlib.crc32(edit_type.encode())])
        for index in range(n_per_type):
            if edit_type == "style_transfer":
                item = _style_transfer_item(rng, split, source_labels[index % len(source_labels)])
            else:
                item = ITEMS[edit_type](rng, split)
            input_scene, reference_scene, input_wav, reference_wav, fields = item
            item_id = f"{edit_type}_{index:02d}"
            input_name, reference_name = f"{item_id}_input.wav", f"{item_id}_reference.wav"
            soundfile.write(out / input_name, input_wav, SAMPLE_RATE, subtype="PCM_16")
            soundfile.write(out / reference_name, reference_wav, SAMPLE_RATE, subtype="PCM_16")
            manifest[item_id] = {
                "wav": input_name,
                "reference": reference_name,
                "edit_type": edit_type,
                "duration": input_scene.seconds,
                **fields,
                "input_scene": input_scene.to_dict(),
                "reference_scene": reference_scene.to_dict(),
            }
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest_path


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry: write the benchmark or listening examples."""
    parser = argparse.ArgumentParser(
        prog="python -m audio_editing.toy_world",
        description="Write the toy-world editing benchmark or example clips with captions.")
    parser.add_argument("--benchmark", metavar="OUT_DIR", help="write the benchmark (9 clips per edit type) to OUT_DIR")
    parser.add_argument("--examples", type=int, metavar="N", help="write N example clips (needs --out)")
    parser.add_argument("--out", metavar="DIR", help="folder for --examples")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--split", choices=SPLITS, default="train", help="caption vocabulary (default train)")
    args = parser.parse_args(argv)
    if args.benchmark is None and args.examples is None:
        parser.error("give --benchmark OUT_DIR or --examples N --out DIR")
    if args.examples is not None and (args.out is None or args.examples < 1):
        parser.error("--examples needs a positive N and --out DIR")
    try:
        if args.benchmark is not None:
            print(make_benchmark(args.benchmark, seed=args.seed, split=args.split))
        if args.examples is not None:
            print(write_examples(args.out, args.examples, seed=args.seed, split=args.split))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
