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
# The caption vocabularies: the two splits, and the training split with more wordings of each class
# (the grammar of "train"); see _MORE_TRAIN_WORDINGS.
VOCABULARIES = SPLITS + ("train_more",)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown caption split {split!r}; choose 'train' or 'heldout'")


def _check_vocabulary(vocabulary: str) -> None:
    if vocabulary not in VOCABULARIES:
        raise UserError(f"unknown caption vocabulary {vocabulary!r}; choose one of {', '.join(VOCABULARIES)}")


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

# More training wordings of each class, for the UNet's captions only (``recaption_vocabulary: train_more``
# in the training recipe): variants in the training vocabulary's own words, none of a held-out wording's
# words that the training wordings lack, so the held-out paraphrases stay unseen. The benchmark and the
# checks draw from "train" and "heldout" alone; these lists do not change what they draw.
_MORE_TRAIN_WORDINGS: dict[str, dict[str, list[str]]] = {
    "siren": {"clause": ["a siren is wailing", "sirens wail", "a siren howls", "an ambulance siren wails"],
              "noun": ["a howling siren", "siren wailing", "a loud siren", "the howl of a siren", "wailing sirens",
                       "a police siren blaring"]},
    "phone": {"clause": ["a mobile phone rings", "the telephone is ringing", "a smartphone rings"],
              "noun": ["a phone ringing", "ringing", "a telephone bell", "the ring of a phone",
                       "a ringing cell phone", "a mobile ringtone"]},
    "knock": {"clause": ["someone is knocking", "a fist knocks on a door", "a neighbour knocks"],
              "noun": ["knocking on a door", "a loud knock", "a door being knocked", "a knock",
                       "knuckles knocking on a door"]},
    "gunshot": {"clause": ["a shotgun fires", "a revolver fires", "a weapon is fired", "a gun is fired"],
                "noun": ["a gun firing", "a rifle shot", "a shot", "a bang", "a sharp gunshot", "a gunshot echoing"]},
    "dog": {"clause": ["a dog yaps", "a dog growls and barks", "a dog is yapping"],
            "noun": ["a yapping dog", "barking of a dog", "a dog's bark", "a loud bark", "a bark"]},
    "rain": {"clause": ["rain is falling", "it rains", "rain comes down", "rain is pouring"],
             "noun": ["rain falling", "steady rain", "a rain shower", "the patter of rain", "falling rain"]},
    "engine": {"clause": ["an engine is running", "a motor runs", "an engine purrs", "an engine is idling"],
               "noun": ["engine noise", "a humming motor", "an engine running", "motor hum", "a rumbling engine",
                        "the hum of a motor"]},
    "bird": {"clause": ["a bird tweets", "a bird is singing", "birds chirp", "a little bird chirps"],
             "noun": ["bird song", "a singing bird", "chirps of a bird", "tweeting", "a bird tweeting",
                      "the chirping of a bird"]},
    "clock": {"clause": ["a clock is ticking away", "the clock ticks", "an old clock ticks"],
              "noun": ["a clock", "the ticking of a clock", "ticking clock", "a clock's ticking", "tick tock",
                       "a ticking wall clock"]},
    "beep": {"clause": ["something is beeping", "a device is beeping", "an alarm is beeping", "a machine is beeping"],
             "noun": ["a beeping device", "beeps", "an alarm beep", "a short beep", "machine beeps",
                      "the beep of a device"]},
    "whistle": {"clause": ["a man is whistling", "someone is whistling", "a woman whistles", "a whistle shrieks"],
                "noun": ["a loud whistle", "a whistle blowing", "a man whistling", "whistling sounds",
                         "a sharp whistle"]},
    "footsteps": {"clause": ["a person is walking", "footsteps go by", "someone walks across a room"],
                  "noun": ["steps on a floor", "the sound of walking", "a person's footsteps", "footsteps walking",
                           "walking", "steps approaching"]},
}
for _label, _forms in _MORE_TRAIN_WORDINGS.items():
    _WORDINGS[_label]["train_more"] = {form: _WORDINGS[_label]["train"][form] + more_wordings
                                      for form, more_wordings in _forms.items()}

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

for _table in (_COUNT_WORDS, _SEQUENTIAL_LINKS, _OVERLAPPING_LINKS, _SINGLE_TEMPLATES, _BACKGROUND_TEMPLATES):
    _table["train_more"] = _table["train"]


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
    split : {"train", "heldout", "train_more"}
        Vocabulary to use; "train" and "heldout" are disjoint, so no heldout caption is ever
        produced with ``split="train"`` (nor with "train_more", "train" with more wordings of each class).

    Example
    -------
    >>> scene = Scene([Event("dog", 0.1, 0.5, {}), Event("dog", 1.0, 0.5, {})])
    >>> "twice" in caption(scene, np.random.default_rng(0))
    True
    """
    _check_vocabulary(split)
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
    _check_vocabulary(split)
    template, form = _pick(rng, _SINGLE_TEMPLATES[split])
    return template.format(_phrase(label, form, 1, rng, split))
