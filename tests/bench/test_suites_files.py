"""Every shipped suite file loads under both profiles, its quick profile reads no data outside the repository
except ../shared/data, no two suites share a case id, and the quick profiles stay within a training budget.

Budget (quick profiles, counted as distinct stage keys via ``plan_case`` per seed, each key = one training; the
verdict suites run three seeds, and ``nox -s reproduce`` must stay within 100 minutes on 2 cores):
- per suite: at most QUICK_STAGES_PER_SUITE (backbones and methods: their own caps; a backbone stage is ~1/3 of a
  U-Net quick training: 72 images × 8–12 epochs; a methods stage ~1/4: 64² images, 8 epochs);
- new work per suite, in the order the README runs them with one shared results folder (stages an earlier suite
  already produced are reused): at most QUICK_NEW_STAGES (≈ 40 s per training on an idle 2-core CPU, less for
  shrunk models);
- the suites without a cap of their own together: at most QUICK_TOTAL_STAGES distinct keys per seed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pipeline import plan_case
from bench.suite import load_suite

REPO = Path(__file__).resolve().parents[2]
SUITES = sorted((REPO / "suites").glob("*.toml"))
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
ORDER = ["quickstart", "symmetry", "regularizers", "layers", "one_conv", "cifar", "backbones", "flops_target",
         "methods"]
QUICK_STAGES_PER_SUITE = 20
BACKBONE_STAGES = 30
METHODS_STAGES = 42  # 64² stages of 5-70 s: the quick profile took 53 minutes of stage time on one core
#: five MorphNet variants × (learn, shrink, expand) + base + uniform; 47 minutes of stage time on one core for
#: three seeds before the floor-0.25 case and the capped, ramped one, which add about 2.5 minutes a seed each
FLOPS_TARGET_STAGES = 20
OWN_CAP = {"backbones": BACKBONE_STAGES, "methods": METHODS_STAGES, "flops_target": FLOPS_TARGET_STAGES}
QUICK_NEW_STAGES = 15
QUICK_TOTAL_STAGES = 90


def _needs_shared(path: Path) -> bool:
    return "shared/data" in path.read_text(encoding="utf-8")


def _load(path: Path, profile: str, tmp_path: Path | None = None):
    if _needs_shared(path) and not SHARED_DATA.is_dir():
        pytest.skip(f"{path.name} reads {SHARED_DATA}, which this checkout does not have")
    data_path = None
    if profile == "full" and tmp_path is not None and "inria" in path.read_text(encoding="utf-8"):
        data_path = tmp_path / "AerialImageDataset"  # the loader only checks that the folder exists
        data_path.mkdir(exist_ok=True)
    return load_suite(path, profile, data_path=data_path, environ={})


def test_the_suites_are_there() -> None:
    names = {p.stem for p in SUITES}
    assert set(ORDER) <= names, sorted(set(ORDER) - names)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_suite_validates(path: Path, profile: str, tmp_path: Path) -> None:
    suite = _load(path, profile, tmp_path)
    assert suite.cases(), f"{path.name}: no cases under {profile}"
    for case in suite.cases():
        assert plan_case(case)[0].name == "base"


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_quick_profile_reads_only_repo_or_shared_data(path: Path) -> None:
    for case in _load(path, "quick").cases():
        folder = case.config.data.path
        if folder is None:
            continue
        resolved = Path(folder).resolve()
        assert resolved.is_relative_to(REPO) or resolved.is_relative_to(SHARED_DATA), (
            f"{path.name}: quick profile reads {resolved}")


def test_uniform_baseline_for_every_morphnet_budget() -> None:
    """Each MorphNet/blog row has a uniform-width-multiplier row at its resource and budget (same model)."""
    for path in SUITES:
        suite = _load(path, "quick")
        uniform = {(c.config.model.name, c.config.model.encoder, c.config.morph.resource, c.config.morph.budget,
                    c.config.morph.budget_share, c.config.morph.budget_by)
                   for c in suite.cases() if c.config.morph.method == "uniform"}
        for case in suite.cases():
            m = case.config.morph
            if m.method == "uniform" or (m.budget is None and m.budget_share is None):
                continue
            key = (case.config.model.name, case.config.model.encoder, m.resource, m.budget, m.budget_share,
                   m.budget_by)
            assert key in uniform, f"{path.name}: {case.label} has no uniform baseline at {key}"


def _quick_keys(seed: int) -> dict[str, set[str]]:
    """Stage keys per suite for one seed (a one-seed suite counts its only seed for every seed)."""
    out = {}
    for p in SUITES:
        cases = _load(p, "quick").cases()
        chosen = [c for c in cases if c.seed == seed] or [c for c in cases if c.seed == cases[0].seed]
        out[p.stem] = {s.key for c in chosen for s in plan_case(c)}
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quick_training_budget(seed: int) -> None:
    keys = _quick_keys(seed)
    for name, own in keys.items():
        cap = OWN_CAP.get(name, QUICK_STAGES_PER_SUITE)
        assert len(own) <= cap, f"{name}: {len(own)} distinct quick stages of seed {seed} > {cap}"
    seen: set[str] = set()
    for name in [n for n in ORDER if n in keys] + sorted(set(keys) - set(ORDER)):
        new = keys[name] - seen
        cap = OWN_CAP.get(name, QUICK_NEW_STAGES)
        assert len(new) <= cap, f"{name}: {len(new)} new quick stages of seed {seed} after the suites before it > {cap}"
        seen |= keys[name]
    plain = set().union(*(own for name, own in keys.items() if name not in OWN_CAP))
    assert len(plain) <= QUICK_TOTAL_STAGES, f"{len(plain)} distinct quick stages of seed {seed} over the U-Net suites"


def test_shared_base_training_is_shared() -> None:
    """The base-16 U-Net suites agree on data/model/train/measure, so one base training per seed serves them all."""
    bases = {}
    for name in ("symmetry", "regularizers", "layers"):
        path = REPO / "suites" / f"{name}.toml"
        bases[name] = {(c.seed, plan_case(c)[0].key) for c in _load(path, "quick").cases()}
    union = set().union(*bases.values())
    assert len(union) == len({seed for seed, _ in union}), bases


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_case_ids_are_unique_across_suites(profile: str, tmp_path: Path) -> None:
    """A shared results folder keeps records under <case_id>/, so two suites must never produce the same id."""
    owner: dict[str, str] = {}
    for path in SUITES:
        for case in _load(path, profile, tmp_path).cases():
            assert case.id not in owner, f"{path.name} and {owner[case.id]} both have case {case.id}"
            owner[case.id] = path.name


def test_reproduce_groups_cover_every_verdict_suite_once() -> None:
    """`nox -s reproduce_blog` and `reproduce_methods` together run what `nox -s reproduce` runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("noxfile", REPO / "noxfile.py")
    nox_module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(nox_module)  # type: ignore[union-attr]
    grouped = [s for suites in nox_module.GROUPS.values() for s in suites]
    assert len(grouped) == len(set(grouped)) and all((REPO / s).is_file() for s in grouped)
    assert set(grouped) == {s for s in nox_module.SUITES if s not in nox_module.EXTENDED}
