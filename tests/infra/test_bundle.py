"""The Lambda bundle: aarch64 builds of compiled dependencies, and nothing the handlers must
not import (dev stack, CDK app, CLI, agent container code)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from serverless_openclaw.infra.bundle import core_dependencies

pytestmark = pytest.mark.infra

EM_AARCH64 = 183
EM_X86_64 = 62
FORBIDDEN = ("serverless_openclaw.local", "serverless_openclaw.infra", "serverless_openclaw.cli",
             "serverless_openclaw.agent", "serverless_openclaw.runtime",
             "serverless_openclaw.adapters.embedded",
             "serverless_openclaw.adapters.memory")  # fmt: skip


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_compiled_dependencies_are_aarch64(lambda_bundle: Path) -> None:
    pydantic_core = list((lambda_bundle / "pydantic_core").glob("_pydantic_core*.so"))
    cryptography = list((lambda_bundle / "cryptography" / "hazmat" / "bindings").glob("_rust*.so"))
    assert pydantic_core and cryptography
    assert "cpython-312-aarch64-linux-gnu" in pydantic_core[0].name
    for library in pydantic_core + cryptography:
        assert elf_machine(library) == EM_AARCH64, library
    machines = {elf_machine(so) for so in lambda_bundle.rglob("*.so")}
    assert machines == {EM_AARCH64}


def test_bundle_holds_the_pinned_core_dependencies(lambda_bundle: Path) -> None:
    installed = {p.name.lower() for p in lambda_bundle.glob("*.dist-info")}
    for requirement in core_dependencies():
        name, version = requirement.split("==")
        normalized = name.lower().replace("-", "_")
        assert any(d.startswith(f"{normalized}-{version}.dist-info") for d in installed), name


def test_bundle_leaves_out_what_handlers_must_not_import(lambda_bundle: Path) -> None:
    package = lambda_bundle / "serverless_openclaw"
    for excluded in ("local", "infra", "cli", "agent"):
        assert not (package / excluded).exists(), excluded
    assert (package / "core").is_dir() and (package / "adapters" / "aws").is_dir()
    assert not (package / "__main__.py").exists()


def _runtime_imports(tree: ast.AST) -> list[str]:
    """Imports executed at run time (those under `if TYPE_CHECKING:` are not)."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module.startswith("serverless_openclaw"):
                # `from package import name` may import a submodule.
                names.extend(f"{node.module}.{alias.name}?" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _module_file(bundle: Path, module: str) -> Path | None:
    base = bundle.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_nothing_in_the_bundle_imports_local_infra_cli_or_agent(lambda_bundle: Path) -> None:
    for source in sorted((lambda_bundle / "serverless_openclaw").rglob("*.py")):
        for module in _runtime_imports(ast.parse(source.read_text())):
            assert not module.startswith(FORBIDDEN), f"{source} imports {module}"


def test_handlers_import_only_bundled_or_standard_modules(lambda_bundle: Path) -> None:
    """Follow the imports of every handler module through our package: each module they
    reach, and each third-party module those import, must be in the bundle."""
    from serverless_openclaw.infra.components.control_plane import HANDLERS, TELEGRAM_HANDLER

    if _module_file(lambda_bundle, "serverless_openclaw.gateway.ws_connect") is None:
        pytest.skip("the gateway handlers (issue 3) are not in the source tree yet")
    available = {p.name for p in lambda_bundle.iterdir() if p.is_dir()}
    available |= {p.stem for p in lambda_bundle.glob("*.py")}
    available |= {p.name.split(".")[0] for p in lambda_bundle.glob("*.so")}
    available |= set(sys.stdlib_module_names)
    queue = [f"serverless_openclaw.gateway.{spec.name}" for spec in (*HANDLERS, TELEGRAM_HANDLER)]
    seen: set[str] = set()
    while queue:
        module = queue.pop()
        optional = module.endswith("?")
        module = module.rstrip("?")
        if module in seen or (optional and _module_file(lambda_bundle, module) is None):
            continue
        seen.add(module)
        source = _module_file(lambda_bundle, module)
        assert source is not None, f"{module} is imported by a handler but not in the bundle"
        for imported in _runtime_imports(ast.parse(source.read_text())):
            assert not imported.startswith(FORBIDDEN), f"{module} imports {imported}"
            if imported.startswith("serverless_openclaw"):
                parts = imported.rstrip("?").split(".")
                queue += [".".join(parts[:i]) for i in range(2, len(parts))]
                queue.append(imported)
                continue
            top = imported.split(".")[0]
            assert top in available, f"{module} imports {imported}, which is not in the bundle"
    assert len(seen) > len(HANDLERS)


def test_every_handler_module_is_in_the_bundle(lambda_bundle: Path) -> None:
    from serverless_openclaw.infra.components.control_plane import HANDLERS, TELEGRAM_HANDLER

    gateway = lambda_bundle / "serverless_openclaw" / "gateway"
    if not (gateway / "ws_connect.py").exists():
        pytest.skip("the gateway handlers (issue 3) are not in the source tree yet")
    for spec in (*HANDLERS, TELEGRAM_HANDLER):
        source = gateway / f"{spec.name}.py"
        assert source.exists(), spec.name
        tree = ast.parse(source.read_text())
        defined = {
            node.name if isinstance(node, ast.FunctionDef) else getattr(node.targets[0], "id", "")
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.Assign)
        }
        assert "handler" in defined, f"{spec.name}.handler is not defined"
