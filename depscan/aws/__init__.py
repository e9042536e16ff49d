"""Scans of what is already deployed: AWS Lambda functions and their layers (``depscan aws lambda``).

``boto3`` is an optional dependency (``pip install 'pydepscan[aws]'``): nothing here imports it at
module level, and ``require_boto3`` turns its absence into a usage error that says how to install it.
"""

from __future__ import annotations

from types import ModuleType

from depscan.errors import UsageError

INSTALL_HINT = "pip install 'pydepscan[aws]'"


def require_boto3() -> ModuleType:
    """The ``boto3`` module, or a usage error naming the extra that installs it."""
    try:
        import boto3
    except ImportError as e:
        raise UsageError(f"`depscan aws` needs boto3, which is not installed: {INSTALL_HINT}") from e
    module: ModuleType = boto3
    return module
