"""Pseudo-label rounds of self-training (BDL's SSL) during training."""
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS, LOOPS

from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from mmseg_uda.datasets.target_set import ranking_dataset_cfg

CURRENT = 'current'
STATE_KEY = 'self_training'


def pseudo_label_transforms(pipeline: Sequence[dict]) -> List[dict]:
    """The ``LoadPseudoLabels`` steps of a pipeline config."""
    return [t for t in pipeline if t.get('type') == 'LoadPseudoLabels']


@HOOKS.register_module()
class PseudoLabelRoundsHook(Hook):
    """Regenerate target pseudo-labels with the current model, in rounds.

    Before iteration ``i`` of the schedule (``rounds_at``, or every
    ``interval`` iterations), round ``k`` runs the model being trained over
    the target training images (``ranking_dataset_cfg``: the test pipeline's
    size) on the target-set loop (``TargetSetLoop``, the path of
    ``tools/gen_pseudo_labels.py``) and writes pseudo-labels by ``rule``
    (the ``PseudoLabelGenerator`` metric) into
    ``<label_root>/<run>/round_<k>``; then the link ``<label_root>/current``
    is switched to them. The target pipeline reads its labels through that
    link (``LoadPseudoLabels(label_dir='<label_root>/current',
    optional=True)``), so dataloader workers pick up a round without being
    rebuilt (samples already prefetched keep the previous labels).

    Before the first round the link points to ``initial_labels`` (e.g. the
    output of ``tools/gen_pseudo_labels.py`` on the previous model, BDL's
    recipe), or is removed (no self-training loss until the first round).
    ``<run>`` is the run's timestamp, so a new run never reuses the labels
    of an older one.

    Resume-safe: the round, the run directory and the labels in use are
    saved in every checkpoint (``meta['self_training']``); a resumed run
    points the link back to the labels of its checkpoint and continues the
    schedule from there. A round interrupted while generating continues
    where it stopped (the generator is resumable) when the run is resumed.
    The hook only schedules and points at files: the loss is the model's
    (``ssl_weights`` of ``AdversarialUDASegmentor``).

    Args:
        label_root (str): Where rounds write and ``current`` lives; must
            match the ``label_dir`` of the target pipeline's
            ``LoadPseudoLabels`` (``<label_root>/current``).
        rounds_at (Sequence[int], optional): Iterations before which a
            round runs (0 = from the initial model).
        interval (int, optional): A round every ``interval`` iterations
            (at ``interval``, ``2 * interval``, ...), instead of
            ``rounds_at``.
        rule (dict): Pseudo-label rule and its parameters, e.g.
            ``dict(rule='bdl', quantile=0.5, cap=0.9)``.
        initial_labels (str, optional): Pseudo-labels used before the
            first round: a label directory or a generator output directory
            (holding ``pseudo_labels/``).
        dataset (dict, optional): Dataset config of the images to label;
            by default the target training images at the test size.
        batch_size (int): Images per inference batch.
        num_workers (int): Dataloader workers of the rounds.
    """

    priority = 'NORMAL'
    RULES = ('bdl', 'fixed', 'argmax')
    # what a round's ``PseudoLabelGenerator`` takes from ``rule``
    RULE_KEYS = ('rule', 'quantile', 'cap', 'threshold', 'num_classes',
                 'keep_cache', 'collect_device', 'prefix')
    OPTION_KEYS = dict(rule=RULE_KEYS)

    def __init__(self,
                 label_root: str,
                 rounds_at: Optional[Sequence[int]] = None,
                 interval: Optional[int] = None,
                 rule: dict = dict(rule='bdl', quantile=0.5, cap=0.9),
                 initial_labels: Optional[str] = None,
                 dataset: Optional[dict] = None,
                 batch_size: int = 1,
                 num_workers: int = 0) -> None:
        if (rounds_at is None) == (interval is None):
            raise ValueError('give exactly one of `rounds_at` (iterations) '
                             'and `interval`')
        if interval is not None and interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        if rounds_at is not None and (
                any(int(i) < 0 for i in rounds_at)
                or len(set(rounds_at)) != len(rounds_at)):
            raise ValueError('rounds_at must hold distinct iterations '
                             f'>= 0, got {list(rounds_at)}')
        unknown = sorted(set(dict(rule)) - set(self.RULE_KEYS))
        if unknown:
            raise KeyError(f'unknown keys {unknown} in `rule`; choose among '
                           f'{list(self.RULE_KEYS)}')
        if dict(rule).get('rule', 'bdl') not in self.RULES:
            raise ValueError(f'unknown pseudo-label rule {rule!r}; '
                             f'choose among {self.RULES}')
        self.label_root = osp.abspath(label_root)
        self.rounds_at = None if rounds_at is None else sorted(
            int(i) for i in rounds_at)
        self.interval = interval
        self.rule = dict(rule)
        self.initial_labels = initial_labels
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        # state: saved in checkpoints
        self.round = 0
        self.run_dir: Optional[str] = None
        self.label_dir: Optional[str] = None
        self._loaded: Optional[dict] = None

    # -- schedule and files ---------------------------------------------------
    @property
    def current_link(self) -> str:
        """The link the target pipeline reads its labels through."""
        return osp.join(self.label_root, CURRENT)

    def schedule(self, max_iters: int) -> List[int]:
        """Iterations before which rounds 1, 2, ... run."""
        if self.rounds_at is not None:
            return [i for i in self.rounds_at if i < max_iters]
        return list(range(self.interval, max_iters, self.interval))

    def resolve_initial_labels(self) -> Optional[str]:
        """The initial label directory (absolute), checked to exist."""
        if self.initial_labels is None:
            return None
        path = osp.abspath(self.initial_labels)
        nested = PseudoLabelDir(path).label_dir()
        if osp.isdir(nested):
            path = nested
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'initial pseudo-labels not found: {self.initial_labels} '
                '(make them with tools/gen_pseudo_labels.py CONFIG CHECKPOINT '
                '--work-dir DIR and give DIR)')
        return path

    def point_current(self, target: Optional[str]) -> None:
        """Atomically point ``current`` at ``target`` (remove it if None).

        Only the main process touches the link; every rank waits for it.
        """
        if get_rank() == 0:
            link = self.current_link
            if osp.exists(link) and not osp.islink(link):
                raise FileExistsError(
                    f'{link} exists and is not a link: it is managed by '
                    'PseudoLabelRoundsHook, move it away')
            os.makedirs(self.label_root, exist_ok=True)
            if target is None:
                if osp.islink(link):
                    os.remove(link)
            else:
                inside = osp.commonpath([target, self.label_root]) == \
                    self.label_root
                dest = osp.relpath(target, self.label_root) if inside \
                    else target
                tmp = f'{link}.{os.getpid()}.tmp'
                if osp.lexists(tmp):
                    os.remove(tmp)
                os.symlink(dest, tmp)
                os.replace(tmp, link)
        barrier()

    def check_pipeline(self, runner) -> None:
        """The target pipeline must read labels through ``current``."""
        dataset = runner.cfg.train_dataloader.dataset
        target = dataset.get('target', dataset)
        steps = pseudo_label_transforms(target.get('pipeline', []))
        if len(steps) != 1 or osp.abspath(
                steps[0]['label_dir']) != self.current_link:
            found = [s.get('label_dir') for s in steps]
            raise ValueError(
                'PseudoLabelRoundsHook needs exactly one LoadPseudoLabels in '
                'train_dataloader.dataset.target.pipeline with label_dir='
                f'{self.current_link!r} (label_root + "/current"); found '
                f'{found}')

    @staticmethod
    def restart_prefetch(runner) -> None:
        """Drop the samples dataloader workers loaded before the link was set.

        mmengine builds the training dataloader iterator (and its workers
        start prefetching) before ``before_train``; restarting it makes every
        trained sample read the labels chosen here. Done in fresh and resumed
        runs alike, so both see the same sample stream.
        """
        loop = runner.train_loop
        if getattr(loop.dataloader, 'num_workers', 0) > 0 and hasattr(
                loop, 'dataloader_iterator'):
            loop.dataloader_iterator = type(loop.dataloader_iterator)(
                loop.dataloader)

    # -- hook points --------------------------------------------------------
    def before_train(self, runner) -> None:
        """Start fresh or restore the resumed round, then point the link."""
        self.check_pipeline(runner)
        state = self._loaded if runner.iter > 0 else None
        if state is not None:
            self.round = int(state['round'])
            self.run_dir = state['run_dir']
            self.label_dir = state['label_dir']
        else:
            if runner.iter > 0:
                print_log('resumed from a checkpoint without self-training '
                          'state: starting from the initial labels',
                          logger='current', level=logging.WARNING)
            self.run_dir = osp.join(self.label_root, runner.timestamp)
            self.round = len([i for i in self.schedule(runner.max_iters)
                              if i < runner.iter])
            self.label_dir = self.resolve_initial_labels()
        if self.label_dir is not None and not osp.isdir(self.label_dir):
            raise FileNotFoundError(
                f'pseudo-labels of round {self.round} not found: '
                f'{self.label_dir}')
        self.point_current(self.label_dir)
        print_log(f'self-training round {self.round}, labels: '
                  f'{self.label_dir or "none yet"}', logger='current')
        # e.g. a round before iteration 0
        self.run_due_rounds(runner, runner.iter)
        self.restart_prefetch(runner)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Run the round due before the next iteration loads its batch.

        The loop fetches a batch before ``before_train_iter``, so the round
        of iteration ``i`` runs at the end of iteration ``i - 1`` (before the
        checkpoint of that iteration is saved, which then records it).
        """
        self.run_due_rounds(runner, runner.iter + 1)

    def run_due_rounds(self, runner, next_iter: int) -> None:
        """Run every scheduled round not done yet due at or before
        ``next_iter``."""
        schedule = self.schedule(runner.max_iters)
        while self.round < len(schedule) and \
                schedule[self.round] <= next_iter:
            self.run_round(runner, self.round + 1, schedule[self.round])

    def run_round(self, runner, k: int, iteration: int) -> None:
        """Generate the labels of round ``k`` (due before ``iteration``) and
        switch to them."""
        out_dir = osp.join(self.run_dir, f'round_{k}')
        print_log(f'self-training round {k} at iteration {iteration}: '
                  f'pseudo-labels into {out_dir}', logger='current')
        dataset = self.dataset if self.dataset is not None else \
            ranking_dataset_cfg(runner.cfg)
        loop = LOOPS.build(
            dict(type='TargetSetLoop',
                 dataloader=dict(
                     batch_size=self.batch_size,
                     num_workers=self.num_workers,
                     sampler=dict(type='DefaultSampler', shuffle=False),
                     collate_fn=dict(type='pseudo_collate'),
                     dataset=dataset),
                 evaluator=dict(
                     type='PseudoLabelGenerator', out_dir=out_dir,
                     model_id=f'{self.run_dir} before iteration {iteration}',
                     **self.rule),
                 call_hooks=False),
            default_args=dict(runner=runner))
        loop.run()
        summary = PseudoLabelDir(out_dir).read_summary() \
            if get_rank() == 0 else None
        self.round = k
        self.label_dir = PseudoLabelDir(out_dir).label_dir()
        self.point_current(self.label_dir)
        runner.message_hub.update_info('self_training_round', k)
        print_log(f'self-training round {k} ready: {summary}',
                  logger='current')

    def state(self) -> Dict:
        """What a checkpoint records."""
        return dict(round=self.round, run_dir=self.run_dir,
                    label_dir=self.label_dir)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the round and the labels in use."""
        checkpoint.setdefault('meta', {})[STATE_KEY] = self.state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved state; ``before_train`` uses it when resuming."""
        self._loaded = checkpoint.get('meta', {}).get(STATE_KEY)
