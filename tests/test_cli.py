"""The ``ner-bert`` command end to end: train, evaluate, predict, errors, config files.

Heavy runs go through a real subprocess (``python -m ner_bert``); error paths call
``main(argv)`` in-process, which is the same code without paying for a torch import each time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ner_bert.cli import main

ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

# Sentences over the tiny tokenizer's vocabulary: (words, tags).
_SENTENCES = [
    ("john smith lives in paris .", "B-PER I-PER O O B-LOC O"),
    ("mary visited berlin yesterday .", "B-PER O B-LOC O O"),
    ("the european union said it was new .", "O B-ORG I-ORG O O O O O"),
    ("reuters says the bank of france is new .", "B-ORG O O B-ORG I-ORG I-ORG O O O"),
    ("john works in london .", "B-PER O O B-LOC O"),
    ("she played football against germany .", "O O O O B-LOC O"),
    ("the president visited new york today .", "O O O B-LOC I-LOC O O"),
    ("mary smith said the company was in berlin .", "B-PER I-PER O O O O O B-LOC O"),
    ("the new york times says john was in paris .", "B-ORG I-ORG I-ORG I-ORG O B-PER O O B-LOC O"),
    ("eu minister visited the united states .", "B-ORG O O O B-LOC I-LOC O"),
]
TEXTS = ["John Smith lives in Paris.", "Mary visited the European Union in Berlin."]


def conll_text(sentences: list[tuple[str, str]], *, copies: int = 1) -> str:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(copies):
        for words, tags in sentences:
            lines += [f"{w} {t}" for w, t in zip(words.split(), tags.split(), strict=True)]
            lines.append("")
    return "\n".join(lines) + "\n"


def run(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ner_bert", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ner-bert"), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli_data")
    (directory / "train.txt").write_text(conll_text(_SENTENCES, copies=2))
    (directory / "dev.txt").write_text(conll_text(_SENTENCES[:5]))
    (directory / "test.txt").write_text(conll_text(_SENTENCES[5:]))
    records = [
        {"text": "John Smith lives in Paris.", "entities": [[0, 10, "PER"], [20, 25, "LOC"]]},
        {"text": "Mary visited Berlin.", "entities": [{"start": 13, "end": 19, "label": "LOC"}]},
    ]
    (directory / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (directory / "texts.txt").write_text(f"{TEXTS[0]}\n\n{TEXTS[1]}\n")
    return directory


# --- help is instant -------------------------------------------------------------------------


def test_help_of_every_command_imports_no_torch():
    snippet = (
        "import sys, contextlib, io\n"
        "from ner_bert.cli import main\n"
        "for argv in ([], ['train'], ['evaluate'], ['predict']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        assert main([*argv, '--help']) == 0\n"
        "    assert 'usage: ner-bert' in out.getvalue(), out.getvalue()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'spacy', 'matplotlib', 'datasets')"
        " if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_lists_every_training_config_field(capsys):
    from dataclasses import fields

    from ner_bert.config import TrainingConfig

    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for field in fields(TrainingConfig):
        aliases = {"output_dir": "--output DIR", "overwrite_output_dir": "--overwrite"}
        flag = aliases.get(field.name, field.name.replace("_", "-"))
        assert flag in text
    assert main(["predict", "--help"]) == 0
    assert "drawn by spaCy's\ndisplaCy (needs the spacy extra)" in capsys.readouterr().out


# --- predict -----------------------------------------------------------------------------------


def test_predict_jsonl_html_and_output_file(tiny_model_dir, data_dir, tmp_path):
    html = tmp_path / "page.html"
    out = tmp_path / "out.jsonl"
    result = run(
        "predict", "--model", tiny_model_dir, data_dir / "texts.txt", "--html", html, "-o", out
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # everything went to the files
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in records] == TEXTS  # blank line skipped
    assert [r["source"] for r in records] == [f"{data_dir / 'texts.txt'}:{n}" for n in (1, 3)]
    page = html.read_text()
    assert page.lstrip().startswith("<!DOCTYPE html>")
    n_entities = 0
    for record in records:
        for entity in record["entities"]:
            n_entities += 1
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
            assert set(entity) == {"label", "start", "end", "score", "text"}
            assert 0.0 <= entity["score"] <= 1.0
            # marked in the page, with its score and offsets on hover
            where = f"[{entity['start']}, {entity['end']})"
            tooltip = f"{entity['label']} {entity['score']:.3f} {where}"
            assert f'<mark class="entity" title="{tooltip}"' in page
    assert n_entities > 0  # the random tiny model tags plenty
    assert page.count('<mark class="entity" title=') == n_entities


def test_predict_never_destroys_its_input_or_an_existing_file(tiny_model_dir, tmp_path):
    texts = tmp_path / "in.txt"
    texts.write_text("John lives in Paris.\n")
    refused = run("predict", "--model", tiny_model_dir, texts, "-o", texts)
    assert refused.returncode == 2
    one_line_error(refused.stderr, "is also an input")
    assert texts.read_text() == "John lives in Paris.\n"
    mine = tmp_path / "mine.jsonl"
    mine.write_text("keep me\n")
    for flag in ("-o", "--html"):
        refused = run("predict", "--model", tiny_model_dir, texts, flag, mine)
        assert refused.returncode == 2
        one_line_error(refused.stderr, "exists; pass --overwrite")
    assert mine.read_text() == "keep me\n"
    done = run("predict", "--model", tiny_model_dir, texts, "-o", mine, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert json.loads(mine.read_text())["text"] == "John lives in Paris."
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_predict_with_lost_stdout_does_not_exit_0(tiny_model_dir, tmp_path):
    texts = tmp_path / "in.txt"
    texts.write_text("John lives in Paris.\n" * 2000)
    argv = [sys.executable, "-m", "ner_bert", "predict", "--model", str(tiny_model_dir), str(texts)]
    closed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ENV, timeout=120, pass_fds=(), close_fds=True,
                            preexec_fn=lambda: os.close(1))  # fmt: skip
    assert closed.returncode == 2
    one_line_error(closed.stderr, "stdout is closed")
    reader = subprocess.Popen(
        ["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    broken = subprocess.run(argv, stdout=reader.stdin, stderr=subprocess.PIPE, text=True, env=ENV,
                            timeout=300)  # fmt: skip
    assert reader.stdin is not None
    reader.stdin.close()
    reader.wait()
    assert broken.returncode == 141, broken.stderr
    assert "Traceback" not in broken.stderr


def test_predict_stdin_whole_file_and_tokenized(tiny_model_dir, data_dir):
    whole = run("predict", "--model", tiny_model_dir, "--whole-file", "-", stdin="A b.\nC d.\n")
    assert whole.returncode == 0, whole.stderr
    [record] = [json.loads(line) for line in whole.stdout.splitlines()]
    assert record["text"] == "A b.\nC d.\n"
    assert record["source"] == "<stdin>"

    tokenized = run("predict", "--model", tiny_model_dir, "--tokenized", data_dir / "texts.txt")
    assert tokenized.returncode == 0, tokenized.stderr
    blocks = tokenized.stdout.strip("\n").split("\n\n")
    assert len(blocks) == 2
    for block, text in zip(blocks, TEXTS, strict=True):
        rows = [line.split("\t") for line in block.splitlines()]
        assert [row[0] for row in rows] == text.split()
        assert all(len(row) == 3 and 0.0 <= float(row[2]) <= 1.0 for row in rows)
        tags = [row[1] for row in rows]
        assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in tags)

    # --tokenized --whole-file: the file's lines are one document's sentences, same output.
    same = run(
        "predict", "--model", tiny_model_dir, "--tokenized", "--whole-file", data_dir / "texts.txt"
    )
    assert same.returncode == 0, same.stderr
    assert same.stdout == tokenized.stdout


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_table_and_json(tiny_model_dir, data_dir, capsys):
    code = main(["evaluate", "--model", str(tiny_model_dir), "--data", str(data_dir / "dev.txt")])
    assert code == 0
    table = capsys.readouterr().out
    assert "conlleval" in table and "strict" in table and "micro" in table
    assert "(5 sentences)" in table
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(data_dir / "dev.jsonl"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_sentences"] == 2
    assert set(report) == {"n_sentences", "f1", "conlleval", "strict"}
    assert report["conlleval"]["micro"]["support"] == 3  # 2 PER/LOC + 1 LOC gold mentions


# --- train -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir, data_dir, tmp_path_factory) -> tuple[Path, str]:
    """``ner-bert train`` in a subprocess: 1 epoch on 20 sentences, with dev and test."""
    output = tmp_path_factory.mktemp("cli_train") / "model"
    result = run(
        "train",
        "--model", tiny_encoder_dir,
        "--train", data_dir / "train.txt",
        "--dev", data_dir / "dev.txt",
        "--test", data_dir / "test.txt",
        "--output", output,
        "--epochs", "1",
        "--batch-size", "8",
        "--learning-rate", "1e-3",
        "--mixed-precision", "no",
        "--no-progress-bar",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output, result.stdout


def test_train_writes_model_scores_config_and_report(trained, data_dir):
    output, stdout = trained
    assert f"dev ({data_dir / 'dev.txt'}):" in stdout
    assert f"test ({data_dir / 'test.txt'}):" in stdout
    assert stdout.count("micro") == 2 and "(5 sentences)" in stdout
    for name in ("config.json", "model.safetensors", "ner_bert.json", "training.toml"):
        assert (output / name).is_file(), name
    scores = json.loads((output / "scores.json").read_text())
    assert set(scores) == {"training", "dev", "test"}
    assert [e["epoch"] for e in scores["training"]["history"]] == [1]
    assert scores["test"]["n_sentences"] == 5
    assert 0.0 <= scores["test"]["f1"] <= 1.0
    assert (output / "training_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "training report:" in stdout


def test_trained_model_evaluates_like_training_did(trained, data_dir, capsys):
    output, _ = trained
    assert main(["evaluate", "--model", str(output), "--data", str(data_dir / "test.txt"),
                 "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    scores = json.loads((output / "scores.json").read_text())
    assert report["f1"] == pytest.approx(scores["test"]["f1"])
    for mode in ("conlleval", "strict"):
        got, saved = report[mode], scores["test"][mode]
        assert got["micro"]["f1"] == pytest.approx(saved["micro"]["f1"])
        assert {k: v["f1"] for k, v in got["per_type"].items()} == pytest.approx(
            {k: v["f1"] for k, v in saved["per_type"].items()}
        )


def test_training_toml_trains_again_with_the_same_options(trained, capsys):
    output, _ = trained
    written = (output / "training.toml").read_text()
    assert "epochs = 1\n" in written and 'mixed_precision = "no"\n' in written
    assert f'output_dir = "{output.resolve()}"\n' in written
    assert main(["train", "--config", str(output / "training.toml"), "--dump-config"]) == 0
    assert capsys.readouterr().out == written


def test_train_refuses_a_foreign_output_folder_before_training(data_dir, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    argv = ["train", "--model", "m", "--train", str(data_dir / "train.txt"),
            "--output", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    one_line_error(capsys.readouterr().err, str(tmp_path), "not a ner_bert model directory")


# --- errors: one line on stderr, exit code 2 ---------------------------------------------------


def test_error_in_a_real_process_is_one_line_and_exit_2(tmp_path):
    result = run("predict", "--model", tmp_path, tmp_path / "missing.txt")
    assert result.returncode == 2
    assert result.stdout == ""
    one_line_error(result.stderr, "missing.txt", "no such file")


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["train", "--epochs", "x"], ["--epochs", "expected an integer", "'x'"]),
        (["train", "--mixed-precision", "fp8"], ["invalid choice 'fp8'", "bf16"]),
        (["train", "--epochs", "0", "--dump-config"], ["epochs must be an integer >= 1"]),
        (["train", "--train", "t.txt"], ["--model is required"]),
        (["train", "--bogus"], ["unrecognized arguments: --bogus"]),
        (["evaluate", "--model", "m"], ["required", "--data"]),
        (["predict", "--model", "m", "--batch-size", "0"], ["--batch-size", "positive integer"]),
        (["predict", "--model", "m", "-", "-"], ["stdin"]),
        (["frobnicate"], ["invalid choice"]),
    ],
)
def test_bad_options(argv, fragments, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_error(captured.err, *fragments)


def test_missing_files(tmp_path, data_dir, tiny_model_dir, capsys):
    missing = str(tmp_path / "nope.txt")
    train = ["train", "--model", "m", "--output", str(tmp_path / "out")]
    cases = [
        (["evaluate", "--model", str(tiny_model_dir), "--data", missing], "--data"),
        ([*train, "--train", missing], "--train"),
        ([*train, "--train", str(data_dir / "train.txt"), "--dev", missing], "--dev"),
        (["train", "--config", missing], "--config"),
        (
            ["predict", "--model", str(tiny_model_dir), str(data_dir / "texts.txt"), missing],
            "input",
        ),
        (
            [
                "evaluate",
                "--model",
                str(tmp_path / "no_model"),
                "--data",
                str(data_dir / "dev.txt"),
            ],
            "no_model",
        ),
    ]
    for argv, where in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        one_line_error(captured.err, where, str(tmp_path))
        assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_bad_data_names_file_and_line(tmp_path, tiny_model_dir, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("John B-PER\nlives O\n\nParis NNP B-LOC\n")
    assert main(["evaluate", "--model", str(tiny_model_dir), "--data", str(bad)]) == 2
    one_line_error(capsys.readouterr().err, f"{bad}:4", "expected 2 columns")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "Jo", "entities": []}\n{"text": \n')
    assert main(["evaluate", "--model", str(tiny_model_dir), "--data", str(bad_json)]) == 2
    one_line_error(capsys.readouterr().err, f"{bad_json}:2")


# --- config files ------------------------------------------------------------------------------


def test_config_file_round_trip_and_overrides(tmp_path, capsys):
    config = tmp_path / "conf" / "run.toml"
    config.parent.mkdir()
    config.write_text(
        'model = "bert-base-cased"\ntrain = "data/train.txt"\noutput_dir = "out"\n'
        'learning_rate = 1\nepochs = 7\nmixed_precision = "bf16"\nmax_grad_norm = "none"\n'
    )
    assert main(["train", "--config", str(config), "--epochs", "2", "--dump-config"]) == 0
    dumped = capsys.readouterr().out
    assert "epochs = 2\n" in dumped  # the command line wins over the file
    assert "learning_rate = 1.0\n" in dumped  # TOML int for a float field
    assert 'mixed_precision = "bf16"\n' in dumped
    assert 'max_grad_norm = "none"\n' in dumped
    assert f'train = "{config.parent / "data/train.txt"}"\n' in dumped  # relative to the file
    assert 'model = "bert-base-cased"\n' in dumped  # a hub name is left alone
    assert f'output_dir = "{config.parent / "out"}"\n' in dumped
    again = tmp_path / "again.toml"
    again.write_text(dumped)
    assert main(["train", "--config", str(again), "--dump-config"]) == 0
    assert capsys.readouterr().out == dumped

    from ner_bert.cli.options import load_toml
    from ner_bert.config import TrainingConfig

    _, options = load_toml(again)
    config_object = TrainingConfig.from_dict(options)
    assert config_object.epochs == 2 and config_object.max_grad_norm is None


def test_config_file_unknown_key_lists_valid_ones(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("epochz = 3\n")
    assert main(["train", "--config", str(config)]) == 2
    one_line_error(
        capsys.readouterr().err,
        f"{config}: unknown key 'epochz'",
        "Did you mean 'epochs'?",
        "model, train, dev, test, dataset, format, learning_rate, epochs",
    )
    config.write_text("epochs = \n")
    assert main(["train", "--config", str(config)]) == 2
    one_line_error(capsys.readouterr().err, "not valid TOML", "line 1")


def test_predict_errors_after_the_options_are_parsed(tiny_model_dir, tmp_path, capsys):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Zoë lives in Paris.\n".encode("latin-1"))
    assert main(["predict", "--model", str(tiny_model_dir), str(latin)]) == 2
    one_line_error(capsys.readouterr().err, str(latin), "not UTF-8")
    text = tmp_path / "t.txt"
    text.write_text("Paris.\n")
    out = tmp_path / "no" / "such" / "out.jsonl"
    assert main(["predict", "--model", str(tiny_model_dir), str(text), "-o", str(out)]) == 2
    one_line_error(capsys.readouterr().err, str(out), "folder does not exist")


# --- TrainingArguments on the command line -----------------------------------------------------


def _train_argv(model: Path, data_dir: Path, output: Path, *extra: str) -> list[str]:
    return [
        "train", "--model", str(model), "--train", str(data_dir / "train.txt"),
        "--output", str(output), "--batch-size", "8", "--learning-rate", "1e-3",
        "--mixed-precision", "no", "--no-progress-bar", *extra,
    ]  # fmt: skip


def test_resume_continues_from_the_last_checkpoint(tiny_encoder_dir, data_dir, tmp_path):
    checkpoints = tmp_path / "ckpt"
    first = run(*_train_argv(tiny_encoder_dir, data_dir, tmp_path / "one", "--epochs", "1",
                             "--checkpoint-dir", str(checkpoints)))  # fmt: skip
    assert first.returncode == 0, first.stderr
    # 20 sentences in batches of 8: 3 steps per epoch.
    assert [p.name for p in checkpoints.iterdir() if p.name.startswith("checkpoint-")] == [
        "checkpoint-3"
    ]
    argv = _train_argv(tiny_encoder_dir, data_dir, tmp_path / "two", "--epochs", "2",
                       "--checkpoint-dir", str(checkpoints), "--resume")  # fmt: skip
    refused = run(*argv)  # more epochs than the checkpoint's run: only when allowed
    assert refused.returncode == 2
    assert "differs from the checkpoint's: epochs 1 -> 2" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "two").exists()
    resumed = run(*argv, "--allow-changed-settings")
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((tmp_path / "two" / "scores.json").read_text())["training"]["history"]
    assert [(e["epoch"], e["step"]) for e in history] == [(1, 3), (2, 6)]
    assert history[0]["seconds"] is None  # run by the interrupted process, not this one
    assert history[1]["seconds"] is not None


def test_resume_without_a_checkpoint_dir_is_a_usage_error(tiny_encoder_dir, data_dir, tmp_path,
                                                          capsys):  # fmt: skip
    assert main(_train_argv(tiny_encoder_dir, data_dir, tmp_path / "m", "--resume")) == 2
    one_line_error(capsys.readouterr().err, "--resume without a CHECKPOINT needs --checkpoint-dir")


def test_eval_steps_report_to_and_training_args(tiny_encoder_dir, data_dir, tmp_path):
    pytest.importorskip("tensorboard")
    checkpoints = tmp_path / "ckpt"
    result = run(*_train_argv(
        tiny_encoder_dir, data_dir, tmp_path / "m", "--dev", str(data_dir / "dev.txt"),
        "--epochs", "2", "--checkpoint-dir", str(checkpoints), "--eval-steps", "2",
        "--report-to", "tensorboard", "--training-arg", "lr_scheduler_type=constant",
    ))  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "m" / "scores.json").read_text())
    assert [e["step"] for e in scores["training"]["history"]] == [2, 4, 6]
    assert list((checkpoints / "runs").rglob("events.out.tfevents.*"))
    written = (tmp_path / "m" / "training.toml").read_text()
    assert written.endswith(
        "[training_args]  # transformers.TrainingArguments fields\n"
        'report_to = ["tensorboard"]\neval_strategy = "steps"\neval_steps = 2\n'
        'lr_scheduler_type = "constant"\n'
    )


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--training-arg", "eval_stpes=3"], ["'eval_stpes' is not a field", "eval_steps"]),
        (["--training-arg", "oops"], ["--training-arg 'oops': expected KEY=VALUE"]),
        (["--learning-rate", "1e-3", "--training-arg", "learning_rate=0.1"], ["conflicts"]),
        (["--eval-steps", "2"], ["needs eval data"]),
        (["--device", "cuda"], ["device='cuda' is not available", "it has: cpu"]),
    ],
)
def test_bad_trainer_options_fail_before_training(tiny_encoder_dir, data_dir, tmp_path, capsys,
                                                  extra, fragments):  # fmt: skip
    import torch

    if "cuda" in extra and torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this machine has CUDA")
    assert main([*_train_argv(tiny_encoder_dir, data_dir, tmp_path / "m"), *extra]) == 2
    one_line_error(capsys.readouterr().err, *fragments)
    assert not (tmp_path / "m" / "model.safetensors").exists()


def test_evaluate_on_a_device_that_does_not_exist(tiny_model_dir, data_dir, capsys):
    import torch

    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this machine has CUDA")
    argv = ["evaluate", "--model", str(tiny_model_dir), "--data", str(data_dir / "test.txt"),
            "--device", "cuda"]  # fmt: skip
    assert main(argv) == 2
    one_line_error(capsys.readouterr().err, "device='cuda' is not available")


def test_train_takes_the_progress_flag_of_predict(capsys):
    cases = (("--no-progress", "false"), ("--progress", "true"), ("--no-progress-bar", "false"))
    for flag, value in cases:
        argv = ["train", "--model", "m", "--train", "t.txt", "--output", "o", flag, "--dump-config"]
        assert main(argv) == 0
        assert f"progress_bar = {value}" in capsys.readouterr().out


# --- what a user watching the command sees ------------------------------------------------------

_EVALUATION_LINE = (
    r"step \d+/6 \(epoch [12]/2\): loss \d+\.\d{4}, "
    r"dev P \d\.\d{4} R \d\.\d{4} F1 \d\.\d{4}( \(best\))?, \d+s"
)
_TRANSFORMERS_BARS = ("Writing model shards", "Loading weights")


def run_in_terminal(*args: str | Path) -> str:
    """The command with stdout and stderr on a pseudo-terminal: what a user's terminal shows."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # 24 rows of 100 columns: a new pty has 0 columns, where tqdm draws nothing.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "ner_bert", *map(str, args)],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=ENV,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(timeout=600) == 0, b"".join(chunks).decode(errors="replace")
    # The terminal turns "\n" into "\r\n"; a bar redrawn in place is a "\r" alone.
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _watch_argv(model: Path, data_dir: Path, output: Path) -> list[str]:
    return [
        "train", "--model", str(model), "--train", str(data_dir / "train.txt"), "--dev",
        str(data_dir / "dev.txt"), "--output", str(output), "--batch-size", "8",
        "--learning-rate", "1e-3", "--mixed-precision", "no", "--epochs", "2",
    ]  # fmt: skip


def test_train_in_a_log_file_writes_one_plain_line_per_evaluation(tiny_encoder_dir, data_dir,
                                                                   tmp_path):  # fmt: skip
    import re

    result = run(*_watch_argv(tiny_encoder_dir, data_dir, tmp_path / "m"))  # stderr: a pipe
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr  # nothing else: no bar, no transformers chatter
    assert all(re.fullmatch(_EVALUATION_LINE, line) for line in lines), lines
    assert lines[0].startswith("step 3/6 (epoch 1/2): ") and " (best), " in lines[0]
    assert "\r" not in result.stderr
    assert "step " not in result.stdout  # stdout has the score tables only
    scores = json.loads((tmp_path / "m" / "scores.json").read_text())
    assert [e["step"] for e in scores["training"]["history"]] == [3, 6]
    assert [p["step"] for p in scores["training"]["loss_curve"]] == [1, 2, 3, 4, 5, 6]


def test_train_in_a_terminal_draws_a_bar_and_keeps_the_evaluation_lines(
    tiny_encoder_dir, data_dir, tmp_path
):
    import re

    shown = run_in_terminal(*_watch_argv(tiny_encoder_dir, data_dir, tmp_path / "m"))
    assert "\r" in shown and "| 6/6 [" in shown  # tqdm's bar, redrawn in place
    kept = [line for line in re.split(r"[\r\n]+", shown) if re.fullmatch(_EVALUATION_LINE, line)]
    assert [line.split(" (epoch")[0] for line in kept] == ["step 3/6", "step 6/6"]
    assert not any(bar in shown for bar in _TRANSFORMERS_BARS)
    assert "micro" in shown and "saved the model" in shown


def test_predict_in_a_terminal_shows_a_bar_with_a_total(tiny_model_dir, data_dir, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"{TEXTS[i % 2]}\n" for i in range(5)))
    shown = run_in_terminal("predict", "--model", tiny_model_dir, texts, "--output",
                            tmp_path / "out.jsonl")  # fmt: skip
    assert "ner_bert predict: 100%" in shown and "| 5/5 [" in shown
    assert not any(bar in shown for bar in _TRANSFORMERS_BARS)
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5
