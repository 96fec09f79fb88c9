"""Stopping the servers a benchmark started."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 30.0) -> None:
    """SIGTERM, as a service manager stops a server; SIGKILL if it is still there after
    `grace_seconds`."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
