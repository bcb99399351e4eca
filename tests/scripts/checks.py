"""Required flags, int choices, a required mutually exclusive group, a store_true whose default is on,
a --x/--no-x pair on one dest, type=bool and positionals."""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="the data set")
parser.add_argument("--gpus", type=int, choices=[1, 2, 4, 8], default=1, help="GPUs")
parser.add_argument("--mode", choices=["fast-path", "slow path"], default="fast-path", help="not names: a string")
group = parser.add_mutually_exclusive_group(required=True)
group.add_argument("--train", action="store_true", help="train")
group.add_argument("--evaluate", action="store_true", help="evaluate")
parser.add_argument("--always", action="store_true", default=True, help="on, and cannot be turned off")
parser.add_argument("--augment", dest="augment", action="store_true", help="augment the data")
parser.add_argument("--no-augment", dest="augment", action="store_false", help="do not augment")
parser.set_defaults(augment=True)
parser.add_argument("--legacy", type=bool, default=False, help="type=bool: bool(text)")
parser.add_argument("src", help="source")
parser.add_argument("dst", nargs="?", default="out", help="destination")

if __name__ == "__main__":
    args = parser.parse_args()
    print("HEYHI-GOT " + json.dumps(vars(args), sort_keys=True))
