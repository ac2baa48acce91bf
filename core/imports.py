"""The project modules a module imports, transitively: what a DVC stage's deps must cover (tools/deps.py
checks dvc.yaml against it) and what the training stage hashes as "the code" of a run."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def packages(root: Path = ROOT) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}


def module_file(module: str, root: Path = ROOT) -> Path | None:
    p = root.joinpath(*module.split("."))
    if (p / "__init__.py").is_file():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").is_file() else None


def direct_imports(path: Path, root: Path = ROOT) -> set[str]:
    """Project modules named by the import statements of one file (relative imports resolved)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_all":  # core.registry
            found |= {f"{package}.{p.stem}" for p in path.parent.glob("*.py") if p.name != "__init__.py"}
    ours = packages(root)
    return {m for m in found if m.split(".")[0] in ours}


def import_closure(module: str, root: Path = ROOT) -> list[Path]:
    """Every project file that importing `module` runs, the package __init__ files included, sorted."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a package import runs its __init__
        path = module_file(name, root)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += list(direct_imports(path, root))
    return sorted(seen)
