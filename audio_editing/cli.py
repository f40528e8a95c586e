"""Command-line plumbing shared by every recipe: arguments, hparams, one-line errors.

A recipe's hparams file holds what its edit type needs and names a backbone
(``backbone: toy``); the backbone's own file ``hparams/backbones/<name>.yaml``
holds the model and its schedule defaults (step counts, learning rates,
guidance). ``load_hparams`` joins the two, then applies the recipe's
``backbone_schedule`` for that backbone (an edit type's own changes to its
defaults) and the command-line overrides, so ``--emb_steps=50`` and
``--backbone=tango`` work from any recipe.
"""

import io
import json
import logging
import sys
from pathlib import Path
from typing import Tuple

import ruamel.yaml
import speechbrain as sb
import yaml
from hyperpyyaml import load_hyperpyyaml

from audio_editing.errors import UserError

# Values taken verbatim from the command line: quoted so that YAML never reinterprets them
# (a prompt such as "sirens: loud" or "yes" must stay a string).
STRING_KEYS = ("target_prompt", "input_wav", "output_folder", "edit_id", "backbone_source", "manifest")


def list_arg(value) -> list:
    """A list hparam as given: a YAML list stays a list; the string ``[a, b]`` (or ``a,b``) is split.

    Example
    -------
    >>> list_arg("[imagic, sdedit]"), list_arg(["imagic"])
    (['imagic', 'sdedit'], ['imagic'])
    """
    if isinstance(value, str):
        return [item.strip() for item in value.strip("[]").split(",") if item.strip()]
    return list(value)


def numbers_arg(value, flag: str, kind=float) -> list:
    """:func:`list_arg`'s items as numbers of ``kind``; a one-line error naming ``flag`` otherwise.

    Example
    -------
    >>> numbers_arg("25,100", "--steps", int), numbers_arg("", "--more_steps", int)
    ([25, 100], [])
    """
    try:
        return [kind(item) for item in list_arg(value)]
    except (TypeError, ValueError):
        raise UserError(f"{flag} must be comma-separated numbers; got {value!r}") from None


def parse_arguments(argv):
    """``sb.parse_arguments`` with free-text values protected -> (hparams_file, run_opts, overrides dict)."""
    quoted = []
    for i, arg in enumerate(argv):
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("-") in STRING_KEYS:
            arg = f"{key}={json.dumps(value)}"
        elif not sep and i > 0 and argv[i - 1].lstrip("-") in STRING_KEYS and "=" not in argv[i - 1]:
            arg = json.dumps(arg)
        quoted.append(arg)
    if not quoted or quoted[0].startswith("--"):
        raise UserError("the first argument must be an hparams file, e.g. hparams/addition.yaml")
    # A key given twice: the last one wins, as with any command-line flag.
    last = {arg.partition("=")[0]: i for i, arg in enumerate(quoted) if arg.startswith("--") and "=" in arg}
    quoted = [arg for i, arg in enumerate(quoted)
              if not (arg.startswith("--") and "=" in arg) or last[arg.partition("=")[0]] == i]
    hparams_file, run_opts, overrides = sb.parse_arguments(quoted)
    overrides = ruamel.yaml.YAML(typ="safe").load(overrides) or {}
    if not isinstance(overrides, dict):
        raise UserError(f"cannot parse the command-line overrides {overrides!r}; use --key=value")
    return hparams_file, run_opts, overrides


def read_preset(folder: Path, name: str) -> dict:
    """The settings of preset ``name``: ``<folder>/presets/<name>.yaml`` (``hparams/presets/paper.yaml``: the
    paper's configuration)."""
    path = Path(folder) / "presets" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise UserError(f"unknown --preset={name}; choose one of {', '.join(known)} (files in {path.parent}) or null")
    return dict(ruamel.yaml.YAML(typ="safe").load(path.read_text()) or {})


def compose_hparams_text(hparams_file, backbone: str = None, preset: str = None) -> Tuple[str, dict]:
    """The backbone's YAML followed by the recipe's (the recipe's ``backbone`` key names the file), and
    the recipe's changes to that backbone's defaults: its ``backbone_schedule: {<backbone>: {key: value}}``
    entry, then the settings of its ``preset`` (``preset`` or the recipe's own key; ``read_preset``), which
    ``load_hparams`` applies as overrides that a command-line value still beats."""
    hparams_file = Path(hparams_file)
    if not hparams_file.is_file():
        raise UserError(f"hparams file '{hparams_file}' does not exist")
    recipe_text = hparams_file.read_text()
    recipe = ruamel.yaml.YAML(typ="rt").load(recipe_text) or {}
    name = backbone or recipe.get("backbone")
    folder = hparams_file.parent / "backbones"
    backbone_file = folder / f"{name}.yaml"
    if not backbone_file.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise UserError(f"unknown backbone '{name}'; choose one of {', '.join(known)} (files in {folder})")
    schedule = dict((recipe.get("backbone_schedule") or {}).get(name) or {})
    preset = preset or recipe.get("preset")
    backbone_text = backbone_file.read_text()
    if preset:  # a preset's setting that neither file has is another edit type's (addition's added_guidance)
        backbone_keys = ruamel.yaml.YAML(typ="rt").load(backbone_text) or {}
        schedule.update({key: value for key, value in read_preset(hparams_file.parent, preset).items()
                         if key in recipe or key in backbone_keys})
    text = f"# ---- {backbone_file}\n{backbone_text}\n# ---- {hparams_file}\n{recipe_text}"
    return text, schedule


def load_hparams(hparams_file, overrides: dict, loaded: dict = None):
    """Resolve the joined YAML with overrides -> (hparams dict, resolved YAML text).

    ``loaded``: objects already built for some keys (a batch's model and scorer, ``api.Models``): those keys are
    not built again but take these objects; the resolved text reads as if they had been built.
    Unknown override keys and unfilled placeholders are ``UserError``s.
    """
    text, schedule = compose_hparams_text(hparams_file, overrides.get("backbone"), overrides.get("preset"))
    overrides = {**schedule, **overrides}
    try:
        hparams = load_hyperpyyaml(text, {**overrides, **{key: None for key in loaded or {}}})
        hparams.update(loaded or {})
    except KeyError as err:
        key = str(err).split("'")[1] if "'" in str(err) else str(err)
        if key in schedule:
            raise UserError(f"{hparams_file}: its backbone_schedule or preset sets '{key}', which the hparams do "
                            "not have; fix the recipe's hparams file or the preset") from None
        raise UserError(f"unknown hparam '--{key}'; see {hparams_file} and its backbone file for valid keys") from None
    except ValueError as err:
        message = str(err)
        if "PLACEHOLDER" in message:
            key = message.split("'")[1]
            raise UserError(f"missing required argument --{key}=...") from None
        raise
    stream = io.StringIO()
    ruamel.yaml.YAML().dump({k: v for k, v in overrides.items()}, stream)
    return hparams, f"{text}\n# ---- overrides (the recipe's backbone_schedule, its preset, then the command line)\n# " + \
        stream.getvalue().replace("\n", "\n# ")


def split_own_arguments(hparams_file, argv) -> Tuple[dict, list]:
    """A batch script's own hparams (``hparams_file`` with the ``--key=value`` of ``argv`` whose key it has) and
    the rest of ``argv``, which the script passes to every edit. Values are read as YAML: ``--rejudge=True`` is a
    bool, ``--judge_source=null`` None, ``--methods=[a,b]`` a list."""
    hparams_file = Path(hparams_file)
    if not hparams_file.is_file():
        raise UserError(f"hparams file '{hparams_file}' does not exist")
    text = hparams_file.read_text()
    own_keys = set(ruamel.yaml.YAML(typ="rt").load(text) or {})
    own = [a for a in argv if a.lstrip("-").partition("=")[0] in own_keys]
    overrides = {a.lstrip("-").partition("=")[0]: yaml.safe_load(a.partition("=")[2]) for a in own}
    return load_hyperpyyaml(text, overrides), [a for a in argv if a not in own]


def run_cli(main, argv=None) -> None:
    """Run ``main(argv)``; a ``UserError`` becomes ``error: <message>`` on stderr and exit status 2."""
    try:
        main(sys.argv[1:] if argv is None else argv)
    except UserError as err:
        logging.getLogger(__name__).debug("user error", exc_info=True)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
