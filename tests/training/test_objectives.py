"""Objectives as objects: hinge and R1 do what their papers say; the loop logs what they return."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.models.family import ADVERSARIAL_OBJECTIVES
from brainsynth.training import losses, train
from brainsynth.training.config import OBJECTIVE_DEFAULTS, ObjectiveConfig
from brainsynth.training.objectives import OBJECTIVES, make_objective


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w for every image."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.arange(16.0).reshape(1, 1, 4, 4) / 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


def test_every_objective_has_defaults() -> None:
    # the GAN families list the adversarial objectives without importing training: the
    # names there, the classes here and the defaults agree (denoising families own theirs)
    assert set(OBJECTIVES) == set(OBJECTIVE_DEFAULTS) == set(ADVERSARIAL_OBJECTIVES)


def test_hinge_losses() -> None:
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-3.0, 0.0, 1.0])
    # E[max(0, 1 - D(x))] = (0 + 0.5 + 2) / 3; E[max(0, 1 + D(G(z)))] = (0 + 1 + 2) / 3
    assert torch.isclose(losses.hinge_d_loss(real, fake), torch.tensor(5.5 / 3))
    hinge = make_objective(ObjectiveConfig("hinge", n_critic=1), torch.Generator())
    assert torch.equal(hinge.g_loss(fake), -fake.mean())


def test_r1_is_the_squared_input_gradient_norm() -> None:
    critic = LinearCritic()
    real = torch.randn(5, 1, 4, 4)
    expected = critic.w.square().sum()
    assert torch.isclose(losses.r1_penalty(critic, real), expected)


def test_r1_runs_lazily_and_is_scaled_by_its_interval() -> None:
    config = ObjectiveConfig("hinge", n_critic=1, r1_gamma=2.0, r1_every=3)
    objective = make_objective(config, torch.Generator())
    critic = LinearCritic()
    real, fake = torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4)
    plain = losses.hinge_d_loss(critic(real), critic(fake))
    seen = []
    for _ in range(6):
        loss, logs = objective.discriminator_loss(critic, real, fake)
        seen.append("r1" in logs)
        if "r1" in logs:
            # gamma / 2 * interval * E||grad||^2
            assert torch.isclose(loss, plain + 0.5 * 2.0 * 3 * critic.w.square().sum())
        else:
            assert torch.isclose(loss, plain)
    assert seen == [False, False, True, False, False, True]
    assert objective.state_dict() == {"d_steps": 6}


@pytest.mark.parametrize(("gan", "r1"), [("hinge", 1.0), ("nonsaturating", None)])
def test_objectives_train_and_log_what_they_return(gan, r1, blob_prepared, tiny, tmp_path):
    objective = {"r1_every": 2, **({"r1_gamma": r1} if r1 is not None else {})}
    run = train(tiny(blob_prepared, tmp_path / "run", gan=gan, iters=4, log_every=1,
                     objective=objective))  # fmt: skip
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [("r1" in r) for r in records] == [False, True, False, True]
    assert all({"loss_d", "loss_g"} <= set(r) for r in records)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["train"]["objective"]["r1_gamma"] == (r1 if r1 is not None else 10.0)
    assert state["trainer"]["objective"] == {"d_steps": 4}
