"""Task functions of HeyHi's test project (see conf/conf.proto)."""

import importlib
import os
import signal
import sys
import time
from pathlib import Path

import heyhi


def probe(cfg):
    if cfg.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if cfg.marker:
        with open(cfg.marker, "a") as fh:
            fh.write(f"{os.getpid()} {heyhi.run_dir()}\n")
    if cfg.crash_file and Path(cfg.crash_file).exists():
        raise RuntimeError("crash_file exists")
    if cfg.release:
        while not Path(cfg.release).exists():
            time.sleep(0.02)
    if cfg.import_module:
        mod = importlib.import_module(cfg.import_module)
        print(f"{cfg.import_module}.VERSION={mod.VERSION}", flush=True)
    if cfg.lines:
        gap = 1.0 / cfg.lines_per_s if cfg.lines_per_s else 0
        for i in range(1, cfg.lines + 1):
            print(f"{i} {time.time():.6f}" if cfg.stamp else i, flush=True)
            if gap:
                time.sleep(gap)
    if cfg.sleep_s:
        time.sleep(cfg.sleep_s)
    if cfg.crash:
        raise RuntimeError("probe crashed on purpose")
    if cfg.exit_code:
        sys.exit(cfg.exit_code)
    print("probe done", flush=True)
    return {"tag": cfg.tag}


if __name__ == "__main__":
    heyhi.main()
