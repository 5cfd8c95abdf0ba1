"""Test image registry fixtures for crisp's image-pull tests.

registry.Registry runs Debian's docker-registry on 127.0.0.1 (optionally with
basic or token auth); images.push_all pushes the test images into it.
"""

from .client import RegistryClient  # noqa: F401
from .registry import Registry  # noqa: F401
from .images import HOSTILE, ImageInfo, big, push_all  # noqa: F401
