"""Write ``buildings.csv``, the synthetic table behind ``examples/buildings_csv.toml``.

400 made-up buildings (no real data, so no licence questions): floor area, insulation
quality, window share, outdoor winter temperature and heating system, and the yearly
heating energy a simple physical formula gives them plus 5 % noise. ``rating`` is the
energy class (A best ... D worst) derived from the energy per square metre, a string
column for the classification variant of the example.

    python examples/data/make_buildings.py     # rewrites buildings.csv (seed 0)
"""

from __future__ import annotations

import csv
import os

import numpy as np


def make(n: int = 400, seed: int = 0) -> list[dict[str, object]]:
    """The rows of the table (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(60, 400, n)                 # m^2
    insulation = rng.uniform(0.0, 1.0, n)          # 0 poor .. 1 passive-house
    windows = rng.uniform(0.1, 0.5, n)             # share of the facade
    outdoor = rng.uniform(-12.0, 6.0, n)           # mean winter temperature, deg C
    heat_pump = rng.random(n) < 0.4                # heat pump (else gas boiler)
    loss = area * (1.6 - 1.2 * insulation) * (1.0 + windows)  # W/K, a crude UA value
    kwh = loss * (20.0 - outdoor) * 24 * 180 / 1000 / np.where(heat_pump, 3.0, 0.92)
    kwh *= rng.normal(1.0, 0.05, n)
    per_m2 = kwh / area
    rating = np.select([per_m2 < 60, per_m2 < 120, per_m2 < 200], ["A", "B", "C"], "D")
    return [{"floor_area_m2": round(float(a), 1), "insulation": round(float(i), 3),
             "window_share": round(float(w), 3), "outdoor_temp_c": round(float(t), 1),
             "heat_pump": int(h), "heating_kwh": round(float(k), 0), "rating": str(r)}
            for a, i, w, t, h, k, r in zip(area, insulation, windows, outdoor, heat_pump, kwh,
                                           rating, strict=True)]


if __name__ == "__main__":
    rows = make()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "buildings.csv")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")
