"""Hand data: joint layouts, the synthetic renderer and its scenes, augmentation and training datasets."""
