"""The command palette (ctrl+p): the app's actions, every known job, every config."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .screens.jobactions import confirm_and_run


class HeyHiCommands(Provider):
    """Actions first (discoverable with an empty query), then jobs and configs by name."""

    def _actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        actions = [("Configs", "Browse the project's configs", app.action_show_configs),
                   ("Jobs", "The jobs table (live)", app.action_show_jobs)]
        if hasattr(app, "action_show_sweeps"):
            actions.append(("Sweeps", "The sweeps: progress, report, best", app.action_show_sweeps))
        actions += [("Help", "Keys of this screen and how to remap them", app.action_help),
                    ("Refresh", "Re-read the configs and reconnect to the daemon now", app.action_refresh)]
        return actions

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        yield from self._actions()
        for conf in (c for c in app.configs if c.is_config):
            yield f"Launch {conf.rel}", "Open the launch editor for this config", partial(app.open_launch, conf.path)
        for jid, job in sorted(app.jobs.items(), key=lambda kv: -(kv[1].created or 0)):
            label = f"{jid} {app.config_label(job.config)} {job.tag} ({job.state})"
            yield f"Job {label}", "Details, history and log", partial(app.show_job, jid)
            yield f"Logs {label}", "Follow the job's log", partial(app.show_logs, jid)
            yield f"Restart {label}", "Run it again in its folder (asks first)", partial(confirm_and_run, app, "restart", jid)
            yield f"Cancel {label}", "Stop it (asks first)", partial(confirm_and_run, app, "cancel", jid)
            yield f"Wipe {label}", "Delete its folder (asks first)", partial(confirm_and_run, app, "wipe", jid)

    async def discover(self) -> Hits:
        for name, help_text, cb in self._actions():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, cb in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)
