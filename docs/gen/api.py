"""Generate the API reference (docs/reference/**) from the package, and fail on a missing docstring.

Run by mkdocs-gen-files at build time. Every module under ``dlnflow/`` (found on disk, so a new
module gets its page without an edit here) gets one page rendered by mkdocstrings; the
command modules are documented by the command-line reference instead (``docs/gen/cli.py``).
A package page lists the names its ``__all__`` exports with a link to where each is defined.

A public name without a docstring is logged as a warning, which ``mkdocs build --strict`` turns
into a failed build. Public: a module's ``__all__`` if it has one, otherwise the classes and
functions it defines whose names do not start with '_'; and the methods and properties such a
class defines (a method that overrides a documented one inherits its docstring, as
``inspect.getdoc`` and the ``griffe_inherited_docstrings`` extension do).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dlnflow"
SKIP = ("dlnflow.commands", "dlnflow.analyses")
log = logging.getLogger("mkdocs.plugins.dlnflow.api")


def module_names() -> list[str]:
    """Dotted names of the public modules of dlnflow, sorted (packages before their modules)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or ".venv" in parts:
            continue
        name = ".".join(parts)
        if name.startswith(SKIP):
            continue
        out.append(name)
    return out


def public_names(mod) -> list[str]:
    """The public names of a module (its __all__, else what it defines)."""
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return [n for n, v in vars(mod).items() if not n.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == mod.__name__]


def missing_docstrings(mod) -> list[str]:
    """Public names of ``mod`` (and public members of its classes) without a docstring."""
    missing = []
    for name in public_names(mod):
        obj = getattr(mod, name, None)
        if obj is None or not (inspect.isclass(obj) or inspect.isfunction(obj)
                               or inspect.ismodule(obj) or callable(obj)):
            continue                      # constants: documented by the module docstring
        if getattr(obj, "__module__", mod.__name__) != mod.__name__ and not inspect.ismodule(obj):
            continue                      # re-exported: checked where it is defined
        if not inspect.getdoc(obj):
            missing.append(f"{mod.__name__}.{name}")
        if inspect.isclass(obj):
            for mname, member in vars(obj).items():
                if mname.startswith("_"):
                    continue
                if not (inspect.isfunction(member) or isinstance(
                        member, (property, classmethod, staticmethod))
                        or callable(member) and hasattr(member, "__wrapped__")):
                    continue
                if not inspect.getdoc(getattr(obj, mname, member)):
                    missing.append(f"{mod.__name__}.{name}.{mname}")
    return missing


def summary(obj) -> str:
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)
            or callable(obj)):
        return f"constant ({type(obj).__name__}); see the module docstring"
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def defining_page(obj, known: set[str]) -> str | None:
    """Dotted path under which mkdocstrings documents ``obj`` (None: not on any page)."""
    if inspect.ismodule(obj):
        return obj.__name__ if obj.__name__ in known else None
    modname = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", getattr(obj, "__name__", None))
    if modname in known and qual:
        return f"{modname}.{qual}"
    return None


def package_table(mod, known: set[str]) -> str:
    rows = ["| name | summary |", "|---|---|"]
    for name in public_names(mod):
        obj = getattr(mod, name)
        target = defining_page(obj, known)
        label = f"`{name}`"
        link = f"[{label}][{target}]" if target else label
        rows.append(f"| {link} | {summary(obj)} |")
    return "\n".join(rows)


def page(name: str, mod, known: set[str]) -> str:
    title = f"# `{name}`\n\n"
    if name == "dlnflow":
        return (title + "::: dlnflow\n    options:\n      members: false\n      "
                "show_root_heading: false\n\n## Public names (`dlnflow.__all__`)\n\n"
                + package_table(mod, known) + "\n")
    if hasattr(mod, "__path__"):
        subs = sorted(k for k in known if k.startswith(name + ".") and "." not in
                      k[len(name) + 1:])
        text = title + f"::: {name}\n    options:\n      members: false\n      " \
                       "show_root_heading: false\n\n"
        if hasattr(mod, "__all__"):
            text += "## Exported names\n\n" + package_table(mod, known) + "\n\n"
        own = [n for n in public_names(mod) if (inspect.isclass(getattr(mod, n))
               or inspect.isfunction(getattr(mod, n))) and (
               getattr(getattr(mod, n), "__module__", None) == name
               or defining_page(getattr(mod, n), known) is None)]
        for n in own:
            text += f"::: {name}.{n}\n\n"
        if subs:
            text += "## Modules\n\n" + "\n".join(
                f"- [`{s}`][{s}]: {summary(importlib.import_module(s))}" for s in subs) + "\n"
        return text
    return title + f"::: {name}\n    options:\n      show_root_heading: false\n"


def main() -> None:
    names = module_names()
    known = set(names)
    nav = mkdocs_gen_files.Nav()
    for name in names:
        mod = importlib.import_module(name)
        for miss in missing_docstrings(mod):
            log.warning("public name without a docstring: %s", miss)
        parts = name.split(".")
        doc_path = Path("reference", *parts[1:], "index.md") if hasattr(mod, "__path__") \
            else Path("reference", *parts[1:]).with_suffix(".md")
        nav[tuple(parts)] = Path(*doc_path.parts[1:]).as_posix()
        with mkdocs_gen_files.open(doc_path, "w") as fh:
            fh.write(page(name, mod, known))
    with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as fh:
        fh.writelines(nav.build_literate_nav())


main()
