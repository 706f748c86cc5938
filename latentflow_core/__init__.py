"""Plain-torch building blocks of LatentFlow: no Gymnasium, no SB3.

``LatentFlowCore`` (``core.py``) joins a Perceiver IO encoder (``encoders.py``), an HRM-style planner
(``planner.py``) and a continuous-time worker (``worker.py`` over the cells in ``cells.py``); its recurrent
state is ``CoreState`` (``state.py``) and its settings ``CoreConfig`` (``config.py``).
"""

from latentflow_core.cells import CfCCell, GRUWorkerCell, LTCCell, make_cell
from latentflow_core.config import ENCODERS, PLANNERS, PRESETS, WORKERS, CoreConfig
from latentflow_core.core import LatentFlowCore
from latentflow_core.state import CoreState

__all__ = [
    "ENCODERS",
    "PLANNERS",
    "PRESETS",
    "WORKERS",
    "CfCCell",
    "CoreConfig",
    "CoreState",
    "GRUWorkerCell",
    "LTCCell",
    "LatentFlowCore",
    "make_cell",
]
