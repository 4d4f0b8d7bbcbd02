"""JSON written as text, value by value, reads as what json.dumps writes."""

import json

from models.scoring.json_text import JsonText, json_arrays, json_objects


def test_each_value_is_written_as_json_dumps_writes_it():
    text = JsonText()
    # repeated values of equal hash but different types must keep their own text
    values = [1, 1.0, True, None, 0.1 + 0.2, -0.0, float("nan"), float("inf"), "say \"hi\"",
              "café\n", 1, True, 1.0, [1, "a"], {"k": 2}, 12345678901234567890]
    assert [text(v) for v in values] == [json.dumps(v) for v in values]


def test_objects_and_arrays_are_the_text_of_json_dumps():
    text = JsonText()
    rows = [{"name": "a", "value": 1.5, "odd \"key\"": None},
            {"name": "b{x}", "value": None, "odd \"key\"": [1]},
            {"name": "c", "value": 2, "odd \"key\"": "}{"}]
    names = list(rows[0])
    objects = json_objects(names, [[text(row[n]) for row in rows] for n in names])
    assert objects == [json.dumps(row) for row in rows]
    assert json_arrays(objects, [1, 1, 1]) == [json.dumps([row]) for row in rows]
    assert json_arrays(objects, [2, 0, 1]) == [json.dumps(rows[:2]), "[]",
                                               json.dumps(rows[2:])]
    assert json_arrays([], [0, 0]) == ["[]", "[]"]
