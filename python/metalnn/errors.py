"""Exceptions raised by metalnn; each also derives from the built-in a caller would naturally catch."""


class Error(Exception):
    """Base class of every error metalnn raises."""


class ModelError(Error, ValueError):
    """A malformed, truncated or inconsistent model."""


class UnsupportedOpError(Error, NotImplementedError):
    """The model uses ops (or op variants) the engine does not implement."""


class ShapeError(Error, ValueError):
    """A tensor's shape is not what the model or a node expects."""


class DtypeError(Error, TypeError):
    """A tensor's dtype is not what the model or a node expects."""


class DeviceError(Error, RuntimeError):
    """The requested device is unknown, unavailable here, or failed."""


class KernelSourceError(Error, ValueError):
    """Custom Metal kernel source (metalnn.metal_kernel) that does not compile or breaks an MSL rule.

    `violations` lists each problem as (line, rule, message), with the line in the caller's source."""

    def __init__(self, message: str, violations: "list[tuple[int, str, str]] | None" = None):
        super().__init__(message)
        self.violations = list(violations or [])


class InputError(Error, KeyError):
    """Inputs passed to run() do not match the model's input names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AllocationError(Error, MemoryError):
    """Memory for a tensor or a kernel's table could not be allocated (the message names it and the bytes)."""
