"""Losses f of the end-to-end matrix W: one module per loss, all subclasses of AbstractLoss."""

from .base import AbstractLoss, QuadraticLoss
from .custom import CustomLoss
from .lp import LpTarget
from .regression import Regression
from .square import SquareTarget

__all__ = ["AbstractLoss", "CustomLoss", "LpTarget", "QuadraticLoss", "Regression",
           "SquareTarget"]
