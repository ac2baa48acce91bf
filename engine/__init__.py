"""The training loop and batched inference that stages share (train, tune, evaluate): they sit above models,
degradations and objectives, and below the pipeline's stages."""
