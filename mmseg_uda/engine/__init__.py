"""Engine components: registering them in mmseg's registries on import."""
from .optimizers import *  # noqa: F401,F403
