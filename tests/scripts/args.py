"""The parser of before_after.py, in a module of its own (as many projects keep it)."""
import argparse


def make_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5, help="how many steps")
    return parser
