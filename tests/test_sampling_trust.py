"""Run checkpoints and sampling requests from elsewhere: checked before any work, bounded,
streamed to disk when large; never a traceback, a MemoryError or PyTorch's advice."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import load_checkpoint, save_checkpoint
from brainsynth.sampling import SamplingConfig, generate, images
from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig, train
from export_helpers import phantom_like


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """One torch thread for this module (tests/conftest.py)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trust-run")
    config = TrainConfig(DataConfig(str(phantom_like(root / "prepared")), "t2", condition="tumor"),
                         RunConfig(str(root / "run"), iters=2, batch=8, progress=False),
                         ModelConfig(options={"width": 4}))  # fmt: skip
    return train(config)


def one_line_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def altered_checkpoint(run: Path, tmp_path: Path, change) -> Path:
    """A copy of the run's checkpoint with ``change(state)`` applied, as a ``.pt`` file."""
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    change(state)
    state.pop("format"), state.pop("version")
    return save_checkpoint(tmp_path / "altered.pt", state)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def first_weight(state: dict) -> tuple[str, torch.Tensor]:
    parts = state["trainer"]["generator"]
    key = next(k for k, v in parts.items() if v.is_floating_point() and v.numel() > 1)
    return key, parts[key]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "holds NaN or infinite values"),
        (float("inf"), "holds NaN or infinite values"),
    ],
)
def test_non_finite_run_weights_are_refused(run: Path, tmp_path: Path, capsys, value, message):
    def poison(state: dict) -> None:
        key, tensor = first_weight(state)
        state["trainer"]["generator"][key] = tensor.clone().index_fill_(0, torch.tensor([0]), value)

    path = altered_checkpoint(run, tmp_path, poison)
    err = one_line_error(["sample", str(path), "--n", "2", "--out", str(tmp_path / "s")], capsys)
    assert message in err and "generator" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("dtype", "name"), [(torch.bool, "torch.bool"), (torch.int32, "torch.int32"),
                        (torch.float16, "torch.float16")]
)  # fmt: skip
def test_run_tensors_of_another_dtype_are_refused(run: Path, tmp_path: Path, dtype, name) -> None:
    def cast(state: dict) -> None:
        key, tensor = first_weight(state)
        state["trainer"]["generator"][key] = tensor.to(dtype)

    with pytest.raises(BrainsynthError, match=f"is {name}, but the model saves torch.float32"):
        generate(altered_checkpoint(run, tmp_path, cast), n=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["arch_config"].update(width=4.0), "width must be an integer, got 4.0"),
        (lambda s: s["shape"].update(size=16.0), "size must be an integer in 1..1,024, got 16.0"),
        (lambda s: s["shape"].update(latent=10**9), "latent must be an integer in 1..4,096"),
        (lambda s: s["train"]["data"].update(label_names=["with-tumor", "without-tumor"]),
         "are not those of condition tumor"),
        (lambda s: s["train"]["data"].update(sequence="brain"), "image_set 'brain'"),
        (lambda s: s["train"].update(deep=nested(40)),
         "nested more than 32 levels deep"),
    ],
)  # fmt: skip
def test_run_descriptions_are_checked(run: Path, tmp_path: Path, change, message) -> None:
    with pytest.raises(BrainsynthError, match=message):
        generate(altered_checkpoint(run, tmp_path, change), n=2)


def test_a_run_floor_outside_half_is_refused(run: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (copy / "sampling.yaml").write_text(yaml.safe_dump({"background_floor": 0.9}))
    with pytest.raises(BrainsynthError, match=r"sampling.yaml: background_floor 0.9 is not"):
        generate(copy, n=2)


def test_load_errors_never_advise_weights_only_false(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"format": "brainsynth-gan-checkpoint", "when": datetime.date(2024, 1, 1)}, path)
    err = one_line_error(["sample", str(path), "--n", "2", "--out", str(tmp_path / "s")], capsys)
    assert "not a plain checkpoint file (Unsupported global: GLOBAL datetime.date" in err
    assert "weights_only" not in err and "\x1b" not in err
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 not a zip")
    err = one_line_error(["sample", str(garbage), "--n", "2", "--out", str(tmp_path / "s")], capsys)
    assert "corrupt or unreadable checkpoint" in err and "weights_only" not in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n", "1000000000"], "--n must be an integer in 1..1,000,000, got 1000000000"),
        (["--n", "2", "--seed", str(2**80)], "--seed must be an integer in 0..18,446,744,"),
        (["--n", "2", "--seed", "-1"], "--seed must be an integer in 0.."),
        (["--n", "2", "--background-floor", "0.9"], "background_floor 0.9 is not a number in"),
    ],
)
def test_sampling_requests_are_bounded_before_any_work(tmp_path: Path, capsys, flags, message):
    # the source does not even exist: the request is refused before anything is read
    out = tmp_path / "s"
    err = one_line_error(["sample", str(tmp_path / "no-run"), *flags, "--out", str(out)], capsys)
    assert message in err and not out.exists()


@pytest.mark.numerics
def test_large_samples_stream_to_disk_in_chunks(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = generate(run, n=37, seed=4, batch=4)
    chunks = []
    original = images.run_generator

    def counted(generator, noise, *args, **kwargs):
        chunks.append(len(noise))
        return original(generator, noise, *args, **kwargs)

    monkeypatch.setattr(images, "run_generator", counted)
    monkeypatch.setattr(images, "CHUNK_BYTES", 16 * 100 * 4)  # 16 latents of 100 per chunk
    out = tmp_path / "s"
    assert main(["sample", str(run), "--n", "37", "--seed", "4", "--batch", "4",
                 "--out", str(out)]) == 0  # fmt: skip
    assert chunks == [16, 16, 5]  # never more than one chunk in memory
    assert np.array_equal(np.load(out / "samples.npy"), whole)
    assert len(list(out.glob("*.png"))) == 37
    assert (out / "labels.csv").read_text().count("\n") == 38


@pytest.mark.parametrize(
    ("image", "noise", "batch"),
    [((1, 16, 16), (100,), 4), ((4, 256, 256), (4, 256, 256), 1001), ((1, 64, 64), (100,), 256)],
)
def test_chunks_stay_within_their_budget(image, noise, batch) -> None:
    class Generator:
        noise_shape = noise

    chunk = images.chunk_images(Generator(), image, batch)
    per_image = 4 * max(np.prod(image), np.prod(noise))
    assert chunk % 16 == 0 and chunk * per_image <= max(images.CHUNK_BYTES, 16 * per_image)
    if np.lcm(16, batch) * per_image <= images.CHUNK_BYTES:
        assert chunk % batch == 0  # every forward pass sees the images it would unchunked


def test_what_does_not_fit_is_refused_naming_the_limit(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(images, "available_memory", lambda: 10**6)  # 1 MB of memory left
    with pytest.raises(BrainsynthError, match=r"--n 1,000: 1,000 images of 1×16×16 take 0.0 GB"):
        generate(run, n=1000)

    class Usage:
        free = 10**5  # 100 KB free on the disk

    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage())
    out = tmp_path / "s"
    err = one_line_error(["sample", str(run), "--n", "1000", "--out", str(out)], capsys)
    assert "need about 0.0 GB on disk" in err and "only 0.0 GB is free" in err
    assert not out.exists()


def test_sampling_config_takes_real_integers() -> None:
    for bad in ({"n": 2.0}, {"n": True}, {"seed": 1.5}, {"batch": 0}, {"batch": 10**6}):
        with pytest.raises(BrainsynthError, match="must be an integer"):
            SamplingConfig(**bad)
