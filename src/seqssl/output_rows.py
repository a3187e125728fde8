"""The tables ``seqssl predict`` and ``seqssl embed`` write: the input's own columns (and a DataFrame's index) beside
the results, rows numbered as in the input, bad rows named together or listed with their reason."""
from __future__ import annotations

import numpy as np
import pandas as pd

BAD_ROWS_LISTED = 20  # predict --on-bad-rows error: the bad rows named in its one report


def embedding_table(vectors: np.ndarray, frame: pd.DataFrame, data, id_column: str | None, bad: list,
                    keep_columns: bool | list[str]) -> pd.DataFrame:
    """What ``embed --out`` writes: ``id``, the input's columns (``keep_columns``), ``error`` for bad rows when
    there are any, then ``emb_0..emb_{H-1}``."""
    id_source = id_column or ("id" if "id" in frame.columns else None)
    ids = frame[id_source].astype(str).to_numpy() if id_source else np.arange(len(frame)).astype(str)
    out = pd.DataFrame(vectors, columns=[f"emb_{i}" for i in range(vectors.shape[1])])
    out.insert(0, "row", np.arange(len(frame)))
    if bad:
        out.insert(1, "error", None)
        out.loc[[i for i, _ in bad], "error"] = [e.problem for _, e in bad]
    source = data if isinstance(data, pd.DataFrame) else frame
    kept = with_input_columns(out, source.drop(columns=[c for c in ("id",) if c in source.columns]), keep_columns)
    kept = kept.drop(columns="row").reset_index(drop=True)
    kept.insert(0, "id", ids)
    return kept


def with_skipped_v_genes(rows: pd.DataFrame, kept: np.ndarray, n_input: int, data) -> pd.DataFrame:
    """The rows numbered by their place in the input (``row``), and a row with the reason for each input row the
    model's ``--unknown-v-genes skip`` left out (a DataFrame's own index for those too)."""
    rows = rows.assign(row=kept[rows["row"].to_numpy()])
    skipped = np.setdiff1d(np.arange(n_input), kept)
    if not len(skipped):
        return rows
    missing = pd.DataFrame({"row": skipped, "error": "V gene not in the IMGT table: skipped, as the model was "
                            "trained (--unknown-v-genes skip)"},
                           index=data.index[skipped] if isinstance(data, pd.DataFrame) else None)
    if not isinstance(data, pd.DataFrame):
        missing.index = pd.RangeIndex(len(rows), len(rows) + len(missing))
    return pd.concat([rows, missing]).sort_values("row", kind="stable")


def raise_bad_rows(bad: list) -> None:
    """Every bad row of a prediction input in one report: the first :data:`BAD_ROWS_LISTED`, one line each,
    and how many more."""
    from .errors import InputErrors
    listed = [err for _, err in bad[:BAD_ROWS_LISTED]]
    more = f"; {len(bad) - len(listed)} more not listed" if len(bad) > len(listed) else ""
    raise InputErrors(listed, summary=f"{len(bad)} bad row{'s' if len(bad) > 1 else ''}{more} (fix: correct them, "
                                      "or pass --on-bad-rows skip to score the others and list these)")


def input_frame(data, table_frame: pd.DataFrame, kept: np.ndarray) -> pd.DataFrame:
    """The input's columns for the table's rows (``kept``: their positions in the input): a DataFrame's own
    columns, types and index, then the columns seqssl derived (V-gene CDRs); a file's columns as read."""
    if not isinstance(data, pd.DataFrame):
        return table_frame
    own = data.iloc[kept]
    derived = table_frame[[c for c in table_frame.columns if c not in own.columns]].set_axis(own.index)
    return pd.concat([own, derived], axis=1)


def with_input_columns(rows: pd.DataFrame, frame: pd.DataFrame, keep: bool | list[str],
                       first: tuple = ()) -> pd.DataFrame:
    """The prediction rows (``row``: a position in ``frame``) with ``frame``'s columns first (``keep``: all of
    them, ``first`` leading, the named ones, or none), indexed like ``frame`` so that a DataFrame's predictions
    join onto it."""
    if keep is False:
        return rows
    ordered = list(dict.fromkeys([c for c in first if c in frame.columns] + list(frame.columns)))
    shown = ordered if keep is True else [c for c in keep if c in frame.columns]
    source = frame[shown].iloc[rows["row"].to_numpy()]
    joined = pd.concat([source, rows.set_axis(source.index)], axis=1)
    if joined.columns.duplicated().any():  # an input column named like an output one (y_score): keep both
        names = list(joined.columns)
        joined.columns = [f"{n}_input" if i < len(shown) and n in rows.columns else n for i, n in enumerate(names)]
    return joined
