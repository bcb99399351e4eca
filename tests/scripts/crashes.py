"""Fails before it reaches parse_args."""
import argparse


def load():
    raise ValueError("no data set named 'imagenet-42'")


parser = argparse.ArgumentParser()
data = load()
parser.parse_args()
