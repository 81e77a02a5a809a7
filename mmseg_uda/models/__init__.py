"""Models: registering them in mmseg's ``MODELS`` happens on import."""
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .discriminators import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .translators import *  # noqa: F401,F403
from .uda import *  # noqa: F401,F403
