"""A script whose hyperparameters are a `hypers` dict of 19 literals (HeyHi reads them with ast)."""
import json

hypers = {
    "num_actors": 16,
    "rollout_length": 8,
    "batch_size": 256,
    "seed": -1,
    "learning_rate": 3e-4,
    "discount": 0.99,
    "gae_lambda": 0.95,
    "clip": 0.2,
    "use_gae": True,
    "normalize_obs": False,
    "env_name": "CartPole-v1",
    "optimizer": "adam",
    "checkpoint": None,
    "log_dir": None,
    "hidden_sizes": [64, 64],
    "lr_milestones": [0.5, 0.75],
    "tags": ["baseline", "ppo"],
    "flags": [],
    "betas": (0.9, 0.999),
}

hypers["rollout_length"] = hypers["rollout_length"] * 1  # later assignments stay the script's own

if __name__ == "__main__":
    print("HEYHI-GOT " + json.dumps(hypers, sort_keys=True))
