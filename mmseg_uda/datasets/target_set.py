"""The target images that target-set jobs (ranking, pseudo-labels) run on."""
import copy


def ranking_dataset_cfg(cfg) -> dict:
    """The dataset config of target-set jobs: the target training images.

    ``cfg.rank_dataset`` when the config has one; otherwise the ``target``
    of the (paired) training dataset with the test pipeline minus
    ``LoadAnnotations``, so images are fed at the evaluation size (1024x512
    for Cityscapes). The jobs ask the segmentor for predictions at that
    input size (``test_cfg`` ``output_at_input_size``).

    Args:
        cfg (Config): A UDA config.

    Returns:
        dict: The dataset config (a copy).

    Raises:
        KeyError: If the config has neither ``rank_dataset`` nor a paired
            ``train_dataloader.dataset.target``.
    """
    if cfg.get('rank_dataset') is not None:
        return copy.deepcopy(cfg.rank_dataset)
    train_set = cfg.train_dataloader.dataset
    if 'target' not in train_set:
        raise KeyError('the config has neither `rank_dataset` nor a paired '
                       '`train_dataloader.dataset.target`')
    dataset = copy.deepcopy(train_set.target)
    dataset['pipeline'] = [
        t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        if t['type'] != 'LoadAnnotations'
    ]
    return dataset
