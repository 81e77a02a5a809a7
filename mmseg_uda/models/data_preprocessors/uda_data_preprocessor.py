"""Data preprocessor for paired source/target batches."""
from typing import Any, Dict

from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS

DOMAINS = ('source', 'target')


@MODELS.register_module()
class UDASegDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` that also handles paired UDA batches.

    A batch of :class:`mmseg_uda.datasets.SourceTargetDataset` is
    ``dict(source=dict(inputs=..., data_samples=...), target=dict(...))``.
    For it, the stock :meth:`SegDataPreProcessor.forward` runs once per domain
    (normalisation, colour conversion, padding and stacking exactly as for a
    batch of that domain alone) and the result is
    ``dict(source=dict(inputs=..., data_samples=...), target=dict(...))``.
    Any other batch (validation, test, source-only training) is processed
    exactly like :class:`SegDataPreProcessor` does.

    Target samples need no labels: padding only touches the label maps that
    are present.

    Args:
        **kwargs: The arguments of :class:`SegDataPreProcessor` (``mean``,
            ``std``, ``size``, ``size_divisor``, ``pad_val``,
            ``seg_pad_val``, ``bgr_to_rgb``, ``rgb_to_bgr``,
            ``batch_augments``, ``test_cfg``).
    """

    @staticmethod
    def is_paired(data: Any) -> bool:
        """Whether ``data`` is a paired source/target batch.

        Args:
            data (Any): A batch from the dataloader.

        Returns:
            bool: True when ``data`` is a dict with ``source`` and ``target``
            keys.
        """
        return isinstance(data, dict) and all(d in data for d in DOMAINS)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Preprocess a paired batch per domain, or a plain batch as usual.

        Args:
            data (dict): A batch sampled from the dataloader.
            training (bool): Whether to enable training time processing.

        Returns:
            dict: ``dict(source=..., target=...)`` of per-domain results
            ``dict(inputs=Tensor, data_samples=list)`` for a paired batch;
            otherwise the result of :meth:`SegDataPreProcessor.forward`.

        Raises:
            ValueError: If a paired batch has keys besides ``source`` and
                ``target``.
        """
        if not self.is_paired(data):
            return super().forward(data, training)
        extra = sorted(set(data) - set(DOMAINS))
        if extra:
            raise ValueError(
                'a paired batch must only have the keys '
                f'{list(DOMAINS)}, but also has {extra}')
        results = {}
        for domain in DOMAINS:
            results[domain] = super().forward(data[domain], training)
        return results
