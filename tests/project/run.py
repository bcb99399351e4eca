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
    if cfg.segment_work:
        if heyhi.segment()[0] == cfg.wait_limit_in_segment and os.environ.get("SLURM_RESTART_COUNT", "0") == "0":
            print(f"segment {cfg.wait_limit_in_segment}: waiting for the time-limit warning", flush=True)
            time.sleep(3600)  # heyhi.job's warning handler requeues the job and ends this process
        done = len(Path("segments.count").read_text().splitlines()) if Path("segments.count").exists() else 0
        with open("segments.count", "a") as fh:
            fh.write(f"{done + 1} {os.environ.get('SLURM_JOB_ID')} {heyhi.segment()}\n")
        if cfg.crash_in_segment == done + 1:
            raise RuntimeError(f"probe crashed in segment {done + 1}")
        if done + 1 < cfg.segment_work:
            heyhi.segment_done()
    if cfg.import_module:
        mod = importlib.import_module(cfg.import_module)
        print(f"{cfg.import_module}.VERSION={mod.VERSION}", flush=True)
    if cfg.lines:
        gap = 1.0 / cfg.lines_per_s if cfg.lines_per_s else 0
        for i in range(1, cfg.lines + 1):
            print(f"{i} {time.time():.6f}" if cfg.stamp else i, flush=True)
            if gap:
                time.sleep(gap)
    if cfg.print_env:
        names = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
        print("env", *(f"{n}={os.environ.get(n)}" for n in names), f"is_master={heyhi.is_master()}",
              f"job_env_rank={heyhi.job_env().global_rank}", flush=True)
    here = cfg.only_rank < 0 or heyhi.job_env().global_rank == cfg.only_rank
    if cfg.sleep_s and not (here and cfg.only_rank >= 0):
        time.sleep(cfg.sleep_s)
    if cfg.crash and here:
        raise RuntimeError("probe crashed on purpose")
    if cfg.exit_code and here:
        sys.exit(cfg.exit_code)
    print("probe done", flush=True)
    return {"tag": cfg.tag}


if __name__ == "__main__":
    heyhi.main()
