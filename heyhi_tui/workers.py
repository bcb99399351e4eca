"""Workers and app watchers of screens and widgets that may outlive what they update: one rule for
all of them.

A worker awaits the daemon (or a file); the user may close its screen meanwhile. When the worker
comes back, the widgets it would update are gone and Textual's query raises ``NoMatches``. That
is not an error of the app: the work is dropped. The same error while the node is still shown is
a bug of the app and still fails loudly (the app's usual worker error).

A watcher of the app's state (``watch_app``) is called while its screen is being taken down
(Textual drops it only once the screen is closing, after its widgets are removed): the call is
dropped then, before it looks for a widget.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from textual import work
from textual.css.query import NoMatches
from textual.dom import DOMNode


def gone(node: DOMNode) -> bool:
    """Is ``node`` (or the screen it is on) closing, closed or no longer in the app's DOM?"""
    nodes = [node]
    try:
        nodes.append(node.screen)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no screen any more: gone
        return True
    return any(n._closing or n._closed or n._pruning or not n.is_attached for n in nodes)


def node_work(method: Any = None, **kwargs: Any) -> Any:
    """Textual's ``@work`` for a coroutine method of a screen or widget: a ``NoMatches`` raised
    once the node is gone (closed while the worker waited) ends the worker quietly."""

    def wrap(fn):
        @functools.wraps(fn)
        async def run(self, *args, **kw):
            try:
                return await fn(self, *args, **kw)
            except NoMatches:
                if gone(self):
                    return None
                raise

        return work(run, **kwargs)

    return wrap if method is None else wrap(method)


def watch_app(node: DOMNode, attribute: str, callback: Callable[[Any], Any], *, init: bool = True) -> None:
    """``node.watch(node.app, attribute, callback)``, the callback dropped once ``node`` is gone."""

    def call(value: Any) -> Any:
        if not gone(node):
            return callback(value)
        return None

    node.watch(node.app, attribute, call, init=init)
