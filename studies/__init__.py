"""Studies: one paper's tables, findings and figures each, registered by name. Importing the package
registers every study."""
from core.registry import STUDIES, import_all

import_all(__name__, __file__)
from studies.base import Evidence, Study  # noqa: E402

__all__ = ["STUDIES", "Evidence", "Study"]
