"""The λ controller: its path, its steps, and that it steers a toy "alive cost" to the target."""

from __future__ import annotations

import math

import pytest

from morph.errors import MorphError
from morph.schedule import LearnSchedule, StrengthController


def test_path_falls_linearly_then_holds() -> None:
    c = StrengthController(target=0.4, total_steps=100, settle=0.5)
    assert c.path(0) == 1.0
    assert c.path(25) == pytest.approx(0.7)  # halfway down: 1 − 0.6 · 0.5
    assert c.path(50) == c.path(99) == pytest.approx(0.4)


def test_proportional_on_a_log_scale_and_clamped() -> None:
    c = StrengthController(target=0.5, total_steps=10, gain=2.0, max_step=4.0, settle=1.0)
    assert c.update(1.0, 0.95) == pytest.approx(1.0)  # step 1: path 0.95, on the path → unchanged
    assert c.update(1.0, 0.45) == pytest.approx(0.25)  # step 2: path 0.90, half the path → (1/2)² = 1/4
    assert c.update(1.0, 0.1) == pytest.approx(0.25)  # far below: clamped at 1/max_step
    assert c.update(1.0, 1.0) == pytest.approx((1.0 / 0.8) ** 2)  # step 4: path 0.80, above → stronger
    assert c.update(3.0, math.nan) == 3.0  # no cost yet: unchanged


def test_steers_a_toy_pruning_process_to_the_target_from_far_off() -> None:
    """Toy plant: each step removes cost in proportion to λ (saturating), and a little grows back. Starting
    λ 1000× too small, the controller must end within 5% of the target share."""
    c = StrengthController(target=0.3, total_steps=400)
    lam, share = 1e-6, 1.0
    for _ in range(400):
        share = min(1.0, share - 0.05 * share * lam / (lam + 1e-3) + 0.002)
        lam = c.update(lam, share)
    assert share == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("kw", [{"target": 1.0}, {"target": 0.0}, {"total_steps": 0}, {"gain": 0.0},
                                {"max_step": 1.0}, {"settle": 0.0}])
def test_bad_settings(kw: dict[str, float]) -> None:
    args = {"target": 0.5, "total_steps": 10, **kw}
    with pytest.raises(MorphError):
        StrengthController(**args)  # type: ignore[arg-type]


def test_learn_schedule_warmup_and_floor_ramp_by_hand() -> None:
    """λ = 2 with a 4-step warm-up: 0.5, 1, 1.5, 2, 2 …; the floor from 1 to 0.25 over 3 steps: 0.75, 0.5, 0.25,
    0.25 …; with no target λ never changes after the warm-up."""
    s = LearnSchedule(2.0, total_steps=6, warmup_steps=4, floor=0.25, floor_ramp_steps=3)
    seen = []
    for _ in range(6):
        seen.append((s.strength_now(), s.floor_now()))
        s.advance(0.9)
    expected = [(0.5, 0.75), (1.0, 0.5), (1.5, 0.25), (2.0, 0.25), (2.0, 0.25), (2.0, 0.25)]
    assert [v for pair in seen for v in pair] == pytest.approx([v for pair in expected for v in pair])
    assert s.strength == 2.0 and LearnSchedule(2.0, 6, floor=0.1).floor_now() == 0.1


def test_learn_schedule_controller_waits_for_the_warmup_and_stops_at_the_cap() -> None:
    """A target controller starts after the warm-up's last step; with the cost stuck at the seed's it raises λ
    (path below 1), but never past the cap it is given, so it cannot wind up."""
    s = LearnSchedule(1.0, total_steps=20, warmup_steps=3, target=0.5)
    s.advance(1.0)
    s.advance(1.0)
    assert s.strength == 1.0  # steps 1 and 2 of the warm-up: not steered
    s.advance(1.0)
    assert s.strength > 1.0  # the warm-up's last step: steered from here on
    for _ in range(10):
        s.advance(1.0, cap=3.0)
    assert s.strength == 3.0
    with pytest.raises(MorphError, match="floor in"):
        LearnSchedule(1.0, 10, floor=1.0)
