"""Keras-style layers, NHWC. See docs/architecture.md for the contract they share."""
from .activations import Activation, ReLU, Softmax
from .base import LAYER_CLASSES, Layer
from .conv import Conv2D
from .core import Dense, Flatten
from .dropout import Dropout
from .input import Input
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D



def get(class_name):
    """The layer class called ``class_name`` ("Conv2D", "Dense", ...), or a ValueError listing them."""
    if class_name not in LAYER_CLASSES:
        raise ValueError(f"unknown layer class {class_name!r}: choose one of {', '.join(LAYER_CLASSES)}")
    return LAYER_CLASSES[class_name]


__all__ = ["Layer", "Input", "Activation", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "Flatten", "Dense", "Dropout", "BatchNormalization", "ReLU", "Softmax", "LAYER_CLASSES", "get"]
