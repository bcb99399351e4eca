"""A dest HeyHi cannot use as a field name."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--model.depth", type=int, default=3)
parser.parse_args()
