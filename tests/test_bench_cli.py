"""The benchmarks' command line: one JSON object per benchmark, its figures at the top level."""

import json

from fcn_lessons.bench import __main__ as bench_cli


def test_figures_sit_at_the_top_level_of_the_record():
    figures = {"32s": {"mean_iou": 0.5}, "8s": {"mean_iou": 0.8}}
    record = bench_cli.json_record("pyramid", "a machine", figures)
    assert record == {"benchmark": "pyramid", "machine": "a machine", **figures}
    assert json.loads(json.dumps(record))["8s"]["mean_iou"] == 0.8


def test_figures_that_would_collide_or_are_not_a_dict_go_under_figures():
    assert bench_cli.json_record("x", "m", [1, 2]) == {"benchmark": "x", "machine": "m", "figures": [1, 2]}
    clash = {"machine": "mine", "value": 1}
    assert bench_cli.json_record("x", "m", clash) == {"benchmark": "x", "machine": "m", "figures": clash}


def test_main_prints_one_json_object(monkeypatch, capsys):
    monkeypatch.setattr(bench_cli, "BENCHMARKS", {"toy": "unused"})
    monkeypatch.setattr(bench_cli, "load", lambda name: (lambda *, size=3: {"16s": {"size": size}}))
    monkeypatch.setattr(bench_cli, "machine", lambda: "a machine")
    assert bench_cli.main(["toy", "--json", "--size", "5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0]) == {"benchmark": "toy", "machine": "a machine", "16s": {"size": 5}}
