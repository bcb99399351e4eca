"""The slurm wing: Slurm's command lines and answers (``query``: squeue/sacct/scontrol parsing) and the
batch scripts HeyHi submits (``script``), in one place, as pure functions (stdlib only)."""

__all__ = ["query", "script"]
