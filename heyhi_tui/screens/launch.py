"""The launch screen: overrides (one per line, validated by the daemon as you type), the composed
flat config with where each value came from, the run folder it would get, the mode, and Launch.

A sweep value typed in a line (``lr=[0.1,0.2]``, ``seed=range(3)``: the grammar's
``looks_like_sweep``) makes it a sweep: the daemon plans it (``PlanSweep``: the points and their
states, as ``heyhi run ... --plan`` prints them), the plan takes the flat table's place, and Launch
writes the sweep record and launches it (``LaunchSweep``), then shows it in the sweeps view.

Per config (``heyhi_tui.history``): Esc keeps the lines as a draft that the editor opens with next
time; a launch records its override set, and ctrl+up / ctrl+down step through those sets.
ctrl+f picks one of the project's profiles (``ListProfiles``, via the daemon: the same over
``--remote``) and inserts its lines (its flag files' ``key=value`` entries, then its overrides) at
the top: the lines already there stay below and win, as on the command line, and the run folder is
the one ``heyhi run ... --profile NAME`` names.
``edit_run`` opens the editor on a run's config and overrides (edit and relaunch).
"""

from __future__ import annotations

import asyncio
import json
import posixpath
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Header, Label, Select, Static

from heyhi.config import looks_like_sweep
from heyhi.wire.protocol import (
    DaemonError, FieldList, Fields, Launch, Launched, LaunchSweep, ListProfiles, OverrideError, PlanSweep,
    ProfileInfo, ProfileList, SweepLaunched, SweepPlan, Validate, ValidateResult, replace,
)

from ..completion import Schema
from ..format import OUT_DIR_STYLE, config_label, fit_path
from ..history import History
from ..link import daemon_gone
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.configs import FieldDocs
from ..widgets.flat import FlatTable
from ..widgets.overrides import OverrideEditor
from ..widgets.sweeps import PlanTable, counts_text
from ..workers import node_work, watch_app

MODES = ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")
VALIDATE_DEBOUNCE_S = 0.15
RUN_RECORD_BYTES = 256 * 1024  # heyhi.run.json is read up to this (an edit-and-relaunch)


class LaunchScreen(Screen):
    """Owns the overrides, the schema and the last validation (bound into the editor and the
    table); validation, planning and launch run in its workers."""

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", id="launch.launch", tooltip="Launch with these overrides and mode"),
        Binding("ctrl+o", "cycle_mode", "Mode", id="launch.mode",
                tooltip="Cycle the mode: gentle_start, start_restart, start_continue, restart, dryrun"),
        Binding("ctrl+up", "history(-1)", "History", id="launch.history_previous",
                tooltip="The override sets launched with this config: one back (ctrl+down: forward)"),
        Binding("ctrl+down", "history(1)", "Next in history", id="launch.history_next", show=False,
                tooltip="The override sets launched with this config: one forward, back to your draft"),
        Binding("ctrl+f", "profile", "Profile", id="launch.profile",
                tooltip="Insert a profile's lines (its flag files and overrides) at the top; yours stay below and win"),
        Binding("escape", "back", "Back", id="launch.back", tooltip="Back to the configs (the lines are kept)"),
    ]

    schema: reactive[Schema | None] = reactive(None)
    errors: reactive[dict[int, str]] = reactive(dict, always_update=True)
    result: reactive[ValidateResult | None] = reactive(None, always_update=True)
    flat_rows: reactive[tuple] = reactive((), always_update=True)
    plan: reactive[SweepPlan | None] = reactive(None, always_update=True)
    mode: reactive[str] = reactive("gentle_start")
    validating: reactive[bool] = reactive(False)

    def __init__(self, config: str, overrides: list[str] | None = None, mode: str = "gentle_start", *,
                 sweep_metric: str = "", max_parallel: int | None = None) -> None:
        super().__init__()
        self.config = config
        self._initial = list(overrides or [])
        self._explicit = overrides is not None  # else the config's draft, if it has one
        self.sweep_metric = sweep_metric  # NAME[:min|:max] of a sweep launched from here (sweep best)
        self.max_parallel = max_parallel
        self.set_reactive(LaunchScreen.mode, mode)
        self.lines: tuple[str, ...] = ()
        self.sent: list[str] = []  # the overrides of the last validation
        self._line_of: list[int] = []  # override index -> line index
        self._serial = 0
        self._timer = None
        self.general_error = ""
        self.launching = False
        self._history_at: int | None = None  # index into the sets shown (None: the lines typed)
        self._typed: list[str] = []  # the lines typed, kept while stepping through the history

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield LinkBanner()
        with Horizontal(id="launch-body"):
            with Vertical(id="launch-left"):
                yield Label(Text.assemble(("overrides ", "bold"), ("one per line · tab completes", "dim")),
                            id="overrides-title")
                yield OverrideEditor(self._initial, id="overrides").data_bind(LaunchScreen.schema,
                                                                             LaunchScreen.errors)
            with Vertical(id="launch-right"):
                yield Static(id="launch-status")
                yield FlatTable(id="launch-flat").data_bind(rows_data=LaunchScreen.flat_rows)
                yield PlanTable(id="launch-plan")
                yield FieldDocs(id="launch-docs").data_bind(LaunchScreen.schema)
        with Horizontal(id="launch-bar"):
            yield Select([(m, m) for m in MODES], value=self.mode, allow_blank=False, compact=True,
                         id="mode", tooltip="What to do when the run folder already holds a run")
            yield Button("Launch", id="launch-button", variant="primary", compact=True)
            yield Static(id="out-dir")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = config_label(self.config, self.app.project_root)
        self.query_one("#launch-plan").display = False
        self.load_fields()
        self.load_draft()
        watch_app(self, "conf_rev", self._conf_changed, init=False)

    def _conf_changed(self, rev: int) -> None:
        self.load_fields()
        self._validate_now()

    def on_screen_resume(self) -> None:
        if self.app.remote and self.lines:
            self._validate_now()

    def on_resize(self) -> None:
        self._show_status()

    @property
    def editor(self) -> OverrideEditor:
        return self.query_one(OverrideEditor)

    @node_work(exclusive=True, group="fields")
    async def load_fields(self) -> None:
        try:
            fields = await self.app.link.request(Fields(project_root=self.app.project_root, config=self.config))
            assert isinstance(fields, FieldList)
            self.schema = Schema(fields)
        except DaemonError as e:
            if daemon_gone(e):  # the banner says so; loaded again when the daemon is back (conf_rev)
                return
            self.schema = Schema(None)
            self.notify(f"no completion: {e.message}", severity="warning")

    # ---- history and drafts ---------------------------------------------------------------------
    @property
    def history_key(self) -> str:
        return History.key(self.config, self.app.remote)

    async def _history(self) -> History:
        """The app's launch history, read once (in a thread); a file it ignored is said once."""
        h = getattr(self.app, "launch_history", None)
        if h is None:
            h = await asyncio.to_thread(History.load)
            if getattr(self.app, "launch_history", None) is None:
                self.app.launch_history = h
                if h.problem:
                    self.app.notify(h.problem, severity="warning", timeout=8)
            h = self.app.launch_history
        return h

    @node_work(group="history")
    async def load_draft(self) -> None:
        h = await self._history()
        draft = h.draft(self.history_key)
        # A draft fills the editor only if nothing was given or typed meanwhile.
        if draft and not self._explicit and not any(x.strip() for x in self.editor.lines):
            self._initial = list(draft)  # kept already: quitting now loses nothing
            await self.editor.set_lines(draft)
            self.notify("your draft for this config (ctrl+up: the sets launched with it)", timeout=4)

    def _save_history(self, change: Any) -> None:
        """Apply ``change(history)`` and write the file in a worker; a failure is one line."""
        loaded = getattr(self.app, "launch_history", None)
        if loaded is not None:
            change(loaded)  # now: a launch editor opened next reads it

        async def save() -> None:
            h = await self._history()
            if h is not loaded:
                change(h)
            lock = getattr(self.app, "launch_history_lock", None) or asyncio.Lock()
            self.app.launch_history_lock = lock
            async with lock:  # one write at a time, each of the state when it starts: the last one wins
                problem = await asyncio.to_thread(h.write, h.dumps())
            if problem:
                self.app.notify(problem, severity="warning", timeout=8)

        self.app.run_worker(save(), group="history-save")

    async def action_history(self, step: int) -> None:
        h = await self._history()
        sets = h.sets(self.history_key)
        if not sets:
            self.notify("no override set was launched with this config from here yet", severity="warning")
            return
        if self._history_at is None:
            if step > 0:
                return
            self._typed = list(self.editor.lines)
            at = len(sets) - 1
        else:
            at = self._history_at + step
        if at >= len(sets):
            self._history_at = None
            await self.editor.set_lines(self._typed)
            self.notify("back to the lines you typed", timeout=2)
            return
        at = max(0, at)
        self._history_at = at
        await self.editor.set_lines(sets[at])
        self.notify(f"launched set {at + 1} of {len(sets)}", timeout=2)

    # ---- profiles -------------------------------------------------------------------------------
    def action_profile(self) -> None:
        self.pick_profile()

    @node_work(exclusive=True, group="profile")
    async def pick_profile(self) -> None:
        """Ask the daemon for the project's profiles, let the user pick one, insert its lines."""
        try:
            got = await self.app.link.request(ListProfiles(project_root=self.app.project_root))
        except DaemonError as e:
            message = e.message
            if e.code in ("bad_request", "not_implemented") and "list_profiles" in message:
                message = f"this daemon lists no profiles ({e.message}): restart it with this HeyHi"
            self.notify(f"profiles: {message}", severity="warning" if daemon_gone(e) else "error", timeout=8)
            return
        assert isinstance(got, ProfileList)
        if not got.profiles:
            self.notify("no profiles in this project: declare them in pyproject.toml "
                        "([tool.heyhi.profiles.NAME]) or conf/profiles.yaml", timeout=6)
            return
        from ..dialogs.profiles import ProfilePicker  # lean: loads when a profile is picked, not with heyhi-tui

        chosen = await self.app.push_screen_wait(ProfilePicker(got.profiles, self.app.project_root))
        if chosen is not None:
            await self.insert_profile(chosen)

    async def insert_profile(self, profile: ProfileInfo) -> None:
        """``profile``'s lines at the top, the lines already there below them (they win)."""
        typed = [x for x in self.editor.lines if x.strip()]
        self._history_at = None
        await self.editor.set_lines(list(profile.lines) + typed)
        n = len(profile.lines)
        self.notify(f"profile {profile.name}: {n} line{'s' if n != 1 else ''} at the top", timeout=3)

    # ---- validation -----------------------------------------------------------------------------
    @on(OverrideEditor.Changed)
    def _overrides_changed(self, event: OverrideEditor.Changed) -> None:
        # The line being typed is left out until it has its "=": no "expected key=value" meanwhile.
        lines = tuple("" if i == event.focused and "=" not in line else line for i, line in enumerate(event.lines))
        if lines == self.lines and self.result is not None:
            return
        self.lines = lines
        self.validating = True
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_DEBOUNCE_S, self._validate_now)

    def _validate_now(self) -> None:
        self._serial += 1
        self.validate(self.lines, self.mode, self._serial)

    async def _check(self, overrides: list[str], mode: str) -> ValidateResult:
        try:
            result = await self.app.link.request(Validate(
                project_root=self.app.project_root, results_root=self.app.results_root, config=self.config,
                overrides=overrides, mode=mode))
        except DaemonError as e:
            if daemon_gone(e):  # not an error of the overrides (validate says it)
                raise
            return ValidateResult(ok=False, errors=[OverrideError(-1, "", e.message)])
        return result

    async def _plan(self, overrides: list[str], record: bool = False) -> SweepPlan:
        try:
            return await self.app.link.request(PlanSweep(
                project_root=self.app.project_root, results_root=self.app.results_root, config=self.config,
                overrides=overrides, metric=self.sweep_metric, record=record))
        except DaemonError as e:
            if daemon_gone(e):  # not an error of the overrides (validate says it)
                raise
            message = e.message
            if e.code in ("bad_request", "not_implemented") and "plan_sweep" in message:
                message = f"this daemon plans no sweeps ({e.message}): restart it with this HeyHi"
            return SweepPlan(ok=False, errors=[OverrideError(-1, "", message)])

    @node_work(group="validate")
    async def validate(self, lines: tuple[str, ...], mode: str, serial: int) -> None:
        try:
            await self._validate(lines, mode, serial)
        except DaemonError as e:  # the daemon is away: checked again when it is back (conf_rev)
            if serial == self._serial:
                self.general_error = f"not checked yet: {e.message} (checked when the daemon is back)"
                self._show_status()

    async def _validate(self, lines: tuple[str, ...], mode: str, serial: int) -> None:
        sent, line_of = [], []
        for i, line in enumerate(lines):
            if line.strip():
                sent.append(line.strip())
                line_of.append(i)
        plan = None
        if any(looks_like_sweep(x) for x in sent):
            plan = await self._plan(sent)
            if not plan.sweep:
                plan = None  # a list that is a field's value: one run after all
        if plan is None:
            result = await self._check(sent, mode)
            errors_of = [(e, e.index) for e in result.errors]
        else:
            # The fixed overrides are checked (and shown composed) as usual; the sweep values by the plan.
            fixed = [i for i, x in enumerate(sent) if not looks_like_sweep(x)]
            result = await self._check([sent[i] for i in fixed], mode)
            errors_of = [(e, fixed[e.index] if 0 <= e.index < len(fixed) else -1) for e in result.errors]
            # A bad fixed override is said once, under its line (the plan fails on it too).
            errors_of += [(e, e.index) for e in plan.errors
                          if not (result.errors and (e.index < 0 or e.index in fixed))]
            result = replace(result, ok=result.ok and plan.ok, out_dir="" if not plan.ok else result.out_dir)
        if serial != self._serial:
            return  # a newer validation is on its way
        errors: dict[int, str] = {}
        general: list[str] = []
        for err, index in errors_of:
            if 0 <= index < len(line_of):
                line = line_of[index]
                errors[line] = (errors[line] + "; " if line in errors else "") + err.message
            else:
                general.append(err.message)
        self.sent, self._line_of = sent, line_of
        self.general_error = "\n".join(general)
        self.errors = errors
        self.plan = plan if plan is not None and plan.ok else None
        self.result = result
        if result.flat or result.ok:
            self.flat_rows = tuple(result.flat)
        self.validating = False

    def watch_plan(self, plan: SweepPlan | None) -> None:
        if not self.is_mounted:
            return
        table = self.query_one("#launch-plan", PlanTable)
        table.display = plan is not None
        self.query_one("#launch-flat").display = plan is None
        if plan is not None:
            table.show(list(plan.points), plan.total)

    def watch_result(self) -> None:
        self._show_status()

    def watch_validating(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        r, plan = self.result, self.plan
        status = Text()
        if r is not None and r.task:
            status.append(f"task {r.task}  ", style="cyan")
        if self.validating:
            status.append("checking…", style="dim")
        elif r is not None:
            bad = len(self.errors)
            status.append("✓ valid" if r.ok else f"✗ {bad or 'an'} error{'s' if bad > 1 else ''}",
                          style="green" if r.ok else "bold red")
            if plan is not None and r.ok:
                status.append("  a sweep", style="bold")
                status.append("\n").append_text(counts_text(plan.counts))
                status.append(f" · Launch runs the {plan.counts.get('new', 0)} new", style="dim")
        if self.general_error:
            status.append("\n" + self.general_error, style="red")
        self.query_one("#launch-status", Static).update(status)
        out = Text("→ ", style="dim")
        room = (self.query_one("#out-dir").size.width or 40) - 4
        if plan is not None and r is not None and r.ok:
            out.append("sweep ", style="bold")
            out.append(fit_path(self.app.show_path(plan.sweep_dir), room - 6))
        elif r is not None and r.out_dir:
            state = r.out_dir_state or "?"
            out.append(fit_path(self.app.show_path(r.out_dir), room - len(state)))
            out.append(f"  {state}", style=OUT_DIR_STYLE.get(state, "bold yellow"))
        else:
            out.append("no run folder until the overrides are valid", style="dim")
        self.query_one("#out-dir", Static).update(out)
        self.query_one("#launch-button", Button).disabled = not (r is not None and r.ok) or self.launching

    @on(FlatTable.KeyHighlighted)
    def _row(self, event: FlatTable.KeyHighlighted) -> None:
        docs = self.query_one(FieldDocs)
        docs.key, docs.value, docs.source = event.key, str(event.value), event.source

    # ---- mode and launch ------------------------------------------------------------------------
    @on(Select.Changed, "#mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.mode:
            self.mode = event.value
            self._validate_now()

    def action_cycle_mode(self) -> None:
        self.query_one("#mode", Select).value = MODES[(MODES.index(self.mode) + 1) % len(MODES)]

    @on(Button.Pressed, "#launch-button")
    def _launch_pressed(self) -> None:
        self.action_launch()

    def action_launch(self) -> None:
        if self.launching:
            return
        r = self.result
        if r is None or not r.ok or self.validating:
            self.notify("fix the overrides first (see the errors under the lines)", severity="warning")
            return
        if self.plan is not None:
            if self.mode != "gentle_start":
                self.notify(f"{self.mode}: a sweep launches its new points (mode gentle_start); "
                            f"crashed ones run again with heyhi run ... --retry-failed", severity="warning", timeout=8)
                return
            self.launching = True
            self._show_status()
            self.launch_sweep(list(self.sent))
            return
        self.launching = True
        self._show_status()
        self.launch(list(self.sent), self.mode)

    @node_work(exclusive=True, group="launch")
    async def launch_sweep(self, overrides: list[str]) -> None:
        try:
            plan = await self._plan(overrides, record=True)
            if not plan.ok:
                self.notify(f"sweep not launched: {'; '.join(e.message for e in plan.errors)}", severity="error",
                            timeout=8)
                return
            launched = await self.app.link.request(LaunchSweep(sweep_dir=plan.sweep_dir,
                                                               max_parallel=self.max_parallel))
        except DaemonError as e:
            self.notify(f"sweep not launched: {e.message}", severity="error", timeout=8)
            return
        finally:
            self.launching = False
            self._show_status()
        assert isinstance(launched, SweepLaunched)
        self._initial, self._history_at = list(overrides), None
        self._save_history(lambda h: h.add(self.history_key, overrides))
        self.notify(f"sweep {launched.sweep_id}: {launched.detail}", title="sweep launched")
        self.app.show_sweep(launched.sweep_id)

    @node_work(exclusive=True, group="launch")
    async def launch(self, overrides: list[str], mode: str) -> None:
        try:
            req = Launch(project_root=self.app.project_root, results_root=self.app.results_root, config=self.config,
                         overrides=overrides, mode=mode)
            launched = await self.app.link.request(req)
            if isinstance(launched, Launched) and launched.decision == "confirm":
                # The daemon decided, under the folder's lock, that this launch wipes a run: ask,
                # naming the folder, then send a yes to exactly the state that was shown.
                from ..dialogs.confirm import ConfirmDialog  # lean: loads when a wipe is asked, not with heyhi-tui

                where = self.app.show_path(launched.run_dir)
                yes = await self.app.push_screen_wait(ConfirmDialog(
                    f"{mode}: wipe a {launched.state} run?",
                    Text.assemble("Its folder\n", (where, "bold red"), "\ngoes to the trash (heyhi ctl restore "
                                  "brings it back) and the run starts over."), yes="Wipe and run", danger=True))
                if not yes:
                    self.notify(f"not launched: {where} kept", severity="warning", timeout=6)
                    return
                launched = await self.app.link.request(replace(req, expect_state=launched.state))
                if launched.decision == "confirm":
                    self.notify(f"not launched: the run is now {launched.state}; launch again to decide",
                                severity="warning", timeout=8)
                    return
        except DaemonError as e:
            self.notify(f"launch failed: {e.message}", severity="error", timeout=8)
            return
        finally:
            self.launching = False
            self._show_status()
        assert isinstance(launched, Launched)
        self._initial, self._history_at = list(overrides), None
        self._save_history(lambda h: h.add(self.history_key, overrides))
        if launched.decision == "skip":
            self.notify(f"{mode}: skipped: {launched.reason}", severity="warning", timeout=6)
            self._validate_now()
            return
        self.notify(f"{launched.decision}: {self.app.show_path(launched.run_dir)}", title="launched")
        self.app.show_job(launched.job_id)

    def unsaved_work(self) -> str:
        """What quitting now would lose (the app asks before it quits): lines typed and neither
        launched nor kept as a draft (Esc keeps them)."""
        lines = [x for x in self.editor.lines if x.strip()] if self.is_mounted else []
        if not lines or lines == [x.strip() for x in self._initial if x.strip()]:
            return ""
        return f"the overrides typed for {config_label(self.config, self.app.project_root)} (Esc keeps them as a draft)"

    def action_back(self) -> None:
        """Back, keeping the lines as this config's draft (the editor opens with them next time)."""
        lines = [x for x in self.editor.lines if x.strip()]
        self._save_history(lambda h: h.set_draft(self.history_key, lines or None))
        self.dismiss()


# ---- edit and relaunch ---------------------------------------------------------------------------


async def edit_run(app: Any, job_id: str) -> None:
    """Open the launch editor on the config and overrides of job ``job_id``'s run: the ones the
    daemon reports with the job, else its folder's ``heyhi.run.json`` (read through the daemon,
    bounded, so it works over ``--remote``)."""
    from heyhi.runs import records as R  # lean: loads when a run is edited, not with heyhi-tui
    from heyhi.wire.protocol import FileData, ReadFile  # lean: loads when a run is edited, not with heyhi-tui

    job = app.jobs.get(job_id)
    if job is None:
        app.notify(f"job {job_id} is not known to the daemon", severity="warning")
        return
    config, overrides = job.config, getattr(job, "overrides", None)
    if overrides is None:
        path = posixpath.join(job.run_dir, R.RUN)
        try:
            data = await app.link.request(ReadFile(path=path, length=RUN_RECORD_BYTES))
            assert isinstance(data, FileData)
            info = json.loads(data.data.decode("utf-8")) if data.size <= RUN_RECORD_BYTES else None
        except DaemonError as e:
            app.notify(f"cannot edit job {job_id}: {e.message}", severity="error", timeout=8)
            return
        except ValueError:
            info = None
        got = info.get("overrides") if isinstance(info, dict) else None
        if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
            app.notify(f"cannot edit job {job_id}: {app.show_path(path)} holds no override list",
                       severity="error", timeout=8)
            return
        config, overrides = str(info.get("config") or config), got
    app.open_launch(config, list(overrides))
