"""The demo project's schema written as pydantic models: the same tree as conf.proto.

HeyHi reads conf/*.proto by default; point `[tool.heyhi] schema = "conf.schema:MetaCfg"` in
pyproject.toml at this module to use it instead. Both give equal composed configs.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from heyhi.config.schema.pydantic_front import Float32, Int32, Oneof


class _Base(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, protected_namespaces=())


class Include(_Base):
    """An include: merge the config at `path` into the message at `mount`."""

    path: str | None = None
    mount: str | None = None


class Local(_Base):
    use_local: bool | None = None


class Slurm(_Base):
    partition: str | None = None
    """Partition; empty means the cluster's default partition."""
    num_gpus: Int32 = 0
    """GPUs: below 8, or a multiple of 8 (8 per node). 0 is a CPU-only job."""
    hours: Int32 = 0
    """Time limit = hours * 60 + minutes."""
    minutes: Int32 = 10
    mem_per_gpu: Int32 = 0
    """Memory per GPU in GB."""
    mem_gb: Int32 | None = None
    """Memory of a CPU-only job in GB (unset: the cluster's default)."""
    cpus_per_gpu: Int32 = 1
    """CPUs per GPU (per task for a CPU-only job)."""
    constraint: str | None = None
    single_task_per_node: bool | None = None
    """One task per node instead of one task per GPU."""
    qos: str | None = None
    account: str | None = None
    signal_delay_s: Int32 = 90
    """Seconds before the time limit when the job is warned (to checkpoint and requeue)."""
    extra_sbatch_flags: list[str] = Field(default_factory=list)
    """Extra sbatch flags, verbatim."""
    comment: str | None = None
    max_attempts: Int32 = 1
    """Retries of a job that failed (FAILED, NODE_FAIL, OUT_OF_MEMORY), this one included."""
    nodes: Int32 = 0
    """Nodes; 0: from num_gpus (8 per node). num_gpus (the job's total) is split evenly over them."""
    ntasks: Int32 = 0
    """Tasks (ranks) per node; 0: one per GPU (one with single_task_per_node, or for a CPU job)."""
    torchrun: bool | None = None
    """One Slurm task per node runs torchrun, which starts `ntasks` (else one per GPU) workers there."""
    segments: Int32 = 1
    """Plan the run as this many Slurm jobs one after another in its folder, each continuing the last
    through the task's checkpoint (heyhi.segment_done() ends a segment); 1: one job."""


class Container(_Base):
    """Run the job inside an image (heyhi.launchers.containers), under either launcher."""

    image: str | None = None
    """The image: a .sif file (apptainer, singularity) or an image name or id (podman, docker); ~ and $VARS expanded."""
    runtime: str = "apptainer"
    """apptainer, singularity, podman or docker."""
    binds: list[str] = Field(default_factory=list)
    """Extra bind mounts SRC[:DST[:ro]] (the run folder, results root and code snapshot are always bound)."""
    flags: list[str] = Field(default_factory=list)
    """Extra runtime flags, verbatim before the image (e.g. --network=host)."""
    python: str = "python3"
    """The image's python (used to check it, and to run the job when HeyHi's venv does not fit it)."""


class Launcher(_Base):
    """How to launch the job: locally (the default when unset) or on Slurm."""

    local: Local | None = None
    slurm: Slurm | None = None
    launcher: ClassVar = Oneof("local", "slurm")
    container: Container | None = None


class Optimizer(enum.IntEnum):
    SGD = 0
    MOMENTUM = 1


class DataCfg(_Base):
    """A generated binary classification data set."""

    n_samples: Int32 = 2000
    n_features: Int32 = 20
    noise: Float32 = 0.05
    """Label noise: the fraction of flipped labels."""
    seed: Int32 = 0


class LrStep(_Base):
    """Multiply the learning rate by `factor` from step `step` on."""

    step: Int32 | None = None
    factor: Float32 = 0.1


class TrainTask(_Base):
    """Train a logistic regression; checkpoints and resumes."""

    launcher: Launcher | None = None
    data: DataCfg | None = None
    lr: Float32 = 0.5
    """Learning rate."""
    seed: Int32 = 0
    """Seed of the weight init and the batch order."""
    batch_size: Int32 = 64
    num_steps: Int32 = 300
    optimizer: Optimizer = Optimizer.SGD
    weight_decay: Float32 = 0.0
    checkpoint_every: Int32 = 50
    """Save a checkpoint every N steps (and at the end)."""
    step_sleep_s: Float32 = 0.0
    """Sleep this long after each step (to make a short training long, for tests and demos)."""
    lr_schedule: list[LrStep] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    notes: dict[str, str] = Field(default_factory=dict)
    """Free-form notes kept with the run."""


class EvaluateTask(_Base):
    """Evaluate a trained run's checkpoint on a fresh data set."""

    launcher: Launcher | None = None
    checkpoint: str | None = None
    """A trained run folder, or its checkpoint.json."""
    data: DataCfg | None = None


class MetaCfg(_Base):
    includes: list[Include] = Field(default_factory=list)
    train: TrainTask | None = None
    evaluate: EvaluateTask | None = None
    task: ClassVar = Oneof("train", "evaluate")
