"""EDM (Karras et al., 2022) preconditioning, training loss and a few-step deterministic sampler.

With ``σ`` the noise level and ``σ_d`` = ``sigma_data``, the denoiser is ``D(x; σ) = c_skip x + c_out F(c_in x; c_noise)``::

    c_skip = σ_d² / (σ² + σ_d²)      c_out = σ σ_d / sqrt(σ² + σ_d²)      c_in = 1 / sqrt(σ² + σ_d²)      c_noise = ln(σ) / 4

Training draws ``ln σ ~ N(P_mean, P_std²)``, noises the clean frame ``y`` to ``x = y + σ n`` and minimizes EDM's weighted
loss ``λ(σ) ‖D(x; σ) − y‖²`` with ``λ = (σ² + σ_d²) / (σ σ_d)²``. Since ``λ c_out² = 1`` that equals the plain MSE of the
network's output against its effective target, ``‖F − (y − c_skip x) / c_out‖²``, which is what :func:`edm_loss`
computes (same value, better conditioned).

Sampling (:func:`sample`) runs the probability-flow ODE from ``x = σ_max n`` down the Karras schedule
``σ_i = (σ_max^{1/ρ} + i / (N − 1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`` (``i < N``, then ``σ_N = 0``) with Euler steps
(Heun's correction on every step that does not end at 0). With ``N = 1`` it is one denoiser call at ``σ_max``.
Noise comes only from the ``torch.Generator`` passed in (none: start from zero noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(x [B, ...], sigma [B]) -> D(x; sigma) [B, ...]``."""


@dataclass(frozen=True)
class Precond:
    """EDM preconditioning coefficients, each ``[B, 1, 1, 1]`` (``c_noise``: ``[B]``)."""

    c_skip: torch.Tensor
    c_out: torch.Tensor
    c_in: torch.Tensor
    c_noise: torch.Tensor


def precondition(sigma: torch.Tensor, sigma_data: float) -> Precond:
    """The coefficients of ``D`` at noise levels ``sigma [B]``."""
    s = sigma.reshape(-1, 1, 1, 1)  # (B, 1, 1, 1)
    total = s.square() + sigma_data**2
    return Precond(
        c_skip=sigma_data**2 / total,
        c_out=s * sigma_data / total.sqrt(),
        c_in=1.0 / total.sqrt(),
        c_noise=sigma.log() / 4.0,
    )


def training_sigmas(
    batch: int, p_mean: float, p_std: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """``[batch]`` noise levels with ``ln σ ~ N(p_mean, p_std²)``."""
    return (p_mean + p_std * torch.randn(batch, generator=generator, device=device)).exp()


def edm_loss(
    network: Callable[[torch.Tensor, Precond], torch.Tensor],
    clean: torch.Tensor,
    sigma: torch.Tensor,
    sigma_data: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Per-sample EDM loss ``[B]`` (mean over pixels) of ``network`` at noise levels ``sigma``.

    Args:
        network: ``(c_in · x, precond) -> F`` the raw network output (context and conditioning bound by the caller).
        clean: ``[B, C, H, W]`` clean targets ``y`` in model units.
        sigma: ``[B]`` noise levels.
        sigma_data: EDM ``σ_d``.
        generator: source of the noise.
    """
    pc = precondition(sigma, sigma_data)
    noisy = clean + sigma.reshape(-1, 1, 1, 1) * torch.randn(
        clean.shape, generator=generator, device=clean.device, dtype=clean.dtype
    )  # (B, C, H, W)
    out = network(pc.c_in * noisy, pc)
    target = (clean - pc.c_skip * noisy) / pc.c_out
    return (out - target).square().flatten(1).mean(dim=1)  # (B,)


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """``[steps + 1]`` noise levels from ``sigma_max`` down to ``sigma_min``, then 0 (a single step: ``[σ_max, 0]``)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float64)
    ramp = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    hi, lo = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    sig = (hi + ramp * (lo - hi)) ** rho
    sig[0], sig[-1] = sigma_max, sigma_min  # exact ends (the power round-trips off by an ulp)
    return torch.cat([sig, torch.zeros(1, dtype=torch.float64)])


def sample(
    denoise: Denoiser,
    shape: tuple[int, ...],
    sigmas: torch.Tensor,
    *,
    generator: torch.Generator | None,
    device: torch.device,
    heun: bool = False,
) -> torch.Tensor:
    """Deterministic few-step sampler: ``x = σ_0 n``, then Euler (or Heun) steps down ``sigmas``.

    Args:
        denoise: ``D(x; σ)``.
        shape: ``[B, C, H, W]`` of the sample.
        sigmas: ``[N + 1]`` decreasing noise levels ending at 0 (:func:`karras_sigmas`).
        generator: source of the initial noise (the only randomness); ``None`` starts from ``n = 0``, the noise's
            mean: the ODE path of the "average" sample, a deterministic function of the conditioning.
        device: where the sample lives.
        heun: add Heun's second-order correction on steps that do not end at ``σ = 0``.

    Returns:
        ``[B, C, H, W]`` the sample ``x_N``.
    """
    B = shape[0]
    if generator is None:
        x = torch.zeros(shape, device=device)  # (B, C, H, W)
    else:
        x = float(sigmas[0]) * torch.randn(shape, generator=generator, device=device)  # (B, C, H, W)
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        d = (x - denoise(x, torch.full((B,), s, device=device))) / s  # dx/dσ of the probability-flow ODE
        x_next = x + (s_next - s) * d
        if heun and s_next > 0:
            d_next = (x_next - denoise(x_next, torch.full((B,), s_next, device=device))) / s_next
            x_next = x + (s_next - s) * 0.5 * (d + d_next)
        x = x_next
    return x


def sampler_calls(steps: int, heun: bool) -> int:
    """Denoiser (UNet) calls of :func:`sample` per frame: ``steps``, plus ``steps − 1`` Heun corrections."""
    return steps + (steps - 1 if heun else 0)
