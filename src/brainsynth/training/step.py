"""One training iteration (= one generator update) of DCGAN, WGAN or WGAN-GP.

Speed (issue §8): models and batches are channels_last; ``precision="bf16"`` runs forward
passes under bf16 autocast (CPU and CUDA), losses are computed in fp32; the discriminator's
parameters are frozen during the generator update so no unused weight gradients are computed.
All randomness (latents, GP interpolation weights) comes from this object's own
``torch.Generator``, saved in checkpoints so resume is exact.
"""

from __future__ import annotations

from typing import Any

import torch

from brainsynth import losses
from brainsynth.models import ModelConfig, build_models
from brainsynth.training.data import EpochSampler


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    from brainsynth.errors import BrainsynthError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BrainsynthError("--device cuda: no CUDA GPU is available (use --device cpu)")
    return torch.device(name)


class GanTrainer:
    """Generator, discriminator, their optimisers and the latent RNG of one run."""

    def __init__(
        self,
        model_config: ModelConfig,  # model shape (size, width, latent, critic norm)
        gan: str,  # dcgan | wgan | wgan-gp
        lr: float,  # learning rate of both optimisers
        betas: tuple[float, float] | None,  # Adam betas (dcgan, wgan-gp)
        n_critic: int,  # discriminator updates per generator update (wgan*)
        clip: float | None,  # WGAN weight clipping bound
        gp_lambda: float | None,  # WGAN-GP penalty weight
        precision: str,  # fp32 | bf16 (autocast)
        seed: int,  # seeds the latent/penalty RNG (seed + 1)
        device: torch.device,  # where the models live
    ) -> None:
        self.model_config = model_config
        self.gan, self.n_critic, self.clip, self.gp_lambda = gan, n_critic, clip, gp_lambda
        self.device = device
        generator, discriminator = build_models(model_config)
        self.generator = generator.to(device, memory_format=torch.channels_last)
        self.discriminator = discriminator.to(device, memory_format=torch.channels_last)
        self.opt_g, self.opt_d = self._optimisers(lr, betas)
        self.noise = torch.Generator().manual_seed(seed + 1)
        self.bf16 = precision == "bf16"

    def _optimisers(
        self, lr: float, betas: tuple[float, float] | None
    ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        g_params, d_params = self.generator.parameters(), self.discriminator.parameters()
        if self.gan == "wgan":  # Arjovsky et al.; paper §3.2.2: RMSprop, 5e-5
            return torch.optim.RMSprop(g_params, lr=lr), torch.optim.RMSprop(d_params, lr=lr)
        betas = (float(betas[0]), float(betas[1])) if betas else (0.9, 0.999)
        return (
            torch.optim.Adam(g_params, lr=lr, betas=betas),
            torch.optim.Adam(d_params, lr=lr, betas=betas),
        )

    def latent(self, n: int) -> torch.Tensor:
        """``n`` standard normal latent vectors, drawn on the CPU generator, on the device."""
        z = torch.randn(n, self.model_config.latent, generator=self.noise)
        return z.to(self.device, non_blocking=True)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def step(self, sampler: EpochSampler) -> dict[str, torch.Tensor]:
        """One generator update (after ``n_critic`` discriminator updates); detached losses."""
        if self.gan == "dcgan":
            return self._dcgan_step(sampler)
        return self._wgan_step(sampler)

    def _generator_update(self, fake: torch.Tensor, loss_fn: Any) -> torch.Tensor:
        self.discriminator.requires_grad_(False)
        with self._autocast():
            loss_g = loss_fn(self.discriminator(fake).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        return loss_g.detach()

    def _dcgan_step(self, sampler: EpochSampler) -> dict[str, torch.Tensor]:
        real = sampler.next_batch()
        z = self.latent(real.shape[0])
        with self._autocast():
            fake = self.generator(z)
            d_real = self.discriminator(real).float()
            d_fake = self.discriminator(fake.detach()).float()
        loss_d = losses.dcgan_d_loss(d_real, d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # The same fakes update G (as in Radford et al.'s and PyTorch's DCGAN reference).
        loss_g = self._generator_update(fake, losses.dcgan_g_loss)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g}

    def _wgan_step(self, sampler: EpochSampler) -> dict[str, torch.Tensor]:
        for _ in range(max(1, self.n_critic)):
            real = sampler.next_batch()
            z = self.latent(real.shape[0])
            with self._autocast():
                with torch.no_grad():
                    fake = self.generator(z)
                d_real = self.discriminator(real).float()
                d_fake = self.discriminator(fake).float()
                estimate = losses.wasserstein_estimate(d_real, d_fake)
                loss_d = -estimate
                if self.gp_lambda:
                    penalty = losses.gradient_penalty(self.discriminator, real, fake, self.noise)
                    loss_d = loss_d + self.gp_lambda * penalty
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            if self.clip:  # Arjovsky et al.: clamp every critic parameter to [-c, c]
                with torch.no_grad():
                    for param in self.discriminator.parameters():
                        param.clamp_(-self.clip, self.clip)
        with self._autocast():
            fake = self.generator(self.latent(sampler.batch))
        loss_g = self._generator_update(fake, losses.wgan_g_loss)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g, "wasserstein": estimate.detach()}

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Generator output for ``z`` in eval mode (BN running statistics), as float32."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            with self._autocast():
                return self.generator(z.to(self.device)).float()
        finally:
            self.generator.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.noise.set_state(state["noise"])
