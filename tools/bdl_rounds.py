"""BDL's bidirectional learning: alternate translator and segmentor rounds.

BDL's Algorithm 1: for k = 1..K, train the translator F_k with the
perceptual loss of the last segmentor, translate the source set, train
M_k^0 on it without pseudo-labels, then N times: label the target images
with M_k^(n-1) and train M_k^n with them (adversarial + SSL). Each step is
an ordinary tool call whose outputs feed the next by path (all under
``--work-dir W``)::

    W/round0/segmentor/            M^0: the segmentor config without
                                   pseudo-labels on the original source,
                                   --no-ssl-iters iterations (BDL: 80k;
                                   skipped with --init-checkpoint)
    W/round<k>/perceptual_segmentor.pth
                                   the last segmentor's weights as BDL's
                                   perceptual network takes them (the first
                                   len(perceptual_segmentor.dilations)
                                   classifier convs)
    W/round<k>/translator.py       translator config of the round
    W/round<k>/translator/         tools/train.py: F_k, perceptual loss of
                                   the previous round's last segmentor
    W/round<k>/translated_source/  tools/translate_source.py: F_k(source)
    W/round<k>/pictures.png        tools/visualize_translation.py
    W/round<k>/segmentor0.py, segmentor0/
                                   M_k^0 on the translated source, no SSL,
                                   --no-ssl-iters iterations
    W/round<k>/pseudo_labels<n>/   tools/gen_pseudo_labels.py: M_k^(n-1)
                                   on the target images (the config's rule)
    W/round<k>/segmentor<n>.py, segmentor<n>/
                                   M_k^n: adversarial + SSL, n = 1..N, the
                                   config's max_iters (BDL: 120k)
    W/rounds.json                  the steps done and their outputs
    W/round<k>/<step>.log          each step's output

Usage::

    python tools/bdl_rounds.py --work-dir W [--rounds 2] [--ssl-steps 2]
        [--segmentor-config configs/bdl/deeplabv2_r101_ssl_gta2cs.py]
        [--translator-config configs/bdl/cyclegan_perceptual_gta2cs.py]
        [--init-checkpoint M0.pth] [--no-ssl-iters 80000] [--dry-run]
        [--segmentor-options K=V ...] [--translator-options K=V ...]
        [--label-options --batch-size 4 ...]

The per-step configs are written as plain files (the inputs with their
``--*-options`` and the round's paths applied), so any step can be re-run
by hand with the command the driver prints. The driver is resumable: steps
recorded in ``rounds.json`` are skipped, and a step interrupted midway is
re-run with its own resume (training restarts from its last checkpoint,
translation and labelling skip the files they already wrote).
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction

from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from mmseg_uda.utils.atomic_io import atomic_write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STATE_FILE = 'rounds.json'
# BDL's README: segmentors without SSL stop at 80k iterations (with SSL: 120k,
# the SSL config's own max_iters).
NO_SSL_ITERS = 80000


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="BDL's alternating translator / segmentor rounds")
    parser.add_argument('--work-dir', required=True,
                        help='directory of every round and step')
    parser.add_argument('--rounds', type=int, default=2,
                        help='number of rounds K (BDL: 2)')
    parser.add_argument('--ssl-steps', type=int, default=2,
                        help='self-training steps N per round (BDL: 2)')
    parser.add_argument(
        '--segmentor-config',
        default='configs/bdl/deeplabv2_r101_ssl_gta2cs.py',
        help='adversarial + SSL segmentor config')
    parser.add_argument(
        '--translator-config',
        default='configs/bdl/cyclegan_perceptual_gta2cs.py',
        help='translator config')
    parser.add_argument('--init-checkpoint',
                        help='segmentor M0 (default: trained as round 0)')
    parser.add_argument(
        '--no-ssl-iters', type=int, default=NO_SSL_ITERS,
        help='iterations of the segmentors trained without pseudo-labels '
        f'(M0, M_k^0; BDL: {NO_SSL_ITERS}); the SSL runs keep the '
        "segmentor config's train_cfg.max_iters (BDL: 120000)")
    parser.add_argument('--segmentor-options', nargs='+', action=DictAction,
                        default={}, help='KEY=VALUE overrides of the '
                        'segmentor config')
    parser.add_argument('--translator-options', nargs='+',
                        action=DictAction, default={},
                        help='KEY=VALUE overrides of the translator config')
    parser.add_argument('--label-options', nargs=argparse.REMAINDER,
                        default=[], help='extra arguments of '
                        'tools/gen_pseudo_labels.py (give them last)')
    parser.add_argument('--dry-run', action='store_true',
                        help='write the configs, print the commands, '
                        'run nothing')
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f'--rounds must be at least 1, got {args.rounds}')
    if args.ssl_steps < 0:
        parser.error(f'--ssl-steps must be >= 0, got {args.ssl_steps}')
    if args.no_ssl_iters < 1:
        parser.error(f'--no-ssl-iters must be >= 1, got {args.no_ssl_iters}')
    for what in ('segmentor_config', 'translator_config', 'init_checkpoint'):
        path = getattr(args, what)
        if path is not None and not osp.isfile(path):
            parser.error(f"{what.replace('_', ' ')} not found: {path}")
    return args


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint a finished ``tools/train.py`` run saved last."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        raise FileNotFoundError(f'no checkpoint in {work_dir}: '
                                f'{pointer} is missing')
    with open(pointer) as f:
        path = f.read().strip()
    if not osp.isfile(path):
        raise FileNotFoundError(f'{pointer} names a missing file: {path}')
    return path


def find_step(pipeline: List[dict], type_name: str, where: str) -> dict:
    """The single transform of ``type_name`` in a pipeline config."""
    steps = [t for t in pipeline if t.get('type') == type_name]
    if len(steps) != 1:
        raise ValueError(f'{where} must hold exactly one {type_name}, '
                         f'found {len(steps)}')
    return steps[0]


def rounds_hook(cfg: Config) -> dict:
    """The ``PseudoLabelRoundsHook`` entry of a segmentor config's hooks."""
    hooks = [h for h in cfg.get('custom_hooks', [])
             if h.get('type') == 'PseudoLabelRoundsHook']
    if len(hooks) != 1:
        raise ValueError(
            'the segmentor config must have exactly one '
            f'PseudoLabelRoundsHook in custom_hooks (found {len(hooks)}): '
            'start from '
            'configs/bdl/deeplabv2_r101_ssl_gta2cs.py')
    return hooks[0]


def rule_arguments(rule: dict) -> List[str]:
    """``tools/gen_pseudo_labels.py`` flags of a pseudo-label rule."""
    flags = {'rule': '--rule', 'quantile': '--quantile', 'cap': '--cap',
             'threshold': '--threshold'}
    unknown = set(rule) - set(flags)
    if unknown:
        raise ValueError(f'PseudoLabelRoundsHook rule keys {sorted(unknown)} '
                         'have no tools/gen_pseudo_labels.py flag')
    return [f'{flags[k]}={v}' for k, v in rule.items()]


def segmentor_round_config(base: Config, out_dir: str,
                           translated: Optional[str],
                           labels: Optional[str],
                           label_root: str = 'ssl_labels',
                           no_ssl_iters: int = NO_SSL_ITERS) -> Config:
    """The segmentor config of a round.

    Args:
        base (Config): The SSL segmentor config with its overrides.
        out_dir (str): The round's directory.
        translated (str, optional): Translated source images (None: the
            original source).
        labels (str, optional): Initial pseudo-labels (None: no SSL term,
            trained for ``no_ssl_iters``; else the config's ``max_iters``).
        label_root (str): The hook's ``label_root`` inside ``out_dir``.
        no_ssl_iters (int): Iterations of a run without pseudo-labels.
    """
    cfg = copy.deepcopy(base)
    if labels is None:
        cfg.train_cfg.max_iters = no_ssl_iters
    dataset = cfg.train_dataloader.dataset
    if translated is not None:
        dataset.source.data_prefix.img_path = translated
    root = osp.join(out_dir, label_root)
    hook = rounds_hook(cfg)
    hook.label_root = root
    hook.initial_labels = labels
    load = find_step(dataset.target.pipeline, 'LoadPseudoLabels',
                     'train_dataloader.dataset.target.pipeline')
    load.label_dir = osp.join(root, 'current')
    load.optional = labels is None
    return cfg


def perceptual_num_rates(translator: Config) -> Optional[int]:
    """How many classifier convs the translator's perceptual network sums.

    ``len(model.perceptual_segmentor.dilations)`` (BDL: 2, rates 6 and 12);
    None when the config keeps the segmentor's own classifier.
    """
    perceptual = translator.model.get('perceptual_segmentor') or {}
    dilations = perceptual.get('dilations')
    return None if dilations is None else len(dilations)


def translator_round_config(base: Config, seg_config: str,
                            seg_checkpoint: str) -> Config:
    """The translator config of a round: the perceptual loss of M_(k-1).

    ``seg_checkpoint`` holds the weights in the form the perceptual network
    takes (see :func:`perceptual_num_rates`); ``dilations`` is kept.
    """
    cfg = copy.deepcopy(base)
    perceptual = dict(cfg.model.get('perceptual_segmentor') or {})
    perceptual.update(config=seg_config, checkpoint=seg_checkpoint)
    cfg.model.perceptual_segmentor = perceptual
    return cfg


class Driver:
    """Runs the steps, records them in ``rounds.json``, skips done ones."""

    def __init__(self, work_dir: str, dry_run: bool = False) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.dry_run = dry_run
        self.state_path = osp.join(self.work_dir, STATE_FILE)
        self.state: Dict[str, dict] = {}
        if osp.isfile(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)

    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)

    def write_config(self, cfg: Config, *parts: str) -> str:
        """Dump a step's config atomically; return its path."""
        path = self.path(*parts)
        atomic_write_text(path, cfg.pretty_text)
        return path

    def done(self, name: str) -> Optional[str]:
        """The recorded output of step ``name``, if it is done."""
        if name not in self.state:
            return None
        output = self.state[name]['output']
        print(f'[bdl] {name}: done ({output})', flush=True)
        return output

    def run(self, name: str, cmd: List[str]) -> float:
        """Run ``python <cmd>`` from the repository, logging to
        ``<round>/<step>.log``; return the seconds it took."""
        printable = ' '.join([sys.executable, *cmd])
        print(f'[bdl] {name}: {printable}', flush=True)
        if self.dry_run:
            return 0.0
        round_dir, step = name.split('/')
        log = self.path(round_dir, f'{step}.log')
        os.makedirs(osp.dirname(log), exist_ok=True)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
        start = time.time()
        with open(log, 'a') as f:
            proc = subprocess.run([sys.executable, *cmd], cwd=REPO_ROOT,
                                  stdout=f, stderr=subprocess.STDOUT,
                                  env=env)
        if proc.returncode != 0:
            with open(log) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f'step {name} failed (exit {proc.returncode})'
                               f', log {log}:\n{tail}')
        return time.time() - start

    def record(self, name: str, output: str, seconds: float) -> str:
        """Mark step ``name`` done with its output (atomically)."""
        if self.dry_run:
            return output
        self.state[name] = dict(output=output, seconds=round(seconds, 1))
        atomic_write_text(self.state_path,
                          json.dumps(self.state, indent=2) + '\n')
        print(f'[bdl] {name}: done in {seconds:.0f} s -> {output}',
              flush=True)
        return output

    def step(self, name: str, cmd: List[str], output: str) -> str:
        """Run a tool unless done; return its output path."""
        done = self.done(name)
        if done is not None:
            return done
        return self.record(name, output, self.run(name, cmd))

    def train(self, name: str, config: str, work_dir: str) -> str:
        """``tools/train.py`` (resumed if interrupted); its last
        checkpoint."""
        done = self.done(name)
        if done is not None:
            return done
        resume = ['--resume'] if osp.isfile(
            osp.join(work_dir, 'last_checkpoint')) else []
        seconds = self.run(name, ['tools/train.py', config, '--work-dir',
                                  work_dir, *resume])
        if self.dry_run:
            return osp.join(work_dir, 'last_checkpoint.pth')
        return self.record(name, last_checkpoint(work_dir), seconds)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    driver = Driver(args.work_dir, args.dry_run)
    seg_base = Config.fromfile(args.segmentor_config)
    seg_base.merge_from_dict(args.segmentor_options)
    tr_base = Config.fromfile(args.translator_config)
    tr_base.merge_from_dict(args.translator_options)

    # M0: adversarial training on the original source, no pseudo-labels
    seg_config = driver.write_config(
        segmentor_round_config(seg_base, driver.path('round0'), None, None,
                               no_ssl_iters=args.no_ssl_iters),
        'round0', 'segmentor.py')
    if args.init_checkpoint is not None:
        seg_ckpt = osp.abspath(args.init_checkpoint)
    else:
        seg_ckpt = driver.train('round0/segmentor', seg_config,
                                driver.path('round0', 'segmentor'))

    rule_args = rule_arguments(rounds_hook(seg_base).get('rule', {}))
    num_rates = perceptual_num_rates(tr_base)
    for k in range(1, args.rounds + 1):
        rnd = f'round{k}'
        # F_k: CycleGAN with the perceptual loss of the last segmentor, in
        # the form BDL's perceptual network uses (its first convs only)
        perceptual_ckpt = seg_ckpt
        if num_rates is not None:
            perceptual_ckpt = driver.path(rnd, 'perceptual_segmentor.pth')
            driver.step(f'{rnd}/perceptual_segmentor',
                        ['tools/model_converters/original_deeplabv2.py',
                         seg_ckpt, perceptual_ckpt,
                         '--num-rates', str(num_rates)], perceptual_ckpt)
        tr_config = driver.write_config(
            translator_round_config(tr_base, seg_config, perceptual_ckpt),
            rnd, 'translator.py')
        tr_ckpt = driver.train(f'{rnd}/translator', tr_config,
                               driver.path(rnd, 'translator'))
        translated = driver.path(rnd, 'translated_source')
        driver.step(f'{rnd}/translate',
                    ['tools/translate_source.py', tr_config, tr_ckpt,
                     '--out', translated], translated)
        pictures = driver.path(rnd, 'pictures.png')
        driver.step(f'{rnd}/pictures',
                    ['tools/visualize_translation.py', tr_config, tr_ckpt,
                     '--out', pictures], pictures)
        # M_k^0 on the translated source, then N self-training steps, each
        # on the labels of the previous model
        labels = None
        for n in range(args.ssl_steps + 1):
            if n > 0:
                out = driver.path(rnd, f'pseudo_labels{n}')
                driver.step(f'{rnd}/pseudo_labels{n}',
                            ['tools/gen_pseudo_labels.py', seg_config,
                             seg_ckpt, '--work-dir', out, *rule_args,
                             *args.label_options], out)
                labels = PseudoLabelDir(out).label_dir()
            seg_config = driver.write_config(
                segmentor_round_config(seg_base, driver.path(rnd),
                                       osp.join(translated, 'images'),
                                       labels, f'ssl_labels{n}',
                                       args.no_ssl_iters),
                rnd, f'segmentor{n}.py')
            seg_ckpt = driver.train(f'{rnd}/segmentor{n}', seg_config,
                                    driver.path(rnd, f'segmentor{n}'))
    print(f'[bdl] {args.rounds} rounds done: segmentor {seg_ckpt}')


if __name__ == '__main__':
    main()
