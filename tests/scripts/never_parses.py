"""Builds a parser and never calls parse_args."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int)
print("done without parsing")
