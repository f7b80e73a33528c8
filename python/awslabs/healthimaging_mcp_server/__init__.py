"""AWS HealthImaging MCP server: a Rust engine behind a thin Python layer.

The notebook API is `awslabs.healthimaging_mcp_server.engine` (one async function per tool). The
embedded local HealthImaging (`awslabs.healthimaging_mcp_server.local`) lets you try everything
without an AWS account.
"""

from ._engine import __version__

__all__ = ["__version__"]
