import json
from pathlib import Path

import pytest

from river_core.snooze import next_snooze_count

RIVER_FIXTURES = Path(__file__).parent / "fixtures" / "river"

CASES = json.loads((RIVER_FIXTURES / "maintenance_values.json").read_text())["snooze_counters"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_snooze_counter_matches_river(case: dict) -> None:
    assert next_snooze_count(case["metadata"]) == case["expected_snoozes"]
