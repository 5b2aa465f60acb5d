"""The probe's answers read once into typed values: odd JSON becomes None, never a crash."""

from __future__ import annotations

from pytest_appservice_fs.engine.probe_answers import (
    SizeAnswer,
    WriterTally,
    append_answer,
    append_check_answer,
    latency_answer,
    throughput_answer,
)

WHO = {"instance_id": "i" * 64, "hostname": "abc123def456"}


def test_latency_keeps_numbers_only() -> None:
    """A bool or a string is not a statistic; a path's error is kept as text."""
    body = {**WHO}
    results = {
        "/home/data": {"write_ms": {"min": 1, "median": True, "p95": "2", "max": 3.5}},
        "/tmp/data": {"error": "ENOSPC"},
    }
    answer = latency_answer(body, results)
    assert answer.identity.hostname == "abc123def456"
    assert answer.paths["/home/data"].write_ms == {"min": 1.0, "max": 3.5}
    assert answer.paths["/home/data"].read_ms == {}
    assert answer.paths["/tmp/data"].error == "ENOSPC"


def test_throughput_reads_sizes_skips_and_a_missing_path() -> None:
    """Each size row becomes a SizeAnswer; checksum_ok must be exactly true; a path the
    answer lacks has no sizes and no error (the judge says 'no figures')."""
    body = {
        **WHO,
        "results": {
            "/home/data": {
                "sizes": [
                    {"size_mib": 1, "write_mib_s": 10, "read_mib_s": 20.5, "checksum_ok": 1},
                    {"size_mib": 128, "skipped": "does not fit"},
                    "not a row",
                ]
            }
        },
    }
    answer = throughput_answer(body, "/home/data")
    assert answer.sizes == (
        SizeAnswer(1, {"write_mib_s": 10.0, "read_mib_s": 20.5}, checksum_ok=False),
        SizeAnswer(128, {}, checksum_ok=False, skipped="does not fit"),
    )
    assert throughput_answer(body, "/tmp/data").sizes == ()
    assert throughput_answer({"results": []}, "/home/data").error is None


def test_append_without_an_error_list_is_an_error() -> None:
    """An /append answer whose errors field is not a list says so; bools are no counts."""
    answer = append_answer({**WHO, "records": True, "errors": "boom", "seconds": 1})
    assert answer.records is None
    assert answer.errors == ("no error list",)
    assert answer.seconds == 1.0
    assert answer.started_epoch is None


def test_append_check_tallies_only_the_writers_asked_for() -> None:
    """A writer the answer lacks has no tally (None); max_seq null means no record, another
    type makes the tally unusable (records None); an error answer carries only the error."""
    body = {
        "lines": 3,
        "torn": 0,
        "untracked_records": 1,
        "writers": {
            "w0": {"records": 2, "lost": 0, "duplicated": 0, "max_seq": 1},
            "w1": {"records": 0, "lost": 0, "duplicated": 0, "max_seq": None},
            "w2": {"records": 5, "lost": 0, "duplicated": 0, "max_seq": "4"},
            "other": {"records": 9},
        },
    }
    answer = append_check_answer(body, ("w0", "w1", "w2", "w3"))
    assert (answer.lines, answer.torn, answer.untracked) == (3, 0, 1)
    assert answer.writers == {
        "w0": WriterTally(2, 0, 0, 1),
        "w1": WriterTally(0, 0, 0, None),
        "w2": WriterTally(None, 0, 0, None),
        "w3": None,
    }
    failed = append_check_answer({"error": "ENOENT"}, ("w0",))
    assert failed.error == "ENOENT"
    assert failed.writers == {}
