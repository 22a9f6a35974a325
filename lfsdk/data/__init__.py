"""Hand data: joint layouts, the synthetic renderer, augmentation and training datasets."""
