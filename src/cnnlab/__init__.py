"""cnnlab: reproduce and extend the CNN practical (art-style CNNs, FaceScrub transfer learning, report).

Importing cnnlab is cheap: heavy submodules (optuna, matplotlib, captum) are imported where used.
"""

from cnnlab.core.errors import CnnlabError
from cnnlab.core.version import __version__

__all__ = ["__version__", "CnnlabError"]
