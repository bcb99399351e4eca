"""Allocates 2 GiB before parse_args (the memory limit stops it)."""
import argparse

big = bytearray(2 << 30)
argparse.ArgumentParser().parse_args()
