"""hafs: composable JSON Lines tools for local AI and training-data pipelines."""

__version__ = "0.1.0"
