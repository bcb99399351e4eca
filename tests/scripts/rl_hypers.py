"""Written after Tensorforce's PPO agent settings (tensorforce, `Agent.create(agent='ppo', ...)`, as in its
quickstart): an RL script whose hyperparameters are a `hypers` dict passed to the agent."""
import json

hypers = dict(
    max_episode_timesteps=500,
    network="auto",
    batch_size=10,
    update_frequency=2,
    learning_rate=1e-3,
    subsampling_fraction=0.33,
    multi_step=10,
    likelihood_ratio_clipping=0.25,
    discount=0.99,
    predict_terminal_values=False,
    l2_regularization=0.0,
    entropy_regularization=0.0,
    exploration=0.0,
    variable_noise=0.0,
    parallel_interactions=1,
    seed=None,
    summarizer=None,
    baseline_network=dict(type="auto", size=32, depth=1),  # not a flat literal: stays the script's own
)


def run(agent_settings):
    return dict(agent_settings, baseline_network=None)


if __name__ == "__main__":
    print("HEYHI-GOT " + json.dumps(run(hypers), sort_keys=True))
