"""Job actions shared by the jobs table, the job screen and the command palette: details, logs,
and restart / cancel / wipe behind a confirmation."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from heyhi.wire.protocol import Cancel, DaemonError, Launched, Restart, Wipe

from ..dialogs.confirm import ConfirmDialog


def confirm_and_run(app: Any, action: str, job_id: str) -> None:
    """Ask, then send ``Restart`` / ``Cancel`` / ``Wipe`` for ``job_id`` (in a worker)."""
    job = app.jobs.get(job_id)
    where = app.show_path(job.run_dir) if job is not None else job_id
    state = job.state if job is not None else "?"
    if action == "restart":
        dialog = ConfirmDialog(f"Restart job {job_id}?",
                               Text.assemble("It is ", (state, "bold"), ". Its folder goes to the trash and the "
                                             "run starts over:\n", (where, "bold"))
                               , yes="Restart")
    elif action == "cancel":
        dialog = ConfirmDialog(f"Cancel job {job_id}?",
                               Text.assemble("It is ", (state, "bold"), "; the run in\n", (where, "bold"),
                                             "\nis stopped (its folder stays)."), yes="Cancel job")
    elif action == "wipe":
        dialog = ConfirmDialog(f"Wipe job {job_id}?",
                               Text.assemble("This moves the folder\n", (where, "bold red"),
                                             "\nand everything in it (logs, checkpoints, results) to the trash "
                                             "(heyhi ctl restore brings it back).",
                                             ("\nThe job is stopped first." if state in ("running", "queued") else "")),
                               yes="Wipe", danger=True)
    else:
        raise ValueError(action)

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(_send(app, action, job_id, state), group=f"job-{action}", exit_on_error=False)

    app.push_screen(dialog, answered)


async def _send(app: Any, action: str, job_id: str, state: str = "") -> None:
    try:
        if action == "restart":  # a yes to the state that was shown, re-checked by the daemon
            reply = await app.link.request(Restart(job=job_id, expect_state=state))
            if isinstance(reply, Launched) and reply.decision == "confirm":
                app.notify(f"not restarted: the run is now {reply.state}; ask again to decide",
                           severity="warning", timeout=8)
                return
        elif action == "cancel":
            reply = await app.link.request(Cancel(job=job_id))
        else:
            reply = await app.link.request(Wipe(job=job_id, confirm_job=job_id))
    except DaemonError as e:
        app.notify(f"{action} {job_id}: {e.message}", severity="error", timeout=8)
        return
    if isinstance(reply, Launched):
        app.notify(f"{reply.decision}: {reply.reason}", title=f"restarted {job_id}")
    else:
        app.notify(getattr(reply, "detail", "") or "done", title=f"{action} {job_id}")


class JobActionsMixin:
    """For screens showing jobs: ``current_job()`` names the job the keys act on."""

    def current_job(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _job_or_tell(self) -> str | None:
        jid = self.current_job()
        if jid is None:
            self.app.notify("no job selected", severity="warning")  # type: ignore[attr-defined]
        return jid

    def action_details(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            self.app.show_job(jid)  # type: ignore[attr-defined]

    def action_logs(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            self.app.show_logs(jid)  # type: ignore[attr-defined]

    def action_restart(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            confirm_and_run(self.app, "restart", jid)  # type: ignore[attr-defined]

    def action_cancel_job(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            confirm_and_run(self.app, "cancel", jid)  # type: ignore[attr-defined]

    def action_wipe(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            confirm_and_run(self.app, "wipe", jid)  # type: ignore[attr-defined]
