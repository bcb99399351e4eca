"""Hostile: forks looping children (their pids in $HEYHI_TEST_MARKS), then floods its output for ever."""
import argparse
import os
import sys

for _ in range(3):
    pid = os.fork()
    if pid == 0:
        while True:
            pass
    with open(os.environ["HEYHI_TEST_MARKS"], "a") as fh:
        fh.write(f"{pid}\n")
line = "x" * 10000 + "\n"
while True:
    sys.stdout.write(line)
argparse.ArgumentParser().parse_args()
