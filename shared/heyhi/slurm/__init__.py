"""The slurm wing: Slurm's command lines and answers (``query``: squeue/sacct/scontrol parsing) and the
batch scripts HeyHi submits (``script``), in one place, as pure functions (stdlib only)."""

from __future__ import annotations

from heyhi.exports import public

__all__, __getattr__, __dir__ = public(__name__, {m: f"heyhi.slurm.{m}" for m in ("query", "script")})
