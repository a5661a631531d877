"""Plotting: every function draws given data on a matplotlib Axes and returns it; the data come
from the library (``dlnflow.basins``, ``dlnflow.orbits``, ``dlnflow.critical``, trajectories).

portrait (phase_portrait, reduced_portrait), basins (plot_basins), orbits (plot_orbit_diagram),
graph (draw_connection_graph), trajectories (loss_curves), spectra
(singular_value_trajectories), style (paper rc, sizes, palette), save (a figure's bytes in a
format, as the pipeline writes them).
"""

from . import basins, graph, orbits, portrait, spectra, style, trajectories
from .basins import plot_basins
from .graph import draw_connection_graph
from .orbits import plot_orbit_diagram
from .portrait import phase_portrait, reduced_portrait
from .spectra import singular_value_trajectories
from .trajectories import loss_curves

__all__ = [
    "basins",
    "draw_connection_graph",
    "graph",
    "loss_curves",
    "orbits",
    "phase_portrait",
    "plot_basins",
    "plot_orbit_diagram",
    "portrait",
    "reduced_portrait",
    "singular_value_trajectories",
    "spectra",
    "style",
    "trajectories",
]
