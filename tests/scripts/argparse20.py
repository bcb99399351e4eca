"""An argparse script of 20 flags: types, choices, store_true, nargs, count, append, groups."""
import argparse
import json

parser = argparse.ArgumentParser(description="Train a model (20 flags).")
parser.add_argument("--lr", type=float, default=0.001, help="learning rate")
parser.add_argument("--batch-size", type=int, default=32, help="batch size")
parser.add_argument("--epochs", type=int, default=10, help="epochs (default: %(default)s)")
parser.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default="adam", help="optimizer")
parser.add_argument("--precision", type=int, choices=[16, 32], default=32, help="bits per float")
parser.add_argument("--device", default="cpu", help="device")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--layers", type=int, nargs="+", default=[64, 64], help="hidden sizes")
parser.add_argument("--dropouts", type=float, nargs=2, default=[0.1, 0.2], help="two dropout rates")
parser.add_argument("--tags", nargs="*", default=[], help="free tags")
parser.add_argument("--verbose", "-v", action="count", default=0, help="more output")
parser.add_argument("--amp", action="store_true", help="mixed precision")
parser.add_argument("--no-shuffle", dest="shuffle", action="store_false", help="keep the data's order")
parser.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=False, help="log to wandb")
parser.add_argument("--include", action="append", help="extra data sets")
parser.add_argument("--fast", dest="mode", action="store_const", const="fast", default="normal", help="fast mode")
data = parser.add_argument_group("data")
data.add_argument("--data-dir", default="./data", help="where the data is")
data.add_argument("--num-workers", type=int, default=2, help="loader processes")
start = parser.add_mutually_exclusive_group()
start.add_argument("--resume", type=str, help="a checkpoint to resume from")
start.add_argument("--init", type=str, help="weights to start from")

if __name__ == "__main__":
    args = parser.parse_args()
    print("HEYHI-GOT " + json.dumps(vars(args), sort_keys=True))
