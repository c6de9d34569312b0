"""Suite files: profiles, data paths, ids and stage keys, and one-line messages for every kind of bad suite."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from bench.errors import BenchError
from bench.suite import Case, SuiteError, dataset_env_var, load_suite, stage_key
from bench.suite import _registries as reg

BASE = """
name = "sym"
description = "symmetry study"
seeds = [0]
[data]
name = "synthetic_buildings"
count = 8
size = 32
[model]
name = "unet"
base = 8
[train]
epochs = 2
lr = 1e-3
[morph]
strength = 1e-3
"""


def _synthetic(count: int = 64, size: int = 128, seed: int = 0) -> None: ...
def _inria(root: str, cities: tuple[str, ...] = ("vienna",), count: int = 600) -> None: ...


@pytest.fixture(autouse=True)
def registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed data-set registry, so these tests do not depend on bench.data's state."""
    table = {"synthetic_buildings": _synthetic, "inria": _inria}
    monkeypatch.setattr(reg, "dataset_names", lambda: sorted(table))
    monkeypatch.setattr(reg, "dataset_factory", table.get)
    monkeypatch.delenv(dataset_env_var("inria"), raising=False)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str, **kw: Any) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text), **kw)
    for line in info.value.problems:
        assert "\n" not in line and line.startswith(str(tmp_path / "s.toml"))
    assert isinstance(info.value, BenchError)
    return [p.split(": ", 1)[1] for p in info.value.problems]


# --- loading, matrix, profiles ---------------------------------------------------------------------------------

def test_matrix_cases_labels_and_settings(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, BASE + """
        [matrix]
        "morph.symmetry" = [1, 2, 3]
        exclude = [{ "morph.symmetry" = 3 }]
    """))
    cases = suite.cases()
    assert [c.label for c in cases] == ["sym=1,seed=0", "sym=2,seed=0"]
    assert [c.config.morph.symmetry for c in cases] == [1, 2]
    assert cases[0].config.data.kwargs == {"count": 8, "size": 32}
    assert cases[0].config.model.kwargs == {"base": 8}
    assert cases[0].get("train.lr") == 1e-3 and suite.axes == ("morph.symmetry",)


def test_seeds_multiply_cases(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, BASE.replace("seeds = [0]", "seeds = [0, 1, 2]")))
    assert [c.seed for c in suite.cases()] == [0, 1, 2]
    assert len({c.id for c in suite.cases()}) == 3


PROFILES = BASE + """
[matrix]
"morph.symmetry" = [1, 2, 3]
[profiles.quick]
train = { epochs = 1 }
matrix = { "morph.symmetry" = [1] }
[profiles.full]
seeds = [0, 1]
train = { epochs = 30 }
"""


def test_quick_profile_is_default_and_deep_merged(tmp_path: Path) -> None:
    cases = load_suite(write(tmp_path, PROFILES)).cases()
    assert len(cases) == 1
    assert cases[0].config.train.epochs == 1 and cases[0].config.train.lr == 1e-3  # lr kept from the top level


def test_full_profile(tmp_path: Path) -> None:
    cases = load_suite(write(tmp_path, PROFILES), profile="full").cases()
    assert len(cases) == 6 and {c.config.train.epochs for c in cases} == {30}
    assert {c.profile for c in cases} == {"full"}


def test_quick_and_full_fall_back_to_the_top_level(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    assert load_suite(path, "quick").cases()[0].id == load_suite(path, "full").cases()[0].id


# --- data paths ------------------------------------------------------------------------------------------------

INRIA = BASE.replace('name = "synthetic_buildings"\ncount = 8\nsize = 32', 'name = "inria"\ncount = 8')


def test_data_path_precedence_cli_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for d in ("cli", "env", "file"):
        (tmp_path / d).mkdir()
    path = write(tmp_path, INRIA.replace('count = 8', 'count = 8\npath = "file"'))
    assert load_suite(path).cases()[0].config.data.path == str(tmp_path / "file")
    monkeypatch.setenv("MORPH_BENCH_DATA_INRIA", str(tmp_path / "env"))
    assert load_suite(path).cases()[0].config.data.path == str(tmp_path / "env")
    assert load_suite(path, data_path=tmp_path / "cli").cases()[0].config.data.path == str(tmp_path / "cli")


def test_path_env_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    path = write(tmp_path, INRIA.replace('count = 8', 'count = 8\npath_env = "MY_INRIA"'))
    case = load_suite(path, environ={"MY_INRIA": str(tmp_path / "d")}).cases()[0]
    assert case.config.data.builder_kwargs() == {"count": 8, "root": str(tmp_path / "d")}


def test_data_path_is_not_part_of_the_id(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    path = write(tmp_path, INRIA)
    assert load_suite(path, data_path=tmp_path / "a").cases()[0].id == load_suite(path, data_path=tmp_path / "b").cases()[0].id


def test_data_seed_picks_the_data_and_keeps_old_ids_at_its_default(tmp_path: Path) -> None:
    """data_seed unset (or None) hashes as absent: the same ids and base stage keys as before it existed; set, it
    is the builder's seed and a new case, while the case seed stays what changes initialisation and order."""
    from bench.pipeline.plan import plan_case

    old = load_suite(write(tmp_path, BASE)).cases()[0]
    same = load_suite(write(tmp_path, BASE.replace('size = 32', 'size = 32\ndata_seed = 0'))).cases()[0]
    assert same.id != old.id  # 0 is a real choice (the builder's default spelled out), not "as before"
    axis = BASE + '[matrix]\n"data.data_seed" = [1, 2]\n'
    cases = load_suite(write(tmp_path, axis)).cases()
    assert [c.label for c in cases] == ["data_seed=1,seed=0", "data_seed=2,seed=0"]
    assert [c.config.data.builder_kwargs()["seed"] for c in cases] == [1, 2]
    assert "seed" not in old.config.data.builder_kwargs()
    assert plan_case(cases[0])[0].key != plan_case(cases[1])[0].key != plan_case(old)[0].key
    from bench.suite.case import hashed_settings

    assert "data_seed" not in hashed_settings(old.config)["data"]
    assert problems(tmp_path, BASE.replace("size = 32", "size = 32\nseed = 1\ndata_seed = 2")) == [
        "data.data_seed: give either data.seed or data.data_seed, not both"]


def test_missing_data_path(tmp_path: Path) -> None:
    assert problems(tmp_path, INRIA) == [
        "data.path: data set 'inria' needs a folder: pass --data-path, set MORPH_BENCH_DATA_INRIA or set data.path"
    ]


def test_data_path_that_does_not_exist(tmp_path: Path) -> None:
    (msg,) = problems(tmp_path, INRIA, data_path=tmp_path / "nope")
    assert msg.startswith("data.path: expected an existing folder") and msg.endswith("from --data-path)")


# --- bad suites: one line each, file + dotted key + expectation ------------------------------------------------

def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    assert problems(tmp_path, 'name = "x"\n[data]\nname = \n') == ["line 3, column 8: invalid TOML: Invalid value"]


def test_missing_file() -> None:
    with pytest.raises(SuiteError, match="nope.toml: expected an existing suite file"):
        load_suite("nope.toml")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace("lr = 1e-3", "lrr = 1e-3")) == ["train.lrr: unknown key; did you mean 'lr'?"]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    assert problems(tmp_path, "seed = 3\n" + BASE) == ["seed: unknown key; did you mean 'seeds'?"]


def test_unknown_builder_kwarg(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace("count = 8", "cont = 8")) == [
        "data.cont: unknown key for data set 'synthetic_buildings'; did you mean 'count'?"
    ]


def test_wrong_type_in_the_matrix_points_at_the_value(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE + '[matrix]\n"train.lr" = [1e-3, "fast"]\n') == [
        'matrix.train.lr[1]: expected a float (got "fast")'
    ]


def test_wrong_type_at_top_level_and_in_a_profile(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace("epochs = 2", 'epochs = "two"')) == [
        'train.epochs: expected an integer (got "two")'
    ]
    text = BASE + "[profiles.quick]\nmorph = { symmetry = 5 }\n"
    assert problems(tmp_path, text) == ["profiles.quick.morph.symmetry: expected a value ≤ 3 (got 5)"]


def test_include_value_error_points_at_the_include(tmp_path: Path) -> None:
    text = BASE + '[matrix]\n"morph.symmetry" = [1]\ninclude = [{ "morph.symmetry" = 1, "morph.resource" = "time" }]\n'
    assert problems(tmp_path, text) == [
        "matrix.include[0].morph.resource: unknown resource 'time'"
    ]


def test_unknown_model_data_set_and_encoder(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace('"unet"', '"unet2"')) == ["model.name: unknown model 'unet2'; did you mean 'unet'?"]
    assert problems(tmp_path, BASE.replace('"synthetic_buildings"', '"synthetic"')) == [
        "data.name: unknown data set 'synthetic'; did you mean 'synthetic_buildings'?"
    ]
    smp = BASE.replace('name = "unet"\nbase = 8', 'name = "smp_unet"\nencoder = "resnet81"')
    assert problems(tmp_path, smp) == ["model.encoder: unknown smp encoder 'resnet81'; did you mean 'resnet18'?"]


def test_exclude_that_matches_nothing(tmp_path: Path) -> None:
    text = BASE + '[matrix]\n"morph.symmetry" = [1, 2]\nexclude = [{ "morph.symmetry" = 4 }]\n'
    assert problems(tmp_path, text) == ["matrix.exclude[0]: matches no combination of the matrix"]


def test_matrix_axis_must_name_a_setting(tmp_path: Path) -> None:
    (msg,) = problems(tmp_path, BASE + "[matrix]\nseed = [1, 2]\n")
    assert msg.startswith("matrix.seed: expected a setting under data, model") and "seeds = [...]" in msg
    assert problems(tmp_path, BASE + '[matrix]\n"morph.symetry" = [1]\n') == [
        "matrix.morph.symetry: unknown key; did you mean 'symmetry'?"
    ]


@pytest.mark.parametrize("lines,message", [
    ("budget = 1e6\nexpand_factor = 1.5", "morph.expand_factor: give one of budget, budget_share and expand_factor, "
                                          "not budget and expand_factor"),
    ("budget = 1e6\nbudget_share = 0.5", "morph.budget_share: give one of budget, budget_share and expand_factor, "
                                         "not budget and budget_share"),
])
def test_budget_budget_share_and_expand_factor_exclude_each_other(tmp_path: Path, lines: str, message: str) -> None:
    assert problems(tmp_path, BASE.replace("strength = 1e-3", lines)) == [message]


def test_learn_floor_needs_the_proximal_step(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace("strength = 1e-3", "strength = 1e-3\nlearn_floor = 0.1\nproximal = false")) == [
        "morph.learn_floor: protects channels from the proximal step: needs proximal = true"
    ]
    load_suite(write(tmp_path, BASE.replace("strength = 1e-3", "strength = 1e-3\nlearn_floor = 0.1\nproximal = true")))


@pytest.mark.parametrize("line,message", [
    ("learn_max_rate = 1.0\nproximal = false", "morph.learn_max_rate: caps the proximal step: needs proximal = true"),
    ("learn_max_rate = 0\nproximal = true", "morph.learn_max_rate: expected a value > 0.0 (got 0)"),
    ("learn_floor_ramp = 3\nproximal = false",
     "morph.learn_floor_ramp: lowers the proximal step's floor: needs proximal = true"),
])
def test_learn_schedules_need_the_proximal_step_and_positive_values(tmp_path: Path, line: str,
                                                                    message: str) -> None:
    assert problems(tmp_path, BASE.replace("strength = 1e-3", f"strength = 1e-3\n{line}")) == [message]


def test_strength_warmup_must_end_before_structure_learning_does(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE.replace("strength = 1e-3", "strength = 1e-3\nepochs = 4\nstrength_warmup = 4")) == [
        "morph.strength_warmup: must be shorter than morph.epochs (4), got 4"
    ]
    load_suite(write(tmp_path, BASE.replace("strength = 1e-3", "strength = 1e-3\nepochs = 4\nstrength_warmup = 2.5")))


def test_unknown_profile(tmp_path: Path) -> None:
    assert problems(tmp_path, PROFILES, profile="smoke") == ["profiles.smoke: profile not defined (known: full, quick)"]


def test_all_problems_are_collected(tmp_path: Path) -> None:
    text = BASE.replace("epochs = 2", "epochs = 0").replace("lr = 1e-3", 'lr = "x"').replace('"unet"', '"unet2"')
    assert len(problems(tmp_path, text)) == 3


# --- identity --------------------------------------------------------------------------------------------------

def test_id_is_stable_and_ignores_key_order(tmp_path: Path) -> None:
    a = load_suite(write(tmp_path, BASE, "a.toml")).cases()[0]
    reordered = BASE.replace("epochs = 2\nlr = 1e-3", "lr = 0.001\nepochs = 2").replace(
        "count = 8\nsize = 32", "size = 32\ncount = 8")
    b = load_suite(write(tmp_path, reordered, "b.toml")).cases()[0]
    assert a.id == b.id and len(a.id) == 12
    assert a.id == load_suite(write(tmp_path, BASE, "a.toml")).cases()[0].id


@pytest.mark.parametrize("old, new", [
    ("lr = 1e-3", "lr = 2e-3"), ("count = 8", "count = 9"), ("base = 8", "base = 16"),
    ("strength = 1e-3", "strength = 1e-3\nsymmetry = 1"), ("seeds = [0]", "seeds = [1]"),
    ("[train]", "[measure]\nwarmup = 3\n[train]"),
])
def test_any_change_changes_the_id(tmp_path: Path, old: str, new: str) -> None:
    assert old in BASE
    a = load_suite(write(tmp_path, BASE, "a.toml")).cases()[0]
    b = load_suite(write(tmp_path, BASE.replace(old, new), "b.toml")).cases()[0]
    assert a.id != b.id


def test_stage_key_depends_only_on_what_it_names(tmp_path: Path) -> None:
    text = BASE.replace("seeds = [0]", "seeds = [0, 1]") + '[matrix]\n"morph.symmetry" = [1, 2]\n"morph.strength" = [1e-3, 1e-2]\n'
    cases = load_suite(write(tmp_path, text)).cases()
    base = {stage_key(c, "base", ["data", "model", "train", "seed"]) for c in cases}
    learn = {stage_key(c, "learn", ["data", "model", "train", "seed", "morph.strength"]) for c in cases}
    shapes = {stage_key(c, "params", ["model"]) for c in cases}
    assert (len(cases), len(base), len(learn), len(shapes)) == (8, 2, 4, 1)
    assert stage_key(cases[0], "base", ["model"]) != stage_key(cases[0], "other", ["model"])
    with pytest.raises(BenchError, match="depends_on: 'morph.nope' names no setting"):
        stage_key(cases[0], "x", ["morph.nope"])


def test_case_round_trips_through_json_form(tmp_path: Path) -> None:
    case = load_suite(write(tmp_path, BASE + '[matrix]\n"morph.symmetry" = [2]\n')).cases()[0]
    again = Case.from_dict(case.to_dict())
    assert again == case


def test_profile_naming_another_data_set_replaces_the_table(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE + '[profiles.full]\ndata = { name = "inria", count = 6 }\n')
    case = load_suite(path, profile="full", data_path=tmp_path).cases()[0]
    assert case.config.data.name == "inria"
    assert "size" not in case.config.data.kwargs and case.config.data.kwargs["count"] == 6
    quick = load_suite(path).cases()[0]
    assert quick.config.data.kwargs == {"count": 8, "size": 32}
