"""The daemon protocol: every message defined once, as a frozen, slotted class with a literal ``kind`` tag.

Requests go client -> daemon, responses daemon -> client; ``Request`` and ``Response`` are the two
unions. ``to_wire`` / ``from_wire`` turn a message into the plain dict sent as one msgpack frame
(``heyhi.wire.framing``) and back. This module is stdlib only, so the CLI stays lean; the daemon validates
what it receives once, with pydantic, in ``heyhi_daemon.validate``. ``docs/protocol.md`` describes
the handshake, the error codes and the stream semantics.

Compatibility rule: ``Hello``, ``Welcome`` and ``Error`` keep their shape forever, so that a
mismatched client and daemon can always tell each other which protocol they speak. Any other change
to a message bumps ``PROTOCOL_VERSION``.

Messages are declared like dataclasses (annotated fields, defaults, ``_kind``, ``_factory``) but built by
``_Message``, a metaclass that only records the fields: ``dataclasses`` would generate and ``exec``
five methods per class, ~25 ms for the 48 classes here, on every ``heyhi ctl`` start. ``replace`` and
``field_names`` stand in for ``dataclasses.replace`` and ``fields``.
"""

from __future__ import annotations

from enum import StrEnum
TYPE_CHECKING = False  # not typing's: importing typing costs ``heyhi ctl`` ~5 ms
if TYPE_CHECKING:  # annotations only (strings here)
    from typing import Any, Literal

from heyhi.errors import HeyHiError
from heyhi.states import JobState, RunState

# 2: Launch.expect_state, Launched.state, Restart.force, Wipe.purge/expect_state
# 3: JobDetail.history as HistoryEntry, and previous_runs, slurm_ids, slurm_state (no "_summary" row)
PROTOCOL_VERSION = 3


class ErrorCode(StrEnum):
    """``Error.code`` values (docs/protocol.md lists when each is sent). Each member is its string, so
    the wire carries the same bytes; a client decodes ``Error.code`` as a plain ``str``, so a code it
    does not know (from another version) still reads."""

    PROTOCOL = "protocol"  # no Hello first, or a protocol version the daemon does not speak
    BAD_FRAME = "bad_frame"  # not a frame: oversized, truncated or not msgpack (the connection closes)
    BAD_REQUEST = "bad_request"  # a frame that is not a valid request (the connection stays open)
    HELLO_TIMEOUT = "hello_timeout"  # no Hello within the bound after connecting
    FORBIDDEN = "forbidden"  # the peer runs as another user
    NOT_IMPLEMENTED = "not_implemented"  # the daemon's core does not serve this request (yet)
    NOT_FOUND = "not_found"  # no such job, file or folder
    CONFLICT = "conflict"  # the request clashes with the current state (folder taken, job running)
    INVALID = "invalid"  # a config or override the core rejected (message names where and what)
    SHUTTING_DOWN = "shutting_down"  # the daemon is stopping; a running stream ends with this
    INTERNAL = "internal"  # a bug in the daemon; its log has the traceback
    REFUSED = "refused"  # a write or wipe the safety rules refuse (the message names the folder and rule)
    TAKEN = "taken"  # the run folder is locked by another launch, or busy (exit 3)
    NOTHING_STARTED = "nothing_started"  # the launch started nothing (sbatch failed, no cluster): exit 69
    FAILED = "failed"  # the request was valid but could not be carried out (the message says why)
    AMBIGUOUS = "ambiguous"  # a job id prefix matching several jobs
    NOT_RUNNING = "not_running"  # cancel of a job that is not queued or running
    CONFIRM = "confirm"  # a wipe that needs the job named twice
    IDLE_TIMEOUT = "idle_timeout"  # a connection with no request in flight and no stream, closed (wire/limits.py)


# The codes as module names too (``P.NOT_FOUND``), as every reader spells them.
PROTOCOL = ErrorCode.PROTOCOL
BAD_FRAME = ErrorCode.BAD_FRAME
BAD_REQUEST = ErrorCode.BAD_REQUEST
HELLO_TIMEOUT = ErrorCode.HELLO_TIMEOUT
FORBIDDEN = ErrorCode.FORBIDDEN
NOT_IMPLEMENTED = ErrorCode.NOT_IMPLEMENTED
NOT_FOUND = ErrorCode.NOT_FOUND
CONFLICT = ErrorCode.CONFLICT
INVALID = ErrorCode.INVALID
SHUTTING_DOWN = ErrorCode.SHUTTING_DOWN
INTERNAL = ErrorCode.INTERNAL
REFUSED = ErrorCode.REFUSED
TAKEN = ErrorCode.TAKEN
NOTHING_STARTED = ErrorCode.NOTHING_STARTED
FAILED = ErrorCode.FAILED
AMBIGUOUS = ErrorCode.AMBIGUOUS
NOT_RUNNING = ErrorCode.NOT_RUNNING
CONFIRM = ErrorCode.CONFIRM
IDLE_TIMEOUT = ErrorCode.IDLE_TIMEOUT

ERROR_CODES: tuple[ErrorCode, ...] = tuple(ErrorCode)


class ProtocolError(HeyHiError):
    """A message that does not decode: unknown kind, missing or unexpected fields."""


class DaemonError(HeyHiError):
    """The daemon answered ``Error(code, message)``, or could not be talked to."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


class DaemonUnavailable(DaemonError):
    """Nothing listens on the socket (the CLI then runs embedded)."""


class ProtocolMismatch(DaemonError):
    """The daemon speaks another protocol version."""


class _Kind(str):
    """The default of a ``kind`` field: keyword-only, so the message's own fields keep their order."""

    __slots__ = ()


def _kind(name: str) -> Any:
    """The ``kind`` field's default (keyword-only)."""
    return _Kind(name)


class _Factory:
    """A default made fresh for each message (a list, a dict), as ``field(default_factory=...)``."""

    __slots__ = ("make",)

    def __init__(self, make: Any):
        self.make = make


def _factory(make: Any) -> Any:
    return _Factory(make)


class _Message(type):
    """Builds a message class from its annotations: ``__slots__`` in field order, the defaults kept
    aside (``_defaults``), the positional fields (all but ``kind``) as ``__match_args__``."""

    def __new__(mcls, name: str, bases: tuple, ns: dict):
        names = tuple(ns.get("__annotations__", {}))
        defaults = {n: ns.pop(n) for n in names if n in ns}
        ns["__slots__"] = names
        cls = super().__new__(mcls, name, bases, ns)
        cls._fields = names
        cls._defaults = defaults
        cls._positional = tuple(n for n in names if not isinstance(defaults.get(n), _Kind))
        cls.__match_args__ = cls._positional
        return cls


_MISSING = object()


def _make_init(cls: type) -> Any:
    """``cls.__init__``: positional-or-keyword fields in order, ``kind`` keyword-only, fresh factory
    defaults, then the class's ``__post_init__`` check if it has one."""
    ns: dict[str, Any] = {"_set": object.__setattr__, "_MISSING": _MISSING}
    params, body = [], []
    for n in cls._fields:
        d = cls._defaults.get(n, _MISSING)
        if isinstance(d, _Kind):
            continue
        if isinstance(d, _Factory):
            ns[f"_f_{n}"] = d.make
            params.append(f"{n}=_MISSING")
            body.append(f"    if {n} is _MISSING:\n        {n} = _f_{n}()")
        elif d is _MISSING:
            params.append(n)
        else:
            ns[f"_d_{n}"] = d
            params.append(f"{n}=_d_{n}")
        body.append(f"    _set(self, {n!r}, {n})")
    if isinstance(cls._defaults.get("kind"), _Kind):  # a message's tag (a value may have a plain ``kind``)
        ns["_d_kind"] = str(cls._defaults["kind"])
        params.append("*")
        params.append("kind=_d_kind")
        body.append("    _set(self, 'kind', kind)")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__name__}.__init__"
    return init


def _rebuild(cls: type, values: tuple) -> Any:
    obj = object.__new__(cls)
    for n, v in zip(cls._fields, values):
        object.__setattr__(obj, n, v)
    return obj


class FrozenMessage(AttributeError):
    """Assigning to a message's field: messages are immutable (use ``replace``)."""


class _Value(metaclass=_Message):
    """Base of every message and value: ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and
    immutability written once, over the class's fields, instead of generated per class
    (``import heyhi.wire.client`` must stay cheap)."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any):
        # The first message of a class writes that class's own __init__ (as dataclasses would, but
        # only for the classes a process uses, so importing the protocol stays cheap).
        cls = type(self)
        cls.__init__ = _make_init(cls)
        cls.__init__(self, *args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenMessage(f"cannot assign to field {name!r} of {type(self).__name__}: messages are immutable")

    def __delattr__(self, name: str) -> None:
        raise FrozenMessage(f"cannot delete field {name!r} of {type(self).__name__}: messages are immutable")

    def __reduce__(self) -> tuple:
        return _rebuild, (type(self), tuple(getattr(self, n) for n in type(self)._fields))

    def __repr__(self) -> str:
        names = _FIELDS[type(self)]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names if n != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS[type(self)])

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _FIELDS[type(self)]))


def _message(cls: type) -> type:
    """Marks a message or value class (the metaclass has built it); kept so each one reads as declared."""
    return cls


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of a message or value class, in order (``kind`` last)."""
    return cls._fields


def field_types(cls: type) -> dict[str, Any]:
    """The fields of a message or value class with their types evaluated (the annotations are strings
    here), for the daemon's validation and for tests; ``typing.get_type_hints`` would not find
    ``Literal`` and ``Any``, which this module imports only for type checkers."""
    from typing import Any, Literal  # lean: heyhi ctl never evaluates an annotation

    names = {**globals(), "Any": Any, "Literal": Literal}
    return {n: eval(cls.__annotations__[n], names) for n in cls._fields}


def replace(msg: Any, **changes: Any) -> Any:
    """A copy of ``msg`` with ``changes`` (as ``dataclasses.replace``)."""
    cls = type(msg)
    values = {n: getattr(msg, n) for n in cls._fields}
    values.update(changes)
    return cls(**values)


# ---------------------------------------------------------------------------------------------
# Values carried inside messages (no kind of their own)


@_message
class OverrideError(_Value):
    """One bad override: ``index`` into ``overrides``, the key it names, and the column in it."""

    index: int
    key: str
    message: str
    col: int | None = None


@_message
class JobInfo(_Value):
    """One run as the daemon tracks it: ``state`` as in the run folder's heyhi.status.json, or
    ``wiped`` (``JobState``)."""

    job_id: str
    run_dir: str
    config: str
    state: JobState
    tag: str = ""
    reason: str = ""
    exit_code: int | None = None
    launcher: str = "local"
    slurm_id: str | None = None
    pid: int | None = None
    node: str | None = None
    created: float | None = None
    started: float | None = None
    ended: float | None = None
    attempts: int = 0
    # Optional (older daemons send neither): the overrides as the run records them (None: not
    # known here, e.g. too long for a summary: read the run folder's heyhi.overrides), and the
    # project root the run belongs to ("": not known).
    overrides: list[str] | None = None
    project: str = ""
    # Optional (older daemons send none): a Slurm run's CPU-hours and GPU-hours as the daemon recorded
    # them from sacct when the job ended (None: not known, or not a Slurm run), and the latest warning
    # of the live efficiency check ("": none; heyhi.slurm.efficiency), also sent as a JobEvent.
    cpu_hours: float | None = None
    gpu_hours: float | None = None
    efficiency_warning: str = ""


@_message
class HistoryEntry(_Value):
    """One state change of a run, as its heyhi.status.json history records it: the state, when
    (unix seconds), and what its writer said (None or "": not recorded)."""

    state: RunState
    at: float
    reason: str = ""
    exit_code: int | None = None
    attempt: int | None = None
    launcher: str = ""
    slurm_id: str | None = None
    slurm_state: str = ""
    jobid: str | None = None
    pid: int | None = None
    host: str = ""


@_message
class PreviousRun(_Value):
    """An earlier run of a job, wiped by a restart of the same folder: how it ended."""

    state: RunState
    exit_code: int | None = None
    reason: str = ""
    slurm_id: str | None = None
    jobid: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    attempt: int | None = None


@_message
class DirEntry(_Value):
    """One entry of a ``DirListing``; ``mtime`` in unix seconds."""

    name: str
    is_dir: bool
    size: int
    mtime: float


# ---------------------------------------------------------------------------------------------
# Handshake and control


@_message
class Hello(_Value):
    """First message of every connection (client -> daemon)."""

    protocol: int
    client: str = ""
    kind: Literal["hello"] = _kind("hello")


@_message
class Welcome(_Value):
    """The daemon's answer to a matching ``Hello``; ``started`` is its start time (unix seconds)."""

    daemon_version: str
    protocol: int
    pid: int
    started: float
    kind: Literal["welcome"] = _kind("welcome")


@_message
class Ping(_Value):
    """Answered by ``Pong``: a liveness check and round-trip probe."""

    kind: Literal["ping"] = _kind("ping")


@_message
class Pong(_Value):
    """``time``: the daemon's clock (unix seconds)."""

    time: float
    kind: Literal["pong"] = _kind("pong")


@_message
class Shutdown(_Value):
    """Stop the daemon: it replies ``Ok`` first, then stops."""

    kind: Literal["shutdown"] = _kind("shutdown")


@_message
class Ok(_Value):
    """Success without data; also closes every stream."""

    detail: str = ""
    kind: Literal["ok"] = _kind("ok")


UNSUBSCRIBED = "unsubscribed"  # Ok.detail answering Unsubscribe during a stream (and ending it)
NO_STREAM = "no stream is running"  # Ok.detail answering Unsubscribe after the stream ended by itself


@_message
class Error(_Value):
    """A failed request: ``code`` (one of ``ERROR_CODES``) and a one-line ``message``."""

    code: str
    message: str
    kind: Literal["error"] = _kind("error")


def checked(reply: Any) -> Any:
    """``reply``, unless it is an ``Error``: that raises ``DaemonError`` (both clients, one rule)."""
    if isinstance(reply, Error):
        raise DaemonError(reply.code, reply.message)
    return reply


def ends_stream(reply: Any) -> bool:
    """Whether ``reply`` closes a stream (``Ok``, or an ``Error``, which ``checked`` raises)."""
    return isinstance(reply, (Ok, Error))


# ---------------------------------------------------------------------------------------------
# Configs and launches


@_message
class Validate(_Value):
    """Compose ``config`` with ``overrides`` and say where it would run, without running it."""

    project_root: str
    results_root: str | None
    config: str
    overrides: list[str] = _factory(list)
    mode: str = "gentle_start"
    adhoc: bool = False
    kind: Literal["validate"] = _kind("validate")


@_message
class ValidateResult(_Value):
    """``flat`` holds (key, value, source) for every set field; ``out_dir_state`` says what the
    folder holds (e.g. "empty", "running", "done") and ``task`` the task the config runs."""

    ok: bool
    errors: list[OverrideError] = _factory(list)
    flat: list[tuple[str, Any, str]] = _factory(list)
    out_dir: str = ""
    out_dir_state: str = ""
    task: str = ""
    flat_where: list[str] = _factory(list)  # per row of flat: path:line (relative to conf/) of the writer(s)
    kind: Literal["validate_result"] = _kind("validate_result")


@_message
class Launch(_Value):
    """Compose, pick the run folder, decide (by ``mode``) and launch; answered by ``Launched``."""

    project_root: str
    results_root: str | None
    config: str
    overrides: list[str] = _factory(list)
    mode: str = "gentle_start"
    adhoc: bool = False
    force: bool = False
    out: str | None = None
    checkpoint: str | None = None
    expect_state: str = ""  # a yes to wiping the folder if (and only if) it is still in this state
    kind: Literal["launch"] = _kind("launch")


@_message
class Launched(_Value):
    """What a launch decided ("run", "skip", "wipe and run", "stop, wipe and run") and why; ``job_id``
    is "" when skipped. ``decision == "confirm"``: nothing was done, the launch would wipe ``run_dir``
    whose run is ``state``; send it again with ``expect_state=state`` (or ``force``) after a yes."""

    job_id: str
    run_dir: str
    decision: str
    reason: str = ""
    state: str = ""
    kind: Literal["launched"] = _kind("launched")


# ---------------------------------------------------------------------------------------------
# Jobs


@_message
class ListJobs(_Value):
    """Filters (None: any): a state name, a config path (substring), free text."""

    state: str | None = None
    config: str | None = None
    text: str | None = None
    kind: Literal["list_jobs"] = _kind("list_jobs")


@_message
class JobList(_Value):
    """The jobs matching a ``ListJobs``, oldest first. ``slurm_queries``: the daemon's Slurm query rate
    (``{"window_s", "counts": {command: n}, "per_minute": {command: rate}}``), None when it has made no
    Slurm query since it started (optional: an older daemon omits it, an older client ignores it)."""

    jobs: list[JobInfo] = _factory(list)
    slurm_queries: dict | None = None
    kind: Literal["job_list"] = _kind("job_list")


@_message
class ShowJob(_Value):
    """``job``: a job id, a unique id prefix or a run folder."""

    job: str
    kind: Literal["show_job"] = _kind("show_job")


@_message
class JobDetail(_Value):
    """One job: its ``history`` (the run folder's state changes, oldest first), the earlier runs
    of its folder that restarts wiped (oldest first), every Slurm id it has had, and what Slurm
    last said of it."""

    job: JobInfo
    history: list[HistoryEntry] = _factory(list)
    previous_runs: list[PreviousRun] = _factory(list)
    slurm_ids: list[str] = _factory(list)
    slurm_state: str | None = None
    kind: Literal["job_detail"] = _kind("job_detail")


@_message
class Restart(_Value):
    """Run the job again in its folder (answered with ``Launched``). Without ``force`` (or an
    ``expect_state`` equal to the run's state), a run that would be wiped answers decision "confirm"."""

    job: str
    force: bool = False
    expect_state: str = ""
    kind: Literal["restart"] = _kind("restart")


@_message
class Cancel(_Value):
    """Stop a queued or running job (answered with ``Ok``)."""

    job: str
    kind: Literal["cancel"] = _kind("cancel")


@_message
class Wipe(_Value):
    """Wipe the job's run folder (to the trash; ``purge`` deletes at once); ``confirm_job`` must
    repeat ``job``."""

    job: str
    confirm_job: str
    purge: bool = False
    expect_state: str = ""  # wipe only if the run is (still) in this state, judged under the folder lock
    kind: Literal["wipe"] = _kind("wipe")

    def __post_init__(self) -> None:
        if self.confirm_job != self.job:
            raise ValueError(f"confirm_job {self.confirm_job!r} must repeat job {self.job!r}")


# ---------------------------------------------------------------------------------------------
# Streams: answered by data messages and ended by Ok or Error


@_message
class Logs(_Value):
    """Read a job's stdout or stderr: from byte ``offset``, else the ``last_lines``, else from 0.

    With ``follow`` the stream goes on until the job ends (or ``Unsubscribe``)."""

    job: str
    stream: Literal["stdout", "stderr"] = "stdout"
    offset: int | None = None
    last_lines: int | None = None
    follow: bool = False
    kind: Literal["logs"] = _kind("logs")

    def __post_init__(self) -> None:
        if self.offset is not None and self.last_lines is not None:
            raise ValueError("give offset or last_lines, not both")


@_message
class LogChunk(_Value):
    """``data`` is the file's bytes at ``offset``; a client that reconnects asks for
    ``offset + len(data)`` of the last chunk it got. ``eof``: nothing more will be written.
    ``size``: the file's size when the chunk was read (None from an older daemon)."""

    job: str
    stream: str
    offset: int
    data: bytes
    eof: bool = False
    size: int | None = None
    kind: Literal["log_chunk"] = _kind("log_chunk")


@_message
class SearchLog(_Value):
    """Find the lines of a job's stdout or stderr holding ``pattern`` (a regex with ``regex``):
    the lines starting at or after byte ``offset``, or with ``backwards`` those starting before it,
    nearest first; at most ``max_hits``. One request scans a bounded part of the file; the answer
    (``LogMatches``) says where it stopped, and the client asks again from there."""

    job: str
    stream: Literal["stdout", "stderr"] = "stdout"
    pattern: str = ""
    regex: bool = False
    ignore_case: bool = False
    offset: int = 0
    backwards: bool = False
    max_hits: int = 1
    kind: Literal["search_log"] = _kind("search_log")


@_message
class LogMatches(_Value):
    """The answer to ``SearchLog``: ``offsets``, the starts of the matching lines in scan order;
    ``next``, where the next request goes on; ``done``, the scan reached the end of the file
    (backwards: its start); ``size``, the file's size."""

    job: str
    stream: str
    offsets: list[int] = _factory(list)
    next: int = 0
    done: bool = True
    size: int = 0
    kind: Literal["log_matches"] = _kind("log_matches")


@_message
class Subscribe(_Value):
    """Job events from now on; ``filters`` use the keys of ``ListJobs`` (state, config, text)."""

    filters: dict[str, str] = _factory(dict)
    kind: Literal["subscribe"] = _kind("subscribe")


@_message
class JobEvent(_Value):
    """A job changed state (sent to subscribers after the run folder records it)."""

    job: JobInfo
    kind: Literal["job_event"] = _kind("job_event")


@_message
class Unsubscribe(_Value):
    """End the stream running on this connection (Subscribe, or Logs with follow)."""

    kind: Literal["unsubscribe"] = _kind("unsubscribe")


# ---------------------------------------------------------------------------------------------
# Remote browsing (for clients reaching the daemon over SSH)


@_message
class ReadFile(_Value):
    """At most ``length`` bytes of ``path`` from ``offset`` (one frame holds at most 16 MiB)."""

    path: str
    offset: int = 0
    length: int = 1 << 20
    kind: Literal["read_file"] = _kind("read_file")


@_message
class FileData(_Value):
    """The bytes of a ``ReadFile``; ``size`` is the file's whole size."""

    path: str
    offset: int
    data: bytes
    size: int
    kind: Literal["file_data"] = _kind("file_data")


@_message
class ListDir(_Value):
    """The entries of a folder (answered with ``DirListing``)."""

    path: str
    kind: Literal["list_dir"] = _kind("list_dir")


@_message
class DirListing(_Value):
    """The entries of ``path``, sorted by name."""

    path: str
    entries: list[DirEntry] = _factory(list)
    kind: Literal["dir_listing"] = _kind("dir_listing")


@_message
class FieldDoc(_Value):
    """One field of a config's task, for completion and help: dotted key, type, default, doc,
    enum values, and the oneof it belongs to."""

    key: str
    type: str
    default: str = ""
    doc: str = ""
    enum_values: list[str] = _factory(list)
    oneof: str = ""
    is_message: bool = False


@_message
class Fields(_Value):
    """The schema of a config's task (answered with ``FieldList``)."""

    project_root: str
    config: str
    kind: Literal["fields"] = _kind("fields")


@_message
class FieldList(_Value):
    """Every field of the task, and for each include mount the include names that fit it."""

    task: str
    fields: list[FieldDoc] = _factory(list)
    includes: dict[str, list[str]] = _factory(dict)
    kind: Literal["field_list"] = _kind("field_list")


# ---------------------------------------------------------------------------------------------
# Sweeps (docs/sweeps.md): the CLI writes the sweep record, the daemon launches its points


@_message
class SweepInfo(_Value):
    """One sweep: ``counts`` by plan state (new, running, completed, crashed, lost), ``best``
    the best point so far ({run_dir, overrides, value, params}), ``rows`` the report table
    (one per group of points that differ only in seed: params, mean, std, n, run_dirs)."""

    sweep_id: str
    sweep_dir: str
    config: str = ""
    kind: str = "grid"
    metric: str = ""
    direction: str = "min"
    total: int = 0
    counts: dict[str, int] = _factory(dict)
    active: bool = False
    budget: int | None = None
    trials: int = 0
    best: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = _factory(list)
    errors: list[str] = _factory(list)
    created: float | None = None


@_message
class LaunchSweep(_Value):
    """Launch the sweep recorded in ``sweep_dir``: its new points (with ``retry_failed`` also the
    crashed and lost ones), at most ``max_parallel`` at once; answered by ``SweepLaunched``."""

    sweep_dir: str
    retry_failed: bool = False
    max_parallel: int | None = None
    kind: Literal["launch_sweep"] = _kind("launch_sweep")


@_message
class SweepLaunched(_Value):
    """``to_launch``: points the daemon launches now or as slots free; ``counts`` as before."""

    sweep_id: str
    sweep_dir: str
    total: int
    to_launch: int
    counts: dict[str, int] = _factory(dict)
    detail: str = ""
    kind: Literal["sweep_launched"] = _kind("sweep_launched")


@_message
class SweepStatus(_Value):
    """One sweep (an id, unique id prefix or folder) or, with None, every sweep the daemon knows;
    ``rows``: include the report table. Answered by ``SweepList``."""

    sweep: str | None = None
    rows: bool = False
    kind: Literal["sweep_status"] = _kind("sweep_status")


@_message
class SweepList(_Value):
    sweeps: list[SweepInfo] = _factory(list)
    kind: Literal["sweep_list"] = _kind("sweep_list")


@_message
class CancelSweep(_Value):
    """Stop launching the sweep's points and cancel its live ones (answered with ``Ok``)."""

    sweep: str
    kind: Literal["cancel_sweep"] = _kind("cancel_sweep")


@_message
class PlanSweep(_Value):
    """Expand and check the sweep of ``config`` with ``overrides`` (some of them sweep values:
    ``lr=[0.1,0.2]``, ``seed=range(3)``) as ``heyhi run ... --plan`` does, without launching; answered
    by ``SweepPlan``. ``metric``: NAME[:min|:max] for its reports. With ``record`` the sweep record is
    written (as a launch does first), ready for ``LaunchSweep``."""

    project_root: str
    results_root: str | None
    config: str
    overrides: list[str] = _factory(list)
    metric: str = ""
    record: bool = False
    kind: Literal["plan_sweep"] = _kind("plan_sweep")


@_message
class SweepPlan(_Value):
    """``sweep`` False: the overrides sweep nothing (a list on a repeated field is its value), so they
    are one run. Else ``points`` (state, run folder, swept values) in order, the first ``MAX_PLAN_POINTS``
    of ``total``, ``counts`` by state and ``summary`` (the last line of ``--plan``), the record's folder
    and id. ``errors`` as ``ValidateResult``'s (``index`` into the overrides; -1: the sweep as a whole)."""

    ok: bool
    sweep: bool = True
    errors: list[OverrideError] = _factory(list)
    points: list[tuple[str, str, str]] = _factory(list)
    total: int = 0
    counts: dict[str, int] = _factory(dict)
    summary: str = ""
    sweep_dir: str = ""
    sweep_id: str = ""
    search: str = "grid"
    kind: Literal["sweep_plan"] = _kind("sweep_plan")


@_message
class SweepReport(_Value):
    """One sweep's points and report, as ``heyhi sweep report`` computes it (no plot is written);
    ``sweep``: an id, unique id prefix or folder; ``metric``: NAME[:min|:max] (default: the sweep's).
    Answered by ``SweepDetail``."""

    sweep: str
    metric: str = ""
    kind: Literal["sweep_report"] = _kind("sweep_report")


@_message
class SweepDetail(_Value):
    """``info``: as ``SweepStatus`` gives it, with the report's metric, counts, best and ``rows``;
    ``points``: (state, run folder, swept values, metric) in order, the first of ``info.total``;
    ``curves``: per best group, ``{label, steps, mean, n}`` (the learning curves of the report's
    plot, thinned); ``by_key``: per swept key, ``[value, mean, n]`` per value (the metric against
    it); ``retrain``: the best group's overrides less ``repeat_key``, what ``heyhi sweep best``
    launches with new seeds."""

    info: SweepInfo
    mode: str = "last"
    keys: list[str] = _factory(list)
    points: list[tuple[str, str, str, float | None]] = _factory(list)
    curves: list[dict[str, Any]] = _factory(list)
    by_key: dict[str, list[Any]] = _factory(dict)
    retrain: list[str] = _factory(list)
    repeat_key: str = "seed"
    max_parallel: int | None = None
    kind: Literal["sweep_detail"] = _kind("sweep_detail")


# ---------------------------------------------------------------------------------------------
# Diffs of runs' composed configs (heyhi.config.diff computes them, in the daemon)


@_message
class FlatChange(_Value):
    """One dotted key whose value differs, as text (None: no value on that side)."""

    key: str
    a: str | None = None
    b: str | None = None


@_message
class DiffRuns(_Value):
    """Compare the composed config recorded in job ``a``'s folder with job ``b``'s (each a job id,
    unique id prefix or run folder); with ``against_config``, with today's config file of run
    ``a`` composed with its recorded overrides (``b`` unused). Answered by ``ConfigDiff``."""

    a: str
    b: str = ""
    against_config: bool = False
    kind: Literal["diff_runs"] = _kind("diff_runs")


@_message
class ConfigDiff(_Value):
    """``changes``: the keys whose effective value differs (sorted; at most ``limits``' cap, of
    ``total``); ``text``: the unified diff of the two configs as printed ("" when equal; cut with a
    last line saying so when long); the labels name the two sides."""

    a_label: str
    b_label: str
    changes: list[FlatChange] = _factory(list)
    total: int = 0
    text: str = ""
    kind: Literal["config_diff"] = _kind("config_diff")


# ---------------------------------------------------------------------------------------------
# Which configs compose (the TUI's tree marks the ones that do not)


@_message
class CheckConfigs(_Value):
    """Compose every config of the project's conf/ (not common/ nor sweeps/) with no overrides, in
    the background; answered by ``ConfigChecks``."""

    project_root: str
    kind: Literal["check_configs"] = _kind("check_configs")


@_message
class ConfigCheck(_Value):
    """One config: ``state`` "ok" (it composes; ``task``), "chunk" (not a top-level config: it reads
    as the message ``detail`` names, for includes) or "error" (``detail``: why, one line)."""

    config: str
    state: str
    detail: str = ""
    task: str = ""


@_message
class ConfigChecks(_Value):
    """One ``ConfigCheck`` per config (by path); ``total``: configs found (more than checked if over
    the daemon's bound)."""

    checks: list[ConfigCheck] = _factory(list)
    total: int = 0
    kind: Literal["config_checks"] = _kind("config_checks")


# ---------------------------------------------------------------------------------------------
# Profiles (heyhi.config.profiles): named flag files and overrides, for the launch editor


@_message
class ProfileInfo(_Value):
    """One profile: ``lines``, its expansion as editor lines (each flag file's ``key=value``
    entries, then its overrides: the strings ``--profile NAME`` hashes the run folder from);
    ``where``, the file:line declaring it; ``problem``, why it cannot go into the editor (one line;
    ``lines`` is then empty), e.g. a flag file that is missing or holds one run per row."""

    name: str
    description: str = ""
    is_default: bool = False
    lines: list[str] = _factory(list)
    where: str = ""
    problem: str = ""


@_message
class ListProfiles(_Value):
    """The profiles of the project at ``project_root`` (answered by ``ProfileList``)."""

    project_root: str
    kind: Literal["list_profiles"] = _kind("list_profiles")


@_message
class ProfileList(_Value):
    """The project's profiles, sorted by name (none declared: an empty list)."""

    profiles: list[ProfileInfo] = _factory(list)
    kind: Literal["profile_list"] = _kind("profile_list")


# ---------------------------------------------------------------------------------------------
# The two unions

Request = (
    Hello | Ping | Shutdown | Validate | Launch | ListJobs | ShowJob | Restart | Cancel | Wipe
    | Logs | Subscribe | Unsubscribe | ReadFile | ListDir | Fields
    | LaunchSweep | SweepStatus | CancelSweep
    | PlanSweep | SweepReport
    | DiffRuns
    | SearchLog
    | CheckConfigs
    | ListProfiles
)
Response = (
    Welcome | Pong | Ok | Error | ValidateResult | Launched | JobList | JobDetail | LogChunk
    | JobEvent | FileData | DirListing | FieldList
    | SweepLaunched | SweepList
    | SweepPlan | SweepDetail
    | ConfigDiff
    | LogMatches
    | ConfigChecks
    | ProfileList
)
Message = Request | Response

REQUESTS: tuple[type, ...] = Request.__args__
RESPONSES: tuple[type, ...] = Response.__args__
STREAMS: tuple[type, ...] = (Logs, Subscribe)  # answered by a stream that ends with Ok or Error

_VALUES = (OverrideError, JobInfo, HistoryEntry, PreviousRun, DirEntry, FieldDoc, SweepInfo)
_VALUES += (FlatChange,)
_VALUES += (ConfigCheck,)
_VALUES += (ProfileInfo,)
_ENUMS = (JobState, RunState)  # fields typed with these are rebuilt as members on the way in
_BY_KIND: dict[str, type] = {str(c._defaults["kind"]): c for c in REQUESTS + RESPONSES}
_FIELDS: dict[type, tuple[str, ...]] = {c: c._fields for c in REQUESTS + RESPONSES + _VALUES}
# Fields that hold values of _VALUES (or tuples), which need converting on the way in and out;
# found from the annotations, which are strings here (``from __future__ import annotations``).
_NESTED: dict[type, tuple[str, ...]] = {
    c: tuple(
        n for n, t in c.__annotations__.items()
        if "tuple[" in t or any(v.__name__ in t for v in _VALUES + _ENUMS)
    )
    for c in REQUESTS + RESPONSES + _VALUES
}


def to_wire(msg: Message) -> dict[str, Any]:
    """The plain dict (with its ``kind``) that goes into a frame."""
    cls = type(msg)
    d = {name: getattr(msg, name) for name in _FIELDS[cls]}
    for name in _NESTED[cls]:
        d[name] = _plain(d[name])
    return d


def _plain(value: Any) -> Any:
    if type(value) in _FIELDS:
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_wire(d: Any) -> Message:
    """The message a frame's dict stands for; ``ProtocolError`` (one line) if it is not one.

    Fields this side does not know are ignored, so a daemon may add optional fields.
    """
    if not isinstance(d, dict):
        raise ProtocolError(f"expected a message (a map), got {type(d).__name__}")
    cls = _BY_KIND.get(d.get("kind"))
    if cls is None:
        raise ProtocolError(f"unknown message kind {d.get('kind')!r}")
    return _build(cls, d)


def _build(cls: type, d: Any) -> Any:
    if not isinstance(d, dict):
        raise ProtocolError(f"{cls.__name__}: expected a map, got {type(d).__name__}")
    if _NESTED[cls]:
        d = dict(d)
        for name in _NESTED[cls]:
            if name in d:
                d[name] = _converter(cls, name)(d[name])
    try:
        return cls(**d)
    except TypeError:
        known = {k: v for k, v in d.items() if k in _FIELDS[cls]}
        try:
            return cls(**known)
        except TypeError as e:
            raise ProtocolError(f"{cls.__name__}: {e}") from None
    except ValueError as e:
        raise ProtocolError(f"{cls.__name__}: {e}") from None


_CONVERTERS: dict[tuple[type, str], Any] = {}


def _converter(cls: type, name: str) -> Any:
    """How to rebuild field ``name`` of ``cls`` from plain data (built once per field)."""
    conv = _CONVERTERS.get((cls, name))
    if conv is None:
        ann = cls.__annotations__[name]
        conv = _CONVERTERS[(cls, name)] = _parse_annotation(ann.replace(" ", ""))
    return conv


def _parse_annotation(ann: str) -> Any:
    if ann.endswith("|None"):
        inner = _parse_annotation(ann[: -len("|None")])
        return lambda v: None if v is None else inner(v)
    if ann.startswith("list[") and ann.endswith("]"):
        inner = _parse_annotation(ann[len("list[") : -1])
        return lambda v: [inner(x) for x in v]
    if ann.startswith("tuple["):
        return tuple
    for value_cls in _VALUES:
        if ann == value_cls.__name__:
            return lambda v, c=value_cls: _build(c, v)
    for enum_cls in _ENUMS:
        if ann == enum_cls.__name__:
            return lambda v, c=enum_cls: _member(c, v)
    return lambda v: v


def _member(cls: type, value: Any) -> Any:
    """The enum member for ``value``; a value this side does not know stays as it came (a reader
    shows a state it has no name for rather than failing on it)."""
    try:
        return cls(value)
    except ValueError:
        return value
