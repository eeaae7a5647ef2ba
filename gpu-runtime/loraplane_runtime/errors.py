"""Exit codes of the image contract and the exceptions that map onto them."""

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_CONFIG = 2
EXIT_DATA = 3
EXIT_OOM = 4
EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM after a checkpoint; rerun resumes


class RuntimeFailure(Exception):
    exit_code = EXIT_OTHER


class ConfigError(RuntimeFailure):
    exit_code = EXIT_CONFIG


class DataError(RuntimeFailure):
    exit_code = EXIT_DATA


class Preempted(RuntimeFailure):
    exit_code = EXIT_PREEMPTED


def is_oom(exc: BaseException) -> bool:
    """torch raises OutOfMemoryError on CUDA; CPU allocators raise RuntimeError/MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
