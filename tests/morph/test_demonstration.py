"""The blog's γ-L1 failure under Adam, and its fix, on a real (small) training run.

One base-16 U-Net (conv → BN → ReLU), the synthetic buildings at 64×64, Adam, the params resource and the
same λ throughout; only *how* λ·G reaches the γ differs:

- **A (the blog's way):** ``loss + λ·G`` through autograd. λ·∂G/∂γ is the same constant for every γ of a
  layer and dwarfs the task gradient, so Adam turns it into the same ≈lr step for every γ: after a few
  epochs each layer's γ have all moved by lr × steps and no channel is singled out (blog-code-facts §7.3).
- **B (the fix):** Adam on the task loss alone, then :class:`morph.proximal.ProximalStep` soft-thresholds
  every γ by lr·λ·k_g. Channels whose (Adam-normalised) task gradient cannot hold them against the shrink
  reach exactly zero, the others stay: a point mass at 0, an empty band, and an alive cluster.
- **C (reference):** B without the regularizer; B must keep its val Dice.

The γ get their own Adam learning rate (2e-2, the rest 1e-3): with Adam no parameter moves more than ≈lr
per step, so a γ starting at 1 needs lr × steps ≳ 1 to be able to reach 0 in a run this short (the blog's
"step budget", §7.3). All three runs use the same groups. BN comes before ReLU here (``order="bn_relu"``,
MorphNet's setting), where a zero γ silences its channel up to a constant ReLU(β) that the next conv's bias
absorbs. The blog's ReLU → BN order shows the same picture (A: Δγ spread ≤ 2%; B: 56% of γ exactly 0, the
same empty decade, last-epochs Dice 0.71 vs 0.74) but its final-epoch Dice jitters more (0.675), so the
margins are thinner.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import torch
from torch import nn

from bench.data.synthetic import synthetic_buildings
from bench.measure import torch_threads
from bench.train import TrainConfig, TrainHooks, create_metrics, evaluate, train
from morph.models import blog_unet
from morph.proximal import ProximalStep
from morph.regularizer import MorphNetRegularizer

SIZE = 64
LAM = 2.5e-4  # λ·k_g ∈ [0.04, 1.2] "Adam units" per layer; λ·G ≈ 880 at init vs a Dice loss below 1
GAMMA_LR, LR = 2e-2, 1e-3
EPOCHS, LAST = 24, 4  # Dice is compared as the mean over the LAST epochs (one epoch's val Dice jitters ±0.04)
THRESHOLD = 1e-2  # alive ⇔ |γ| > threshold (the regularizer's default)
STEPS_PER_EPOCH = 12


def _splits() -> Any:
    # 48 training scenes (12 steps of batch 4), 48 validation scenes, no test split
    return synthetic_buildings(96, size=SIZE, seed=0, val_fraction=0.5, test_fraction=0.0)


class _Run:
    """One seeded run on one thread (deterministic, and no oversubscription on a shared CPU).

    Records the γ strengths, alive widths and weights of the *final* epoch: train() hands back the best one.
    """

    def __init__(self, mode: str, epochs: int) -> None:
        torch.manual_seed(0)
        self.model = blog_unet(16, order="bn_relu")
        self.reg = MorphNetRegularizer(self.model, torch.zeros(1, 3, SIZE, SIZE), resource="params",
                                       source="gamma", threshold=THRESHOLD)
        self.bn_groups = [n for n, g in self.reg.groups.items() if g.source == "gamma"]
        self.start = self.reg.strengths()
        self.epochs = epochs
        gammas = [m.weight for m in self.model.modules() if isinstance(m, nn.BatchNorm2d)]
        ids = {id(p) for p in gammas}
        groups = [{"params": gammas, "lr": GAMMA_LR},  # first: ProximalStep reads its lr from group 0
                  {"params": [p for p in self.model.parameters() if id(p) not in ids]}]

        def on_epoch_end(epoch: int) -> dict[str, float]:
            if epoch == self.epochs - 1:
                self.end = self.reg.strengths()
                self.widths = self.reg.alive_widths()
                self.final_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return {}

        hooks = TrainHooks(extra_loss=(lambda: LAM * self.reg.penalty()) if mode == "loss" else None,
                           after_step=ProximalStep(self.reg, LAM) if mode == "prox" else None,
                           on_epoch_end=on_epoch_end, param_groups=groups)
        self.splits = _splits()
        config = TrainConfig(epochs=epochs, batch_size=4, lr=LR, optimizer="adam", loss="dice", seed=0,
                             eval_train=False, progress=False)
        with torch_threads(1):
            self.result = train(self.model, self.splits, config, hooks=hooks)
        assert self.result.ok, self.result.message
        assert self.result.steps == epochs * STEPS_PER_EPOCH
        self.dice = [row["val_dice"] for row in self.result.history]

    def all_gammas(self) -> torch.Tensor:
        return torch.cat([self.end[n] for n in self.bn_groups])

    def dice_with_dead_zeroed(self) -> float:
        """Val Dice of the final weights with every γ ≤ threshold set to 0 (what a shrink would keep)."""
        self.model.load_state_dict(self.final_state)
        with torch.no_grad():
            for m in self.model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight[m.weight.abs() <= THRESHOLD] = 0.0
        loader = torch.utils.data.DataLoader(self.splits.val, batch_size=8)
        with torch_threads(1):
            return evaluate(self.model, loader, create_metrics("segmentation", 2, None))["dice"]


@pytest.mark.slow
def test_adam_with_gamma_l1_in_the_loss_moves_every_gamma_of_a_layer_alike() -> None:
    start = time.perf_counter()
    run = _Run("loss", epochs=2)
    steps = run.result.steps
    budget = GAMMA_LR * steps  # Adam's ≈lr step, every step, in the same direction
    spreads, moves = {}, {}
    for name in run.bn_groups:
        delta = run.end[name] - run.start[name]
        spreads[name] = float(delta.std() / delta.mean().abs())
        moves[name] = float(-delta.mean()) / budget
        assert delta.mean() < 0, name
        assert 0.9 * budget <= float(-delta.mean()) <= 1.01 * budget, (name, float(delta.mean()), budget)
        # nobody singled out: every channel's move is within 5% of the layer's mean move
        assert float((delta - delta.mean()).abs().max()) <= 0.05 * float(delta.mean().abs()), name
    dead = float((run.all_gammas() <= THRESHOLD).float().mean())
    assert dead == 0.0  # the budget (0.48) cannot bring a γ from 1 to the threshold
    print(f"\nA: {steps} steps, budget {budget:.3f}, max std/|mean| of Δγ {max(spreads.values()):.4f}, "
          f"layer mean |Δγ|/budget {min(moves.values()):.3f}–{max(moves.values()):.3f}, "
          f"dead {dead:.3f}, val Dice {run.dice[-1]:.3f}, {time.perf_counter() - start:.1f} s")


@pytest.mark.slow
def test_proximal_step_prunes_bimodally_and_keeps_the_dice() -> None:
    start = time.perf_counter()
    prox = _Run("prox", EPOCHS)
    plain = _Run("none", EPOCHS)
    g = prox.all_gammas().abs()

    # Bimodal, read on a log scale: a cluster at zero (the prox sets γ to exactly 0), an empty decade
    # above it, then an alive cluster an order of magnitude above the threshold.
    near_zero = float((g <= 1e-4).float().mean())
    gap = float(((g > 1e-4) & (g <= 1e-3)).float().mean())
    band = float(((g > 1e-4) & (g <= THRESHOLD)).float().mean())
    dead = float((g <= THRESHOLD).float().mean())
    alive = g[g > THRESHOLD]
    assert dead >= 0.30, dead
    assert near_zero >= 0.30, near_zero
    assert gap <= 0.01, gap
    assert band <= 0.06, band
    assert float(alive.median()) >= 0.1, float(alive.median())
    # the same count through the regularizer's own bookkeeping (read at the final epoch)
    total = sum(prox.reg.groups[n].width for n in prox.bn_groups)
    assert sum(prox.reg.groups[n].width - prox.widths[n] for n in prox.bn_groups) / total == pytest.approx(dead)
    # the reference run has (almost) no dead γ: the pruning is the regularizer's doing
    dead_c = float((plain.all_gammas() <= THRESHOLD).float().mean())
    assert dead_c <= 0.01, dead_c

    # Not collapsed, and as good as the unregularised run. One epoch's val Dice jitters by ±0.04 under
    # γ's large Adam rate, so the runs are compared by their mean over the last epochs (all of them
    # already pruned); the final pruned state, with every γ ≤ threshold zeroed, must match as well.
    fg = float(torch.stack([y for _, y in prox.splits.val]).float().mean())
    all_foreground = 2 * fg / (1 + fg)
    dice_b, dice_c = sum(prox.dice[-LAST:]) / LAST, sum(plain.dice[-LAST:]) / LAST
    zeroed = prox.dice_with_dead_zeroed()
    assert dice_b >= all_foreground + 0.2, (dice_b, all_foreground)
    assert abs(dice_b - dice_c) <= 0.05, (dice_b, dice_c)
    assert abs(zeroed - dice_c) <= 0.05, (zeroed, dice_c)
    elapsed = time.perf_counter() - start
    layer_dead = {n: 1 - prox.widths[n] / prox.reg.groups[n].width for n in prox.bn_groups}
    print(f"\nB: dead {dead:.3f} (≤1e-4: {near_zero:.3f}; (1e-4, 1e-3]: {gap:.4f}; (1e-4, 1e-2]: {band:.4f}), "
          f"alive median {float(alive.median()):.3f}; val Dice last {LAST} {dice_b:.3f}, final "
          f"{prox.dice[-1]:.3f}, dead zeroed {zeroed:.3f}\nC: val Dice last {LAST} {dice_c:.3f}, final "
          f"{plain.dice[-1]:.3f}; dead {dead_c:.4f}; all-foreground {all_foreground:.3f}; {elapsed:.1f} s"
          "\n  dead per layer " + ", ".join(f"{n} {v:.2f}" for n, v in layer_dead.items()))
