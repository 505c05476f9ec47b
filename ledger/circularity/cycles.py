"""Biological or technical: the cycle each material class belongs to (for the MCI).

The Ellen MacArthur Foundation's butterfly diagram separates biological materials (which can
return to the biosphere: composting, anaerobic digestion, energy recovery at the end of the
cascade) from technical materials (kept in use by reuse, repair, remanufacture and recycling;
incinerating them is a loss). Source: Ellen MacArthur Foundation & Granta Design,
*Circularity Indicators: An Approach to Measuring Circularity, Methodology* (2019), section on
biological materials.

Secondary materials are classified by their European Waste Catalogue code (Commission Decision
2000/532/EC). Wood, paper and card, natural fibres and biodegradable waste are biological.
Clothes and textiles (20 01 10, 20 01 11) are classified as technical: post-consumer textiles
are mostly synthetic or blended fibres that cannot be composted, so crediting their incineration
as recovery would overstate circularity. Everything not listed is technical, the conservative
default. A product is biological only when every input of its process is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = ["BIOLOGICAL_EWC", "Cycle", "material_cycle", "product_cycle"]

Cycle = Literal["biological", "technical"]

BIOLOGICAL_EWC: dict[str, str] = {
    "02 01 03": "plant-tissue waste",
    "03 01 05": "sawdust, shavings, cuttings, wood",
    "04 02 21": "wastes from unprocessed textile fibres (natural wool)",
    "15 01 01": "paper and cardboard packaging",
    "15 01 03": "wooden packaging",
    "17 02 01": "wood (construction and demolition)",
    "20 01 01": "paper and cardboard",
    "20 01 08": "biodegradable kitchen and canteen waste",
    "20 01 38": "wood other than that in 20 01 37",
    "20 02 01": "biodegradable garden and park waste",
}


def material_cycle(ewc: str) -> Cycle:
    """The cycle of a secondary material class given by its EWC code.

    >>> material_cycle("20 01 38"), material_cycle("15 01 02")
    ('biological', 'technical')
    """
    return "biological" if ewc in BIOLOGICAL_EWC else "technical"


def product_cycle(inputs: Iterable[str]) -> Cycle:
    """A product is biological when all its process inputs are; a blend is technical.

    >>> product_cycle(["15 01 03", "20 01 38"]), product_cycle(["15 01 02", "20 01 38"])
    ('biological', 'technical')
    """
    codes = list(inputs)
    biological = bool(codes) and all(material_cycle(c) == "biological" for c in codes)
    return "biological" if biological else "technical"
