"""NERTrainer on transformers.Trainer: callbacks, report_to, step-based evaluation,
TrainingArguments pass-through, bad settings before training, and no unpickling on resume."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from test_training import fast_config, synthetic
from transformers import TrainerCallback, TrainingArguments

from ner_bert import ConfigError, ModelLoadError, NerBertError
from ner_bert.model.files import list_checkpoints
from ner_bert.training import NERTrainer


class Recorder(TrainerCallback):
    """Records the events the Trainer sends to callbacks."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, float]] = []
        self.saves = 0

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        self.logs.append(dict(logs or {}))

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **_: Any):
        self.evaluations.append(dict(metrics or {}))

    def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.saves += 1


def test_a_callback_receives_log_and_evaluation_events(tiny_encoder_dir: Path) -> None:
    recorder = Recorder()
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=2), callbacks=[recorder])
    result = trainer.train(synthetic(96, 0), eval=synthetic(30, 1))
    assert len(recorder.evaluations) == 2
    assert [e["eval_f1"] for e in recorder.evaluations] == [m.eval_f1 for m in result.history]
    assert all("eval_strict_f1" in e for e in recorder.evaluations)
    assert any("loss" in log for log in recorder.logs)
    assert recorder.saves == 2  # the best model is kept by the Trainer's checkpoints


def test_report_to_tensorboard_writes_event_files(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    checkpoints = tmp_path / "ckpt"
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=1, checkpoint_dir=str(checkpoints)),
        training_args={"report_to": ["tensorboard"]},
    )
    result = trainer.train(synthetic(48, 0), eval=synthetic(16, 1))
    events = list((checkpoints / "runs").rglob("events.out.tfevents.*"))
    assert events and all(p.stat().st_size > 0 for p in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = EventAccumulator(str(events[0].parent)).Reload()
    # The loss of every logged step (a curve, not one point per epoch) and the dev F1.
    loss = [(e.step, round(e.value, 4)) for e in scalars.Scalars("train/loss")]
    assert len(loss) == result.global_steps > 1
    assert loss == [(p.step, round(p.loss, 4)) for p in result.loss_curve]
    assert [e.value for e in scalars.Scalars("eval/f1")] == pytest.approx([result.best_f1])


def test_history_has_one_entry_per_epoch_with_its_mean_loss(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=2))
    result = trainer.train(synthetic(64, 0), eval=synthetic(16, 1))
    steps = result.global_steps // 2
    assert [(e.epoch, e.step) for e in result.history] == [(1, steps), (2, 2 * steps)]
    assert [p.step for p in result.loss_curve] == list(range(1, 2 * steps + 1))
    for entry, first in zip(result.history, (0, steps), strict=True):
        losses = [p.loss for p in result.loss_curve[first : first + steps]]
        assert entry.train_loss == pytest.approx(sum(losses) / steps)


def test_the_training_report_draws_the_logged_history(tiny_encoder_dir: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    from ner_bert.training.plot import report_series, write_training_plot

    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=2))
    result = trainer.train(synthetic(64, 0), eval=synthetic(16, 1))
    series = report_series(result)
    assert series.loss == tuple((p.step, p.loss) for p in result.loss_curve)
    assert series.dev_f1 == tuple((e.step, e.eval_f1) for e in result.history)
    assert series.epoch_ends == tuple(e.step for e in result.history)
    assert series.best_step == result.best_step
    if write_training_plot(tmp_path / "report.png", result):  # the plot extra is installed
        assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_step_based_evaluation_gives_a_per_step_history(tiny_encoder_dir: Path) -> None:
    # 160 sentences in batches of 16: 10 steps per epoch, evaluated every 4 steps.
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=2),
        training_args={"eval_strategy": "steps", "eval_steps": 4},
    )
    result = trainer.train(synthetic(160, 0), eval=synthetic(40, 1))
    assert [m.step for m in result.history] == [4, 8, 12, 16, 20]
    assert all(m.eval_f1 is not None and m.train_loss is not None for m in result.history)
    assert result.best_step in (4, 8, 12, 16, 20)
    assert result.best_f1 == max(m.eval_f1 or 0.0 for m in result.history)


def test_step_based_eval_delay_counts_steps(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=1),
        training_args={"eval_strategy": "steps", "eval_steps": 2, "eval_delay": 6},
    )
    result = trainer.train(synthetic(160, 0), eval=synthetic(40, 1))
    assert [m.step for m in result.history if m.eval_f1 is not None] == [6, 8, 10]


def test_training_arguments_object_is_taken_as_is(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    args = TrainingArguments(
        output_dir=str(tmp_path / "ckpt"), lr_scheduler_type="constant", learning_rate=1e-3
    )
    trainer = NERTrainer(
        tiny_encoder_dir, config=fast_config(learning_rate=1e-3), training_args=args
    )
    trainer.train(synthetic(32, 0))
    assert trainer.hf_trainer.args.lr_scheduler_type == "constant"
    assert trainer.config.checkpoint_dir == str(tmp_path / "ckpt")
    assert trainer.hf_trainer.args.learning_rate == 1e-3


def test_gradient_checkpointing_through_training_args(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=1),
        training_args={"gradient_checkpointing": True},
    )
    result = trainer.train(synthetic(32, 0))
    assert trainer.model.is_gradient_checkpointing
    assert result.history[0].train_loss is not None


# -- bad settings: ner_bert errors before any training -------------------------------------


def test_unknown_training_arguments_field(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'eval_steps'"):
        NERTrainer(tiny_encoder_dir, training_args={"eval_stpes": 10})
    with pytest.raises(ConfigError, match="TrainingArguments calls it 'num_train_epochs'"):
        NERTrainer(tiny_encoder_dir, training_args={"epochs": 2})


def test_conflicting_settings(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"learning_rate=0.001 conflicts with training_args"):
        NERTrainer(
            tiny_encoder_dir,
            config=fast_config(learning_rate=1e-3),
            training_args={"learning_rate": 2e-5},
        )
    # The same value in both places, or a default TrainingConfig field, is no conflict.
    trainer = NERTrainer(tiny_encoder_dir, training_args={"num_train_epochs": 5, "seed": 7})
    assert (trainer.config.epochs, trainer.config.seed) == (5, 7)


def test_step_evaluation_without_eval_data(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=1),
        training_args={"eval_strategy": "steps", "eval_steps": 2},
    )
    with pytest.raises(ConfigError, match="needs eval data"):
        trainer.train(synthetic(16, 0))
    assert trainer.model is None


def test_a_device_that_does_not_exist(tiny_encoder_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this machine has CUDA")
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(device="cuda"))
    with pytest.raises(ConfigError, match=r"device='cuda' is not available .*it has: cpu"):
        trainer.train(synthetic(16, 0))
    assert trainer.model is None


def test_fp16_through_training_arguments_on_cpu(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(device="cpu", mixed_precision="auto"),
        training_args={"fp16": True},
    )
    with pytest.raises(ConfigError, match="fp16 mixed precision needs a GPU"):
        trainer.train(synthetic(16, 0))


def test_training_arguments_rejections_become_config_errors(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=1),
        training_args={"save_steps": -5, "save_strategy": "steps"},
    )
    with pytest.raises(ConfigError, match="TrainingArguments rejected"):
        trainer.train(synthetic(16, 0), eval=synthetic(8, 1))


# -- resume never unpickles -------------------------------------------------------------------


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(_Payload.target), "pwned"))

    target = ""


def test_resume_does_not_unpickle_checkpoint_files(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "ckpt"
    trainer = NERTrainer(
        tiny_encoder_dir, config=fast_config(epochs=1, checkpoint_dir=str(checkpoints))
    )
    trainer.train(synthetic(32, 0))
    [checkpoint] = list_checkpoints(checkpoints)
    marker = tmp_path / "marker.txt"
    _Payload.target = str(marker)
    for name in ("rng_state.pth", "optimizer.pt", "scheduler.pt"):
        (checkpoint / name).write_bytes(pickle.dumps({"state": _Payload()}))
    resumed = NERTrainer(
        tiny_encoder_dir, config=fast_config(epochs=2, checkpoint_dir=str(checkpoints))
    )
    with pytest.raises(ModelLoadError, match="refused to load it"):
        resumed.train(synthetic(32, 0), resume_from=checkpoints, allow_changed_settings=True)
    assert not marker.exists()


def test_resume_from_a_folder_that_is_not_a_checkpoint(tiny_encoder_dir: Path, tmp_path: Path):
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerBertError, match="holds no complete checkpoint"):
        trainer.train(synthetic(10, 0), resume_from=tmp_path / "empty")


def _progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ner_bert.training.progress"]


def test_one_progress_line_per_epoch_before_evaluations_start(
    tiny_encoder_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="ner_bert.training.progress")
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=3, eval_delay=2))
    result = trainer.train(synthetic(64, 0), eval=synthetic(16, 1))
    lines = _progress_lines(caplog)
    steps = result.global_steps // 3
    assert [line.split(":")[0] for line in lines] == [
        f"step {steps * n}/{steps * 3} (epoch {n}/3)" for n in (1, 2, 3)
    ]
    assert all(": loss " in line for line in lines)
    assert ["dev P" in line for line in lines] == [False, False, True]


def test_progress_lines_without_eval_data_and_with_step_evaluation(
    tiny_encoder_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="ner_bert.training.progress")
    NERTrainer(tiny_encoder_dir, config=fast_config(epochs=2)).train(synthetic(32, 0))
    assert [line.split(":")[0] for line in _progress_lines(caplog)] == [
        "step 2/4 (epoch 1/2)", "step 4/4 (epoch 2/2)"
    ]
    caplog.clear()
    # 160 sentences in batches of 16: 10 steps per epoch, evaluated every 4 steps; the end of
    # epoch 1 (step 10) has no evaluation, so it gets a line of its own.
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=2),
        training_args={"eval_strategy": "steps", "eval_steps": 4},
    )
    trainer.train(synthetic(160, 0), eval=synthetic(40, 1))
    lines = _progress_lines(caplog)
    assert [line.split(" (")[0] for line in lines] == [
        f"step {n}/20" for n in (4, 8, 10, 12, 16, 20)
    ]
    assert ["dev P" in line for line in lines] == [True, True, False, True, True, True]
