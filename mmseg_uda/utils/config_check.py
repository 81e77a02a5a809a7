"""Refuse unknown keys in the parts of a config that mmseg_uda builds.

:func:`check_uda_config` walks the model, ``custom_hooks``, the dataloaders'
datasets (with their nested ``source``/``target``/``dataset`` configs and
pipelines) and the evaluators. Every ``dict(type=...)`` whose type resolves,
in mmseg's registries under the config's ``default_scope``, to a class of
``mmseg_uda`` is compared with the keyword parameters its constructor
accepts: those of its ``__init__`` and, while that takes ``**kwargs``, of the
next ``__init__`` along the MRO. When the chain ends in a constructor without
``**kwargs`` the keys form a closed set and unknown ones are refused; when
``**kwargs`` reach a class that is not ours (e.g. mmseg's ``IoUMetric``) the
set is open and nothing is refused. Some dict-valued options of ours have a
fixed set of keys too (see :func:`dict_option_keys`), and the values of the
loss-weight options (``adv_weights``, ``ssl_weights``, ``ent_weights``) must
be numbers >= 0.

The tools call it from :func:`mmseg_uda.utils.tool_config.load_tool_config`,
so a typo fails before anything is built.
"""
import difflib
import inspect
from typing import Any, Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry
from mmengine.utils import import_modules_from_strings

from .number_checks import check_weight

#: Output levels that weight dicts of the UDA models may name.
LEVELS = ('main', 'aux')
#: Dict options whose values are loss weights (numbers >= 0).
WEIGHT_OPTIONS = ('adv_weights', 'ssl_weights', 'ent_weights')
#: Keys that mmengine's registries consume themselves.
_BUILD_KEYS = ('type', '_scope_')
_OURS = 'mmseg_uda'
_DATALOADER = 'dataloader'  # walking marker: a dataloader config


def _is_ours(obj: Any) -> bool:
    module = getattr(obj, '__module__', '') or ''
    return module == _OURS or module.startswith(_OURS + '.')


def accepted_keys(cls: type) -> Optional[List[str]]:
    """Keyword arguments that building ``cls`` from a config accepts.

    Follows ``**kwargs`` along the MRO: the parameters of each ``__init__``
    are collected until one without ``**kwargs`` (a closed set) or one of a
    class outside ``mmseg_uda`` that takes ``**kwargs`` (open: None).

    Args:
        cls (type): The class a config's ``type`` resolves to.

    Returns:
        list[str] | None: The sorted accepted keys, or None when any key
        may be accepted.
    """
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            break
        init = vars(klass).get('__init__')
        if init is None:
            continue
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return sorted(names)
        if not _is_ours(klass):
            return None
    return sorted(names)


def _pseudo_label_rule_keys() -> List[str]:
    """Keys of ``PseudoLabelRoundsHook(rule=...)``: the arguments of
    ``PseudoLabelGenerator`` that the hook lets a rule set."""
    from mmseg_uda.evaluation.metrics.pseudo_label_generator import \
        PseudoLabelGenerator
    keys = accepted_keys(PseudoLabelGenerator) or []
    return [k for k in keys
            if k not in ('out_dir', 'img_suffix', 'type', 'model_id')]


def dict_option_keys(cls: type) -> Dict[str, List[str]]:
    """Dict-valued options of ``cls`` whose keys form a fixed set.

    Args:
        cls (type): A class of ``mmseg_uda``.

    Returns:
        dict[str, list[str]]: Option name -> its valid keys (sorted).
    """
    from mmseg_uda.engine.hooks.pseudo_label_rounds_hook import \
        PseudoLabelRoundsHook
    from mmseg_uda.models.uda.advent_uda_segmentor import MinEntUDASegmentor
    from mmseg_uda.models.uda.adversarial_uda_segmentor import \
        AdversarialUDASegmentor

    options: Dict[str, List[str]] = {}
    if issubclass(cls, PseudoLabelRoundsHook):
        options['rule'] = sorted(_pseudo_label_rule_keys())
    if issubclass(cls, AdversarialUDASegmentor):
        options['adv_weights'] = sorted(LEVELS)
        options['ssl_weights'] = sorted(LEVELS)
    if issubclass(cls, MinEntUDASegmentor):
        options['ent_weights'] = sorted(LEVELS)
    return options


def _registries() -> Dict[str, Registry]:
    from mmseg import registry
    return dict(
        MODELS=registry.MODELS,
        DATASETS=registry.DATASETS,
        TRANSFORMS=registry.TRANSFORMS,
        HOOKS=registry.HOOKS,
        METRICS=registry.METRICS,
        DATA_SAMPLERS=registry.DATA_SAMPLERS)


#: Config sections walked, with the registry of their ``type`` dicts.
SECTIONS = dict(
    model='MODELS',
    custom_hooks='HOOKS',
    train_dataloader=_DATALOADER,
    val_dataloader=_DATALOADER,
    test_dataloader=_DATALOADER,
    val_evaluator='METRICS',
    test_evaluator='METRICS')


def _child_registry(registry: str, key: str) -> Optional[str]:
    """Registry of the ``type`` dicts under ``key`` of a node of
    ``registry`` (None: not walked)."""
    if key == 'init_cfg':
        return None
    if key in ('pipeline', 'transforms'):
        return 'TRANSFORMS'
    if registry in (_DATALOADER, 'DATASETS', 'HOOKS') and key in (
            'dataset', 'datasets', 'source', 'target'):
        return 'DATASETS'
    if registry == _DATALOADER:
        return 'DATA_SAMPLERS' if key in ('sampler',
                                          'batch_sampler') else None
    return registry


def _unknown(path: str, what: str, given: Sequence[str],
             valid: Sequence[str]) -> Optional[str]:
    """An error line for the keys of ``given`` not in ``valid``."""
    unknown = sorted(set(given) - set(valid))
    if not unknown:
        return None
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            hints.append(f'{close[0]!r} for {key!r}')
    hint = f' (did you mean {", ".join(hints)}?)' if hints else ''
    return (f'`{path}` ({what}): unknown key(s) {unknown}{hint}; valid '
            f'keys: {sorted(valid)}')


class _Walker:
    """Walks config sections and collects error lines."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.registries = _registries()
        self.errors: List[str] = []

    def resolve(self, registry: str, type_: Any) -> Optional[type]:
        if inspect.isclass(type_):
            return type_
        if not isinstance(type_, str) or registry not in self.registries:
            return None
        reg = self.registries[registry]
        try:
            with reg.switch_scope_and_registry(self.scope) as scoped:
                obj = scoped.get(type_)
        except Exception:  # unknown scope or type: the build reports it
            return None
        return obj if inspect.isclass(obj) else None

    def check_node(self, node: dict, path: str, registry: str) -> None:
        cls = self.resolve(registry, node['type'])
        if cls is None or not _is_ours(cls):
            return
        given = [k for k in node if k not in _BUILD_KEYS]
        valid = accepted_keys(cls)
        if valid is not None:
            line = _unknown(path, cls.__name__, given, valid)
            if line:
                self.errors.append(line)
        for option, keys in dict_option_keys(cls).items():
            value = node.get(option)
            if option in WEIGHT_OPTIONS:
                self.check_weights(value, f'{path}.{option}')
            if isinstance(value, dict):
                line = _unknown(f'{path}.{option}',
                                f'option of {cls.__name__}', list(value),
                                keys)
                if line:
                    self.errors.append(line)

    def check_weights(self, value: Any, path: str) -> None:
        """Error lines for a weight dict that is not one of numbers >= 0.
        """
        if value is None:  # the default, or no self-training
            return
        if not isinstance(value, dict):
            self.errors.append(f'`{path}`: must be a dict of level weights, '
                               f'e.g. dict(main=0.001), got {value!r}')
            return
        for level, weight in value.items():
            try:
                check_weight(weight, f'`{path}.{level}`')
            except (TypeError, ValueError) as exc:
                self.errors.append(str(exc))

    def walk(self, node: Any, path: str, registry: str) -> None:
        if isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                self.walk(item, f'{path}[{i}]', registry)
            return
        if not isinstance(node, dict):
            return
        if 'type' in node and registry != _DATALOADER:
            self.check_node(node, path, registry)
        for key, value in node.items():
            if key == 'type' or not isinstance(value, (dict, list, tuple)):
                continue
            child = _child_registry(registry, key)
            if child is not None:
                self.walk(value, f'{path}.{key}', child)


def check_uda_config(cfg: Config) -> None:
    """Refuse unknown keys in the config parts built by mmseg_uda classes.

    Imports the config's ``custom_imports`` first (so that mmseg_uda's
    classes are registered).

    Args:
        cfg (Config): The full config (after ``--cfg-options``).

    Raises:
        ValueError: Listing, for every offending config dict, its path
            (e.g. ``model.discriminator``), the unknown key(s) and the sorted
            valid keys; and every loss weight that is not a number >= 0,
            with its path (e.g. ``model.adv_weights.main``).
    """
    imports = cfg.get('custom_imports')
    if imports:
        import_modules_from_strings(**imports)
    scope = cfg.get('default_scope') or 'mmseg'
    walker = _Walker(scope)
    with DefaultScope.overwrite_default_scope(scope):
        for section, registry in SECTIONS.items():
            node = cfg.get(section)
            if node is not None:
                walker.walk(node, section, registry)
    if walker.errors:
        raise ValueError('unknown keys or invalid values in the config:\n  ' +
                         '\n  '.join(walker.errors))
