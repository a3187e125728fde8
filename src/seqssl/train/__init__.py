"""Training: optimisers and schedules, the pretraining loop."""
