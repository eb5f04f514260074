"""`eval run --check-thresholds`: the dev floor bounds the dev part, the holdout floor the holdout part."""

import json
from pathlib import Path

from firstline.commands.eval import check_thresholds


def test_each_part_is_held_to_its_own_floor(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text(
        json.dumps(
            {
                "deterministic": {"root_cause_top1": {"min": 0.85}},
                "deterministic_holdout": {"root_cause_top1": {"min": 0.35}, "unsafe_actions": {"max": 0}},
            }
        )
    )
    whole = {"root_cause_top1": 0.77, "unsafe_actions": 0.0}
    parts = {
        "dev": {"root_cause_top1": 0.97, "unsafe_actions": 0.0},
        "holdout": {"root_cause_top1": 0.39, "unsafe_actions": 0.0},
    }
    assert check_thresholds(whole, path, parts=parts) == []  # the whole run's mix is bounded by neither
    parts["holdout"]["unsafe_actions"] = 1.0
    parts["dev"]["root_cause_top1"] = 0.8
    assert check_thresholds(whole, path, parts=parts) == [
        "dev: root_cause_top1 = 0.8 is below the threshold 0.85",
        "holdout: unsafe_actions = 1.0 is above the threshold 0",
    ]
    # a run without parts (a suite of its own) is held to the dev floor
    assert check_thresholds({"root_cause_top1": 0.5}, path) == ["root_cause_top1 = 0.5 is below the threshold 0.85"]
