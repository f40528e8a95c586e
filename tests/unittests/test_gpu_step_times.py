"""benchmarks/gpu_step_times.py runs as is: a tiny CPU run prints one row per model, step kind and batch."""

from tests.conftest import load_benchmark


def test_tiny_run_prints_the_table(capsys):
    bench = load_benchmark("gpu_step_times")
    rows = bench.main(["--tiny", "--device=cpu", "--batch=2", "--warmup=0", "--iters=1"])
    table = capsys.readouterr().out
    assert len(rows) == 3 * 4 * 2  # models x step kinds x batch settings (fp32 only on CPU)
    assert {(r["model"], r["mode"], r["batch"]) for r in rows} == {
        (m, s, b) for m in ("tango", "audioldm-s", "audioldm2") for s in ("emb", "full", "lora", "cfg") for b in (1, 2)}
    assert all(r["ms"] > 0 for r in rows)
    assert {r["unet_rows"] for r in rows if r["mode"] == "cfg"} == {2, 4}  # uncond + cond rows
    assert table.startswith("# UNet step times on CPU (tiny configs)")
    assert all(table.count(f"\n| {m} |") == 8 for m in ("tango", "audioldm-s", "audioldm2"))


def test_published_configs_give_the_published_sizes():
    import torch

    bench = load_benchmark("gpu_step_times")
    sizes = {}
    for name, config in bench.MODELS.items():
        sizes[name] = bench.Runner(name, config, bench.LATENT, torch.device("meta")).params
    assert sizes == {"tango": 865_933_768, "audioldm-s": 185_036_552, "audioldm2": 346_943_496}
