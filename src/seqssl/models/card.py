"""What a saved encoder directory tells the libraries and people that open it: a model card (``README.md``:
data, objective, steps, metrics, how to load) and a sentence-transformers layout (``modules.json``, the
transformer's ``sentence_bert_config.json`` and ``1_Pooling/config.json``) whose pooling is seqssl's, so that
``SentenceTransformer(directory).encode(...)`` gives seqssl's embeddings.

The files are written by hand because they are a few lines of JSON and Markdown; writing them through
sentence-transformers would make it a dependency of every save.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..io import atomic_write_text

# sentence-transformers' module paths that every release since 2.x resolves
ST_TRANSFORMER = "sentence_transformers.models.Transformer"
ST_POOLING = "sentence_transformers.models.Pooling"
POOLING_FLAGS = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")


POOLER_MODELS = ("bert", "roberta", "esm")  # transformers models built with a pooler unless told not to


def write_sentence_transformers_layout(directory: Path, hidden_size: int, pooling: str, max_tokens: int,
                                       model_type: str = "") -> None:
    """``modules.json`` (transformer → pooling), ``sentence_bert_config.json`` and ``1_Pooling/config.json``.
    For models transformers builds with a pooler, ``model_args`` asks for none: seqssl never trains one, so
    sentence-transformers would build a random one and report its weights MISSING ("Consider training").

    ``cls`` pooling is reproduced exactly. sentence-transformers' mean runs over every attended token, so for
    ``mean`` its vectors also average the first and last special tokens, which seqssl's residue mean leaves
    out (the model card says so)."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": ST_TRANSFORMER},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST_POOLING}]
    atomic_write_text(directory / "modules.json", json.dumps(modules, indent=1))
    no_pooler = {"model_args": {"add_pooling_layer": False}} if model_type in POOLER_MODELS else {}
    atomic_write_text(directory / "sentence_bert_config.json",
                      json.dumps({"max_seq_length": max_tokens, "do_lower_case": False, **no_pooler}, indent=1))
    chosen = "cls_token" if pooling == "cls" else "mean_tokens"
    config = {"word_embedding_dimension": hidden_size,
              **{f"pooling_mode_{flag}": flag == chosen for flag in POOLING_FLAGS}}
    (directory / "1_Pooling").mkdir(exist_ok=True)
    atomic_write_text(directory / "1_Pooling" / "config.json", json.dumps(config, indent=1))


def model_card(name: str, info: dict, architecture: str, n_parameters: int, hidden_size: int, max_tokens: int) -> str:
    """The ``README.md`` of an encoder directory, from what seqssl recorded of its training (``info``)."""
    config = info.get("config") or {}
    pretrain, data = config.get("pretrain", {}), config.get("data", {})
    objective = info.get("objective")
    lines = ["---", "library_name: transformers", "tags: [seqssl, feature-extraction, sentence-transformers]", "---",
             "", f"# {name}", "",
             f"A {architecture} encoder ({n_parameters:,} parameters, hidden size {hidden_size}, at most {max_tokens} "
             f"tokens per input) written by seqssl.", "", "## Training", ""]
    if objective:
        lines.append(f"- objective: `{objective}`" + (f", continued from `{info['init']}`" if info.get("init") else ""))
    if data.get("path") or info.get("finetuned_on"):
        lines.append(f"- data: `{data.get('path') or info.get('finetuned_on')}`"
                     + (f" ({info['corpus_size']:,} sequences after deduplication)" if info.get("corpus_size") else ""))
    if info.get("steps"):
        known = [f"{label} {pretrain[key]}" for label, key in (("batch size", "batch_size"), ("learning rate", "lr"))
                 if pretrain.get(key) is not None]  # a directory written without its config names neither
        lines.append(f"- steps: {info['steps']}" + "".join(f", {part}" for part in known)
                     + (f"; final loss {info['final_loss']:.4f}" if info.get("final_loss") is not None else ""))
    if info.get("seconds"):
        lines.append(f"- wall time: {info['seconds']:.0f} s on {info.get('processes', 1)} process(es)")
    if info.get("fold") is not None:
        lines.append(f"- a cross-validation encoder: fold {info['fold']}, its corpus free of that fold's test "
                     f"sequences ({info.get('removed_test_sequences', 0)} removed)")
    metrics = info.get("metrics")
    if metrics:
        lines += ["", "## Metrics", "", *(f"- {part}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()
                                                                      if isinstance(v, (int, float)))
                                          for part, values in metrics.items() if isinstance(values, dict))]
    pooling = info.get("pooling", "cls")
    inputs = trained_inputs(info)
    lines += ["", "## Inputs", "", inputs_sentence(inputs)] if inputs else []
    if info.get("segment_layouts"):
        placed = "; ".join(f"{n} column(s) → segments {', '.join(map(str, cols))}"
                           for n, cols in sorted(info["segment_layouts"].items(), key=lambda kv: -int(kv[0])))
        lines += ["", f"Inputs of other widths are placed by `segment_layouts` (`seqssl.json`), segments numbered from "
                  f"0 in the order above: {placed}. seqssl applies them per row; with `transformers` alone, set "
                  "`token_type_ids` to those segments yourself."]
    lines += ["", "## Use", "", "```python", *embed_example(name, inputs, hidden_size), "",
              "from transformers import AutoModel, AutoTokenizer",
              f'model = AutoModel.from_pretrained("{name}", add_pooling_layer=False)  # no untrained pooler',
              f'tokenizer = AutoTokenizer.from_pretrained("{name}")']
    if not inputs or len(inputs["columns"]) == 1:  # sentence-transformers reads one text per input
        lines += ["", "from sentence_transformers import SentenceTransformer",
                  f'vectors = SentenceTransformer("{name}").encode(["CASSLGQAYEQYF"])']
    lines += ["```", "",
              f"Pooling: `{pooling}` "
              + ("(the first token's final state; sentence-transformers gives the same vectors)." if pooling == "cls"
                 else "(mean over residues, special tokens left out; sentence-transformers' mean also averages "
                      "the first and last special tokens, so its vectors differ slightly from seqssl's)."),
              "", "`seqssl.json` holds the full training configuration; the weights are safetensors."]
    return "\n".join(lines) + "\n"


CDR_SUFFIXES = ("_cdr1", "_cdr2")  # the columns --v-gene-columns adds (seqssl.data.v_genes.cdr_column_names)


def trained_inputs(info: dict) -> dict | None:
    """The sequence columns (one segment each, in order) an encoder was trained on and the V gene columns
    whose CDR1/CDR2 it read, from its ``seqssl.json``: ``{"columns": [...], "v_gene_columns": [...]}``, or
    ``None`` for a directory that does not say."""
    if info.get("inputs"):
        return info["inputs"]
    data = (info.get("config") or {}).get("data") or {}
    columns = info.get("columns") or data.get("columns")
    if not columns:
        return None
    genes = data.get("v_gene_columns") or list(dict.fromkeys(
        c[:-len(suffix)] for c in columns for suffix in CDR_SUFFIXES if c.endswith(suffix)))
    return {"columns": list(columns), "v_gene_columns": list(genes)}


def inputs_sentence(inputs: dict) -> str:
    """Markdown: what the encoder reads, and how to give it the same."""
    text = (f"Trained on {len(inputs['columns'])} sequence column(s), one segment each, in this order: "
            + " | ".join(f"`{c}`" for c in inputs["columns"]) + ".")
    if inputs["v_gene_columns"]:
        genes = ",".join(inputs["v_gene_columns"])
        text += (f" The CDR1/CDR2 columns are looked up from IMGT V genes (`{genes}`): give the V gene column(s) "
                 f"and the CDR3, with `--v-gene-columns {genes}` (Python: `v_gene_columns=`). Embeddings of other "
                 "inputs (a CDR3 alone) are not what the encoder learned; seqssl warns when it is given them.")
    return text


def embed_example(name: str, inputs: dict | None, hidden_size: int) -> list[str]:
    """The ``seqssl.embed`` lines of the card, with the inputs the encoder was trained on."""
    if not inputs or (len(inputs["columns"]) == 1 and not inputs["v_gene_columns"]):
        return ["import seqssl",
                f'vectors = seqssl.embed(["CASSLGQAYEQYF"], encoder="{name}")  # numpy (rows, {hidden_size})']
    genes = inputs["v_gene_columns"]
    own = [c for c in inputs["columns"] if not c.endswith(CDR_SUFFIXES)]
    alpha = lambda column: "_a_" in column or column.endswith("_a")  # noqa: E731  (an α chain's column, by name)
    example = {**{g: "TRAV21*01" if alpha(g) else "TRBV2*01" for g in genes},
               **{c: "CAVRPGGAGPFFVVF" if alpha(c) else "CASSLGQAYEQYF" for c in own}}
    frame = ", ".join(f'"{k}": ["{v}"]' for k, v in example.items())
    return ["import pandas as pd", "import seqssl", f"rows = pd.DataFrame({{{frame}}})",
            f'vectors = seqssl.embed(rows, encoder="{name}", columns={own!r}'
            + (f", v_gene_columns={genes!r}" if genes else "") + f")  # numpy (rows, {hidden_size})"]
