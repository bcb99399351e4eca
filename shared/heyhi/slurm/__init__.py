"""The slurm wing: Slurm's command lines and answers (``query``: squeue/sacct/scontrol parsing) and the
batch scripts HeyHi submits (``script``) and the identity each job carries (``identity``), what a job cost (``cost``), running jobs' live efficiency (``efficiency``), the cluster's limits
(``limits``), a run's chain of segments (``segments``), in one place, as pure functions (stdlib only)."""

from __future__ import annotations

from heyhi.exports import public

__all__, __getattr__, __dir__ = public(__name__, {m: f"heyhi.slurm.{m}" for m in ("query", "script", "identity", "cost", "limits", "segments", "efficiency")})
