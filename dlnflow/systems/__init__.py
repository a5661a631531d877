"""Dynamical systems built from a Problem: flows (AbstractFlow) and maps (AbstractMap)."""

from .base import AbstractFlow, AbstractMap, AbstractSystem
from .central_flow import CentralFlow
from .end_to_end_flow import EndToEndFlow
from .gradient_descent import GradientDescent
from .gradient_flow import GradientFlow
from .modified_flow import ModifiedFlow

__all__ = ["AbstractFlow", "AbstractMap", "AbstractSystem", "CentralFlow", "EndToEndFlow",
           "GradientDescent", "GradientFlow", "ModifiedFlow"]
