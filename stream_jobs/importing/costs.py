"""Campaign costs CSV (``campaign,date,cost``) -> rows for ``<lake>/costs/`` (pure parsing).

The campaign is matched to the sessions' ``utm_campaign`` exactly; a day's cost is in the
shop's one currency. A later import of the same (campaign, date) replaces the earlier value.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path
from typing import Any

from stream_jobs.importing.orders import Reject
from stream_jobs.importing.reading import ImportFileError, open_text

COLUMNS = ("campaign", "date", "cost")


def read_costs(path: Path) -> tuple[list[dict[str, Any]], list[Reject], int]:
    """(rows, rejects, rows read); a (campaign, date) given twice: the later line wins."""
    rows: dict[tuple[str, date], dict[str, Any]] = {}
    rejects: list[Reject] = []
    count = 0
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ImportFileError(f"{path}: header has no {', '.join(missing)} column; it has "
                                  f"{', '.join(header) or 'nothing'}")
        index = {c: header.index(c) for c in COLUMNS}
        for cells in reader:
            if not cells:
                continue
            count += 1
            line = reader.line_num
            text = ",".join(cells)
            if len(cells) != len(header):
                rejects.append(Reject(line, f"{len(cells)} cells; the header has {len(header)}",
                                      text))
                continue
            campaign = cells[index["campaign"]].strip()
            if not campaign or len(campaign) > 256:
                rejects.append(Reject(line, "campaign: empty or longer than 256", text))
                continue
            try:
                day = date.fromisoformat(cells[index["date"]].strip())
            except ValueError:
                rejects.append(Reject(line, f"date: {cells[index['date']]!r} is not YYYY-MM-DD",
                                      text))
                continue
            try:
                cost = float(cells[index["cost"]].strip())
            except ValueError:
                cost = math.nan
            if not math.isfinite(cost) or cost < 0:
                rejects.append(Reject(line, f"cost: {cells[index['cost']]!r} is not an amount "
                                            "≥ 0", text))
                continue
            rows[(campaign, day)] = {"campaign": campaign, "date": day, "cost": cost}
    return list(rows.values()), rejects, count
