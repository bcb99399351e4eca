"""Hyperparameters in a dict inside main() (flags-dest = "main.params" in pyproject.toml)."""
import json


def main():
    params = {"width": 128, "depth": 4, "act": "relu"}
    params["depth"] += 0
    print("HEYHI-GOT " + json.dumps(params, sort_keys=True))


if __name__ == "__main__":
    main()
