"""What models, degradations, objectives, studies and stages share: the registry, params and errors, sRGB,
metrics, frame I/O and the evaluation folders. Nothing here imports the pipeline."""
