"""Losses f of the end-to-end matrix W: one module per loss, all subclasses of AbstractLoss."""

from .base import AbstractLoss, Optimum, QuadraticLoss
from .completion import MatrixCompletion
from .cross_entropy import CrossEntropy
from .custom import CustomLoss
from .linear import LinearMeasurementLoss
from .lp import LpRegression, LpTarget
from .regression import Regression
from .sensing import MatrixSensing
from .square import SquareTarget

__all__ = ["AbstractLoss", "CrossEntropy", "CustomLoss", "LinearMeasurementLoss", "LpRegression",
           "LpTarget", "MatrixCompletion", "MatrixSensing", "Optimum", "QuadraticLoss",
           "Regression", "SquareTarget"]
