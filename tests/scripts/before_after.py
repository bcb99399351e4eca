"""Appends a line to $HEYHI_TEST_MARKS before and after parse_args; its parser lives in args.py."""
import os

from args import make_parser

with open(os.environ["HEYHI_TEST_MARKS"], "a") as fh:
    fh.write("before\n")
try:
    args = make_parser().parse_args()
except BaseException:  # even catching everything, nothing after parse_args runs while flags are read
    pass
finally:
    with open(os.environ["HEYHI_TEST_MARKS"], "a") as fh:
        fh.write("finally\n")
with open(os.environ["HEYHI_TEST_MARKS"], "a") as fh:
    fh.write(f"after steps={args.steps}\n")
