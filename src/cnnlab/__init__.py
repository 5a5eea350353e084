"""cnnlab: reproduce and extend the CNN practical (art-style CNNs, FaceScrub transfer learning, report).

Importing cnnlab is cheap: heavy submodules (optuna, matplotlib, captum) are imported where used.
"""

__version__ = "0.1.0"

from cnnlab.core.errors import CnnlabError  # noqa: E402

__all__ = ["__version__", "CnnlabError"]
