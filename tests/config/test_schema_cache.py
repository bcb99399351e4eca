"""The on-disk schema cache: a cache file this HeyHi cannot read (another version's classes) is a miss."""

from __future__ import annotations

from pathlib import Path

from heyhi.config.schema import loader

REPO = Path(__file__).resolve().parents[2]


def test_cache_of_moved_classes_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    protos = sorted((REPO / "conf").glob("*.proto"))
    first = loader.load_proto_schema(REPO / "conf", protos)
    files = list(loader.cache_dir().glob("*.pickle"))
    assert len(files) == 1
    # a pickle naming a module that does not exist, as a cache written before the core moved into wings
    files[0].write_bytes(b"cheyhi.schema.model\nSchema\n.")
    again = loader.load_proto_schema(REPO / "conf", protos)
    assert sorted(again.messages) == sorted(first.messages)
    assert files[0].read_bytes() != b"cheyhi.schema.model\nSchema\n."  # rewritten with today's classes
