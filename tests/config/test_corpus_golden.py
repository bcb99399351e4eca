"""What users see on the corpus stays byte for byte: ``--print``, ``--print-flat``, ``--print-flat-all``,
``--print-out-dir`` and the error lines, on every top-level config of ``../shared/corpus``.

The golden files in ``tests/fixtures/corpus_outputs/`` were captured before the core was rearranged into
wings (issue 12). Regenerate them only on purpose: ``HEYHI_REGEN_GOLDEN=1 pytest tests/config/test_corpus_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "corpus_outputs"

TOP_LEVEL = [
    "ag_pop_cmp/cmp", "ag_pop_cmp/template", "c01_ag_cmp/cmp", "c02_sup_train/sl_20200901",
    "c02_sup_train/sl_20211119_base", "c02_sup_train/for_tests/sl_202106_heavy",
    "c02_sup_train/for_tests/sl_20211102_heavy_transfdec", "c04_exploit/research_20221001_paper_cicero",
    "c04_exploit/research_20221001_paper_diplodocus_high", "c07_play_webdip/play",
]

# (label, extra argv): the four print flags, and inputs that must fail with HeyHi's one-line errors
CASES = [
    ("print", ["--print"]),
    ("print-flat", ["--print-flat"]),
    ("print-flat-all", ["--print-flat-all"]),
    ("print-out-dir", ["--print-out-dir"]),
    ("print-out-dir-overrides", ["--print-out-dir", "Ilauncher=slurm_8gpus", "launcher.slurm.num_gpus=2"]),
    ("error-unknown-key", ["--print-flat", "no_such_field=1"]),
    ("error-unknown-include", ["--print-flat", "Ilauncher=no_such_include"]),
    ("error-bad-value", ["--print-flat", "launcher.slurm.num_gpus=many"]),
    ("error-bad-token", ["--print-flat", "=3"]),
]


def _capture(cfg: str, corpus: Path, results: Path) -> str:
    out = []
    for label, argv in CASES:
        r = run_cli(["run", "-c", f"conf/{cfg}.prototxt", *argv], cwd=corpus, env={"HH_EXP_DIR": str(results)})
        text = lambda s: s.replace(str(results), "<HH_EXP_DIR>")
        out.append(f"==== {label}: exit {r.returncode}\n---- stdout\n{text(r.stdout)}---- stderr\n{text(r.stderr)}")
    return "".join(out)


@pytest.mark.parametrize("cfg", TOP_LEVEL)
def test_corpus_outputs_unchanged(cfg, corpus, tmp_path):
    got = _capture(cfg, corpus, tmp_path / "results")
    golden = GOLDEN / (cfg.replace("/", "__") + ".txt")
    if os.environ.get("HEYHI_REGEN_GOLDEN") == "1":
        golden.write_text(got)
    assert "Traceback" not in got
    assert got == golden.read_text()
