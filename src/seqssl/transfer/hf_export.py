"""A fine-tuned sequence model as a ``transformers`` sequence-classification model (``classifier/``), loadable
with ``AutoModelForSequenceClassification`` where the shapes agree: a ``finetune.head: classifier`` head (the
first token's state → dense (hidden × hidden) → tanh → output layer, as BERT's pooler + classifier and
RoBERTa's and ESM's classification heads are) on a BERT, RoBERTa or ESM encoder.

The outputs are made to mean what seqssl's scores mean:
- binary classification: two logits ``(0, z)``, so ``softmax(...)[:, 1]`` is seqssl's ``sigmoid(z)``;
- multiclass: one logit per class (``id2label`` names them); multilabel: one sigmoid per target
  (``problem_type: multi_label_classification``);
- regression: one value, the training targets' standardisation folded into the output layer
  (``y = std · (w·h + b) + mean``).
Weights are copied, not re-fitted: ``tests/test_predict_api.py`` checks the outputs against ``seqssl predict``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..io import make_readable

# where each family keeps its encoder and the two layers of its classification head
HEAD_LAYERS = {"bert": ("bert.pooler.dense", "classifier"), "roberta": ("classifier.dense", "classifier.out_proj"),
               "esm": ("classifier.dense", "classifier.out_proj")}


def exportable(fitted) -> bool:
    """Whether ``fitted`` has the classifier head, on an encoder family transformers has that head for, for a
    task transformers' sequence classification can state (``Task.hf_problem_type``)."""
    head = getattr(fitted.model, "head", None)
    if head is None or fitted.task.hf_problem_type is None or not isinstance(head.net[2], torch.nn.Tanh):
        return False
    return getattr(fitted.model.encoder.backbone.config, "model_type", None) in HEAD_LAYERS


def output_layer(fitted, weight: torch.Tensor, bias: torch.Tensor, label_names: list[str] | None
                 ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The output layer's weights in transformers' convention, and the config entries that say how to read it."""
    task, model = fitted.task, fitted.model
    entries: dict = {"problem_type": task.hf_problem_type}
    if task.binary:
        weight, bias = torch.cat([torch.zeros_like(weight), weight]), torch.cat([torch.zeros_like(bias), bias])
        label_names = ["0", "1"]
    elif task.standardise_targets:
        std, mean = float(model.target_std), float(model.target_mean)
        weight, bias = weight * std, bias * std + mean
    names = label_names if label_names and len(label_names) == weight.shape[0] else \
        [str(i) for i in range(weight.shape[0])]
    entries |= {"num_labels": weight.shape[0], "id2label": dict(enumerate(names)),
                "label2id": {name: i for i, name in enumerate(names)}}
    return weight, bias, entries


def export_sequence_classifier(fitted, out: Path, tokenizer, label_names: list[str] | None = None) -> Path:
    """Write ``out/classifier``: a ``transformers`` sequence-classification model and its tokenizer."""
    from transformers import AutoModelForSequenceClassification
    encoder, head = fitted.model.encoder, fitted.model.head
    config = encoder.backbone.config.__class__.from_dict(encoder.backbone.config.to_dict())
    dense, last = head.net[1], head.net[4]
    weight, bias, entries = output_layer(fitted, last.weight.detach().cpu(), last.bias.detach().cpu(), label_names)
    for key, value in entries.items():
        setattr(config, key, value)
    classifier = AutoModelForSequenceClassification.from_config(config)
    base = classifier.base_model
    base.load_state_dict(encoder.backbone.state_dict(), strict=False)  # BERT's pooler is set below
    first, second = HEAD_LAYERS[config.model_type]
    state = {f"{first}.weight": dense.weight.detach().cpu(), f"{first}.bias": dense.bias.detach().cpu(),
             f"{second}.weight": weight, f"{second}.bias": bias}
    missing = set(state) - set(classifier.state_dict())
    assert not missing, f"unexpected head layout: {missing}"
    classifier.load_state_dict(state, strict=False)
    directory = out / "classifier"
    classifier.save_pretrained(str(directory))
    tokenizer.save(directory, encoder.max_tokens)
    (directory / "seqssl_tokenizer.json").unlink(missing_ok=True)  # a plain transformers directory
    make_readable(directory)
    return directory
