"""Batch normalisation when the batch is split across ranks: ``sync`` or ``local``.

A batch-norm layer in training mode normalises with the statistics of the batch it sees.
With N ranks each rank sees 1/N of the global batch, so the choice is explicit and
recorded in the run's config (``batch_norm``):

- ``sync`` (default): statistics over the global batch, all-reduced across the ranks; the
  forward pass, the gradients and the running statistics are those of one process with
  the whole batch (Ioffe & Szegedy's batch norm on the paper's batch of 64, §3.2.2), by
  :class:`SyncBatchNorm2d` below on every device. (PyTorch's :class:`torch.nn.SyncBatchNorm`
  has no CPU kernel, and on CUDA it waits for the GPU in every call to drop empty shards,
  pytorch/pytorch#78549, which would stall the training loop a dozen times per iteration.)
- ``local``: each rank normalises with its own shard's statistics (cheaper, no extra
  communication; what DDP does by default). Rank 0's running statistics are the ones
  saved. Not equal to one process, and a run cannot change its number of ranks on resume.

Running statistics are never broadcast between the real and the fake discriminator calls
(DDP's ``broadcast_buffers`` is off): with ``sync`` every rank computes the same statistics
anyway, and an in-place broadcast between two forward passes would invalidate the saved
tensors of the backward pass.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.training.config import BATCH_NORM_MODES


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward sums the gradients over the ranks too."""

    @staticmethod
    def forward(ctx: object, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over all ranks, differentiable (gradients summed likewise)."""
    return _SumOverRanks.apply(tensor)


class SyncBatchNorm2d(nn.BatchNorm2d):
    """:class:`nn.BatchNorm2d` whose training statistics are those of every rank's batch.

    Works on any device and backend (it is how gloo/CPU runs get synchronised batch norm):
    the per-channel sums and counts, then the centred sums of squares, are all-reduced with
    :func:`sum_over_ranks`, whose backward all-reduces the gradients, so each rank's
    parameter gradients are its share of the gradient of the global batch's loss (DDP then
    averages them). Two passes (mean, then variance about it) keep the variance accurate.
    Statistics are computed in float32, as :func:`torch.nn.functional.batch_norm` does under
    autocast. Outside training, or in a
    single process, it is plain batch norm. Its state dict is BatchNorm2d's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        values = x.float()
        local_count = values.numel() // values.shape[1]
        sums = values.sum(dim=(0, 2, 3))
        count_here = torch.full((1,), float(local_count), device=sums.device)  # no host copy
        counted = sum_over_ranks(torch.cat([sums, count_here]))
        count = counted[-1]
        mean = counted[:-1] / count
        centred = values - mean.view(1, -1, 1, 1)
        squares = sum_over_ranks(centred.square().sum(dim=(0, 2, 3)))
        var = squares / count
        out = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count.detach())
        return out.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(
        self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor
    ) -> None:
        """As :class:`nn.BatchNorm2d`: momentum (or cumulative) average, unbiased variance."""
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:
            momentum = 1.0 / float(self.num_batches_tracked)
        unbiased = var * count / (count - 1.0).clamp_min(1.0)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


def _convert(module: nn.Module, make: type[nn.Module]) -> nn.Module:
    """``module`` with every BatchNorm2d replaced by a ``make`` holding the same state."""
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, make):
        synced = make(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        synced.load_state_dict(module.state_dict())
        synced.train(module.training)
        if module.affine:
            synced.weight.requires_grad_(module.weight.requires_grad)
            synced.bias.requires_grad_(module.bias.requires_grad)
        tensors = list(module.state_dict().values())
        return synced.to(tensors[0].device) if tensors else synced
    for name, child in module.named_children():
        setattr(module, name, _convert(child, make))
    return module


def prepare_batch_norm(module: nn.Module, mode: str) -> nn.Module:
    """``module`` with its batch norms as ``mode`` says, for training on several ranks.

    ``sync`` swaps every :class:`nn.BatchNorm2d` for a :class:`SyncBatchNorm2d`, keeping
    weights, running statistics and state-dict keys, so checkpoints are the same either
    way. ``local`` leaves it alone.
    """
    if mode not in BATCH_NORM_MODES:
        raise BrainsynthError(
            f"unknown batch_norm {mode!r}: choose one of {', '.join(BATCH_NORM_MODES)}"
        )
    return module if mode == "local" else _convert(module, SyncBatchNorm2d)


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` normalises with batch statistics anywhere."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
