"""benchmarks/edit_speed.py: variants run side by side, a long run split over shards resumes from its rows file,
and a further prompt on a fitted clip runs step 3 only where the fit serves every prompt."""

import json

import pytest

from tests.conftest import load_benchmark


@pytest.mark.slow
def test_shards_share_one_rows_file_and_a_last_run_only_reads_it(tiny_model_dir, tmp_path, capsys, monkeypatch):
    bench = load_benchmark("edit_speed")
    rows_file = tmp_path / "rows.jsonl"
    args = ["--clips=2", f"--rows={rows_file}", "--schedules=fast,short", "--variant", "short=--sample_steps=2",
            "--no_whole_process", f"--backbone_source={tiny_model_dir}", "--device=cpu", "--emb_steps=2",
            "--ft_steps=2", "--sample_steps=3", "--etas=[0,1]", "--noprogressbar"]
    bench.main(args + ["--shard=0/2"])
    assert [json.loads(line)["schedule"] for line in rows_file.read_text().splitlines()] == ["fast", "short"]
    bench.main(args + ["--shard=1/2"])
    records = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert sorted((r["id"], r["schedule"]) for r in records) == sorted(
        (clip, schedule) for clip in ("addition_00", "style_transfer_00") for schedule in ("fast", "short"))
    assert {r["row"]["steps_finetune"] for r in records} == {2}
    capsys.readouterr()

    monkeypatch.setattr(bench, "run_one", lambda *a, **k: pytest.fail("a finished edit ran again"))
    bench.main(args)
    table = capsys.readouterr().out
    assert "\n2 clips, cpu" in table and "| fast | " in table and "| short | " in table


@pytest.mark.slow
def test_a_further_prompt_samples_only_where_the_fit_serves_every_prompt(tiny_model_dir, tmp_path, capsys,
                                                                        monkeypatch):
    from audio_editing.editing.imagic import ImagicEditor

    bench = load_benchmark("edit_speed")
    calls = []
    for step in ("fit_input", "sample"):
        real = getattr(ImagicEditor, step)
        monkeypatch.setattr(ImagicEditor, step, lambda self, *a, _step=step, _real=real: calls.append(_step)
                            or _real(self, *a))
    rows_file = tmp_path / "rows.jsonl"
    bench.main(["--clips=1", f"--rows={rows_file}", "--schedules=fast,reprompt", "--variant", "reprompt=--init=empty",
                "--no_whole_process", "--further_process", "--further_prompt=a siren wails",
                f"--backbone_source={tiny_model_dir}", "--device=cpu", "--emb_steps=2", "--ft_steps=2",
                "--sample_steps=3", "--etas=[0,1]", "--noprogressbar"])
    # fast: fit and sample; reprompt: fit and sample, then the further prompt samples on that fit
    assert calls == ["fit_input", "sample", "fit_input", "sample", "sample"]
    rows = {r["schedule"]: r["row"] for r in map(json.loads, rows_file.read_text().splitlines())}
    # init=target (the hparams default): a further prompt fits again, so it costs the whole edit
    assert rows["fast"]["further_refits"] and rows["fast"]["further"] == rows["fast"]["seconds"]
    assert not rows["reprompt"]["further_refits"] and rows["reprompt"]["further"] > 0
    out = capsys.readouterr().out
    assert out.split("| fast | ")[1].splitlines()[0].count("(refits: init=target)") == 1
    assert "refits" not in out.split("| reprompt | ")[1].splitlines()[0]
    # the recipe command with the second prompt found the fit (else the benchmark raises)
    assert "whole process, further prompt, reprompt schedule, addition_00: " in out
    assert "whole process, further prompt, fast" not in out


def test_a_variant_needs_a_name_and_overrides():
    bench = load_benchmark("edit_speed")
    assert bench.parse_variant("short=--ft_steps=50 --sample_steps=25") == ("short", ["--ft_steps=50", "--sample_steps=25"])
    for bad in ("short", "=--ft_steps=5", "paper=--ft_steps=5", "short="):
        with pytest.raises(Exception, match="NAME=--key=value"):
            bench.parse_variant(bad)
