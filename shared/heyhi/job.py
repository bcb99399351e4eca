"""``python -m heyhi.job RUN_DIR``: the command every launcher starts and every batch script holds.

The runner lives in ``heyhi.runs.runner``; this module path is kept as the stable entry point, since
batch scripts already queued (and requeued) on a cluster name it.
"""

import sys

from heyhi.runs.runner import main

if __name__ == "__main__":
    sys.exit(main())
