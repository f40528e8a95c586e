"""The judge: a sound-event detector over the toy world's classes, and what an edit's success is.

The toy world knows every clip's events (class, onset, duration) before and after the reference
edit. A small frame-level, multi-label detector (a CRNN on log-mel, the DCASE task-4 shape),
trained on rendered scenes with their annotations (``judge_train.py``), says which events an
output holds; :func:`judge_edit` compares that with the manifest's ground truth:

* addition: the added class is detected, and every event of the input is still heard where it
  was (:func:`sounding_at` its onset; a background bed over at least half of the clip);
* style transfer: the target class is heard at every source event's onset, and the source class
  is gone;
* inpainting: the prompt's class is detected over at least half of the frames the filled event
  occupies inside the span, which is not left silent (the observed audio is kept by construction).
* removal: the removed class is not heard where it was, and every other event of the input is
  still heard where it was (the bed over at least half of the clip).

It is never used to pick eta or to train anything the editor uses.
"""

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torchaudio
from scipy import ndimage

from audio_editing.backbones.mel import LogMel
from audio_editing import toy_world
from audio_editing.errors import UserError

ONSET_COLLAR = 0.2  # seconds: an onset within this of the truth is "where it was" (DCASE's collar)
AUDIBLE_DB = -35.0  # an event lasts until its last 10 ms frame within this of its loudest one
BED_COVERAGE = 0.5  # a background bed is kept when detected over at least this share of the clip
SPAN_COVERAGE = 0.5  # inpainting: share of the filled event's frames in the span that must be detected


@dataclass(frozen=True)
class Detection:
    """One event: class and times in seconds (an annotation or a detector output)."""

    label: str
    onset: float
    offset: float


# --------------------------------------------------------------------------
# Ground-truth annotations
# --------------------------------------------------------------------------


def audible_offset(event: toy_world.Event, seconds: float, hop: int = 160) -> float:
    """End of the event's last 10 ms frame within ``AUDIBLE_DB`` of its loudest frame.

    An event's ``duration`` is the room it was given (a dog's single bark may be 0.15 s of a
    0.77 s event); the detector is taught, and scored against, what is heard.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> event = toy_world.Event("knock", 0.5, 0.8, toy_world.sample_params("knock", rng, 0.8))
    >>> 0.5 < audible_offset(event, 2.56) <= 1.3
    True
    """
    n = round(seconds * toy_world.SAMPLE_RATE)
    wav = toy_world.render_event(event, n).astype(np.float64)
    frames = wav[: n // hop * hop].reshape(-1, hop)
    energy = (frames ** 2).mean(axis=1)
    active = np.nonzero(energy > energy.max() * 10 ** (AUDIBLE_DB / 10))[0]
    if energy.max() <= 0 or not active.size:
        return min(event.onset + event.duration, seconds)
    return float(min((active[-1] + 1) * hop / toy_world.SAMPLE_RATE, seconds))


def scene_annotation(scene: toy_world.Scene) -> List[Detection]:
    """The scene's events as heard: onset, audible offset; a background bed spans the clip."""
    events = [Detection(e.label, e.onset, audible_offset(e, scene.seconds)) for e in scene.events]
    if scene.background is not None:
        events.append(Detection(scene.background, 0.0, scene.seconds))
    return sorted(events, key=lambda d: (d.onset, d.label))


def frame_targets(annotation: Sequence[Detection], n_frames: int, frame_seconds: float,
                  classes: Sequence[str]) -> torch.Tensor:
    """[n_frames, 2 * classes] 0/1: activity (a frame is active while an event of the class sounds in
    it), then onsets (the frame an event of the class starts in, and its two neighbours), so that two
    events of one class that touch or overlap stay two events."""
    targets = torch.zeros(n_frames, 2 * len(classes))
    for event in annotation:
        column = classes.index(event.label)
        first = int(event.onset / frame_seconds)
        last = int(np.ceil(event.offset / frame_seconds))
        targets[first:max(last, first + 1), column] = 1.0
        targets[max(first - 1, 0):first + 2, len(classes) + column] = 1.0
    return targets


# --------------------------------------------------------------------------
# The detector
# --------------------------------------------------------------------------


class SoundEventDetector(torch.nn.Module):
    """CRNN: log-mel -> conv blocks (pooling frequency, and time once) -> BiGRU -> per-frame sigmoids:
    each class's activity and its onsets.

    Arguments
    ---------
    config : dict
        ``classes``, ``sample_rate``, ``channels`` (conv widths), ``gru_hidden``, and the
        post-processing of the frame probabilities into events: ``threshold`` (activity),
        ``median_frames`` (median filter of the activity), ``onset_threshold`` (an onset peak above it
        inside an active run starts a new event of the class).

    Example
    -------
    >>> judge = SoundEventDetector.build_tiny()
    >>> judge.frame_probabilities(torch.zeros(2, 16000), 16000).shape  # 12 activities, 12 onsets
    torch.Size([2, 50, 24])
    >>> events = judge.detect(torch.zeros(1, 16000), 16000)[0]  # random weights: some events, each inside the clip
    >>> all(e.label in judge.classes and 0 <= e.onset < e.offset <= 1.0 for e in events)
    True
    >>> judge.events(judge.frame_probabilities(torch.zeros(1, 16000), 16000).numpy(), threshold=1.0)  # none above 1
    [[]]
    """

    CONFIG_NAME = "judge.json"
    WEIGHTS_NAME = "model.safetensors"
    TIME_POOL = 2  # output frames of 2 log-mel hops (20 ms)

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        self.classes = list(config["classes"])
        self.sample_rate = config["sample_rate"]
        self.logmel = LogMel(sample_rate=self.sample_rate)
        n_mels, channels = 64, [1] + list(config["channels"])
        self.input_norm = torch.nn.BatchNorm2d(n_mels)  # per mel bin
        blocks, freq = [], n_mels
        for index, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            pool = (self.TIME_POOL if index == 0 else 1, 4 if freq >= 4 else 1)
            freq //= pool[1]
            blocks += [torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.BatchNorm2d(c_out), torch.nn.GELU(),
                       torch.nn.MaxPool2d(pool), torch.nn.Dropout(config.get("dropout", 0.1))]
        self.cnn = torch.nn.Sequential(*blocks)
        hidden = config["gru_hidden"]
        self.gru = torch.nn.GRU(channels[-1] * freq, hidden, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(2 * hidden, 2 * len(self.classes))

    @property
    def frame_seconds(self) -> float:
        return self.TIME_POOL * self.logmel.hop_length / self.sample_rate

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel [B, frames, 64] -> frame logits [B, frames // 2, 2 * classes] (activities, onsets)."""
        x = self.input_norm(mel.transpose(1, 2)[..., None]).squeeze(-1).transpose(1, 2)
        x = self.cnn(x[:, None])  # [B, C, frames // 2, freq]
        x = x.permute(0, 2, 1, 3).flatten(2)
        return self.head(self.gru(x)[0])

    @torch.no_grad()
    def frame_probabilities(self, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveforms [B, T] at ``sample_rate`` -> per-frame probabilities [B, frames, 2 * classes]."""
        wavs = wavs.float().to(self.device)
        if sample_rate != self.sample_rate:
            wavs = torchaudio.functional.resample(wavs, sample_rate, self.sample_rate)
        return torch.sigmoid(self(self.logmel(wavs))).cpu()

    def detect(self, wavs: torch.Tensor, sample_rate: int) -> List[List[Detection]]:
        """The events of each waveform [B, T]."""
        probabilities = torch.cat([self.frame_probabilities(part, sample_rate) for part in wavs.split(32)])
        return self.events(probabilities.numpy())

    def events(self, probabilities: np.ndarray, **post_processing) -> List[List[Detection]]:
        """Events of frame probabilities [B, frames, 2 * classes]; ``post_processing`` overrides the config's."""
        settings = {key: self.config[key] for key in ("threshold", "median_frames", "onset_threshold")}
        settings.update(post_processing)
        return [probabilities_to_events(p, self.classes, frame_seconds=self.frame_seconds, **settings)
                for p in probabilities]

    def judge_outputs(self, entry: dict, wavs: torch.Tensor, sample_rate: int) -> Optional[List[Dict[str, float]]]:
        """:func:`judge_edit` of each output [B, T] of the manifest clip ``entry``; None for a clip without
        ground truth (no ``input_scene`` / ``reference_scene``: not from the toy world)."""
        if not (entry.get("input_scene") and entry.get("reference_scene")):
            return None
        audible = [None] * len(wavs)
        if entry["edit_type"] == "inpainting":  # digital silence left in the span is no fill, whatever the context
            start, end = (round(float(entry[key]) * sample_rate) for key in ("mask_start", "mask_end"))
            audible = [bool((wav[start:end].abs() > 0).any()) for wav in wavs]
        return [judge_edit(entry, events, heard) for events, heard in zip(self.detect(wavs, sample_rate), audible)]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, folder) -> "SoundEventDetector":
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / cls.CONFIG_NAME).is_file():
            raise UserError(f"no judge at '{folder}' (missing {cls.CONFIG_NAME}); train one with "
                            "recipes/toy_world/train_judge.py")
        judge = cls(json.loads((folder / cls.CONFIG_NAME).read_text()))
        judge.load_state_dict({k: v.float() for k, v in load_file(folder / cls.WEIGHTS_NAME).items()})
        return judge.eval()

    def save_pretrained(self, folder) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, folder / self.WEIGHTS_NAME)
        (folder / self.CONFIG_NAME).write_text(json.dumps(self.config, indent=2))

    @classmethod
    def build_tiny(cls, seed: int = 0) -> "SoundEventDetector":
        """A randomly initialised detector for tests."""
        torch.manual_seed(seed)
        return cls(dict(classes=toy_world.CLASSES, sample_rate=toy_world.SAMPLE_RATE, channels=[4, 8],
                        gru_hidden=8, threshold=0.5, median_frames=3, onset_threshold=0.5)).eval()


def probabilities_to_events(probabilities: np.ndarray, classes: Sequence[str], threshold: float,
                            median_frames: int, onset_threshold: float, frame_seconds: float,
                            min_gap_seconds: float = 0.1) -> List[Detection]:
    """Frame probabilities [frames, 2 * classes] (activities, onsets) -> events.

    Each class's activity is thresholded and median filtered into runs of active frames; inside a run,
    an onset peak above ``onset_threshold`` (a local maximum over ``min_gap_seconds``, at least that
    far from the run's start and from the previous split) starts a new event.

    Example
    -------
    >>> p = np.zeros((10, 4)); p[2:9, 1] = 0.9; p[6, 3] = 0.8   # class b active 0.2-0.9 s, re-onset at 0.6 s
    >>> probabilities_to_events(p, ["a", "b"], 0.5, 1, 0.5, 0.1)
    [Detection(label='b', onset=0.2, offset=0.6), Detection(label='b', onset=0.6, offset=0.9)]
    """
    n_classes = len(classes)
    active = probabilities[:, :n_classes] > threshold
    if median_frames > 1:
        active = ndimage.median_filter(active.astype(np.uint8), size=(median_frames, 1), mode="nearest") > 0
    onsets = probabilities[:, n_classes:]
    gap = max(1, round(min_gap_seconds / frame_seconds))
    peaks = (onsets > onset_threshold) & (onsets == ndimage.maximum_filter(onsets, size=(2 * gap + 1, 1)))
    events = []
    for column, label in enumerate(classes):
        padded = np.concatenate([[0], active[:, column].astype(np.int8), [0]])
        edges = np.diff(padded)
        for start, end in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            bounds = [start]
            for frame in np.nonzero(peaks[start:end, column])[0] + start:
                if frame - bounds[-1] >= gap and end - frame >= gap:
                    bounds.append(frame)
            for first, last in zip(bounds, bounds[1:] + [end]):
                events.append(Detection(label, round(float(first * frame_seconds), 4),
                                        round(float(last * frame_seconds), 4)))
    return sorted(events, key=lambda d: (d.onset, d.label))


# --------------------------------------------------------------------------
# Metrics (sed_eval) and edit success
# --------------------------------------------------------------------------


def _sed_eval():
    """``sed_eval`` without the deprecation warning its ``dcase_util`` raises on import (pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import sed_eval
    return sed_eval


def _event_list(events: Sequence[Detection], filename: str):
    import dcase_util

    return dcase_util.containers.MetaDataContainer(
        [{"event_label": e.label, "onset": e.onset, "offset": e.offset, "filename": filename} for e in events])


def sed_f1(references: Sequence[Sequence[Detection]], estimates: Sequence[Sequence[Detection]],
           classes: Sequence[str], kind: str = "event") -> float:
    """Micro F1 over clips with ``sed_eval``: ``event`` (onset within ``ONSET_COLLAR``, offsets not
    evaluated) or ``segment`` (1 s segments). Two empty lists agree (1.0); nothing detected scores 0.

    Example
    -------
    >>> ref = [[Detection("dog", 0.5, 1.0), Detection("beep", 1.2, 1.5)]]
    >>> sed_f1(ref, [[Detection("dog", 0.6, 0.9)]], ["dog", "beep"])
    0.6666666666666666
    >>> sed_f1(ref, [[]], ["dog", "beep"]), sed_f1([[]], [[]], ["dog"])
    (0.0, 1.0)
    """
    sed_eval = _sed_eval()
    if kind == "event":
        metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=list(classes), t_collar=ONSET_COLLAR,
                                                         evaluate_onset=True, evaluate_offset=False)
    else:
        metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=list(classes), time_resolution=1.0)
    for index, (reference, estimate) in enumerate(zip(references, estimates)):
        metrics.evaluate(reference_event_list=_event_list(reference, f"clip{index}"),
                         estimated_event_list=_event_list(estimate, f"clip{index}"))
    # F = 2 TP / (Nref + Nsys) from sed_eval's counts: its own f_measure is NaN when nothing is detected
    counts = metrics.overall
    total = counts["Nref"] + counts["Nsys"]
    return float(2 * counts["Ntp"] / total) if total else 1.0


def sounding_at(label: str, time: float, detections: Sequence[Detection]) -> bool:
    """Is ``label`` heard at ``time``: a detection of it starts within ``ONSET_COLLAR`` of ``time``, or one
    that started before is still sounding (two touching events of one class may be detected as one)."""
    return any(d.label == label and (abs(d.onset - time) <= ONSET_COLLAR or d.onset <= time < d.offset)
               for d in detections)


def kept(item: Detection, detections: Sequence[Detection], seconds: float) -> bool:
    """Is an annotated event still there: a bed over ``BED_COVERAGE`` of the clip, its class heard at
    its onset (:func:`sounding_at`)."""
    if item.label in toy_world.BACKGROUND_CLASSES and item.onset == 0.0 and item.offset >= seconds:
        return _covered(item.label, 0.0, seconds, detections) >= BED_COVERAGE
    return sounding_at(item.label, item.onset, detections)


def _covered(label: str, start: float, end: float, detections: Sequence[Detection]) -> float:
    """Share of [start, end) during which ``label`` is detected."""
    if end <= start:
        return 0.0
    overlap = sum(max(0.0, min(d.offset, end) - max(d.onset, start)) for d in detections if d.label == label)
    return min(1.0, overlap / (end - start))


def _addition(entry: dict, source, reference, detections: Sequence[Detection], span_audible):
    """The added class is detected; every input event is kept."""
    target = float(any(d.label == entry["added_label"] for d in detections))
    return target, [kept(item, detections, reference.seconds) for item in scene_annotation(source)], 1.0


def _style_transfer(entry: dict, source, reference, detections: Sequence[Detection], span_audible):
    """The target class at every source onset, the source class gone; the bed kept, and a sound (the old or the
    new class) at each source onset: the timing."""
    onsets = [e.onset for e in source.events if e.label == entry["source_label"]]
    at_onsets = np.mean([sounding_at(entry["target_label"], onset, detections) for onset in onsets])
    source_gone = not any(d.label == entry["source_label"] for d in detections)
    target = float(at_onsets) if source_gone else 0.0
    keep = [d for d in scene_annotation(source) if d.label != entry["source_label"]]
    timing = [sounding_at(entry["target_label"], onset, detections)
              or sounding_at(entry["source_label"], onset, detections) for onset in onsets]
    return target, [kept(item, detections, reference.seconds) for item in keep] + timing, 1.0


def _inpainting(entry: dict, source, reference, detections: Sequence[Detection], span_audible):
    """The prompt's class over at least ``SPAN_COVERAGE`` of the filled event's frames in the span (none when
    the span was left silent); the events outside the span kept."""
    truth = scene_annotation(reference)
    start, end = float(entry["mask_start"]), float(entry["mask_end"])
    filled = [d for d in truth if d.label == entry["target_label"] and start - 1e-6 <= d.onset < end]
    if not filled:
        raise UserError(f"manifest entry {entry.get('id', '?')}: no {entry['target_label']} event starts "
                        "inside the span of its reference scene")
    event = filled[0]
    target = _covered(event.label, max(event.onset, start), min(event.offset, end), detections)
    target = 0.0 if span_audible is False else target
    keep = [d for d in truth if d != event and not start <= d.onset < end]
    return target, [kept(item, detections, reference.seconds) for item in keep], SPAN_COVERAGE


def _removal(entry: dict, source, reference, detections: Sequence[Detection], span_audible):
    """The removed class is not heard where it was (no detection of it starts within ``ONSET_COLLAR`` of its
    onset or overlaps it from its onset to its audible offset); every event of the reference scene (the input's
    others, the bed) kept."""
    removed = [d for d in scene_annotation(source) if d.label == entry["removed_label"]]
    if len(removed) != 1:
        raise UserError(f"manifest entry {entry.get('id', '?')}: its input scene has {len(removed)} "
                        f"{entry['removed_label']} events; removal removes the only one of its class")
    event = removed[0]
    heard = sounding_at(event.label, event.onset, detections) or any(
        d.label == event.label and d.onset < event.offset and d.offset > event.onset for d in detections)
    return float(not heard), [kept(item, detections, reference.seconds) for item in scene_annotation(reference)], 1.0


# edit type -> its rule: (entry, input scene, reference scene, detections, span_audible) -> (target, kept per
# event that should stay, the target's threshold); one per edit type of the registry (tests ask for it)
RULES = {"addition": _addition, "style_transfer": _style_transfer, "inpainting": _inpainting, "removal": _removal}


def judge_edit(entry: dict, detections: Sequence[Detection], span_audible: Optional[bool] = None) -> Dict[str, float]:
    """Success and the numbers behind it for one output of the manifest entry ``entry`` (its edit type's rule in
    ``RULES``).

    ``span_audible`` (inpainting): whether the output holds any sound inside the span; False fails the
    fill whatever is detected there (a recurrent detector can carry a ticking clock across a blank).

    Returns ``judge_success`` (0/1), ``judge_target`` (addition: the added class is detected;
    style transfer: share of the source onsets with the target class there, 0 while the source class
    is still detected; inpainting: share of the filled event's span frames detected; removal: the removed
    class is not heard where it was), ``judge_preservation`` (share of the events that should stay, still
    there) and ``judge_event_f1`` (event F1 against the reference scene).
    """
    rule = RULES.get(entry["edit_type"])
    if rule is None:
        raise UserError(f"the judge has no rule for edit type '{entry['edit_type']}'")
    source = toy_world.Scene.from_dict(entry["input_scene"])
    reference = toy_world.Scene.from_dict(entry["reference_scene"])
    target, kept_items, threshold = rule(entry, source, reference, detections, span_audible)
    preservation = float(np.mean(kept_items)) if kept_items else 1.0
    success = target >= threshold and preservation == 1.0
    return {"judge_success": float(success), "judge_target": round(float(target), 4),
            "judge_preservation": round(preservation, 4),
            "judge_event_f1": round(sed_f1([scene_annotation(reference)], [detections], toy_world.CLASSES), 4)}
