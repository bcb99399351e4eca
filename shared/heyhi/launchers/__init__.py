"""The launchers wing: the ``Launcher`` interface and its registry (``base``), and the built-in
launchers, registered here: ``local`` (a process on this host) and ``slurm`` (a batch job;
``slurm_once``: its exactly-once submission); ``containers`` wraps any launcher's job command in an
image.

Callers use ``for_config(composed)``, ``config_of(composed)``, ``for_status(status)``, ``get(name)``
and ask the launcher what it needs; a new launcher is a ``Launcher`` subclass passed to ``register``.
"""

from heyhi.launchers.base import (DEFAULT, Launcher, config_of, for_config, for_status, get, names, register,
                                  this_job, unregister)
from heyhi.launchers import containers
from heyhi.launchers.local import LOCAL
from heyhi.launchers.slurm import SLURM

__all__ = ["Launcher", "register", "unregister", "get", "names", "for_config", "config_of", "for_status",
           "this_job", "DEFAULT", "LOCAL", "SLURM", "base", "local", "slurm", "slurm_once",
           "containers"]

register(LOCAL)
register(SLURM)
