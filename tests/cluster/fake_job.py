#!/usr/bin/env python3
"""A FAKE stand-in for ``python -m heyhi.job RUN_DIR`` (heyhi.job is not written yet).

The Slurm cluster tests render a real batch script whose "python" is a wrapper around this file,
so it is called as ``fake_job.py -m heyhi.job RUN_DIR``. Like the real job it writes
RUN_DIR/stdout.log. What it does is chosen by the env var FAKE_JOB_MODE:

  print      print a line and exit 0 (the default)
  exit:N     print a line and exit N
  sleep      sleep up to FAKE_JOB_SLEEP seconds (default 600), exit 0
  wait_usr2  sleep until SIGUSR2 arrives (at most FAKE_JOB_SLEEP s), then write RUN_DIR/got_usr2
             and exit 42 (exit 1 if no signal came)
"""

import os
import signal
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    if args[:2] != ["-m", "heyhi.job"] or len(args) != 3:
        print(f"fake_job: expected '-m heyhi.job RUN_DIR', got {args}", file=sys.stderr)
        return 2
    run_dir = args[2]
    mode = os.environ.get("FAKE_JOB_MODE", "print")
    limit = float(os.environ.get("FAKE_JOB_SLEEP", "600"))
    got = []
    signal.signal(signal.SIGUSR2, lambda signum, frame: got.append(signum))
    with open(os.path.join(run_dir, "stdout.log"), "a") as out:
        print(f"fake job {os.environ.get('SLURM_JOB_ID')} mode={mode} cwd={os.getcwd()}", file=out, flush=True)
        if mode == "print":
            return 0
        if mode.startswith("exit:"):
            return int(mode.split(":", 1)[1])
        if mode in ("sleep", "wait_usr2"):
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and not (mode == "wait_usr2" and got):
                time.sleep(0.05)
            if mode == "sleep":
                return 0
            if got:
                with open(os.path.join(run_dir, "got_usr2"), "w") as f:
                    f.write("USR2\n")
                print("fake job got USR2", file=out, flush=True)
                return 42
            return 1
    print(f"fake_job: unknown FAKE_JOB_MODE {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
