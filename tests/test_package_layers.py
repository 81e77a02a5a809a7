"""The import structure of the ``mmseg_uda`` package.

Every module of the package is parsed with :mod:`ast` (nothing is imported)
and each ``import``/``from ... import`` statement, at any depth (function
bodies too), relative or absolute, and each ``importlib.import_module`` call
with a literal name, is resolved to the module of the package it loads. The
tests then refuse:

- an import cycle between modules (the cycle is printed);
- an import that crosses the layers upward. Bottom up: ``utils`` imports
  nothing of ``mmseg_uda``; ``datasets`` and ``models`` import ``utils``
  only; ``evaluation`` imports ``utils``, ``datasets`` and ``models``;
  ``engine`` imports the same three but not ``evaluation`` (it builds
  metrics and loops through the registries, by ``type`` name);
- a top-level subpackage that has no layer yet, and a ``benchmark`` or
  ``demo`` package inside the installed package.

An edge goes to the most specific module named (``from a.b import c`` goes
to ``a.b.c`` when that is a module, else to ``a.b``), and to the packages
between the importer's own ancestors and that module, whose ``__init__``
Python runs on the way.
"""
import ast
import os
import os.path as osp
import shutil
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = 'mmseg_uda'
#: Layer (top-level subpackage) -> the layers it may import.
LAYERS: Dict[str, Set[str]] = {
    'utils': set(),
    'datasets': {'utils'},
    'models': {'utils'},
    'evaluation': {'utils', 'datasets', 'models'},
    'engine': {'utils', 'datasets', 'models'},
}
#: Modules of the package root: ``mmseg_uda/__init__.py`` imports every
#: layer (that registers them); ``version`` imports nothing.
ROOT_MODULES = {PACKAGE: None, f'{PACKAGE}.version': set()}
#: Not library code: these live under ``tools/`` and ``benchmarks/``.
NOT_IN_PACKAGE = ('benchmark', 'benchmarks', 'demo')

#: Known upward imports allowed for now (importer, imported module): none.
#: A new violation is never allowed, and an entry that no longer occurs
#: fails ``test_allow_list_is_current``.
ALLOWED_VIOLATIONS: Set[Tuple[str, str]] = set()

Graph = Dict[str, Set[str]]


def module_files(root: str) -> Dict[str, str]:
    """Module name -> source file, for every module under ``root``.

    Args:
        root (str): The directory holding the package directory.

    Returns:
        dict[str, str]: E.g. ``{'mmseg_uda.utils': '.../__init__.py'}``.
    """
    files = {}
    for dirpath, dirnames, filenames in os.walk(osp.join(root, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        package = osp.relpath(dirpath, root).replace(os.sep, '.')
        for name in filenames:
            if not name.endswith('.py'):
                continue
            module = package if name == '__init__.py' else \
                f'{package}.{name[:-3]}'
            files[module] = osp.join(dirpath, name)
    return files


def _imported_names(tree: ast.AST, module: str,
                    is_package: bool) -> Iterator[str]:
    """Dotted names of the modules (or module attributes) imported."""
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base_parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(base_parts)
                if node.module:
                    base = f'{base}.{node.module}' if base else node.module
            else:
                base = node.module or ''
            yield base
            yield from (f'{base}.{alias.name}' for alias in node.names
                        if alias.name != '*')
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, 'attr',
                          getattr(node.func, 'id', None)) == 'import_module'):
            yield node.args[0].value


def _ancestors(module: str) -> List[str]:
    parts = module.split('.')
    return ['.'.join(parts[:i]) for i in range(1, len(parts))]


def import_graph(root: str) -> Graph:
    """The import edges between the package's modules.

    Args:
        root (str): The directory holding the package directory.

    Returns:
        dict[str, set[str]]: Importing module -> modules it loads.
    """
    files = module_files(root)
    graph: Graph = {}
    for module, path in files.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
        is_package = osp.basename(path) == '__init__.py'
        own = set(_ancestors(module)) | {module}
        targets = set()
        for name in _imported_names(tree, module, is_package):
            if name != PACKAGE and not name.startswith(PACKAGE + '.'):
                continue
            # `from a.b import c`: a.b.c when it is a module, else a.b
            while name and name not in files:
                name = name.rpartition('.')[0]
            if not name:
                continue
            # the packages Python initialises on the way to `name`
            for ancestor in _ancestors(name) + [name]:
                if ancestor not in own:
                    targets.add(ancestor)
        graph[module] = targets
    return graph


def layer_of(module: str) -> Optional[str]:
    """The top-level subpackage of a module (None: the package root)."""
    parts = module.split('.')
    if module in ROOT_MODULES or len(parts) < 2:
        return None
    return parts[1]


def layer_violations(graph: Graph) -> List[Tuple[str, str]]:
    """Edges that go to a layer the importer's layer may not import.

    Args:
        graph (dict[str, set[str]]): From :func:`import_graph`.

    Returns:
        list[tuple[str, str]]: Sorted (importer, imported) pairs.
    """
    bad = []
    for module, targets in graph.items():
        if module in ROOT_MODULES:
            allowed = ROOT_MODULES[module]
            if allowed is None:
                continue
        else:
            allowed = LAYERS.get(layer_of(module), set())
        for target in targets:
            layer = layer_of(target)
            if layer != layer_of(module) and layer not in allowed:
                bad.append((module, target))
    return sorted(bad)


def find_cycles(graph: Graph) -> List[List[str]]:
    """One cycle per strongly connected component with a cycle.

    Args:
        graph (dict[str, set[str]]): From :func:`import_graph`.

    Returns:
        list[list[str]]: Each cycle as ``[m0, m1, ..., m0]``.
    """
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: Graph, component: Set[str]) -> List[str]:
    """A shortest cycle through the first module of ``component``."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f'no cycle in component {sorted(component)}')


def _format(cycle: List[str]) -> str:
    return ' -> '.join(cycle)


@pytest.fixture(scope='module')
def graph() -> Graph:
    return import_graph(REPO_ROOT)


def test_every_layer_is_known(graph):
    unknown = sorted({layer_of(m) for m in graph} - set(LAYERS) - {None})
    assert not unknown, (
        f'subpackages of {PACKAGE} without a layer: {unknown}; add them to '
        'LAYERS in this test with the layers they may import')


def test_no_import_cycle(graph):
    cycles = find_cycles(graph)
    assert not cycles, 'import cycles:\n  ' + '\n  '.join(
        _format(c) for c in cycles)


def test_no_upward_import(graph):
    new = [v for v in layer_violations(graph) if v not in ALLOWED_VIOLATIONS]
    assert not new, 'imports against the layers (importer -> imported):\n  ' \
        + '\n  '.join(f'{a} -> {b}' for a, b in new)


def test_utils_imports_nothing_of_the_package(graph):
    upward = sorted((m, t) for m, targets in graph.items()
                    if layer_of(m) == 'utils' for t in targets
                    if layer_of(t) != 'utils')
    assert not upward, upward


def test_allow_list_is_current(graph):
    stale = sorted(ALLOWED_VIOLATIONS - set(layer_violations(graph)))
    assert not stale, f'allowed violations that no longer occur: {stale}'


def test_no_benchmark_or_demo_in_package(graph):
    found = sorted(m for m in graph if layer_of(m) in NOT_IN_PACKAGE)
    assert not found, f'not library code, move to tools/ or benchmarks/: ' \
        f'{found}'


# The checks themselves, on small packages written to a temporary folder.


def _write_package(root, sources: Dict[str, str]) -> str:
    for module, source in sources.items():
        parts = module.split('.')
        path = osp.join(str(root), *parts)
        if module.count('.') < 2 and not parts[-1].startswith('m_'):
            path = osp.join(path, '__init__.py')  # a (sub)package
        else:
            path += '.py'
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(source)
    return str(root)


def test_graph_resolves_relative_absolute_and_nested_imports(tmp_path):
    root = _write_package(tmp_path, {
        'mmseg_uda': 'from . import utils\n',
        'mmseg_uda.utils': 'from .m_a import f\n',
        'mmseg_uda.utils.m_a': 'import os\nfrom ..utils import m_b\n',
        'mmseg_uda.utils.m_b': 'def g():\n'
                               '    from mmseg_uda.models.m_c import h\n',
        'mmseg_uda.models': '',
        'mmseg_uda.models.m_c': 'from ...mmseg_uda import version\n'
                                'importlib.import_module("mmseg_uda.utils")\n',
        'mmseg_uda.version': '',
    })
    graph = import_graph(root)
    assert graph['mmseg_uda'] == {'mmseg_uda.utils'}
    assert graph['mmseg_uda.utils'] == {'mmseg_uda.utils.m_a'}
    assert graph['mmseg_uda.utils.m_a'] == {'mmseg_uda.utils.m_b'}
    # the function-level import, through the package `models`
    assert graph['mmseg_uda.utils.m_b'] == {'mmseg_uda.models',
                                            'mmseg_uda.models.m_c'}
    assert graph['mmseg_uda.models.m_c'] == {'mmseg_uda.version',
                                             'mmseg_uda.utils'}
    assert layer_violations(graph) == [
        ('mmseg_uda.models.m_c', 'mmseg_uda.version'),
        ('mmseg_uda.utils.m_b', 'mmseg_uda.models'),
        ('mmseg_uda.utils.m_b', 'mmseg_uda.models.m_c')]
    cycles = find_cycles(graph)
    assert cycles == [['mmseg_uda.models.m_c', 'mmseg_uda.utils',
                       'mmseg_uda.utils.m_a', 'mmseg_uda.utils.m_b',
                       'mmseg_uda.models.m_c']]


def test_layers_allow_the_documented_directions(tmp_path):
    root = _write_package(tmp_path, {
        'mmseg_uda': 'from . import engine, evaluation\n',
        'mmseg_uda.utils': '',
        'mmseg_uda.datasets': 'from mmseg_uda import utils\n',
        'mmseg_uda.models': 'from ..utils import *\n',
        'mmseg_uda.evaluation': 'from .. import datasets, models, utils\n',
        'mmseg_uda.engine': 'from mmseg_uda import datasets, models\n'
                            'def f():\n'
                            '    from mmseg_uda.evaluation import x\n',
    })
    graph = import_graph(root)
    assert layer_violations(graph) == [
        ('mmseg_uda.engine', 'mmseg_uda.evaluation')]
    assert find_cycles(graph) == []


def test_cycle_injected_into_a_copy_of_the_package(tmp_path):
    shutil.copytree(osp.join(REPO_ROOT, PACKAGE),
                    osp.join(str(tmp_path), PACKAGE),
                    ignore=shutil.ignore_patterns('__pycache__'))
    before = find_cycles(import_graph(str(tmp_path)))
    package = osp.join(str(tmp_path), PACKAGE, 'utils')
    with open(osp.join(package, 'atomic_io.py'), 'a') as f:
        f.write('\n\ndef _late():\n    from . import number_checks\n')
    with open(osp.join(package, 'number_checks.py'), 'a') as f:
        f.write('\nfrom .atomic_io import atomic_write  # noqa\n')
    after = find_cycles(import_graph(str(tmp_path)))
    assert [c for c in after if c not in before] == [[
        f'{PACKAGE}.utils.atomic_io', f'{PACKAGE}.utils.number_checks',
        f'{PACKAGE}.utils.atomic_io'
    ]]
