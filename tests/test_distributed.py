"""Data-parallel training: two CPU processes (gloo) under ``torchrun`` train and save once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ner_bert.model.files import METADATA_FILE, WEIGHTS_FILE, list_checkpoints

SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    sys.path.insert(0, {tests!r})
    from test_training import fast_config, synthetic
    from ner_bert.training import NERTrainer

    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    config = fast_config(
        epochs=3, batch_size=8, output_dir={out!r}, checkpoint_dir={ckpt!r}, device="cpu"
    )
    trainer = NERTrainer({model!r}, config=config)
    result = trainer.train(synthetic(240, 20), eval=synthetic(60, 21))
    from accelerate import PartialState
    state = PartialState()
    print("RESULT", state.process_index, state.num_processes, json.dumps(result.to_dict()))
    """
)


def _torchrun() -> list[str]:
    launcher = Path(sys.executable).with_name("torchrun")
    if launcher.exists():
        return [str(launcher)]
    return [sys.executable, "-m", "torch.distributed.run"]  # pragma: no cover


@pytest.mark.timeout(240)
def test_two_cpu_processes_train_and_save_once(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    out, ckpt = tmp_path / "model", tmp_path / "ckpt"
    script = tmp_path / "ddp.py"
    tests_dir = str(Path(__file__).resolve().parent)
    script.write_text(
        SCRIPT.format(tests=tests_dir, model=str(tiny_encoder_dir), out=str(out), ckpt=str(ckpt))
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [
        *_torchrun(),
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
    ]
    if shutil.which(command[0]) is None and not Path(command[0]).exists():  # pragma: no cover
        pytest.skip("torchrun not found")
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=220)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = [line.split(" ", 3) for line in run.stdout.splitlines() if line.startswith("RESULT")]
    assert sorted((r[1], r[2]) for r in results) == [("0", "2"), ("1", "2")]
    histories = [json.loads(r[3]) for r in results]
    # Both processes saw the same (all-reduced) loss and took the same number of steps.
    for history in histories:
        for epoch in history["history"]:
            epoch.pop("seconds")
    assert histories[0]["history"] == histories[1]["history"]
    assert histories[0]["best_eval"]["f1"] >= 0.5
    # 240 windows / batch 8 = 30 batches per epoch, split over 2 processes: 15 steps each.
    assert histories[0]["global_steps"] == 45
    assert "2 process(es)" in run.stderr
    # Saved once, by the main process: one model directory.
    assert (out / WEIGHTS_FILE).is_file() and (out / METADATA_FILE).is_file()
    # keep_checkpoints=1: at the end the Trainer keeps the best checkpoint, with the random
    # number generator states of both processes.
    best = f"checkpoint-{histories[0]['best_step']}"
    assert [p.name for p in list_checkpoints(ckpt)] == [best]
    assert sorted(p.name for p in (ckpt / best).glob("rng_state_*.pth")) == [
        "rng_state_0.pth",
        "rng_state_1.pth",
    ]
    assert not [p for p in ckpt.iterdir() if p.name.startswith(".")]
