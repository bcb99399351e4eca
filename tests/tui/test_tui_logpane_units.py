"""The log pane's parts without a daemon: the line window (offsets, ``\\r`` progress bars, cut lines,
dropping and reading back) and the daemon's bounded log search, against plain reference answers."""

from __future__ import annotations

import random
import re

import pytest

from heyhi_daemon import logsearch
from heyhi_tui.widgets import logs as L
from heyhi_tui.widgets.logs import LineWindow, collapse_cr, line_text, parse_query


def reference(data: bytes, base: int = 0) -> tuple[list[bytes], list[int], bytes]:
    """(complete lines, their offsets, the unfinished last line) of ``data`` read from ``base``."""
    parts = data.split(b"\n")
    starts, pos = [], base
    for p in parts[:-1]:
        starts.append(pos)
        pos += len(p) + 1
    return parts[:-1], starts, parts[-1]


def feed_in_pieces(w: LineWindow, data: bytes, rng: random.Random, most: int = 200) -> None:
    i = 0
    while i < len(data):
        n = rng.randint(1, most)
        w.feed(data[i:i + n])
        i += n


def sample_log(rng: random.Random, n: int) -> bytes:
    words = [b"loss", b"acc", b"epoch", b"step", b"lr", b"warn", b"ERROR", b""]
    return b"".join(b" ".join(rng.choices(words, k=rng.randint(0, 6))) + b" %d\n" % i for i in range(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lines_and_offsets_whatever_the_chunks(seed):
    rng = random.Random(seed)
    data = sample_log(rng, 500) + b"unfinished"
    w = LineWindow()
    w.reset(1000)
    feed_in_pieces(w, data, rng)
    lines, starts, tail = reference(data, 1000)
    assert w.lines == lines and w.starts == starts
    assert w.partial == tail and w.partial_start == 1000 + len(data) - len(tail)
    assert w.hi == 1000 + len(data) and w.count == len(lines) + 1
    assert w.stored == sum(map(len, lines))
    w.finish()
    assert w.lines[-1] == b"unfinished" and w.count == len(lines) + 1 and not w.partial


@pytest.mark.parametrize("raw, shown", [
    pytest.param(b"plain", b"plain", id="no-cr"),
    pytest.param(b"\r 10%|#\r 20%|##\r100%|###", b"100%|###", id="progress-bar"),
    pytest.param(b"crlf line\r", b"crlf line", id="crlf"),
    pytest.param(b"a\rb\r\r", b"b", id="trailing-crs"),
])
def test_a_progress_bar_is_its_last_state(raw, shown):
    assert collapse_cr(raw) == shown


def test_progress_bar_lines_collapse_while_unfinished_and_done():
    w = LineWindow()
    w.reset(0)
    for k in range(0, 101, 10):
        w.feed(b"\repoch 1: %3d%%" % k)
        assert line_text(w.raw(w.count - 1)).plain == f"epoch 1: {k:3d}%"
        assert w.count == 1
    w.feed(b"\n")
    assert [line_text(x).plain for x in w.lines] == ["epoch 1: 100%"]
    assert w.stored == len(b"epoch 1: 100%")  # the earlier states are not kept


def test_an_endless_progress_bar_stays_small():
    w = LineWindow()
    w.reset(0)
    for k in range(20_000):
        w.feed(b"\r step %06d | loss 0.123" % k)
    assert len(w.partial) <= L.MAX_LINE_BYTES
    assert line_text(w.partial).plain == " step 019999 | loss 0.123"


def test_a_1mb_line_is_cut_with_its_length():
    w = LineWindow()
    w.reset(0)
    big = b"x" * (1 << 20)
    for i in range(0, len(big), 65536):
        w.feed(big[i:i + 65536])
        assert len(w.partial) <= L.MAX_LINE_BYTES
    w.feed(b"\nafter\n")
    assert w.count == 2 and len(w.lines[0]) == L.MAX_LINE_BYTES
    assert w.cut_length(0) == 1 << 20 and w.cut_length(1) == 0
    assert w.starts == [0, (1 << 20) + 1] and w.lines[1] == b"after"
    one = LineWindow()
    one.reset(0)
    one.feed(big + b"\n")  # in one chunk
    assert one.cut_length(0) == 1 << 20 and len(one.lines[0]) == L.MAX_LINE_BYTES


def test_ansi_colours_render_and_control_characters_do_not():
    text = line_text(b"\x1b[31mred\x1b[0m and \x07bell\ttab")
    assert text.plain.startswith("red and ")
    assert "\x1b" not in text.plain and "\x07" not in text.plain
    red = [span for span in text.spans if text.plain[span.start:span.end] == "red"]
    assert red and red[0].style.color.number == 1  # ANSI red


def test_drop_front_keeps_offsets_and_bounds(monkeypatch):
    monkeypatch.setattr(L, "MAX_LINES", 100)
    rng = random.Random(5)
    data = sample_log(rng, 1000)
    w = LineWindow()
    w.reset(0)
    w.feed(data)
    assert w.over()
    dropped = w.drop_front()
    lines, starts, _ = reference(data)
    assert dropped == 1000 - len(w.lines) and len(w.lines) <= 100
    assert w.lines == lines[dropped:] and w.starts == starts[dropped:] and w.lo == starts[dropped]
    assert w.stored == sum(map(len, w.lines))


def test_read_back_before_the_window_and_load_in_the_middle():
    rng = random.Random(7)
    data = sample_log(rng, 400)
    lines, starts, _ = reference(data)
    k = 300
    w = LineWindow()
    w.load(data[starts[k] - 5:], starts[k] - 5)  # from inside line k-1: it starts at line k
    assert w.starts[0] == starts[k] and w.lines == lines[k:]
    added = w.prepend(data[starts[k] - 1000:starts[k]], starts[k] - 1000)
    first = next(i for i, s in enumerate(starts) if s > starts[k] - 1000)  # the lines wholly read
    assert added == k - first and w.lines == lines[first:] and w.starts == starts[first:]
    assert w.prepend(data[:w.lo], 0) == first and w.lines == lines and w.starts == starts
    assert w.prepend(b"stale", 0) == 0  # bytes that do not end at the window's start are refused


def test_drop_back_moves_the_read_offset(monkeypatch):
    monkeypatch.setattr(L, "MAX_LINES", 100)
    data = sample_log(random.Random(3), 300)
    lines, starts, _ = reference(data)
    w = LineWindow()
    w.reset(0)
    w.feed(data + b"tail")
    w.drop_back()
    assert len(w.lines) <= 100 and w.hi == starts[len(w.lines)] and not w.partial
    w.feed(data[w.hi:])  # reading on from there gives the same lines
    assert w.lines == lines


@pytest.mark.parametrize("query, parsed", [
    pytest.param("loss", ("loss", False, True), id="plain"),
    pytest.param("Loss", ("Loss", False, False), id="smartcase"),
    pytest.param("re:^ep.ch \\d+", ("^ep.ch \\d+", True, True), id="regex"),
])
def test_queries(query, parsed):
    assert parse_query(query) == parsed


# ---- the daemon's search ---------------------------------------------------------------------------


def brute(data: bytes, rx: re.Pattern[bytes]) -> list[int]:
    lines, starts, tail = reference(data)
    if tail:
        lines, starts = lines + [tail], starts + [len(data) - len(tail)]
    return [s for line, s in zip(lines, starts) if rx.search(line)]


def search_all(path, rx, backwards: bool, start: int, budget: int, hits: int) -> list[int]:
    """Every hit, request after request as the client goes on from ``next``."""
    out, pos = [], start
    for _ in range(10_000):
        scan = logsearch.scan_backwards if backwards else logsearch.scan_forward
        found, pos, done, _size = scan(path, rx, pos, hits, budget)
        out += found
        if done:
            return out
    raise AssertionError("the search never ended")


@pytest.mark.parametrize("pattern, regex, ignore_case", [
    pytest.param("ERROR", False, False, id="plain"),
    pytest.param("error", False, True, id="ignore-case"),
    pytest.param(r"^epoch", True, False, id="anchored"),
    pytest.param(r"loss\s+acc", True, False, id="within-a-line"),
    pytest.param(r"\d$", True, False, id="line-end"),
    pytest.param(r"\d\s+epoch", True, False, id="not-across-lines"),
])
@pytest.mark.parametrize("backwards", [False, True], ids=["forward", "backwards"])
def test_search_in_bounded_steps_finds_every_line(tmp_path, monkeypatch, pattern, regex, ignore_case, backwards):
    monkeypatch.setattr(logsearch, "BLOCK", 997)  # many blocks, lines across their edges
    rng = random.Random(11)
    data = sample_log(rng, 1200) + b"ERROR unfinished"
    path = tmp_path / "stdout.log"
    path.write_bytes(data)
    rx = logsearch.compile_pattern(pattern, regex, ignore_case)
    want = brute(data, rx)
    assert want or rx.search(data)  # the pattern is there, in a line or (only) across lines
    for budget, hits in ((4000, 1), (10_000, 7), (1 << 30, 1000)):
        got = search_all(path, rx, backwards, len(data) if backwards else 0, budget, hits)
        assert got == (want[::-1] if backwards else want), (budget, hits)


def test_search_from_inside_a_line_starts_at_the_next(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"hit one\nhit two\nhit three\n")
    rx = logsearch.compile_pattern("hit", False, False)
    assert logsearch.scan_forward(path, rx, 1, 10)[0] == [8, 16]  # after the first line's start
    assert logsearch.scan_backwards(path, rx, 8, 10)[0] == [0]  # lines starting before byte 8
    assert logsearch.scan_forward(tmp_path / "missing", rx, 0, 10) == ([], 0, True, 0)


def test_a_bad_regex_does_not_compile():
    with pytest.raises(re.error):
        logsearch.compile_pattern("(unclosed", True, False)
    assert logsearch.compile_pattern("(literal", False, False).search(b"a (literal b")


@pytest.mark.parametrize("change", ["a horizontal scroll bar appears", "the terminal gets shorter"])
async def test_a_followed_view_keeps_its_last_line_in_view_when_its_height_changes(change):
    """Following an ended job (no line will arrive to fix it), the last line stays shown when the
    view loses rows: "end of log" is never shown above a hidden last line."""
    from textual.app import App

    w = LineWindow()
    w.reset(0)
    w.feed(b"".join(b"line %d\n" % i for i in range(60)))

    class One(App):
        def compose(self):
            yield L.LogView(w, id="log")

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(L.LogView)
        view.sync(True)
        await pilot.pause()
        assert view.scroll_offset.y == view.max_scroll_y > 0
        if change == "a horizontal scroll bar appears":
            w.feed(b"y" * 500 + b"\nlast\n")
            w.finish()
            view.sync(True)
        else:
            await pilot.resize_terminal(80, 15)
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_offset.y == view.max_scroll_y, (view.scroll_offset, view.max_scroll_y)
        assert view.scroll_offset.y + view.scrollable_content_region.height >= w.count
