"""``mmseg_uda.utils`` loads nothing else of the package and registers
nothing; the ``atomic_local`` file backend comes with ``mmseg_uda.engine``.

Runs in a fresh interpreter where ``mmseg_uda`` is an empty package object,
so that the package's ``__init__`` (which imports every layer) does not run
and only what ``utils`` itself imports gets loaded.
"""
import json

from tests.conftest import REPO_ROOT
from tests.tool_runs import run_python

PROBE = r'''
import json, os, pkgutil, sys, types
from mmengine.fileio.backends.registry_utils import backends

package = types.ModuleType('mmseg_uda')
package.__path__ = [os.path.join(sys.argv[1], 'mmseg_uda')]
sys.modules['mmseg_uda'] = package
import mmseg_uda.utils
for info in pkgutil.iter_modules(mmseg_uda.utils.__path__):
    __import__('mmseg_uda.utils.' + info.name)
loaded = sorted(m for m in sys.modules if m.startswith('mmseg_uda.')
                and m.split('.')[1] != 'utils')
after_utils = 'atomic_local' in backends
import mmseg_uda.engine
print(json.dumps(dict(loaded=loaded, after_utils=after_utils,
                      after_engine=backends.get('atomic_local').__name__)))
'''


def test_utils_loads_and_registers_nothing_else():
    proc = run_python(['-c', PROBE, REPO_ROOT], repo_root=REPO_ROOT,
                      timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['loaded'] == []
    # not a side effect of importing utils ...
    assert result['after_utils'] is False
    # ... but of the engine, whose checkpoint hooks save with it
    assert result['after_engine'] == 'AtomicLocalBackend'
