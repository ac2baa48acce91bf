"""Switch params.yaml to a profile: `python -m tools.profile tiny` (or paper).

A profile (profiles/<name>.yaml) holds only the values it changes; they are merged into params.yaml, which is
otherwise the default profile. `git checkout params.yaml` returns to the default.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from core.config import InputError, atomic_write, load_params, stage_main


def merge(base: dict, override: dict) -> dict:
    """Nested dicts are merged key by key; any other value replaces the base's."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_profile(name: str, params_path: Path = Path("params.yaml"), folder: Path = Path("profiles")) -> dict:
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise InputError(f"no profile {name!r} ({path} is missing); known profiles: {known}")
    merged = merge(load_params(params_path), yaml.safe_load(path.read_text()))
    merged.setdefault("report", {})["profile"] = name
    atomic_write(params_path, lambda tmp: Path(tmp).write_text(
        f"# params.yaml with profile {name} applied (python -m tools.profile {name})\n"
        + yaml.safe_dump(merged, sort_keys=False, width=120)), suffix=".yaml")
    return merged


@stage_main
def main() -> None:
    if len(sys.argv) != 2:
        raise InputError("usage: python -m tools.profile <tiny|paper>")
    apply_profile(sys.argv[1])


if __name__ == "__main__":
    main()
