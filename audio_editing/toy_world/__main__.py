"""``python -m audio_editing.toy_world``: write the editing benchmark or listening examples (``benchmark.main``)."""

import sys

from audio_editing.toy_world.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
