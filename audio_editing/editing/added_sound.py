"""The sound an addition adds: what the input lacks of the target prompt.

The toolkit's target prompts describe the whole new scene ("a dog barks while a phone rings" for a dog clip).
The sound to add is the part of that prompt the input matches least: the prompt is cut at its connectors
(:func:`prompt_events`) and the scorer's Text of each part on the input picks it (:func:`missing_event`);
``added_prompt`` names it directly. The layer (``editing/layering.py``) generates it and mixes it over the input;
the method guides it in beside each eta's embedding (``added_guidance``, addition's editor).
"""

import logging
import re
from typing import List

logger = logging.getLogger(__name__)

# Words that join two events in a caption, longest first where one contains another; a part is what lies
# between them ("in the background" ends a phrase: "rain with thunder in the background").
EVENT_LINKS = (", and then ", ", then ", " followed by ", " succeeded by ", ", after which ", "; afterwards ",
               " before ", " after ", " at the same time as ", " alongside ", "; meanwhile ", ", while ",
               " while ", ", during which ", "; behind it, ", " in the background", " with ", " over ", " amid ",
               " as ", ", and ", " and ")


def prompt_events(prompt: str) -> List[str]:
    """The event phrases of a caption, cut at its connectors (``EVENT_LINKS``).

    Example
    -------
    >>> prompt_events("a dog barks while a phone rings")
    ['a dog barks', 'a phone rings']
    >>> prompt_events("sirens wailing with gunshots in the background")
    ['sirens wailing', 'gunshots']
    >>> prompt_events("an engine ticking over")
    ['an engine ticking over']
    """
    pattern = "|".join(re.escape(link) for link in EVENT_LINKS)
    parts = (part.strip(" ,;.") for part in re.split(pattern, prompt.strip()))
    return [part for part in parts if part]


def missing_event(parts: List[str], scores: List[float]) -> str:
    """The part of a prompt the input matches least (``scores``: the scorer's Text of each part on the input).

    Example
    -------
    >>> missing_event(["a dog barks", "a phone rings"], [0.81, 0.07])
    'a phone rings'
    """
    return parts[min(range(len(parts)), key=scores.__getitem__)]


def sound_to_add(editor, target_prompt: str) -> str:
    """The sound ``editor`` adds for ``target_prompt``: its hparam ``added_prompt``, else the part of the prompt
    the input matches least (the scorer's Text of each part on ``editor.wav``)."""
    if editor.hparams.added_prompt:
        return editor.hparams.added_prompt
    parts = prompt_events(target_prompt)
    scores = [editor.input_text_score(editor.wav, part) for part in parts]
    prompt = missing_event(parts, scores)
    if len(parts) > 1:
        logger.info(f"adding {prompt!r}, the part of the prompt the input matches least ("
                    + ", ".join(f"{p!r} {s:.2f}" for p, s in zip(parts, scores)) + ")")
    return prompt
