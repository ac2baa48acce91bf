"""Params loading and the one way a stage reports bad input: a one-line error, a non-zero exit."""
from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import yaml


class InputError(Exception):
    """Bad input from the user: the message names the input and the fix."""


def load_params(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"params file {path} not found; run from the project root (where dvc.yaml is)")
    with open(path) as f:
        try:
            params = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise InputError(f"params file {path} is not valid YAML ({str(e).splitlines()[0]}); fix it") from None
    if not isinstance(params, dict):
        raise InputError(f"params file {path} holds no sections; restore it with `git checkout {path}`")
    return numbers_as_numbers(params)


# YAML 1.1 reads 2e-4 (no dot) as a string; a user who types it means the number.
_EXPONENT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def numbers_as_numbers(value):
    """Strings in scientific notation become floats, at any depth."""
    if isinstance(value, dict):
        return {k: numbers_as_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_numbers(v) for v in value]
    if isinstance(value, str) and _EXPONENT.match(value):
        return float(value)
    return value


def stage_main(fn: Callable[..., None]) -> Callable[..., None]:
    """Wrap a stage's main(): InputError becomes `error: <message>` and exit code 2, without a traceback."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapped


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], suffix: str = "") -> None:
    """Call write(tmp_path), then rename over `path`, so that an interrupted run never leaves half a file.

    The temporary name is fixed, `.<name>.tmp<suffix>` (`suffix` for writers that need one, as np.savez), because
    torch.save names its archive after the file: a random name would give a model file random bytes. Stages
    never write one path twice at once (DVC's lock)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
