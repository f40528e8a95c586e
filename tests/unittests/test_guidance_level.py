"""benchmarks/guidance_level.py runs as is and shows what it is for: guidance raises the samples' level."""

import pytest

from tests.conftest import load_benchmark


@pytest.mark.slow
def test_short_run_prints_every_row_and_guidance_raises_the_level(capsys):
    rows = load_benchmark("guidance_level").main(["--steps=8", "--scales=1,6"])
    table = capsys.readouterr().out
    assert list(rows) == ["input, as the model sees it", "input, VAE round trip", "reference, as the model sees it",
                          "reference, VAE round trip", "generated, guidance 1", "generated, guidance 6"]
    assert all(row["rms"] > 0 for row in rows.values())
    assert rows["generated, guidance 6"]["rms"] > 2 * rows["generated, guidance 1"]["rms"]
    assert all(name in table for name in rows)
