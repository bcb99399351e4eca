"""Never reaches parse_args: loops for ever."""
import argparse

while True:
    pass
argparse.ArgumentParser().parse_args()
