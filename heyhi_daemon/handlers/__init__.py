"""One dispatch for every request: a single ``match`` on its type.

Requests the server itself answers have a module here (``ping``, ``shutdown``), each with
``handle(state, request)``; job requests go to the daemon's core (``server.Core``). ``dispatch``
returns the reply message, or for ``Logs`` / ``Subscribe`` an async iterator the server streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from heyhi.wire.protocol import (
    BAD_REQUEST,
    NO_STREAM,
    NOT_IMPLEMENTED,
    Cancel,
    CancelSweep,
    CheckConfigs,
    DiffRuns,
    Error,
    Fields,
    Hello,
    Launch,
    LaunchSweep,
    ListDir,
    ListJobs,
    ListProfiles,
    Logs,
    SearchLog,
    Ok,
    Ping,
    PlanSweep,
    ReadFile,
    Restart,
    ShowJob,
    Shutdown,
    Subscribe,
    SweepReport,
    SweepStatus,
    Unsubscribe,
    Validate,
    Wipe,
)

from heyhi_daemon.handlers import ping, shutdown
from heyhi_daemon import sweepviews
from heyhi_daemon import rundata
from heyhi_daemon import logsearch
from heyhi_daemon import configs
from heyhi_daemon import profiles

if TYPE_CHECKING:
    from heyhi.wire.protocol import Request

    from heyhi_daemon.server import DaemonState


async def dispatch(state: DaemonState, req: Request) -> Any | AsyncIterator[Any]:
    core = state.core
    match req:
        case Ping():
            return ping.handle(state, req)
        case Shutdown():
            return shutdown.handle(state, req)
        case Validate():
            return await core.validate(req)
        case Launch():
            return await core.launch(req)
        case ListJobs():
            return await core.list_jobs(req)
        case ShowJob():
            return await core.show_job(req)
        case Restart():
            return await core.restart(req)
        case Cancel():
            return await core.cancel(req)
        case Wipe():
            return await core.wipe(req)
        case ReadFile():
            return await core.read_file(req)
        case Fields():
            return await core.fields(req)
        case CheckConfigs():
            return await configs.check_configs(core, req)
        case ListDir():
            return await core.list_dir(req)
        case ListProfiles():
            return await profiles.list_profiles(core, req)
        case LaunchSweep():
            return await _sweeps(core).launch(req) if _sweeps(core) else _no_sweeps(req)
        case SweepStatus():
            return await _sweeps(core).status(req) if _sweeps(core) else _no_sweeps(req)
        case CancelSweep():
            return await _sweeps(core).cancel(req) if _sweeps(core) else _no_sweeps(req)
        case PlanSweep():
            return await sweepviews.plan_sweep(core, req)
        case SweepReport():
            return await sweepviews.sweep_report(core, req)
        case DiffRuns():
            return await rundata.diff_runs(core, req)
        case Logs():
            return core.logs(req)
        case SearchLog():
            return await logsearch.search(core, req)
        case Subscribe():
            return core.subscribe(req)
        case Unsubscribe():
            return Ok(NO_STREAM)
        case Hello():
            return Error(BAD_REQUEST, "Hello is only valid as the first message")
    return Error(BAD_REQUEST, f"{type(req).__name__} is not a request")


def _sweeps(core: Any) -> Any:
    return getattr(core, "sweeps", None)


def _no_sweeps(req: Any) -> Error:
    return Error(NOT_IMPLEMENTED, f"{type(req).__name__}: this daemon's core runs no sweeps")
