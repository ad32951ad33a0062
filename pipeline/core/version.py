"""The code version stamped into manifests and resume keys, so a new version never resumes an
old run's state.  It sits in the core so that every folder of the pipeline can read it."""

__version__ = "0.1.0"  # pyproject.toml's version
