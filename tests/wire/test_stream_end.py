"""Leaving a stream early when it has already ended by itself: the daemon's answer to the client's
``Unsubscribe`` (``NO_STREAM``) is read by the stream's cleanup, never by the next request.

The race: a log read without follow sends its chunk and its closing ``Ok`` at once; the client breaks
after the first chunk and sends ``Unsubscribe``, which the daemon answers outside any stream."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from contextlib import aclosing

import pytest

from conftest import REPO

from heyhi.wire import protocol as P
from heyhi.wire.aclient import AsyncClient
from heyhi.wire.client import Client

PROBE = "conf/probe/probe.prototxt"


@pytest.fixture
def finished_job(daemon, tmp_path) -> str:
    proj = tmp_path / "proj"
    shutil.copytree(REPO / "tests" / "project", proj, ignore=shutil.ignore_patterns("__pycache__"))
    with Client(str(daemon.socket)) as c:
        res = c.request(P.Launch(project_root=str(proj), results_root=os.environ["HH_EXP_DIR"],
                                 config=str(proj / PROBE), overrides=["lines=3"]))
        deadline = time.monotonic() + 60
        while c.request(P.ShowJob(job=res.job_id)).job.state != "completed":
            assert time.monotonic() < deadline, "the probe job did not complete within 60 s"
            c.request(P.Ping())  # a round trip paces the polling (no sleep)
    return res.job_id


def test_blocking_client_reads_the_answer_to_a_late_unsubscribe(daemon, finished_job):
    with Client(str(daemon.socket)) as c:
        for _ in range(5):
            stream = c.stream(P.Logs(job=finished_job))
            first = next(stream)
            assert isinstance(first, P.LogChunk)
            stream.close()  # the stream already ended: the Unsubscribe is answered with NO_STREAM
            assert isinstance(c.request(P.Ping()), P.Pong)


def test_async_client_reads_the_answer_to_a_late_unsubscribe(daemon, finished_job):
    async def go() -> None:
        async with await AsyncClient.connect(str(daemon.socket)) as c:
            for _ in range(5):
                async with aclosing(c.stream(P.Logs(job=finished_job))) as chunks:  # as every caller does
                    async for chunk in chunks:
                        assert isinstance(chunk, P.LogChunk)
                        break
                assert isinstance(await c.request(P.Ping()), P.Pong)

    asyncio.run(go())
