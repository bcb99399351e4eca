"""Profiles (``heyhi.config.profiles``, ``--profile``, ``heyhi profiles``) on a copy of the demo project,
through real ``heyhi`` processes: declared in pyproject.toml or conf/profiles.yaml, the default,
``--profile none``, unknown names, duplicates, folders hashed from the expanded strings, the command
line winning, sweeps, completion and the listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

from heyhi.config.profiles import load_profiles
from heyhi.errors import ConfigError

SL = "conf/c02_sup_train/sl.prototxt"

PYPROJECT = """[project]
name = "demo"

[tool.heyhi]
default-profile = "fast"

[tool.heyhi.profiles.fast]
description = "a quick smoke run"
flags = ["conf/flags/fast.yaml"]
overrides = ["num_steps=10"]

[tool.heyhi.profiles.wide]
description = "a wider batch"
overrides = ["batch_size=256", "optimizer=MOMENTUM"]
"""

PROFILES_YAML = """# profiles beside the configs
profiles:
  tiny:
    description: a tiny run
    flags: [conf/flags/tiny.ini]
    overrides: [num_steps=3]
  plain:
    description: no change at all
default: tiny
"""


@pytest.fixture
def project(demo_project) -> Path:
    (demo_project / "conf" / "flags").mkdir()
    (demo_project / "conf" / "flags" / "fast.yaml").write_text("lr: 0.25\nbatch_size: 16\n")
    (demo_project / "conf" / "flags" / "tiny.ini").write_text("lr = 0.05\n[data]\nnoise = 0.3\n")
    return demo_project


def out_dir(cwd: Path, *argv: str) -> str:
    r = run_cli(["run", "-c", SL, "--print-out-dir", *argv], cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def flat(cwd: Path, *argv: str) -> dict[str, str]:
    r = run_cli(["run", "-c", SL, "--print-flat", *argv], cwd=cwd)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines())


def one_line_error(r) -> str:
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("heyhi: ") and "Traceback" not in r.stderr, r.stderr
    return r.stderr.strip()


# ---- the API -----------------------------------------------------------------------------------------


def test_expand_gives_absolute_flag_files_then_overrides(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    import tomllib

    settings = tomllib.loads(PYPROJECT)["tool"]["heyhi"]
    ps = load_profiles(project, settings)
    fast = [f"@{project / 'conf' / 'flags' / 'fast.yaml'}", "num_steps=10"]
    assert ps.names() == ["fast", "wide"] and ps.default == "fast"
    assert ps.expand("fast") == fast and ps.expand(None) == fast
    assert ps.expand("none") == [] and ps.expand("wide") == ["batch_size=256", "optimizer=MOMENTUM"]
    assert ps.by_name["fast"].where == f"{project / 'pyproject.toml'}:7"
    with pytest.raises(ConfigError, match=r"--profile fsat: unknown profile; did you mean: fast.*\(profiles: fast, wide"):
        ps.expand("fsat")
    assert load_profiles(project, {}).expand(None) == []  # nothing declared: nothing


# ---- pyproject.toml ------------------------------------------------------------------------------------


def test_a_profile_from_pyproject_names_the_folder_of_its_expansion_typed_by_hand(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    by_hand = out_dir(project, "--profile", "none", f"@{project / 'conf/flags/fast.yaml'}", "num_steps=10")
    assert out_dir(project, "--profile", "fast") == by_hand
    assert out_dir(project) == by_hand  # the default profile
    assert Path(by_hand).name.startswith("bat@16@lr@0.25@num@10_")
    assert out_dir(project, "--profile", "none") == out_dir(project, "--profile=none")
    assert Path(out_dir(project, "--profile", "none")).name == "default_d7517139"  # no profile: the plain folder
    assert flat(project, "--profile", "wide")["optimizer"] == "MOMENTUM"


def test_the_command_line_wins_over_the_profile(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    values = flat(project, "--profile", "fast", "num_steps=20", "lr=0.5")
    assert (values["num_steps"], values["lr"], values["batch_size"]) == ("20", "0.5", "16")
    assert out_dir(project, "num_steps=20") == out_dir(
        project, "--profile", "none", f"@{project / 'conf/flags/fast.yaml'}", "num_steps=10", "num_steps=20")


# ---- conf/profiles.yaml -----------------------------------------------------------------------------


def test_profiles_from_conf_profiles_yaml_and_their_default(project):
    (project / "conf" / "profiles.yaml").write_text(PROFILES_YAML)
    values = flat(project)
    assert (values["num_steps"], values["lr"], values["data.noise"]) == ("3", "0.05", "0.3")
    assert out_dir(project) == out_dir(project, "--profile", "none", f"@{project / 'conf/flags/tiny.ini'}",
                                       "num_steps=3")
    assert Path(out_dir(project, "--profile", "plain")).name == "default_d7517139"


def test_a_sweep_file_takes_the_profile_before_its_command_line(project):
    (project / "conf" / "profiles.yaml").write_text(PROFILES_YAML)
    sf = project / "conf" / "sw.yaml"
    sf.write_text("config: c02_sup_train/sl.prototxt\nspace:\n  seed: [0, 1]\n")
    r = run_cli(["sweep", str(sf), "--print-out-dir", "--profile", "tiny", "num_steps=7"], cwd=project)
    assert r.returncode == 0, r.stderr
    want = [out_dir(project, "--profile", "none", "seed=0", f"@{project / 'conf/flags/tiny.ini'}", "num_steps=3",
                    "num_steps=7"),
            out_dir(project, "--profile", "none", "seed=1", f"@{project / 'conf/flags/tiny.ini'}", "num_steps=3",
                    "num_steps=7")]
    assert r.stdout.split() == want
    plain = run_cli(["sweep", str(sf), "--print-out-dir", "--profile", "none"], cwd=project)
    assert [Path(d).name.split("_")[0] for d in plain.stdout.split()] == ["seed@0", "seed@1"], plain.stderr


# ---- errors -----------------------------------------------------------------------------------------


def test_an_unknown_profile_says_did_you_mean_and_lists_them(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    for argv in (["run", "-c", SL, "--profile", "fsat"], ["sweep", "conf/sweeps/lr_search.yaml", "--plan",
                                                         "--profile", "fsat"]):
        err = one_line_error(run_cli(argv, cwd=project))
        assert err == "heyhi: --profile fsat: unknown profile; did you mean: fast, wide (profiles: fast, wide; " \
                      "none: no profile)", err
    (project / "pyproject.toml").unlink()
    err = one_line_error(run_cli(["run", "-c", SL, "--profile", "fast"], cwd=project))
    assert "--profile fast: no profiles are declared" in err, err


def test_a_name_declared_in_both_places_is_an_error_naming_both(project):
    (project / "pyproject.toml").write_text(PYPROJECT.replace('default-profile = "fast"\n', ""))
    (project / "conf" / "profiles.yaml").write_text("profiles:\n  plain: {}\n  fast:\n    overrides: [seed=1]\n")
    err = one_line_error(run_cli(["run", "-c", SL, "--print-out-dir"], cwd=project))
    assert err == f"heyhi: profile 'fast' is declared twice: {project / 'pyproject.toml'}:6 and " \
           f"{project / 'conf' / 'profiles.yaml'}:3", err
    (project / "conf" / "profiles.yaml").write_text("default: plain\nprofiles:\n  plain: {}\n")
    (project / "pyproject.toml").write_text(PYPROJECT)
    err = one_line_error(run_cli(["profiles"], cwd=project))
    assert err == f"heyhi: the default profile is set twice: {project / 'pyproject.toml'}:5 and " \
                  f"{project / 'conf' / 'profiles.yaml'}:1", err


@pytest.mark.parametrize("yaml_text, line, words", [
    pytest.param("profiles:\n  fast:\n    descripton: x\n", 3, "profile 'fast': unknown key 'descripton'; did you mean: "
                 "description", id="unknown-field"),
    pytest.param("profiles:\n  fast: {}\ndefault: fsat\n", 3, "default profile 'fsat' is not declared; did you mean: fast",
                 id="default-not-declared"),
    pytest.param("profiles:\n  fast:\n    overrides: [seed]\n", 3, "override 'seed': expected key=value", id="no-equals"),
    pytest.param("profiles:\n  fast:\n    overrides: ['@x.yaml']\n", 3, "name flag files in flags", id="at-in-overrides"),
    pytest.param("profiles:\n  none: {}\n", 2, "the name is taken", id="reserved-name"),
    pytest.param("profile:\n  fast: {}\n", 1, "unknown key 'profile'; did you mean: profiles", id="top-key"),
    pytest.param("profiles:\n  fast:\n    flags: conf/flags/missing.yaml\ndefault: fast\n", 2,
                 "profile 'fast': flag file ", id="missing-flag-file"),
])
def test_bad_declarations_are_one_line_naming_file_and_line(project, yaml_text, line, words):
    (project / "conf" / "profiles.yaml").write_text(yaml_text)
    err = one_line_error(run_cli(["run", "-c", SL, "--print-out-dir"], cwd=project))
    assert f"{project / 'conf' / 'profiles.yaml'}:{line}: " in err and words in err, err


def test_a_bad_pyproject_declaration_names_its_table(project):
    (project / "pyproject.toml").write_text(PYPROJECT.replace('overrides = ["batch_size=256"', 'overides = ["batch_size=256"'))
    err = one_line_error(run_cli(["run", "-c", SL, "--profile", "none", "--print-out-dir"], cwd=project))
    assert f"{project / 'pyproject.toml'}:12: profile 'wide': unknown key 'overides'; did you mean: overrides" in err, err


def test_profile_is_refused_with_remote(project):
    err = one_line_error(run_cli(["run", "--remote", "nohost", "-c", SL, "--profile", "fast"], cwd=project))
    assert "--profile is not available with --remote" in err, err


# ---- heyhi profiles, help, completion ---------------------------------------------------------------


def test_heyhi_profiles_lists_name_default_description_and_expansion(project):
    r = run_cli(["profiles"], cwd=project)
    assert r.returncode == 0 and r.stdout.startswith("no profiles in "), r.stderr
    (project / "pyproject.toml").write_text(PYPROJECT)
    r = run_cli(["profiles"], cwd=project / "conf")  # found from inside conf/ too
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "fast *  a quick smoke run  (pyproject.toml:7)",
        f"    @{project / 'conf/flags/fast.yaml'} num_steps=10",
        "wide  a wider batch  (pyproject.toml:12)",
        "    batch_size=256 optimizer=MOMENTUM",
    ]
    (project / "conf" / "flags" / "fast.yaml").unlink()
    r = run_cli(["profiles", "--project", str(project)], cwd=project.parent)
    assert r.returncode == 0 and f"    (missing: {project / 'conf/flags/fast.yaml'})" in r.stdout.splitlines(), r.stdout
    assert run_cli(["help", "profiles"]).stdout == run_cli(["profiles", "--help"]).stdout
    assert "--profile PROFILE" in run_cli(["help", "run"]).stdout and "--profile PROFILE" in run_cli(["help", "sweep"]).stdout
    err = one_line_error(run_cli(["profiles", "extra"], cwd=project))
    assert "unexpected argument 'extra'" in err, err


def test_completion_offers_the_profiles_after_dash_dash_profile(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "conf" / "profiles.yaml").write_text("profiles:\n  tiny: {}\n")
    for line in (f"heyhi run -c {SL} --profile ", "heyhi sweep conf/sweeps/lr_search.yaml --profile "):
        r = run_cli(["__complete", "bash", str(len(line)), line], cwd=project)
        assert r.returncode == 0 and sorted(r.stdout.splitlines()[1:]) == ["fast", "none", "tiny", "wide"], (r.stdout, r.stderr)
    line = f"heyhi run -c {SL} --profile=w"
    r = run_cli(["__complete", "bash", str(len(line)), line], cwd=project)
    assert "--profile=wide" in r.stdout.splitlines() or "wide" in r.stdout.splitlines(), r.stdout
