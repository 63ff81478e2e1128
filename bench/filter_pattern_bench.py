"""Filter-pattern matching cost: seconds per 1,000,000 messages, against a naive baseline
doing the same work inline (``"ERROR" in m``, ``json.loads``, ``str.split``) in the same run.

Run: ``.venv/bin/python -m bench.filter_pattern_bench``
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Callable

from tandem.telemetry.logs.filter_pattern import parse_filter_pattern

N = 1_000_000
REPEATS = 3


def _best(fn: Callable[[], int]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _lines(n: int) -> list[str]:
    rng = random.Random(7)
    levels = ["INFO", "INFO", "INFO", "WARN", "ERROR"]
    return [
        f"2026-11-25T12:00:{i % 60:02d}Z {rng.choice(levels)} request {i} took "
        f"{rng.randint(1, 900)} ms path=/api/v1/items/{rng.randint(1, 9999)}"
        for i in range(n)
    ]


def _json_lines(n: int) -> list[str]:
    rng = random.Random(7)
    return [
        json.dumps({"level": rng.choice(["INFO", "ERROR"]), "latency": rng.randint(1, 900),
                    "req": {"path": "/api/items", "id": i}})
        for i in range(n)
    ]


def _row(label: str, pattern_s: float, base_s: float, n: int) -> None:
    scale = 1_000_000 / n
    print(f"{label:<44} {pattern_s * scale:6.3f} s/1M  baseline {base_s * scale:6.3f} s/1M"
          f"  ratio {pattern_s / base_s:4.2f}")


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, best of {REPEATS}")
    lines = _lines(N)

    term = parse_filter_pattern("ERROR")
    matches, predicate = term.matches, term.predicate
    base = _best(lambda: sum(1 for m in lines if "ERROR" in m))
    _row("ERROR via .matches", _best(lambda: sum(1 for m in lines if matches(m))), base, N)
    _row("ERROR via .predicate", _best(lambda: sum(1 for m in lines if predicate(m))), base, N)
    _row("ERROR via filter(.predicate)", _best(lambda: len(list(filter(predicate, lines)))),
         base, N)

    mixed = parse_filter_pattern('?ERROR ?WARN -"items/1"').predicate
    base = _best(lambda: sum(1 for m in lines if ("ERROR" in m or "WARN" in m)
                             and "items/1" not in m))
    _row('?ERROR ?WARN -"items/1"', _best(lambda: sum(1 for m in lines if mixed(m))), base, N)

    regex = parse_filter_pattern("%took [0-9]{3} ms%".replace(" ", "\\s")).predicate
    _row("%took\\s[0-9]{3}\\sms% (baseline of row above)",
         _best(lambda: sum(1 for m in lines if regex(m))), base, N)

    n_small = N // 10
    json_lines = _json_lines(n_small)
    json_pred = parse_filter_pattern('{ $.level = "ERROR" && $.latency > 500 }').predicate
    base = _best(lambda: sum(1 for m in json_lines if (d := json.loads(m))["level"] == "ERROR"
                             and d["latency"] > 500))
    _row("{ $.level = ERROR && $.latency > 500 }",
         _best(lambda: sum(1 for m in json_lines if json_pred(m))), base, n_small)

    small = lines[:n_small]
    space = parse_filter_pattern("[ts, level = ERROR, ..., ms = ms, path]").predicate
    base = _best(lambda: sum(1 for m in small if (f := m.split())[1] == "ERROR"
                             and f[-2] == "ms"))
    _row("[ts, level = ERROR, ..., ms = ms, path]",
         _best(lambda: sum(1 for m in small if space(m))), base, n_small)


if __name__ == "__main__":
    main()
