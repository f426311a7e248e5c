"""arena/rl/: the model-free runs (``arena train <task> --agent dqn|reinforce|a2c|ppo``, ``arena
eval``). ``setup`` builds what a run is made of (settings from ``agents/hyperparams.toml``, device,
environments, learner); ``loop`` makes it the learner arena/run_loop.py trains (evaluation and
checkpoints), resumes it, and loads a trained learner back."""
