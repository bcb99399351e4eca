"""An argparse script with sub-commands, positionals, aliases and a required sub-command."""
import argparse
import json


def main():
    parser = argparse.ArgumentParser(description="Fit or evaluate.")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    sub = parser.add_subparsers(dest="command", required=True, help="what to do")
    fit = sub.add_parser("fit", help="train a model")
    fit.add_argument("data", help="training data")
    fit.add_argument("--epochs", type=int, default=3, help="passes over the data")
    ev = sub.add_parser("eval-model", aliases=["ev"], help="evaluate a checkpoint")
    ev.add_argument("checkpoint", help="the checkpoint")
    ev.add_argument("--split", choices=["val", "test"], default="val", help="which split")
    ev.add_argument("--metrics", nargs="+", default=["acc"], help="metrics to compute")
    args = parser.parse_args()
    print("HEYHI-GOT " + json.dumps(vars(args), sort_keys=True))


if __name__ == "__main__":
    main()
