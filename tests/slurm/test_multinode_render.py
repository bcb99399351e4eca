"""Multi-node and torchrun launches checked by RENDERING: this test cluster has one node, so a 2-node job
cannot run here. The batch scripts are rendered from the demo schema's ``launcher.slurm`` fields (and from
``[tool.heyhi.launcher]`` for a schema without them) and checked line by line (``bash -n`` too); each
rank's environment is computed from a FAKE Slurm environment of a second node (the variables Slurm sets
in a task there), through the same functions and the same ``python -m heyhi.runs.jobenv`` the job runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import pytest

from heyhi import launchers
from heyhi.config.compose import Composer
from heyhi.config.project import Project
from heyhi.errors import ConfigError, HeyHiError
from heyhi.launchers.slurm import spec_of, with_project_launcher
from heyhi.runs.jobenv import distributed_env, is_master, job_env, master_port
from heyhi.slurm.script import SlurmSpec, render_sbatch, resources

PY = "/opt/venv/bin/python"


def fake_node2_env(**more: str) -> dict[str, str]:
    """A FAKE Slurm task environment: rank 11 of a 16-task job on the second of two nodes."""
    return {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_JOB_NUM_NODES": "2",
            "SLURM_NTASKS": "16", "SLURM_PROCID": "11", "SLURM_LOCALID": "3", "SLURM_NODEID": "1",
            "SLURM_TASKS_PER_NODE": "8(x2)", **more}


def demo_script(tmp_path, demo_project, *overrides: str) -> str:
    composed = Composer(Project(demo_project)).compose(
        demo_project / "conf/c02_sup_train/sl.prototxt", ["Ilauncher=slurm_cpu", *overrides])
    launcher, settings = launchers.config_of(composed)
    assert launcher.name == "slurm"
    return render_sbatch(spec_of(settings, "t"), tmp_path / "run", PY)


def directives(script: str) -> dict[str, str]:
    return dict(m.groups() for m in re.finditer(r"^#SBATCH --([\w-]+)=(\S+)$", script, re.M))


def job_line(script: str) -> str:
    return next(line for line in script.splitlines() if "-m heyhi.job" in line)


def bash_ok(script: str, tmp_path) -> None:
    p = tmp_path / "s.sbatch"
    p.write_text(script)
    r = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_two_node_job_rendered_from_the_demo_schema(tmp_path, demo_project):
    script = demo_script(tmp_path, demo_project, "launcher.slurm.num_gpus=16", "launcher.slurm.nodes=2",
                         "launcher.slurm.cpus_per_gpu=4")
    d = directives(script)
    assert (d["nodes"], d["gpus-per-node"], d["ntasks-per-node"], d["cpus-per-task"]) == ("2", "8", "8", "4")
    line = job_line(script)
    assert line.startswith("srun --unbuffered --kill-on-bad-exit=1 ${SLURM_CPUS_PER_TASK:+--cpus-per-task=")
    assert line.endswith(f"{PY} -m heyhi.job {tmp_path / 'run'} &")
    bash_ok(script, tmp_path)


def test_two_cpu_nodes_with_explicit_tasks_per_node(tmp_path, demo_project):
    script = demo_script(tmp_path, demo_project, "launcher.slurm.nodes=2", "launcher.slurm.ntasks=3")
    d = directives(script)
    assert (d["nodes"], d["ntasks-per-node"], d["cpus-per-task"]) == ("2", "3", "1")
    assert "gpus-per-node" not in d and "#SBATCH --ntasks=1" not in script
    assert job_line(script).startswith("srun ")


def test_torchrun_two_nodes_rendered(tmp_path, demo_project):
    script = demo_script(tmp_path, demo_project, "launcher.slurm.num_gpus=16", "launcher.slurm.nodes=2",
                         "launcher.slurm.torchrun=true", "launcher.slurm.cpus_per_gpu=4")
    d = directives(script)
    # one Slurm task per node, holding all of the node's CPUs; torchrun starts 8 workers there
    assert (d["nodes"], d["gpus-per-node"], d["ntasks-per-node"], d["cpus-per-task"]) == ("2", "8", "1", "32")
    lines = script.splitlines()
    line = job_line(script)
    assert line.startswith("srun --unbuffered --kill-on-bad-exit=1 ")
    assert (f"{PY} -m heyhi.runs.torchrun --nnodes=2 --nproc_per_node=8 --rdzv_id=\"$SLURM_JOB_ID\" "
            f"--rdzv_backend=c10d --rdzv_endpoint=\"$MASTER_ADDR:$MASTER_PORT\" -m heyhi.job {tmp_path / 'run'} &"
            ) in line
    rdzv = f'eval "$({PY} -m heyhi.runs.jobenv --exports)" || exit 1'
    assert rdzv in lines and lines.index(rdzv) < lines.index(line)  # the endpoint is known before srun
    bash_ok(script, tmp_path)


def test_torchrun_cpu_workers_from_ntasks():
    r = resources(SlurmSpec(torchrun=True, ntasks=4, cpus_per_gpu=2))
    assert (r.nodes, r.ntasks_per_node, r.workers_per_node, r.cpus_per_task) == (1, 1, 4, 8)


def test_exports_of_the_batch_shell_on_a_fake_second_node():
    # the line the torchrun script evaluates, run for real with a FAKE Slurm environment
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TORCHELASTIC"))}
    r = subprocess.run([sys.executable, "-m", "heyhi.runs.jobenv", "--exports"], capture_output=True, text=True,
                       env={**env, **fake_node2_env()}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"export MASTER_ADDR=gpu07 MASTER_PORT={15000 + 4242}"


def test_rank_environment_on_a_fake_second_node():
    env = fake_node2_env()
    assert distributed_env(env) == {
        "RANK": "11", "LOCAL_RANK": "3", "WORLD_SIZE": "16", "LOCAL_WORLD_SIZE": "8", "NODE_RANK": "1",
        "GROUP_RANK": "1", "MASTER_ADDR": "gpu07", "MASTER_PORT": "19242"}
    e = job_env(env)
    assert (e.global_rank, e.node, e.num_nodes, e.hostnames) == (11, 1, 2, ("gpu07", "gpu08"))
    assert not is_master(environ=env) and is_master(environ={**env, "SLURM_PROCID": "0"})
    # uneven nodes: SLURM_TASKS_PER_NODE names each node's share
    assert distributed_env({**env, "SLURM_TASKS_PER_NODE": "8,5", "SLURM_NTASKS": "13"})["LOCAL_WORLD_SIZE"] == "5"


def test_torchrun_worker_keeps_torchs_environment():
    # a FAKE torchrun worker on the second node: torch set RANK etc.; Slurm's task is the node's one task
    env = fake_node2_env(SLURM_NTASKS="2", SLURM_PROCID="1", SLURM_LOCALID="0", SLURM_TASKS_PER_NODE="1(x2)",
                         TORCHELASTIC_RUN_ID="4242", RANK="9", LOCAL_RANK="1", WORLD_SIZE="16",
                         LOCAL_WORLD_SIZE="8")
    e = job_env(env)
    assert (e.global_rank, e.local_rank, e.num_tasks, e.local_num_tasks) == (9, 1, 16, 8)
    assert distributed_env(env) == {}  # nothing overwritten: torch's MASTER_ADDR/PORT stay
    assert not is_master(environ=env)


def test_master_port_is_derived_from_the_job_id_in_a_safe_range():
    assert master_port("4242") == 19242 and master_port("123_7") == 15123
    assert all(15000 <= master_port(str(j)) < 30000 for j in (0, 1, 14999, 15000, 10**17, 99999999))
    assert master_port("local") == 15000
    assert distributed_env({"PATH": "/bin"}) == {}  # outside Slurm: a local job is left alone


@pytest.mark.parametrize("fields, message", [
    pytest.param(dict(ntasks=2, single_task_per_node=True), "ntasks=2 (tasks per node) contradicts single_task_per_node",
                 id="ntasks-vs-single-task"),
    pytest.param(dict(num_gpus=6, nodes=4), "num_gpus=6 cannot be split evenly over nodes=4", id="uneven-gpus"),
    pytest.param(dict(num_gpus=32, nodes=2), "16 GPUs per node (num_gpus=32, nodes=2); at most 8", id="too-many"),
    pytest.param(dict(nodes=-1), "must be >= 0", id="negative"),
])
def test_bad_rank_fields_are_one_line_errors(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)) as e:
        resources(SlurmSpec(**fields))
    assert "\n" not in str(e.value)


def test_bad_tasks_per_node_variable_is_one_line():
    with pytest.raises(HeyHiError, match=r"bad Slurm environment: SLURM_TASKS_PER_NODE='8\(x2' is not a list"):
        job_env(fake_node2_env(SLURM_TASKS_PER_NODE="8(x2"))


def test_schema_without_the_fields_takes_them_from_pyproject(proj):
    (proj / "pyproject.toml").write_text("[tool.heyhi.launcher]\nntasks = 2\nnodes = 1\n")
    composed = Composer(Project(proj)).compose(proj / "conf/probe/probe.prototxt", ["Ilauncher=slurm_cpu"])
    _, settings = launchers.config_of(composed)
    assert (settings["ntasks"], settings["nodes"]) == (2, 1)
    # where the schema has the field, the config wins
    assert with_project_launcher({"ntasks": 4}, {"launcher": {"ntasks": 2}})["ntasks"] == 4


@pytest.mark.parametrize("table, message", [
    pytest.param({"ntask": 2}, "pyproject.toml [tool.heyhi.launcher]: unknown field 'ntask'", id="typo"),
    pytest.param({"ntasks": "2"}, "pyproject.toml [tool.heyhi.launcher]: ntasks = '2': expected a whole number",
                 id="string"),
    pytest.param({"torchrun": 1}, "torchrun = 1: expected true or false", id="not-bool"),
    pytest.param(3, "pyproject.toml [tool.heyhi.launcher] must be a table", id="not-table"),
])
def test_bad_launcher_table_is_a_one_line_config_error(table, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        with_project_launcher({}, {"launcher": table})


FAKE_TORCHRUN = '''\
# A FAKE torch.distributed.run (torch is not installed here): like torchrun's agent, it starts one
# worker and waits for it; the worker writes the signal it got, then ends with status 3.
import subprocess
import sys

WORKER = """
import signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})  # held for sigtimedwait
open(sys.argv[1] + ".ready", "w").close()
got = signal.sigtimedwait({signal.SIGUSR2}, 60)
open(sys.argv[1], "w").write("USR2" if got else "nothing")
sys.exit(3)
"""


def main(args=None):
    sys.exit(subprocess.call([sys.executable, "-c", WORKER, args[-1]]))
'''


def test_torchrun_passes_the_time_limit_warning_on_to_its_workers(tmp_path):
    """Under torchrun srun's USR2 reaches the agent, not the job: ``heyhi.runs.torchrun`` sends it on
    to the agent's children (the workers) and the agent does not die of it. Run for real with a FAKE
    ``torch.distributed.run`` (named so: torch is not installed here)."""
    import signal
    import subprocess
    import sys

    from waiting import wait_for

    fake = tmp_path / "fake" / "torch" / "distributed"
    fake.mkdir(parents=True)
    for d in (fake.parent, fake):
        (d / "__init__.py").write_text("")
    (fake / "run.py").write_text(FAKE_TORCHRUN)
    out = tmp_path / "got"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), os.environ.get("PYTHONPATH", "")]))
    agent = subprocess.Popen([sys.executable, "-m", "heyhi.runs.torchrun", "--nnodes=1", str(out)], env=env)
    try:
        wait_for(lambda: (tmp_path / "got.ready").exists(), 30, "the fake worker to start")
        agent.send_signal(signal.SIGUSR2)
        assert agent.wait(30) == 3  # the agent lived on, and ended with its worker's status
    finally:
        agent.kill()
    assert out.read_text() == "USR2"
