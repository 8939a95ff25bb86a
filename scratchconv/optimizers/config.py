"""The one writer and reader of a ``{"class_name", "config"}`` dict, for optimizers and schedules
alike."""


def class_config(obj):
    """``{"class_name", "config"}`` of an optimizer or schedule: its class's name and ``get_config()``."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def from_class_config(classes, config, what):
    """``classes[config["class_name"]].from_config(config["config"])``; a ValueError saying
    ``what`` must be such a dict, or that the config does not fit the class."""
    if not (isinstance(config, dict) and config.get("class_name") in classes
            and isinstance(config.get("config", {}), dict)):
        raise ValueError(f'{what} must be {{"class_name", "config"}} with class_name one of '
                         f'{", ".join(classes)}, got {config!r}')
    try:
        return classes[config["class_name"]].from_config(config.get("config", {}))
    except TypeError as err:  # an option the class does not take
        raise ValueError(f"the {config['class_name']} config {config.get('config')!r} does not fit it: "
                         f"{err}") from None
