"""Exceptions that scratchconv raises for bad input, beyond the built-in ValueError and OSError."""


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not an npz archive, damaged, or holding a config or
    weights that do not make a valid model. The message is one sentence naming the file and
    what is wrong with it."""
