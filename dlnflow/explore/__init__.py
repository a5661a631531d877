"""``dlnflow explore``: an interactive phase portrait of scalar chains in the browser, in the
spirit of pplane and XPPAUT.

The page shows the two-layer chain F = 0.5 (w2 w1 - y)^2 in the (w1, w2) plane, and deeper
chains in the exact reduced coordinates of ``portrait_deep`` (the invariant surface
w2 = w3 = ... = wL): direction field of -grad F, minimum set, critical points coloured by class,
invariant curves w1^2 - w2^2 = c. A click starts gradient flow (a curve) and GD at the chosen
eta (dots joined by thin lines) from the clicked point; their losses are drawn against
t = k eta on a log axis and their imbalance D_1 = w2^2 - w1^2 beside it (constant along the
flow). Controls: depth, target y, eta (with the stability threshold 2 / lambda_max marked),
number of GD steps, clear.

Why Bokeh server rather than Panel: the app needs exactly what Bokeh itself provides (figures,
data sources that the server streams to the page, tap events, a few widgets), and Panel is a
layer on top of Bokeh that would add a dependency (param, and Panel's own release cycle pinned
to Bokeh versions) without adding anything used here. Bokeh's server runs the callbacks in
Python, so a click calls :func:`dlnflow.simulate` directly, with the compiled solver kept warm
in the one server process; ``bokeh.server.server.Server`` starts it from the command line.

Modules: ``model`` (what is computed: portrait data from ``dlnflow.portrait``, runs from
``dlnflow.simulate``), ``figures`` (Bokeh drawing only), ``app`` (one page's state and
callbacks), ``server`` (serving).
"""

from .model import Run, Setting, portrait_view, run_from, warm

__all__ = ["Run", "Setting", "portrait_view", "run_from", "warm"]
