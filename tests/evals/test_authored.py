"""The authored text of a message: what the agents wrote, without what they quoted."""

from __future__ import annotations

from evals.harness.authored import authored_text, missing_facts


def test_evidence_lines_code_and_block_quotes_are_not_authored() -> None:
    observation = "mail-relay log pattern since the onset: 80 lines after, e.g. provider refused message: rate limit"
    text = (
        "The campaign job floods the relay.\n"
        f'- {observation[:60]} … [logs: `{{app="mail-relay"}}`]\n'
        "> provider refused message\n"
        "```\nrate limit reached\n```\n"
        "Cause: `rate limit` in the relay."
    )
    said = authored_text(text, [observation])
    assert "floods the relay" in said and "cause:" in said
    assert "provider refused" not in said and "rate limit" not in said


def test_a_short_observation_does_not_hide_the_prose_that_contains_it() -> None:
    assert missing_facts(["No data"], ["The exporter returned no data since 09:40."], ["no data"]) == []
