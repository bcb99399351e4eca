"""Typed states and messages: run states, job states and error codes are ``str`` enums whose values
are today's strings (so no record and no frame changes its bytes), ``JobDetail`` carries typed
history entries and its summary as fields, every code the daemon sends is in the protocol's list,
and a client of another protocol version is refused in one line."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from daemon_util import DaemonProcess, raw_connect, recv_all
from waiting import wait_for

from heyhi.wire import protocol as P
from heyhi.runs import records as R
from heyhi.wire.client import Client
from heyhi.wire.framing import encode_frame, send_frame
from heyhi.states import FINAL_STATES, LIVE_STATES, JobState, RunState

RUN_STATES = ["not_started", "queued", "submitted", "running", "requeued", "completed", "crashed", "cancelled",
              "lost"]
ERROR_CODES = ["protocol", "bad_frame", "bad_request", "hello_timeout", "forbidden", "not_implemented", "not_found",
               "conflict", "invalid", "shutting_down", "internal", "refused", "taken", "nothing_started", "failed",
               "ambiguous", "not_running", "confirm", "idle_timeout"]


def test_enum_values_are_todays_strings():
    assert [s.value for s in RunState] == RUN_STATES
    assert [s.value for s in JobState] == RUN_STATES + ["wiped"]
    assert [c.value for c in P.ErrorCode] == ERROR_CODES and list(P.ERROR_CODES) == ERROR_CODES
    # The names every reader uses are the members, and a string read back compares equal to them.
    assert (R.QUEUED, R.COMPLETED, R.NOT_STARTED, P.NOT_FOUND) == (
        RunState.QUEUED, RunState.COMPLETED, RunState.NOT_STARTED, P.ErrorCode.NOT_FOUND)
    assert "running" in LIVE_STATES and "lost" in FINAL_STATES and JobState("wiped") is JobState.WIPED


def test_records_and_frames_keep_their_bytes(tmp_path):
    assert json.dumps({"state": RunState.CRASHED}, sort_keys=True) == json.dumps({"state": "crashed"}, sort_keys=True)
    R.RunDir(tmp_path).set_state(R.QUEUED, reason="r")
    assert '"state": "queued"' in (tmp_path / R.STATUS).read_text()
    job = P.JobInfo(job_id="j1", run_dir="/r", config="c", state=JobState.WIPED)
    plain = P.JobInfo(job_id="j1", run_dir="/r", config="c", state="wiped")
    assert encode_frame(P.to_wire(P.JobEvent(job))) == encode_frame(P.to_wire(P.JobEvent(plain)))
    assert encode_frame(P.to_wire(P.Error(P.NOT_FOUND, "x"))) == encode_frame(P.to_wire(P.Error("not_found", "x")))


def test_job_detail_round_trips_typed():
    detail = P.JobDetail(
        job=P.JobInfo(job_id="j1", run_dir="/r/j1", config="c", state="crashed", exit_code=3),
        history=[P.HistoryEntry("queued", 1.0), P.HistoryEntry("running", 2.0, pid=7, host="n1"),
                 P.HistoryEntry("crashed", 3.0, "exit code 3", 3, slurm_state="FAILED")],
        previous_runs=[P.PreviousRun("completed", 0, slurm_id="11", started=0.1, ended=0.5)],
        slurm_ids=["11", "12"], slurm_state="FAILED")
    back = P.from_wire(P.to_wire(detail))
    assert back == detail
    assert back.job.state is JobState.CRASHED
    assert [h.state for h in back.history] == [RunState.QUEUED, RunState.RUNNING, RunState.CRASHED]
    assert all(type(h.state) is RunState for h in back.history) and back.previous_runs[0].state is RunState.COMPLETED
    # A state this side has no name for (a test stand-in's, a newer daemon's) reads as the plain string.
    odd = P.from_wire({**P.to_wire(detail), "history": [{"state": "paused", "at": 0.0}]})
    assert odd.history[0].state == "paused" and type(odd.history[0].state) is str


def _error_codes_sent(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every ``Error(code, ...)`` in a daemon source file, the code as written."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Error":
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code"), None)
            out.append((node.lineno, ast.unparse(arg) if arg is not None else ""))
    return out


def test_every_code_the_daemon_sends_is_in_the_list():
    sent = [(p, line, code) for p in sorted((REPO / "heyhi_daemon").rglob("*.py")) for line, code in _error_codes_sent(p)]
    assert len(sent) > 20  # the scan sees the daemon's replies
    bad = [f"{p.relative_to(REPO)}:{line}: Error({code}, ...)" for p, line, code in sent
           if code.removeprefix("P.") not in P.ErrorCode.__members__]
    assert not bad, "codes not named by a protocol constant:\n" + "\n".join(bad)


def test_a_client_of_protocol_2_is_refused_in_one_line(sock):
    daemon = DaemonProcess.start(sock, hello_timeout=5, test_core=True)
    try:
        with raw_connect(sock, hello=False) as s:
            send_frame(s, P.to_wire(P.Hello(protocol=2, client="heyhi of protocol 2")))
            [reply] = recv_all(s)
    finally:
        daemon.stop()
    assert P.PROTOCOL_VERSION == 3
    assert isinstance(reply, P.Error) and reply.code == "protocol"
    assert "speaks protocol 3, the client speaks 2" in reply.message and "\n" not in reply.message


def test_show_lists_the_previous_run_and_the_history(sock, proj, tmp_path):
    daemon = DaemonProcess.start(sock, hello_timeout=5, stderr_dir=tmp_path)
    try:
        with Client(str(daemon.socket)) as c:
            r = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                   config=str(proj / "conf/probe/probe.prototxt"), overrides=["tag=typed"]))
            done = lambda: c.request(P.ShowJob(job=r.job_id)).job.state == "completed"  # noqa: E731
            wait_for(done, 60, "the first run")
            again = c.request(P.Restart(job=r.job_id, force=True))
            assert again.decision == "wipe and run" and again.job_id == r.job_id, again

            def second_ended():
                d = c.request(P.ShowJob(job=r.job_id))
                return len(d.previous_runs) == 1 and d.job.state in ("completed", "crashed", "lost") and d

            d = wait_for(second_ended, 120, "the second run to end")
            crash = Path(d.job.run_dir) / "CRASH.txt"
            assert d.job.state == "completed", (d.job.state, d.job.reason, crash.read_text()[-2000:] if crash.exists() else "")
        assert [h.state for h in d.history] == ["queued", "running", "completed"]
        assert d.previous_runs[0].state == "completed" and d.previous_runs[0].exit_code == 0
        assert d.slurm_ids == [] and d.slurm_state is None
        out = run_cli(["ctl", "show", r.job_id], cwd=proj)
    finally:
        daemon.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    hist = lines[lines.index("    history:") + 1:]
    assert "  previous run 1: completed  attempt=1 exit_code=0 jobid=local:" in hist[0]
    assert [line.split()[2] for line in hist[1:]] == ["queued", "running", "completed"]
    assert "_summary" not in out.stdout
