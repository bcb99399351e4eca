"""The launch screen: overrides (one per line, validated by the daemon as you type), the composed
flat config with where each value came from, the run folder it would get, the mode, and Launch."""

from __future__ import annotations


from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Header, Label, Select, Static

from heyhi.wire.protocol import DaemonError, FieldList, Fields, Launch, Launched, Validate, ValidateResult, replace

from ..completion import Schema
from ..format import OUT_DIR_STYLE, config_label, fit_path
from ..widgets.banner import LinkBanner
from ..widgets.keybar import KeyBar
from ..widgets.configs import FieldDocs
from ..widgets.flat import FlatTable
from ..widgets.overrides import OverrideEditor

MODES = ("gentle_start", "start_restart", "start_continue", "restart", "dryrun")
VALIDATE_DEBOUNCE_S = 0.15


class LaunchScreen(Screen):
    """Owns the overrides, the schema and the last validation (bound into the editor and the
    table); validation and launch run in its workers."""

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", id="launch.launch", tooltip="Launch with these overrides and mode"),
        Binding("ctrl+o", "cycle_mode", "Mode", id="launch.mode",
                tooltip="Cycle the mode: gentle_start, start_restart, start_continue, restart, dryrun"),
        Binding("escape", "back", "Back", id="launch.back", tooltip="Back to the configs"),
    ]

    schema: reactive[Schema | None] = reactive(None)
    errors: reactive[dict[int, str]] = reactive(dict, always_update=True)
    result: reactive[ValidateResult | None] = reactive(None, always_update=True)
    flat_rows: reactive[tuple] = reactive((), always_update=True)
    mode: reactive[str] = reactive("gentle_start")
    validating: reactive[bool] = reactive(False)

    def __init__(self, config: str, overrides: list[str] | None = None, mode: str = "gentle_start") -> None:
        super().__init__()
        self.config = config
        self._initial = list(overrides or [])
        self.set_reactive(LaunchScreen.mode, mode)
        self.lines: tuple[str, ...] = ()
        self.sent: list[str] = []  # the overrides of the last validation
        self._line_of: list[int] = []  # override index -> line index
        self._serial = 0
        self._timer = None
        self.general_error = ""
        self.launching = False

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
                yield FieldDocs(id="launch-docs").data_bind(LaunchScreen.schema)
        with Horizontal(id="launch-bar"):
            yield Select([(m, m) for m in MODES], value=self.mode, allow_blank=False, compact=True,
                         id="mode", tooltip="What to do when the run folder already holds a run")
            yield Button("Launch", id="launch-button", variant="primary", compact=True)
            yield Static(id="out-dir")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = config_label(self.config, self.app.project_root)
        self.load_fields()
        self.watch(self.app, "conf_rev", self._conf_changed, init=False)

    def _conf_changed(self, rev: int) -> None:
        self.load_fields()
        self._validate_now()

    def on_screen_resume(self) -> None:
        if self.app.remote and self.lines:
            self._validate_now()

    def on_resize(self) -> None:
        self._show_status()

    @work(exclusive=True, group="fields")
    async def load_fields(self) -> None:
        try:
            fields = await self.app.link.request(Fields(project_root=self.app.project_root, config=self.config))
            assert isinstance(fields, FieldList)
            self.schema = Schema(fields)
        except DaemonError as e:
            self.schema = Schema(None)
            self.notify(f"no completion: {e.message}", severity="warning")

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

    @work(group="validate")
    async def validate(self, lines: tuple[str, ...], mode: str, serial: int) -> None:
        sent, line_of = [], []
        for i, line in enumerate(lines):
            if line.strip():
                sent.append(line.strip())
                line_of.append(i)
        try:
            result = await self.app.link.request(Validate(
                project_root=self.app.project_root, results_root=self.app.results_root, config=self.config,
                overrides=sent, mode=mode))
        except DaemonError as e:
            result = ValidateResult(ok=False, errors=[])
            self.general_error = e.message
        else:
            self.general_error = ""
        if serial != self._serial:
            return  # a newer validation is on its way
        errors: dict[int, str] = {}
        general: list[str] = [self.general_error] if self.general_error else []
        for err in result.errors:
            if 0 <= err.index < len(line_of):
                line = line_of[err.index]
                errors[line] = (errors[line] + "; " if line in errors else "") + err.message
            else:
                general.append(err.message)
        self.sent, self._line_of = sent, line_of
        self.general_error = "\n".join(general)
        self.errors = errors
        self.result = result
        if result.flat or result.ok:
            self.flat_rows = tuple(result.flat)
        self.validating = False

    def watch_result(self) -> None:
        self._show_status()

    def watch_validating(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        r = self.result
        status = Text()
        if r is not None and r.task:
            status.append(f"task {r.task}  ", style="cyan")
        if self.validating:
            status.append("checking…", style="dim")
        elif r is not None:
            bad = len(self.errors)
            status.append("✓ valid" if r.ok else f"✗ {bad or 'an'} error{'s' if bad > 1 else ''}",
                          style="green" if r.ok else "bold red")
        if self.general_error:
            status.append("\n" + self.general_error, style="red")
        self.query_one("#launch-status", Static).update(status)
        out = Text("→ ", style="dim")
        if r is not None and r.out_dir:
            state = r.out_dir_state or "?"
            room = (self.query_one("#out-dir").size.width or 40) - 4 - len(state)
            out.append(fit_path(self.app.show_path(r.out_dir), room))
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
        self.launching = True
        self._show_status()
        self.launch(list(self.sent), self.mode)

    @work(exclusive=True, group="launch")
    async def launch(self, overrides: list[str], mode: str) -> None:
        try:
            req = Launch(project_root=self.app.project_root, results_root=self.app.results_root, config=self.config,
                         overrides=overrides, mode=mode)
            launched = await self.app.link.request(req)
            if isinstance(launched, Launched) and launched.decision == "confirm":
                # The daemon decided, under the folder's lock, that this launch wipes a run: ask,
                # naming the folder, then send a yes to exactly the state that was shown.
                from rich.text import Text  # lean: rich loads only when this runs

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
        if launched.decision == "skip":
            self.notify(f"{mode}: skipped: {launched.reason}", severity="warning", timeout=6)
            self._validate_now()
            return
        self.notify(f"{launched.decision}: {self.app.show_path(launched.run_dir)}", title="launched")
        self.app.show_job(launched.job_id)

    def action_back(self) -> None:
        self.dismiss()
