"""Vertebral body by marker-controlled watershed on an isotropic grid around the cement.

The body (spec: the centrum enclosed by the outer surface of its cortical shell and its
endplates, cut at the surface continuing the posterior wall) is the basin of the image
gradient that holds the cement, flooded against a basin of everything that is certainly
outside (fat, gas, the far surroundings). The flooding decides, where the thin shell is
broken by partial volume, where the two fronts meet — at the strongest edge left there —
instead of a threshold that leaks through the gap. Because the outside is darker than the
shell on one side and the marrow on the other, the line settles on the outer edge of the
shell. Cement is painted over with what surrounds it first, so that its own edges are
not taken for walls; on larger pixels the flooding is done with two widths painted over
and the body on the sharper edge is kept (``bodies.edge_contrast_hu``). The posterior
elements join the body through the pedicles without a wall, so the basin is cut by the
plane of the posterior wall found in front of the canal.

Modules, in the order a seed goes through them: ``source`` (:class:`FloodBodySource`:
the floodings of one seed and their retries), ``grid`` (the isotropic grid and the CT
resampled onto it), ``masks`` (mask and image operations on the grid, the watershed),
``discs`` (markers in the discs beyond the endplates), ``wall`` (the posterior wall),
``plates`` (the cut at the endplates), ``rays`` (the surface as a radius per direction,
moved onto the shell's outer edge), ``retries`` (which of two floodings gives the body)
and ``params`` (every size, contrast and threshold, with why it is what it is).
"""

from node.analysis.flood.params import FloodParams
from node.analysis.flood.source import FloodBodySource

__all__ = ["FloodBodySource", "FloodParams"]
