"""Job actions shared by the jobs table, the job screen and the command palette: details, logs,
restart / cancel / wipe behind a confirmation (of one job, or of every marked job at once, asked
once naming the count), the diff of a run against today's config, and its folder opened in
``$EDITOR`` or a shell, or its path copied.

What is sent is the single-job requests, one per job: the daemon's data-safety rules apply to each
unchanged (a restart or wipe carries the state the dialog showed, so a yes to an old view never
wipes a run that changed meanwhile)."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text

from heyhi.wire.protocol import Cancel, DaemonError, Launched, Restart, Wipe

from ..dialogs.confirm import ConfirmDialog
from ..format import LIVE, overrides_text

MAX_LISTED = 8  # jobs named one by one in a dialog about several


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


_MANY = {
    "restart": ("Restart", "Their folders go to the trash and the runs start over:", False),
    "cancel": ("Cancel", "The runs are stopped (their folders stay):", False),
    "wipe": ("Wipe", "These folders and everything in them (logs, checkpoints, results) go to the trash "
                     "(heyhi ctl restore brings them back); live runs are stopped first:", True),
}
_DONE = {"restart": "restarted", "cancel": "cancelled", "wipe": "wiped"}


def _plural(n: int, what: str = "job") -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def confirm_and_run_many(app: Any, action: str, job_ids: list[str],
                         on_yes: Callable[[], None] | None = None) -> None:
    """One question naming the count, then ``action`` for each job (the single-job requests, one by
    one, in a worker) and one line saying how it went; ``on_yes`` runs on a yes."""
    known = [j for j in job_ids if j in app.jobs]
    targets = [j for j in known if app.jobs[j].state in LIVE] if action == "cancel" else known
    left = len(known) - len(targets)
    if not targets:
        app.notify(f"none of the {_plural(len(job_ids))} marked is queued or running: nothing to cancel"
                   if action == "cancel" else "no job to act on", severity="warning")
        return
    verb, intro, danger = _MANY[action]
    body = Text(intro + "\n")
    for jid in targets[:MAX_LISTED]:
        job = app.jobs[jid]
        body.append(f"{jid} ", style="bold")
        body.append(f"{job.state:<10}", style="dim")
        body.append_text(Text(app.show_path(job.run_dir), style="bold red" if danger else "")
                         if action != "cancel" else Text.assemble(app.config_label(job.config), " ",
                                                                  overrides_text(job)))
        body.append("\n")
    if len(targets) > MAX_LISTED:
        body.append(f"… and {len(targets) - MAX_LISTED} more\n", style="italic")
    if left:
        body.append(f"({_plural(left, 'marked job')} not queued or running: left alone)\n", style="dim")
    states = {jid: app.jobs[jid].state for jid in targets}
    dialog = ConfirmDialog(f"{verb} {_plural(len(targets))}?", body, yes=f"{verb} {len(targets)}", danger=danger)

    def answered(yes: bool | None) -> None:
        if yes:
            if on_yes is not None:
                on_yes()
            app.run_worker(_send_many(app, action, states), group=f"jobs-{action}", exit_on_error=False)

    app.push_screen(dialog, answered)


async def _send_many(app: Any, action: str, states: dict[str, str]) -> None:
    done, failed, changed = 0, [], 0
    for jid, state in states.items():
        try:
            if action == "restart":
                reply = await app.link.request(Restart(job=jid, expect_state=state))
                if isinstance(reply, Launched) and reply.decision == "confirm":
                    changed += 1
                    continue
            elif action == "cancel":
                await app.link.request(Cancel(job=jid))
            else:
                await app.link.request(Wipe(job=jid, confirm_job=jid, expect_state=state))
            done += 1
        except DaemonError as e:
            failed.append(f"{jid}: {e.message}")
    text = f"{_DONE[action]} {_plural(done)}"
    if changed:
        text += f"; {changed} not restarted: changed state meanwhile (ask again to decide)"
    if failed:
        text += f"; {len(failed)} failed: {failed[0]}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
    app.notify(text, title=f"{action}: {_plural(len(states))}", severity="error" if failed else
               "warning" if changed else "information", timeout=10 if failed or changed else 5)


class JobActionsMixin:
    """For screens showing jobs: ``current_job()`` names the job the keys act on; ``acting_on()``
    the jobs restart / cancel / wipe act on (the marked ones, else the current one)."""

    def current_job(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def acting_on(self) -> list[str]:
        jid = self.current_job()
        return [jid] if jid is not None else []

    def marks_done(self) -> None:
        """A bulk action was confirmed (the jobs table clears its marks)."""

    def _job_or_tell(self) -> str | None:
        jid = self.current_job()
        if jid is None:
            self.app.notify("no job selected", severity="warning")  # type: ignore[attr-defined]
        return jid

    def _jobs_or_tell(self) -> list[str]:
        jids = self.acting_on()
        if not jids:
            self.app.notify("no job selected", severity="warning")  # type: ignore[attr-defined]
        return jids

    def action_details(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            self.app.show_job(jid)  # type: ignore[attr-defined]

    def action_logs(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            self.app.show_logs(jid)  # type: ignore[attr-defined]

    def _act(self, action: str) -> None:
        jids = self._jobs_or_tell()
        if len(jids) == 1:
            confirm_and_run(self.app, action, jids[0])  # type: ignore[attr-defined]
        elif jids:
            confirm_and_run_many(self.app, action, jids, self.marks_done)  # type: ignore[attr-defined]

    def action_restart(self) -> None:
        self._act("restart")

    def action_cancel_job(self) -> None:
        self._act("cancel")

    def action_wipe(self) -> None:
        self._act("wipe")

    def action_diff_config(self) -> None:
        if (jid := self._job_or_tell()) is not None:
            from .diff import DiffScreen  # lean: keeps the start-up of heyhi-tui from loading it

            self.app.push_screen(DiffScreen(jid, against_config=True))  # type: ignore[attr-defined]

    def _folder(self) -> str | None:
        jid = self._job_or_tell()
        job = self.app.jobs.get(jid) if jid is not None else None  # type: ignore[attr-defined]
        if jid is not None and job is None:
            self.app.notify(f"job {jid} is not known to the daemon", severity="warning")  # type: ignore[attr-defined]
        return job.run_dir if job is not None else None

    def action_open_editor(self) -> None:
        from .runfolder import open_folder  # lean: keeps the start-up of heyhi-tui from loading it

        if (folder := self._folder()) is not None:
            open_folder(self.app, folder, "editor")  # type: ignore[attr-defined]

    def action_open_shell(self) -> None:
        from .runfolder import open_folder  # lean: keeps the start-up of heyhi-tui from loading it

        if (folder := self._folder()) is not None:
            open_folder(self.app, folder, "shell")  # type: ignore[attr-defined]

    def action_copy_path(self) -> None:
        from .runfolder import copy_path  # lean: keeps the start-up of heyhi-tui from loading it

        if (folder := self._folder()) is not None:
            copy_path(self.app, folder)  # type: ignore[attr-defined]
