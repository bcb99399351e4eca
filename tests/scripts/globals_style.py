"""The same 19 hyperparameters as module globals (HeyHi reads them with ast)."""
import json

num_actors = 16
rollout_length = 8
batch_size = 256
seed = -1
learning_rate = 3e-4
discount = 0.99
gae_lambda = 0.95
clip = 0.2
use_gae = True
normalize_obs = False
env_name = "CartPole-v1"
optimizer = "adam"
checkpoint = None
log_dir = None
hidden_sizes = [64, 64]
lr_milestones = [0.5, 0.75]
tags = ["baseline", "ppo"]
flags = []
betas = (0.9, 0.999)

num_actors = num_actors * 1  # not a literal: the first assignment is the flag
_private = 3  # names starting with "_" are not flags

if __name__ == "__main__":
    names = [n for n in dir() if not n.startswith("_") and n not in ("json", "names")]
    print("HEYHI-GOT " + json.dumps({n: globals()[n] for n in names}, sort_keys=True))
