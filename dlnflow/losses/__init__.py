"""Losses f of the end-to-end matrix W: one module per loss, all subclasses of AbstractLoss."""

from .base import AbstractLoss, QuadraticLoss
from .completion import MatrixCompletion
from .custom import CustomLoss
from .linear import LinearMeasurementLoss
from .lp import LpTarget
from .regression import Regression
from .sensing import MatrixSensing
from .square import SquareTarget

__all__ = ["AbstractLoss", "CustomLoss", "LinearMeasurementLoss", "LpTarget",
           "MatrixCompletion", "MatrixSensing", "QuadraticLoss", "Regression", "SquareTarget"]
