"""heyhi.wire.protocol, heyhi.wire.framing, heyhi.wire.paths and the daemon's receiving-side validation (no daemon)."""

from __future__ import annotations

import asyncio
import pickle
import os
import socket
import struct
import subprocess
import sys
import threading

import msgpack
import pytest

from heyhi.wire import protocol as P

from heyhi.wire import paths
from heyhi.wire.framing import (
    MAX_FRAME,
    FrameError,
    decode_body,
    decode_header,
    encode_frame,
    read_frame,
    recv_frame,
    send_frame,
    write_frame,
)
from heyhi.wire.protocol import (
    field_names,
    replace,
    ERROR_CODES,
    REQUESTS,
    RESPONSES,
    STREAMS,
    Cancel,
    DirEntry,
    DirListing,
    Error,
    FileData,
    Hello,
    JobDetail,
    JobEvent,
    JobInfo,
    JobList,
    Launch,
    Launched,
    ListDir,
    ListJobs,
    LogChunk,
    Logs,
    Ok,
    OverrideError,
    Ping,
    Pong,
    ProtocolError,
    ReadFile,
    Restart,
    ShowJob,
    Shutdown,
    Subscribe,
    Unsubscribe,
    Validate,
    ValidateResult,
    Welcome,
    Wipe,
    from_wire,
    to_wire,
)
from heyhi_daemon.validate import BadRequest, parse_request

JOB = JobInfo(
    job_id="j1", run_dir="/r/j1", config="conf/a.prototxt", state="running", tag="t",
    exit_code=None, launcher="slurm", slurm_id="123_4", pid=None, node="n1", created=1.5,
    started=2.5, ended=None, attempts=2,
)

MESSAGES = [
    pytest.param(Hello(protocol=1, client="t"), id="hello"),
    pytest.param(Welcome(daemon_version="0.1.0", protocol=1, pid=7, started=1.0), id="welcome"),
    pytest.param(Ping(), id="ping"),
    pytest.param(Pong(time=3.25), id="pong"),
    pytest.param(Shutdown(), id="shutdown"),
    pytest.param(Ok("done"), id="ok"),
    pytest.param(Error("not_found", "no job 'x'"), id="error"),
    pytest.param(Validate("/p", None, "conf/a.prototxt", ["lr=0.1", "Iopt=adam"]), id="validate"),
    pytest.param(ValidateResult(
        ok=False, errors=[OverrideError(1, "opt", "no include 'adam'", 1)],
        flat=[("lr", 0.1, "cli"), ("layers", [1, 2], "conf/a.prototxt:3:5"), ("x", None, "")],
        out_dir="/res/a/lr@0.1", out_dir_state="empty", task="train"), id="validate_result"),
    pytest.param(Launch("/p", "/res", "conf/a.prototxt", ["lr=0.1"], "restart", True, True,
                        "x/y", ""), id="launch"),
    pytest.param(Launched("j1", "/r/j1", "wipe+run", "mode restart"), id="launched"),
    pytest.param(ListJobs(state="running", text="lr"), id="list_jobs"),
    pytest.param(JobList([JOB, replace(JOB, job_id="j2")]), id="job_list"),
    pytest.param(ShowJob("j1"), id="show_job"),
    pytest.param(JobDetail(JOB, [P.HistoryEntry("queued", 1.0), P.HistoryEntry("crashed", 2.0, "exit code 3", 3)],
                           [P.PreviousRun("completed", 0, started=0.5, ended=0.75)], ["123", "124"], "FAILED"),
                 id="job_detail"),
    pytest.param(Restart("j1"), id="restart"),
    pytest.param(Cancel("j1"), id="cancel"),
    pytest.param(Wipe("j1", "j1"), id="wipe"),
    pytest.param(Logs("j1", "stderr", offset=10, follow=True), id="logs"),
    pytest.param(LogChunk("j1", "stderr", 10, b"\x00\xffbytes\n", eof=True), id="log_chunk"),
    pytest.param(Subscribe({"state": "running"}), id="subscribe"),
    pytest.param(JobEvent(JOB), id="job_event"),
    pytest.param(Unsubscribe(), id="unsubscribe"),
    pytest.param(ReadFile("/r/j1/a.txt", offset=5, length=100), id="read_file"),
    pytest.param(FileData("/r/j1/a.txt", 5, b"abc", 8), id="file_data"),
    pytest.param(ListDir("/r/j1"), id="list_dir"),
    pytest.param(DirListing("/r", [DirEntry("j1", True, 4096, 1.0)]), id="dir_listing"),
    pytest.param(P.SearchLog("j1", "stderr", "loss", regex=True, offset=10, backwards=True, max_hits=5),
                 id="search_log"),
    pytest.param(P.LogMatches("j1", "stdout", [0, 34], next=68, done=False, size=100), id="log_matches"),
    pytest.param(P.CheckConfigs(project_root="/p"), id="check_configs"),
    pytest.param(P.ConfigChecks([P.ConfigCheck("/p/conf/a.prototxt", "error", "a.prototxt:1:1: unknown field 'x'")],
                                total=1), id="config_checks"),
    pytest.param(P.Fields(project_root="/p", config="/p/conf/x.prototxt"), id="fields"),
    pytest.param(P.ListProfiles(project_root="/p"), id="list_profiles"),
    pytest.param(P.ProfileList([P.ProfileInfo("fast", "a quick run", True, ["num_steps=5", "lr=0.1"], "/p/pyproject.toml:4"),
                                P.ProfileInfo("rows", where="/p/conf/profiles.yaml:3", problem="x.csv: one run per row")]),
                 id="profile_list"),
    pytest.param(P.FieldList(task="train", fields=[P.FieldDoc("lr", "float", "0.5", "Learning rate.")],
                             includes={"launcher": ["local", "slurm_cpu"]}), id="field_list"),
    pytest.param(P.LaunchSweep(sweep_dir="/res/sweeps/a/b/lr@0.1_1234abcd", retry_failed=True, max_parallel=4),
                 id="launch_sweep"),
    pytest.param(P.SweepLaunched(sweep_id="s1", sweep_dir="/res/sweeps/x", total=6, to_launch=4,
                                 counts={"new": 4, "completed": 2}, detail="launching"), id="sweep_launched"),
    pytest.param(P.SweepStatus(sweep="s1", rows=True), id="sweep_status"),
    pytest.param(P.SweepList([P.SweepInfo(
        sweep_id="s1", sweep_dir="/res/sweeps/x", config="/p/conf/a.prototxt", kind="adaptive", metric="loss",
        direction="min", total=6, counts={"completed": 5, "running": 1}, active=True, budget=12, trials=6,
        best={"run_dir": "/r/a", "value": 0.25, "overrides": ["lr=0.1"]},
        rows=[{"params": {"lr": "0.1"}, "mean": 0.25, "std": 0.01, "n": 3}], errors=[], created=1.0)]),
        id="sweep_list"),
    pytest.param(P.CancelSweep(sweep="s1"), id="cancel_sweep"),
    pytest.param(P.DiffRuns(a="j1", b="j2", against_config=False), id="diff_runs"),
    pytest.param(P.ConfigDiff(a_label="/r/j1/config_meta.prototxt", b_label="/p/conf/a.prototxt lr=0.1",
                              changes=[P.FlatChange("lr", "0.5", "0.1"), P.FlatChange("tags", None, "[a]")],
                              total=2, text="--- a\n+++ b\n"), id="config_diff"),
    pytest.param(P.PlanSweep("/p", None, "/p/conf/a.prototxt", ["lr=[0.1,0.2]", "seed=range(2)"], "loss:min", True),
                 id="plan_sweep"),
    pytest.param(P.SweepPlan(ok=False, errors=[OverrideError(0, "lr", "'lr' expects float", 3)],
                             points=[("new", "/r/lr@0.1", "lr=0.1"), ("completed", "/r/lr@0.2", "lr=0.2")], total=2,
                             counts={"new": 1, "completed": 1}, summary="2 points: 1 new, 1 completed",
                             sweep_dir="/res/sweeps/a/b/lr_1234", sweep_id="0123456789"), id="sweep_plan"),
    pytest.param(P.SweepReport(sweep="s1", metric="acc:max"), id="sweep_report"),
    pytest.param(P.SweepDetail(P.SweepInfo(sweep_id="s1", sweep_dir="/res/sweeps/x", counts={"completed": 2}),
                               mode="min", keys=["lr"], points=[("completed", "/r/a", "lr=0.1 seed=0", 0.25),
                                                                ("new", "/r/b", "lr=0.1 seed=1", None)],
                               curves=[{"label": "lr=0.1", "steps": [0, 1], "mean": [0.5, 0.25], "n": 1}],
                               by_key={"lr": [["0.1", 0.25, 1]]}, retrain=["lr=0.1"], max_parallel=2),
                 id="sweep_detail"),
]


@pytest.mark.parametrize("msg", MESSAGES)
def test_round_trip_through_a_frame(msg):
    frame = encode_frame(to_wire(msg))
    assert decode_header(frame[:4]) == len(frame) - 4
    back = from_wire(decode_body(frame[4:]))
    assert back == msg
    assert type(back) is type(msg)


@pytest.mark.parametrize("msg", [p.values[0] for p in MESSAGES if isinstance(p.values[0], REQUESTS)])
def test_daemon_validates_every_request(msg):
    wire = decode_body(encode_frame(to_wire(msg))[4:])
    assert parse_request(wire) == msg


def test_every_message_is_covered_once():
    kinds = [str(c._defaults["kind"]) for c in REQUESTS + RESPONSES]
    assert len(kinds) == len(set(kinds))
    tested = {type(p.values[0]) for p in MESSAGES}
    assert tested == set(REQUESTS) | set(RESPONSES)
    assert set(STREAMS) <= set(REQUESTS)
    assert not set(REQUESTS) & set(RESPONSES)


def test_messages_are_frozen_slotted_and_typed():
    for cls in REQUESTS + RESPONSES:
        assert cls.__dict__["__slots__"] == field_names(cls) == tuple(cls.__annotations__), cls
        assert field_names(cls)[-1] == "kind" and "kind" not in cls.__match_args__, cls
    with pytest.raises(AttributeError, match="messages are immutable"):
        Ping().kind = "pong"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="messages are immutable"):
        del Logs("j").job
    with pytest.raises(AttributeError):
        Logs("j").extra = 1  # type: ignore[attr-defined]  (slots: no other attribute)
    with pytest.raises(TypeError):  # a required field
        Logs()  # type: ignore[call-arg]
    with pytest.raises(TypeError):  # an unknown field
        Logs("j", jobb="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):  # a field given twice
        Logs("j", job="k")  # type: ignore[misc]
    a, b = JobList(), JobList()
    a.jobs.append(JOB)
    assert b.jobs == []  # a fresh default per message
    assert replace(Logs("j"), follow=True) == Logs("j", follow=True)
    assert pickle.loads(pickle.dumps(Logs("j", offset=3))) == Logs("j", offset=3)
    assert repr(Logs("j")) == "Logs(job='j', stream='stdout', offset=None, last_lines=None, follow=False)"
    assert Ok("a") != Ok("b") and Ok("a") == Ok("a") and hash(Ok("a")) == hash(Ok("a"))


def test_wire_form_is_plain_data_with_kind():
    assert to_wire(Ping()) == {"kind": "ping"}
    assert to_wire(JobEvent(JOB))["job"]["slurm_id"] == "123_4"
    assert to_wire(ValidateResult(ok=True, flat=[("a", 1, "cli")]))["flat"] == [["a", 1, "cli"]]


@pytest.mark.parametrize("wire, message", [
    pytest.param([1, 2], "expected a message (a map), got list", id="not-a-map"),
    pytest.param({"time": 1.0}, "unknown message kind None", id="no-kind"),
    pytest.param({"kind": "nope"}, "unknown message kind 'nope'", id="unknown-kind"),
    pytest.param({"kind": "pong"}, "Pong:", id="missing-field"),
    pytest.param({"kind": "job_event", "job": "x"}, "JobInfo: expected a map, got str", id="bad-nested"),
    pytest.param({"kind": "wipe", "job": "a", "confirm_job": "b"}, "must repeat job", id="wipe-confirm"),
])
def test_from_wire_errors_are_one_line(wire, message):
    with pytest.raises(ProtocolError) as e:
        from_wire(wire)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_from_wire_ignores_fields_it_does_not_know():
    assert from_wire({"kind": "pong", "time": 1.0, "added_later": 3}) == Pong(1.0)


def test_error_codes_are_distinct():
    assert len(set(ERROR_CODES)) == len(ERROR_CODES)


# ---------------------------------------------------------------------------------------------
# Receiving-side validation


@pytest.mark.parametrize("wire, message", [
    pytest.param("ping", "bad request: Input should be a valid dictionary", id="not-a-map"),
    pytest.param({"time": 1}, "bad request: no 'kind' field", id="no-kind"),
    pytest.param({"kind": "pong", "time": 1.0}, "unknown request kind 'pong'", id="response-kind"),
    pytest.param({"kind": "show_job"}, "bad show_job request: job: Field required", id="missing"),
    pytest.param({"kind": "ping", "x": 1}, "bad ping request: x: Unexpected keyword", id="extra"),
    pytest.param({"kind": "logs", "job": "j", "stream": "stdin"}, "bad logs request: stream:",
                 id="bad-literal"),
    pytest.param({"kind": "logs", "job": "j", "offset": 1, "last_lines": 2},
                 "offset or last_lines, not both", id="logs-both"),
    pytest.param({"kind": "wipe", "job": "a", "confirm_job": "b"},
                 "bad wipe request: Value error, confirm_job 'b' must repeat job 'a'", id="wipe"),
    pytest.param({"kind": "validate", "project_root": 1, "results_root": None, "config": None},
                 "(and 1 more)", id="two-errors"),
])
def test_bad_requests_get_one_line(wire, message):
    with pytest.raises(BadRequest) as e:
        parse_request(wire)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------
# Framing


def test_header_is_big_endian_length():
    frame = encode_frame({"kind": "ping"})
    assert frame[:4] == struct.pack(">I", len(msgpack.packb({"kind": "ping"})))


@pytest.mark.parametrize("header", [
    pytest.param(struct.pack(">I", MAX_FRAME + 1), id="max+1"),
    pytest.param(b"\xff\xff\xff\xff", id="4GiB"),
    pytest.param(b"\x00\x00", id="short"),
])
def test_bad_headers_are_refused(header):
    with pytest.raises(FrameError):
        decode_header(header)


def test_max_frame_itself_is_allowed():
    assert decode_header(struct.pack(">I", MAX_FRAME)) == MAX_FRAME


@pytest.mark.parametrize("body", [
    pytest.param(b"\xc1", id="reserved-byte"),
    pytest.param(b"\x92\x01", id="truncated-array"),
    pytest.param(msgpack.packb(1) + msgpack.packb(2), id="two-objects"),
    pytest.param(b"", id="empty"),
])
def test_bodies_that_are_not_msgpack_are_refused(body):
    with pytest.raises(FrameError):
        decode_body(body)


def test_oversized_objects_are_not_sent():
    with pytest.raises(FrameError, match="exceeds"):
        encode_frame({"data": b"x" * (MAX_FRAME + 1)})
    with pytest.raises(FrameError, match="cannot encode"):
        encode_frame({"x": object()})


def test_recv_frame_over_a_socket():
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(5)
        frame = encode_frame({"kind": "ok", "detail": "x" * 100_000})
        sender = threading.Thread(target=lambda: [a.sendall(frame[i:i + 1000])
                                                  for i in range(0, len(frame), 1000)])
        sender.start()
        assert recv_frame(b) == {"kind": "ok", "detail": "x" * 100_000}
        sender.join()
        send_frame(a, [1, "two", b"3"])
        assert recv_frame(b) == [1, "two", b"3"]
        a.shutdown(socket.SHUT_WR)
        assert recv_frame(b) is None  # clean end between frames


def test_recv_frame_eof_inside_a_frame():
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(5)
        a.sendall(encode_frame({"kind": "ping"})[:-1])
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(FrameError, match="inside a frame"):
            recv_frame(b)


def test_oversized_header_is_refused_before_the_body_arrives():
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(5)  # a reader waiting for the body would time out instead of raising
        a.sendall(struct.pack(">I", MAX_FRAME + 1))
        with pytest.raises(FrameError, match="exceeds"):
            recv_frame(b)


async def test_async_frames_over_a_socket():
    a, b = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=a)
    with b:
        b.settimeout(5)
        await write_frame(writer, {"kind": "ping"})
        assert recv_frame(b) == {"kind": "ping"}
        send_frame(b, {"kind": "pong", "time": 1.0})
        assert await asyncio.wait_for(read_frame(reader), 5) == {"kind": "pong", "time": 1.0}
        b.sendall(struct.pack(">I", MAX_FRAME + 1))
        with pytest.raises(FrameError, match="exceeds"):
            await asyncio.wait_for(read_frame(reader), 5)
        b.sendall(encode_frame({"kind": "ping"})[:3])
        b.shutdown(socket.SHUT_WR)
        with pytest.raises(FrameError, match="inside a frame header"):
            await asyncio.wait_for(read_frame(reader), 5)
    writer.close()


# ---------------------------------------------------------------------------------------------
# Lean imports and paths


def test_blocking_client_stays_lean():
    code = (
        "import sys, heyhi.wire.client, heyhi.wire.paths\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('asyncio', 'pydantic', 'pydantic_core', 'textual', 'heyhi_daemon')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_socket_path_order(monkeypatch, tmp_path):
    monkeypatch.delenv("HEYHI_SOCKET", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.socket_path() == str(tmp_path / ".heyhi" / "daemon.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    assert paths.socket_path() == "/run/user/7/heyhi/daemon.sock"
    monkeypatch.setenv("HEYHI_SOCKET", str(tmp_path / "x.sock"))
    assert paths.socket_path() == str(tmp_path / "x.sock")
    assert paths.pid_path() == str(tmp_path / "x.pid")
    assert paths.log_path() == str(tmp_path / "x.log")
    assert paths.pid_path("/a/b") == "/a/b.pid"
    assert not (tmp_path / ".heyhi").exists()  # asking for a path creates nothing


def test_state_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HEYHI_STATE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.state_dir() == str(tmp_path / ".heyhi" / "state")
    monkeypatch.setenv("HEYHI_STATE_DIR", str(tmp_path / "st"))
    assert paths.state_dir() == str(tmp_path / "st")


def test_private_dir_is_0700(tmp_path):
    old = os.umask(0o022)
    try:
        made = paths.private_dir(str(tmp_path / "a" / "b"))
    finally:
        os.umask(old)
    assert os.stat(made).st_mode & 0o777 == 0o700
