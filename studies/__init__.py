"""Studies: one paper's tables, findings and figures each, registered by name. Importing the package
registers every study."""
from core.registry import STUDIES
from studies import deblur, gauss, ssl, xu2019  # noqa: F401  (registration side effect)
from studies.base import Evidence, Study

__all__ = ["STUDIES", "Evidence", "Study"]
