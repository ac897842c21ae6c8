"""The operator's training settings reach the trainer; unset ones keep its defaults."""

from portrait.clone_job import training_config
from portrait.engine.training import TrainingConfig, default_steps


def test_unset_settings_keep_the_trainers_defaults(settings):
    settings.SITTER_TRAIN_STEPS = 0
    config = training_config(photo_count=3, seed=7)
    defaults = TrainingConfig()
    assert (config.rank, config.alpha, config.learning_rate) == (
        defaults.rank,
        defaults.alpha,
        defaults.learning_rate,
    )
    assert config.steps == default_steps(3)
    assert config.resolution is None
    assert config.checkpoint_every == defaults.checkpoint_every
    assert config.gradient_checkpointing is False
    assert config.seed == 7


def test_settings_override_rank_alpha_rate_steps_and_size(settings):
    settings.SITTER_TRAIN_RANK = 8
    settings.SITTER_TRAIN_ALPHA = 4.0
    settings.SITTER_TRAIN_LR = 5e-5
    settings.SITTER_TRAIN_STEPS = 120
    settings.SITTER_TRAIN_RESOLUTION = 256
    settings.SITTER_TRAIN_CHECKPOINT_EVERY = 40
    settings.SITTER_TRAIN_GRADIENT_CHECKPOINTING = True
    config = training_config(photo_count=20, seed=0)
    assert (config.rank, config.alpha, config.learning_rate) == (8, 4.0, 5e-5)
    assert (config.steps, config.resolution, config.checkpoint_every) == (120, 256, 40)
    assert config.gradient_checkpointing is True
