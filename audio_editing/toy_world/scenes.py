"""Scenes of the toy world: timed events over an optional background bed, sampled and rendered.

A :class:`Scene` lists timed :class:`Event` objects plus an optional background bed; rendering is
a pure function of the scene, so a scene can be re-rendered bit for bit (every noise source is
seeded from a value stored in the event's ``params``).

Example
-------
>>> rng = np.random.default_rng(0)
>>> scene = sample_scene(rng, background="rain")
>>> wav = render_scene(scene)
>>> wav.shape, wav.dtype.name
((40960,), 'float32')
>>> bool(np.array_equal(wav, render_scene(scene)))
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from audio_editing.errors import UserError
from audio_editing.toy_world.sounds import (BACKGROUND_CLASSES, CLASSES, SAMPLE_RATE, _SOUND_CLASSES, _check_label,
                                            _pick, _render_source, _seconds_to_samples, _uniform, sample_params)

CLIP_SECONDS = 2.56
CLIP_SAMPLES = round(CLIP_SECONDS * SAMPLE_RATE)  # 40960, the embedded model's window
PEAK_LIMIT = 0.95
BACKGROUND_PROBABILITY = 0.3

_MIN_ONSET_GAP_SECONDS = 0.2


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------


@dataclass
class Event:
    """One sound event placed in a scene.

    Parameters
    ----------
    label : str
        Class name, one of :data:`CLASSES`.
    onset : float
        Start time in seconds from the beginning of the scene.
    duration : float
        Length in seconds; the rendered waveform has ``round(duration * 16000)``
        samples (cut where the scene ends).
    params : dict
        Variant values (pitch, rate, ``gain``, noise ``seed``, ...). Together
        with ``label`` and ``duration`` they fix the waveform exactly.
    """

    label: str
    onset: float
    duration: float
    params: dict


@dataclass
class Scene:
    """Foreground events over an optional background bed.

    Parameters
    ----------
    events : list of Event
        Foreground events.
    background : str or None
        Class of the bed spanning the whole scene (one of
        :data:`BACKGROUND_CLASSES`), or None for silence.
    seconds : float
        Scene length in seconds.
    background_params : dict
        Variant values of the bed (empty when there is no background).
    """

    events: list[Event]
    background: Optional[str] = None
    seconds: float = CLIP_SECONDS
    background_params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict; :meth:`from_dict` inverts it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        """Rebuild a scene written by :meth:`to_dict`.

        Example
        -------
        >>> import json
        >>> scene = sample_scene(np.random.default_rng(1))
        >>> Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene
        True
        """
        return cls(
            events=[Event(**event) for event in data["events"]],
            background=data["background"],
            seconds=data["seconds"],
            background_params=dict(data["background_params"]),
        )


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _event_in_buffer(event: Event, n_samples: int) -> np.ndarray:
    out = np.zeros(n_samples)
    start = _seconds_to_samples(event.onset)
    if start >= n_samples:
        return out
    length = min(_seconds_to_samples(event.duration), n_samples - start)
    out[start:start + length] = _render_source(event.label, event.params, length)
    return out


def render_event(event: Event, n_samples: int) -> np.ndarray:
    """Render one event alone into a silent buffer of ``n_samples``.

    The event starts at sample ``round(onset * 16000)`` and is cut where the
    buffer ends. This is exactly the event's contribution to
    :func:`render_scene` (before that function's peak limiting, which never
    applies when the mixture already peaks at or below 0.95).

    Example
    -------
    >>> event = Event("beep", onset=0.5, duration=0.4,
    ...               params=sample_params("beep", np.random.default_rng(0), 0.4))
    >>> wav = render_event(event, CLIP_SAMPLES)
    >>> bool(np.all(wav[:8000] == 0)), bool(np.abs(wav).max() > 0)
    (True, True)
    """
    _check_label(event.label)
    return _event_in_buffer(event, n_samples).astype(np.float32)


def _mixture(scene: Scene) -> np.ndarray:
    """Unlimited float64 sum of background and events."""
    n = _seconds_to_samples(scene.seconds)
    if scene.background is None:
        mix = np.zeros(n)
    else:
        mix = _render_source(scene.background, scene.background_params, n)
    for event in scene.events:
        mix += _event_in_buffer(event, n)
    return mix


def render_scene(scene: Scene) -> np.ndarray:
    """Render a scene to a mono float32 waveform at 16 kHz.

    A pure function of ``scene``: rendering twice gives identical arrays. The
    mixture is scaled down only if its peak exceeds 0.95.

    Returns
    -------
    numpy.ndarray
        float32, length ``round(scene.seconds * 16000)``, peak at most 0.95.
    """
    for event in scene.events:
        _check_label(event.label)
    if scene.background is not None:
        _check_label(scene.background)
    mix = _mixture(scene)
    peak = np.abs(mix).max(initial=0.0)
    if peak > PEAK_LIMIT:
        mix *= PEAK_LIMIT / peak
    return mix.astype(np.float32)


# --------------------------------------------------------------------------
# Scene sampling
# --------------------------------------------------------------------------


def _draw_onset(rng: np.random.Generator, duration: float, seconds: float,
                taken: Sequence[Event], avoid_overlap_with: str) -> float:
    """Onset in ``[0, seconds - duration]`` away from the onsets in ``taken``.

    Prefers onsets at least 0.2 s from every other onset and not overlapping
    events of class ``avoid_overlap_with``; relaxes those wishes when the
    clip is too crowded, but never returns an onset already taken.
    """
    latest = max(seconds - duration, 0.0)
    for attempt in range(100):
        onset = round(_uniform(rng, 0.0, latest), 3)
        if any(abs(onset - event.onset) < _MIN_ONSET_GAP_SECONDS for event in taken) and attempt < 60:
            continue
        if any(onset == event.onset for event in taken):
            continue
        overlaps_same_class = any(
            event.label == avoid_overlap_with and onset < event.onset + event.duration
            and event.onset < onset + duration for event in taken)
        if overlaps_same_class and attempt < 30:
            continue
        return onset
    raise UserError(f"cannot place {len(taken) + 1} events with distinct onsets in {seconds} s")


def _draw_foreground_labels(rng: np.random.Generator, n_events: int, background: Optional[str]) -> list[str]:
    candidates = [label for label in CLASSES if label != background]
    labels: list[str] = []
    for _ in range(n_events):
        repeatable = [label for label in labels if label not in BACKGROUND_CLASSES]
        if repeatable and rng.random() < 0.25:
            labels.append(_pick(rng, repeatable))
        else:
            labels.append(_pick(rng, candidates))
    return labels


def sample_scene(rng: np.random.Generator, seconds: float = CLIP_SECONDS, n_events: Optional[int] = None,
                 background: Optional[str] = None, labels: Optional[Sequence[str]] = None) -> Scene:
    """Draw a random scene.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    seconds : float
        Scene length.
    n_events : int, optional
        Number of foreground events; drawn from 1-3 when None (or taken from
        ``labels``).
    background : {None, "random"} or str
        None: no background; ``"random"``: a bed with probability 0.3; a
        class name from :data:`BACKGROUND_CLASSES`: that bed.
    labels : sequence of str, optional
        Classes of the foreground events (repeats allowed); drawn at random
        when None, avoiding the background's class and now and then
        repeating an earlier class (other than the bed-like rain and engine).

    Returns
    -------
    Scene
        Events sorted by onset, each inside the clip with its own onset.
        Events of one class share their variant (same dog, same phone) and
        differ only in noise seed and onset.

    Example
    -------
    >>> scene = sample_scene(np.random.default_rng(3), labels=["knock", "knock"])
    >>> [event.label for event in scene.events]
    ['knock', 'knock']
    """
    if background == "random":
        background = (BACKGROUND_CLASSES[int(rng.integers(len(BACKGROUND_CLASSES)))]
                      if rng.random() < BACKGROUND_PROBABILITY else None)
    elif background is not None and background not in BACKGROUND_CLASSES:
        raise UserError(f"background must be None, 'random' or one of {', '.join(BACKGROUND_CLASSES)}; "
                        f"got {background!r}")
    if labels is None:
        if n_events is None:
            n_events = int(rng.integers(1, 4))
        if n_events < 1:
            raise UserError(f"a scene needs at least one event; got n_events={n_events}")
        labels = _draw_foreground_labels(rng, n_events, background)
    else:
        labels = list(labels)
        if n_events is not None and n_events != len(labels):
            raise UserError(f"n_events={n_events} does not match the {len(labels)} labels given")
        if not labels:
            raise UserError("a scene needs at least one event; labels is empty")
        for label in labels:
            _check_label(label)

    variants: dict[str, tuple[float, dict]] = {}
    for label in labels:
        if label not in variants:
            low, high = _SOUND_CLASSES[label].duration_range
            longest = max(0.2, 0.9 * seconds / labels.count(label))
            duration = round(min(_uniform(rng, low, high), longest, seconds), 3)
            variants[label] = (duration, sample_params(label, rng, duration))
    events: list[Event] = []
    for label in labels:
        duration, variant = variants[label]
        params = dict(variant, seed=int(rng.integers(2 ** 31)))
        onset = _draw_onset(rng, duration, seconds, events, label)
        events.append(Event(label, onset, duration, params))
    events.sort(key=lambda event: event.onset)
    background_params = sample_params(background, rng, seconds, background=True) if background else {}
    return Scene(events, background, seconds, background_params)
