"""One inference path for jobs over the target set: ranking, pseudo-labels
and the pseudo-label rounds of a training run."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.dist import barrier, broadcast_object_list, get_rank
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from mmseg.registry import DATASETS, LOOPS

from mmseg_uda.datasets.ranking_dir import image_key
from mmseg_uda.models.segmentors import UDAEncoderDecoder

# what a target-set job asks of the segmentor: the main head's logits, once
# upsampled from feature resolution to the size the images are fed at
RANKING_TEST_CFG = dict(mode='whole', logits_to_ori_shape=True,
                        output_at_input_size=True)
# and BDL's probabilities: the softmax before that upsampling
PSEUDO_LABEL_TEST_CFG = dict(RANKING_TEST_CFG, probs_to_ori_shape=True)


def find_segmentor(model: nn.Module) -> UDAEncoderDecoder:
    """The :class:`UDAEncoderDecoder` of a (DDP-wrapped) UDA model or
    segmentor.

    Raises:
        TypeError: If the model holds no ``UDAEncoderDecoder``.
    """
    if is_model_wrapper(model):
        model = model.module
    seg = getattr(model, 'segmentor', model)
    if is_model_wrapper(seg):
        seg = seg.module
    if not isinstance(seg, UDAEncoderDecoder):
        raise TypeError('target-set jobs need a UDAEncoderDecoder segmentor '
                        f'(output_at_input_size), got {type(seg).__name__}')
    return seg


def dataset_names(dataset_cfg: dict) -> Tuple[List[str], str]:
    """``<city>/<stem>`` names of a dataset config's images, and the image
    suffix.

    Raises:
        ValueError: If two images share a name.
    """
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    names = [image_key(dataset.get_data_info(i)['img_path'], suffix)
             for i in range(len(dataset))]
    if len(set(names)) != len(names):
        raise ValueError('two images of the dataset share a <city>/<stem> '
                         'name')
    return names, suffix


def _broadcast(obj):
    box = [obj]
    broadcast_object_list(box)
    return box[0]


@LOOPS.register_module()
class TargetSetLoop(TestLoop):
    """mmengine's :class:`TestLoop` over the images a target-set metric has
    not done yet.

    The metric (``EntropyRanker``, ``PseudoLabelGenerator``) owns its output
    directory through a layout module of :mod:`mmseg_uda.datasets`: before
    the loop is built, the main process asks it which images are
    ``pending`` (it replaces the outputs of other options or another
    checkpoint, and keeps those of a killed run with the same ones); the
    loop runs the model over those images only (``indices`` of the dataset,
    sharded over the processes by the sampler), the metric streams each
    result to disk, and ``compute_metrics`` finishes the set-wide step over
    every image, old and new. A metric that answers None has nothing left
    to do: :meth:`run` returns its ``finished()`` metrics without running
    the model.

    During a run the segmentor uses ``test_cfg`` updated with ``predict_cfg``
    (predictions at the input size, see
    :class:`~mmseg_uda.models.segmentors.UDAEncoderDecoder`); its own
    ``test_cfg`` and the model's train/eval mode are restored afterwards.

    Args:
        runner (Runner): The runner (its model, dataloader building and
            hooks).
        dataloader (dict): Dataloader config; its dataset is the whole set
            (the loop adds ``indices``).
        evaluator (dict): Config of the one target-set metric; the loop
            sets its ``img_suffix`` from the dataset.
        predict_cfg (dict, optional): ``test_cfg`` options of the segmentor
            for the run; BDL's probabilities by default
            (``PSEUDO_LABEL_TEST_CFG``).
        call_hooks (bool): Call the runner's test hooks, as ``runner.test()``
            does. False inside a training run (its hooks know no test
            dataloader).
        fp16 (bool): Mixed-precision inference.
    """

    def __init__(self,
                 runner,
                 dataloader: dict,
                 evaluator: Union[dict, Sequence[dict]],
                 predict_cfg: Optional[dict] = None,
                 call_hooks: bool = True,
                 fp16: bool = False) -> None:
        if not isinstance(evaluator, dict):
            evaluator = list(evaluator)
            if len(evaluator) != 1:
                raise ValueError('TargetSetLoop runs exactly one metric, got '
                                 f'{len(evaluator)}')
            evaluator = evaluator[0]
        # fail before any work: the model must be able to serve the job
        self.segmentor = find_segmentor(runner.model)
        self.test_options = dict(PSEUDO_LABEL_TEST_CFG if predict_cfg is None
                                 else predict_cfg)
        self.call_hooks = call_hooks
        dataloader = copy.deepcopy(dict(dataloader))
        dataset = dict(dataloader['dataset'])
        names, suffix = dataset_names(dataset)
        evaluator = dict(evaluator, img_suffix=suffix)
        metric = Evaluator(evaluator).metrics[0]
        if not hasattr(metric, 'pending'):
            raise TypeError(f'{type(metric).__name__} is no target-set '
                            'metric (it has no `pending`)')
        if getattr(metric, 'num_classes', 0) is None:
            metric.num_classes = self.segmentor.decode_head.num_classes
        self.metric = metric
        pending = metric.pending(names) if get_rank() == 0 else None
        pending = _broadcast(pending)
        self.pending = pending
        wanted = set(pending or [])
        todo = [i for i, n in enumerate(names) if n in wanted]
        # an empty set still builds a loader (of the whole set) that
        # :meth:`run` never iterates
        inner = dataset  # a wrapper (ResizedCacheDataset) takes no indices
        while isinstance(inner.get('dataset'), dict):
            inner = inner['dataset'] = dict(inner['dataset'])
        inner['indices'] = todo or None
        dataloader['dataset'] = dataset
        super().__init__(runner, dataloader, Evaluator(metric), fp16)

    def _infer(self) -> Dict[str, float]:
        """The model over the pending images, without runner hooks."""
        self.runner.model.eval()
        for batch in self.dataloader:
            with torch.no_grad():
                outputs = self.runner.model.test_step(batch)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
        return self.evaluator.evaluate(len(self.dataloader.dataset))

    def run(self) -> Dict[str, float]:
        """Run the job; the metrics of the whole set (on every rank)."""
        if not self.pending:
            metrics = None
            if get_rank() == 0:
                # finished before; or all images done, the set-wide step
                metrics = self.metric.finished() if self.pending is None \
                    else self.metric.compute_metrics([])
                prefix = self.metric.prefix
                metrics = {f'{prefix}/{k}' if prefix else k: v
                           for k, v in metrics.items()}
            barrier()
            return _broadcast(metrics)
        model = self.runner.model
        was_training = model.training
        try:
            with self.segmentor.test_cfg_options(**self.test_options):
                if self.call_hooks:
                    metrics = super().run()
                else:
                    metrics = self._infer()
        finally:
            model.train(was_training)
        return metrics
