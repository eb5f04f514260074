from agents.series import first_series, latest_value


def test_first_series_skips_nan_and_unparsable_samples() -> None:
    data = {"series": [{"metric": {}, "values": [[1795300000, 0.1], [1795300060, "NaN"], [1795300120, "x"], [1795300180, "0.3"]]}]}
    times, values = first_series(data)
    assert values == [0.1, 0.3]
    assert [t.timestamp() for t in times] == [1795300000, 1795300180]
    assert latest_value(data) == 0.3


def test_no_series_is_empty() -> None:
    assert first_series({"series": []}) == ([], [])
    assert first_series(None) == ([], [])
    assert latest_value({"series": [{"values": [[1, "NaN"]]}]}) is None
