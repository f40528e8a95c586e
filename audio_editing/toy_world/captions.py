"""Captions of toy-world scenes, in a training and a disjoint held-out vocabulary.

Every class has several wordings per split, clauses ("a dog barks", which take a count such as
"twice") and noun phrases ("a barking dog"); :func:`caption` describes a whole scene,
:func:`describe_event` one event. No ``"heldout"`` wording occurs in a ``"train"`` caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from audio_editing.errors import UserError
from audio_editing.toy_world.scenes import Event, Scene
from audio_editing.toy_world.sounds import _check_label, _pick

SPLITS = ("train", "heldout")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown caption split {split!r}; choose 'train' or 'heldout'")


# --------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------

# Per class and split: clauses ("a dog barks", take a count such as "twice")
# and noun phrases ("a barking dog"). The heldout wordings never occur in
# train captions.
_WORDINGS: dict[str, dict[str, dict[str, list[str]]]] = {
    "siren": {
        "train": {"clause": ["a siren wails", "a siren blares", "an emergency siren howls", "a police siren sounds"],
                  "noun": ["an ambulance siren", "police siren", "a wailing siren", "emergency siren howling",
                           "a siren", "the wail of a siren"]},
        "heldout": {"clause": ["a fire truck siren screams"],
                    "noun": ["an emergency vehicle alarm", "a patrol car siren"]},
    },
    "phone": {
        "train": {"clause": ["a phone rings", "a telephone rings", "a cell phone is ringing", "the phone rings"],
                  "noun": ["a ringing phone", "telephone ringing", "phone ring", "a ringtone",
                           "ringing of a telephone"]},
        "heldout": {"clause": ["a landline trills"], "noun": ["an incoming call chiming", "a handset buzzing"]},
    },
    "knock": {
        "train": {"clause": ["someone knocks on a door", "someone knocks on the door", "a person knocks"],
                  "noun": ["door knocking", "a knock at the door", "knocking", "knocks on a wooden door",
                           "door knock"]},
        "heldout": {"clause": ["a visitor raps on the door"], "noun": ["rapping on wood", "a tapping at the entrance"]},
    },
    "gunshot": {
        "train": {"clause": ["a gun fires", "a gunshot rings out", "a shot is fired", "a rifle fires"],
                  "noun": ["a gunshot", "gunfire", "a loud gunshot", "gun shot", "the bang of a gun"]},
        "heldout": {"clause": ["a pistol goes off"], "noun": ["a firearm discharge", "a single loud blast"]},
    },
    "dog": {
        "train": {"clause": ["a dog barks", "a puppy yaps", "a dog is barking"],
                  "noun": ["barking", "a dog barking", "woofing of a dog", "dog bark", "a barking dog"]},
        "heldout": {"clause": ["a hound bays"], "noun": ["a canine woofing", "yelping of a pup"]},
    },
    "rain": {
        "train": {"clause": ["rain falls", "it is raining", "rain pours down", "rain patters"],
                  "noun": ["rain", "rainfall", "light rain", "raindrops falling", "heavy rain", "pattering rain"]},
        "heldout": {"clause": ["a downpour drums on the roof"], "noun": ["a drizzle", "precipitation splattering"]},
    },
    "engine": {
        "train": {"clause": ["an engine idles", "an engine runs", "a motor hums", "an engine rumbles"],
                  "noun": ["engine hum", "an idling engine", "a running motor", "engine rumble",
                           "the rumble of an engine", "a car engine"]},
        "heldout": {"clause": ["a diesel generator drones"],
                    "noun": ["a truck motor ticking over", "machinery droning"]},
    },
    "bird": {
        "train": {"clause": ["a bird chirps", "a bird sings", "birds tweet", "a bird is chirping"],
                  "noun": ["birdsong", "chirping", "a chirping bird", "bird chirps", "tweeting of a bird"]},
        "heldout": {"clause": ["a songbird warbles"], "noun": ["a sparrow twittering", "avian calls"]},
    },
    "clock": {
        "train": {"clause": ["a clock ticks", "a clock is ticking", "a wall clock ticks"],
                  "noun": ["clock ticking", "a ticking clock", "tick tock of a clock", "clock ticks", "ticking"]},
        "heldout": {"clause": ["a grandfather clock keeps time"],
                    "noun": ["the tick-tock of a timepiece", "a pendulum clicking"]},
    },
    "beep": {
        "train": {"clause": ["a device beeps", "a machine beeps", "an alarm beeps", "something beeps"],
                  "noun": ["beeping", "a beep", "electronic beeps", "a beeping sound", "a tone beep"]},
        "heldout": {"clause": ["a microwave bleeps"], "noun": ["an electronic pip", "a timer bleeping"]},
    },
    "whistle": {
        "train": {"clause": ["someone whistles", "a person whistles", "a whistle blows", "a man whistles"],
                  "noun": ["whistling", "a whistle", "a high whistle", "a person whistling", "a shrill whistle"]},
        "heldout": {"clause": ["a referee toots a whistle"], "noun": ["a kettle whistling", "a whistled note"]},
    },
    "footsteps": {
        "train": {"clause": ["someone walks", "a person walks by", "footsteps approach", "someone is walking"],
                  "noun": ["footsteps", "steps", "walking footsteps", "a person walking",
                           "footsteps on a hard floor"]},
        "heldout": {"clause": ["somebody strolls past"], "noun": ["treading feet", "paces on a wooden floor"]},
    },
}

CLASS_WORDINGS: dict[str, dict[str, list[str]]] = {
    label: {split: forms["clause"] + forms["noun"] for split, forms in splits.items()}
    for label, splits in _WORDINGS.items()
}
"""Every wording of every class, per split (``"train"``, ``"heldout"``)."""

# Count words appended to a clause; key 4 stands for "four or more".
_COUNT_WORDS = {
    "train": {2: ["twice"], 3: ["three times"], 4: ["repeatedly"]},
    "heldout": {2: ["two times", "a couple of times"], 3: ["thrice"], 4: ["over and over"]},
}
# (connector, form of the phrase after it); "any" takes a clause or a noun phrase.
_SEQUENTIAL_LINKS = {
    "train": [(", then ", "clause"), (" followed by ", "noun"), (", and then ", "clause"), (" before ", "clause")],
    "heldout": [(", after which ", "clause"), ("; afterwards ", "clause"), (" succeeded by ", "noun")],
}
_OVERLAPPING_LINKS = {
    "train": [(" while ", "clause"), (" as ", "clause"), (" and ", "any")],
    "heldout": [(" at the same time as ", "clause"), (" alongside ", "noun"), ("; meanwhile ", "clause")],
}
# (template, form of its phrase) for a single event without background.
_SINGLE_TEMPLATES = {
    "train": [("{}", "any"), ("the sound of {}", "noun"), ("{} can be heard", "noun")],
    "heldout": [("{}", "any"), ("one hears {}", "noun"), ("a recording of {}", "noun")],
}
# (template, form the foreground starts with, form of the background phrase).
_BACKGROUND_TEMPLATES = {
    "train": [("{fg}, while {bg}", "any", "clause"), ("{fg} with {bg} in the background", "any", "noun"),
              ("{fg} over {bg}", "any", "noun"), ("{bg} while {fg}", "clause", "noun"),
              ("{bg} and {fg}", "any", "noun")],
    "heldout": [("{fg} amid {bg}", "any", "noun"), ("{fg}; behind it, {bg}", "any", "clause"),
                ("{bg}, during which {fg}", "clause", "noun")],
}


@dataclass
class _EventGroup:
    """Consecutive events of one class, captioned together ("knocks twice")."""

    label: str
    count: int
    start: float
    end: float


def _event_groups(events: Sequence[Event]) -> list[_EventGroup]:
    groups: list[_EventGroup] = []
    for event in sorted(events, key=lambda event: event.onset):
        end = event.onset + event.duration
        if groups and groups[-1].label == event.label:
            groups[-1].count += 1
            groups[-1].end = max(groups[-1].end, end)
        else:
            groups.append(_EventGroup(event.label, 1, event.onset, end))
    return groups


def _phrase(label: str, form: str, count: int, rng: np.random.Generator, split: str) -> str:
    """A wording of ``label`` in the requested form; counts force a clause."""
    if count > 1:
        form = "clause"
    options = CLASS_WORDINGS[label][split] if form == "any" else _WORDINGS[label][split][form]
    text = _pick(rng, options)
    if count > 1:
        text += " " + _pick(rng, _COUNT_WORDS[split][min(count, 4)])
    return text


def _foreground_text(groups: Sequence[_EventGroup], first_form: str, rng: np.random.Generator, split: str) -> str:
    text = _phrase(groups[0].label, first_form, groups[0].count, rng, split)
    for previous, group in zip(groups, groups[1:]):
        sequential = group.start >= previous.end - 0.05
        links = (_SEQUENTIAL_LINKS if sequential else _OVERLAPPING_LINKS)[split]
        if group.count > 1:
            links = [link for link in links if link[1] != "noun"]
        connector, form = _pick(rng, links)
        text += connector + _phrase(group.label, form, group.count, rng, split)
    return text


def caption(scene: Scene, rng: np.random.Generator, split: str = "train") -> str:
    """Describe a scene in one lower-case sentence.

    Consecutive events of one class are counted ("a dog barks twice"); events
    are joined in onset order with "then", "followed by", ... when one ends
    before the next starts and with "while", "as", "and" when they overlap;
    a background bed is woven in ("..., while rain falls").

    Parameters
    ----------
    scene : Scene
        The scene to describe.
    rng : numpy.random.Generator
        Picks wordings and templates.
    split : {"train", "heldout"}
        Vocabulary to use; the two are disjoint, so no heldout caption is ever
        produced with ``split="train"``.

    Example
    -------
    >>> scene = Scene([Event("dog", 0.1, 0.5, {}), Event("dog", 1.0, 0.5, {})])
    >>> "twice" in caption(scene, np.random.default_rng(0))
    True
    """
    _check_split(split)
    groups = _event_groups(scene.events)
    if scene.background is None:
        if len(groups) == 1 and groups[0].count == 1:
            template, form = _pick(rng, _SINGLE_TEMPLATES[split])
            return template.format(_phrase(groups[0].label, form, 1, rng, split))
        return _foreground_text(groups, "any", rng, split)
    template, first_form, background_form = _pick(rng, _BACKGROUND_TEMPLATES[split])
    return template.format(fg=_foreground_text(groups, first_form, rng, split),
                           bg=_phrase(scene.background, background_form, 1, rng, split))


def describe_event(label: str, rng: np.random.Generator, split: str = "train") -> str:
    """A one-event prompt such as "a dog barking" or "the sound of a siren".

    Example
    -------
    >>> describe_event("dog", np.random.default_rng(0)) in {
    ...     template.format(wording) for template, _ in _SINGLE_TEMPLATES["train"]
    ...     for wording in CLASS_WORDINGS["dog"]["train"]}
    True
    """
    _check_label(label)
    _check_split(split)
    template, form = _pick(rng, _SINGLE_TEMPLATES[split])
    return template.format(_phrase(label, form, 1, rng, split))
