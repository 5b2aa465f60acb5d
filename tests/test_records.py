"""Evidence records: the properties the judges write are today's, byte for byte; every
record reads back as itself from its properties (hypothesis), and through a JUnit file that
pytest wrote."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_appservice_fs.engine.expectations import (
    HOME,
    TMP,
    AppendCell,
    ContainerCell,
    PathCell,
)
from pytest_appservice_fs.engine.model import (
    AppendOutcome,
    ContainerOutcome,
    Event,
    Identity,
    MarkerRead,
    MarkerWrite,
    Observation,
    Outcome,
)
from pytest_appservice_fs.engine.probe_answers import FIGURES, STATS, SizeAnswer
from pytest_appservice_fs.evidence.judge import judge_container, judge_path, judge_skipped
from pytest_appservice_fs.evidence.records import (
    REQUIRED_PROPERTIES,
    AppendRecord,
    CellRecord,
    InstanceFigures,
    LatencyRecord,
    Record,
    SizeFigures,
    ThroughputRecord,
    WriterRecord,
    record_type,
)
from pytest_appservice_fs.evidence.values import RecordError
from pytest_appservice_fs.evidence.verdict import Verdict
from pytest_appservice_fs.measurements.appends import (
    AppendMeasurement,
    WriterResult,
    judge_appends,
    not_measured,
)
from pytest_appservice_fs.measurements.latency import (
    InstanceLatency,
    LatencyMeasurement,
    judge_latency,
)
from pytest_appservice_fs.measurements.throughput import (
    ThroughputMeasurement,
    judge_throughput,
)
from pytest_appservice_fs.reports.junit import read_junit

#: What the judges wrote for REPRESENTATIVE before the records existed (and whether it passed).
GOLDEN = Path(__file__).parent / "data" / "evidence" / "properties.json"

# --- today's properties, byte for byte -------------------------------------------------------

_A, _B, _SUM = "a" * 64, "b" * 64, "1" * 64
_BEFORE = Identity(_A, "aaaaaaaaaaaa", pid=10, process_start="t0")
_AFTER = Identity(_A, "aaaaaaaaaaaa", pid=11, process_start="t1")
_FACTS = {"sku": "B1", "region": "westeurope", "empty": "", "runtime": "PYTHON|3.12 ü"}
_FIGURES = {"min": 0.1, "median": 0.25, "p95": 1.0 / 3, "max": 2.5}
_RATES = {"write_mib_s": 123.456789, "read_mib_s": 987.6, "write_seconds": 0.5, "read_seconds": 0.1}


def _observation(event: Event = Event.RESTART, **changes: object) -> Observation:
    observation = Observation(
        event=event,
        run_id="run-1",
        nonce="nonce-1",
        trigger_count=1,
        instance_before=_BEFORE,
        instance_after=_AFTER,
        written={TMP: MarkerWrite(TMP, checksum=_SUM)},
        read={
            TMP: MarkerRead(
                TMP,
                exists=True,
                checksum_valid=True,
                stored_checksum=_SUM,
                actual_checksum=_SUM,
                nonce_matches=True,
            )
        },
        proven=True,
        proof="new probe process: started t0 (pid 10) -> t1 (pid 11)",
    )
    return replace(observation, **changes)  # type: ignore[arg-type]


def _writer(index: int, **changes: object) -> WriterResult:
    instance = (_A, _B)[index]
    writer = WriterResult(
        name=f"w{index}-{instance[:8]}",
        instance_id=instance,
        hostname=f"host{index}",
        answered_by=instance,
        appended=10,
        seconds=1.25,
        request_seconds=1.5,
        started_epoch=100.0,
        finished_epoch=101.0,
        records_found=10,
        lost=0,
        duplicated=0,
        beyond=0,
    )
    return replace(writer, **changes)  # type: ignore[arg-type]


def _appends(**changes: object) -> AppendMeasurement:
    base = AppendMeasurement(
        HOME, "h4-flock-run-1.log", "flock", 10, (_writer(0), _writer(1)), 20, 0, 0, 0.75
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _latency(rows: tuple[InstanceLatency, ...], error: str | None = None) -> Verdict:
    measurement = LatencyMeasurement(HOME, 4096, 10, rows, error)
    return judge_latency(measurement, backend="fake", run_id="run-1", facts=_FACTS)


def _throughput(
    rows: tuple[SizeAnswer, ...], sizes: tuple[int, ...] = (1, 16), error: str | None = None
) -> Verdict:
    measurement = ThroughputMeasurement(HOME, _A, "aaaaaaaaaaaa", 2, rows, error)
    return judge_throughput(measurement, sizes=sizes, backend="fake", run_id="run-1", facts=_FACTS)


def _append(
    measurement: AppendMeasurement, expected: AppendOutcome = AppendOutcome.INTACT
) -> Verdict:
    return judge_appends(
        measurement, AppendCell("flock", expected), backend="fake", run_id="run-1", facts=_FACTS
    )


#: Inputs for every kind of evidence, and one of each outcome the records spell differently.
REPRESENTATIVE: dict[str, Callable[[], Verdict | list[tuple[str, str]]]] = {
    "path-persists-with-every-fact": lambda: judge_path(
        _observation(
            facts=_FACTS,
            detail="B1 -> B2",
            mounts={TMP: {"fstype": "overlay", "source": "overlay", "mount_point": "/"}},
            event_seconds=12.34567,
            ready_seconds=0.0004,
        ),
        PathCell("H2", Event.RESTART, TMP, Outcome.PERSISTS),
        backend="fake",
    ),
    "path-not-proven": lambda: judge_path(
        _observation(proven=False, error="no new process", instance_after=None),
        PathCell("H2", Event.RESTART, TMP, Outcome.PERSISTS),
        backend="azure",
    ),
    "path-lost": lambda: judge_path(
        _observation(read={TMP: MarkerRead(TMP, exists=False)}),
        PathCell("H2", Event.STOP_START, TMP, Outcome.LOST),
        backend="local",
    ),
    "path-observe-visible": lambda: judge_path(
        _observation(Event.SCALE_OUT, instance_after=Identity(_B, "bbbbbbbbbbbb", pid=1)),
        PathCell("H3", Event.SCALE_OUT, TMP, Outcome.OBSERVE),
        backend="fake",
    ),
    "container-recreated": lambda: judge_container(
        _observation(
            Event.DEPLOY,
            instance_after=Identity(_A, "cccccccccccc", pid=12),
            mounts={TMP: {"fstype": "overlay"}},
            facts={"sku": "P1v3"},
        ),
        ContainerCell(Event.DEPLOY, ContainerOutcome.RECREATED),
        backend="fake",
    ),
    "container-unknown-hostname": lambda: judge_container(
        _observation(instance_after=Identity(_A, None)),
        ContainerCell(Event.RESTART, ContainerOutcome.KEPT),
        backend="fake",
    ),
    "skipped-path": lambda: judge_skipped(
        PathCell("H2", Event.SKU_CHANGE, TMP, Outcome.LOST),
        backend="fake",
        run_id="run-1",
        reason="no plan",
    ),
    "skipped-container": lambda: judge_skipped(
        ContainerCell(Event.PLAN_RESTART, ContainerOutcome.RECREATED),
        backend="fake",
        run_id="run-1",
        reason="no plan to restart",
    ),
    "latency-measured": lambda: _latency(
        (
            InstanceLatency(_A, "aaaaaaaaaaaa", _FIGURES, _FIGURES),
            InstanceLatency(
                _B,
                "bbbbbbbbbbbb",
                {"min": 1.0, "median": 2.0, "max": 3.0},
                {"min": 0.5, "median": 0.5, "max": 0.75},
            ),
        )
    ),
    "latency-invalid": lambda: _latency(
        (
            InstanceLatency(_A, "aaaaaaaaaaaa", {"min": 3.0, "median": 2.0, "max": 1.0}, {}),
            InstanceLatency(_B, "", {}, {}, "connection refused"),
        )
    ),
    "latency-missing": lambda: _latency((), "no instances listed: boom"),
    "throughput-measured-and-skipped": lambda: _throughput(
        (SizeAnswer(1, _RATES, True), SizeAnswer(16, {}, False, "does not fit in 8 MiB free"))
    ),
    "throughput-invalid": lambda: _throughput(
        (SizeAnswer(1, {"write_mib_s": 5.0, "read_mib_s": 0.0}, False),), sizes=(1, 2)
    ),
    "throughput-missing": lambda: _throughput((), error="probe down"),
    "appends-intact": lambda: _append(_appends()),
    "appends-damaged-observe": lambda: _append(
        _appends(writers=(_writer(0, lost=3, duplicated=1, seconds=0.1 + 0.2), _writer(1)), torn=2),
        AppendOutcome.OBSERVE,
    ),
    "appends-writer-without-answer": lambda: _append(
        _appends(
            writers=(_writer(0), WriterResult("w1-bbbbbbbb", _B, failure="timed out")),
            lines=None,
            torn=None,
            untracked=None,
            overlap_seconds=None,
        )
    ),
    "appends-not-measured": lambda: _append(
        not_measured(
            path=HOME,
            lock="none",
            records=200,
            file="h4-none-run-1.log",
            reason="H4 needs two instances; the app has 1",
        )
    ),
}


def _properties(made: Verdict | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return made if isinstance(made, list) else list(made.properties)


def test_every_representative_input_is_in_the_golden_file() -> None:
    """The golden file and the inputs name the same cases (none forgotten on either side)."""
    assert set(json.loads(GOLDEN.read_text(encoding="utf-8"))) == set(REPRESENTATIVE)


@pytest.mark.parametrize("name", list(REPRESENTATIVE))
def test_properties_are_todays_byte_for_byte(name: str) -> None:
    """Names, order and values are what the judges wrote before the records (the evidence
    format), and the verdict passes exactly when it did."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    made = REPRESENTATIVE[name]()
    assert [list(pair) for pair in _properties(made)] == golden["properties"]
    if isinstance(made, Verdict) and not made.skipped:
        assert made.passed is golden["passed"]


@pytest.mark.parametrize("name", list(REPRESENTATIVE))
def test_a_judged_record_reads_back_as_itself(name: str) -> None:
    """What the judge recorded is what the report reads: the verdict's record, equal."""
    made = REPRESENTATIVE[name]()
    props = _properties(made)
    record = record_type(dict(props)["hypothesis"]).from_properties(dict(props))
    assert list(record.to_properties()) == props
    if isinstance(made, Verdict):
        assert record == made.record


def test_the_verdict_is_one_class_with_one_passed() -> None:
    """Every judge returns the same Verdict; it has ``passed`` and no ``valid``."""
    made = [m for m in (build() for build in REPRESENTATIVE.values()) if isinstance(m, Verdict)]
    assert {type(m.record) for m in made} == {
        CellRecord,
        LatencyRecord,
        ThroughputRecord,
        AppendRecord,
    }
    assert not any(hasattr(m, "valid") for m in made)
    intact = REPRESENTATIVE["appends-intact"]()
    assert isinstance(intact, Verdict)
    assert (intact.expected, intact.observed, intact.passed) == ("intact", "intact", True)
    assert intact.explanation == dict(intact.properties)["explanation"]


# --- every record reads back as itself (hypothesis) -----------------------------------------

#: Property values are strings: any text but lone surrogates (not text, and not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
NAMED = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
#: Facts are named like the backends' (region, sku, ...); no record has these names.
FACTS = st.dictionaries(
    st.sampled_from(["region", "sku", "runtime", "storage"])
    | st.from_regex(r"x_[a-z]{1,8}", fullmatch=True),
    NAMED,
    max_size=4,
)
FIGURE = st.floats(min_value=0, max_value=1e7, allow_nan=False)
COUNT = st.none() | st.integers(min_value=-1, max_value=10**9)
SECONDS = st.none() | st.floats(allow_nan=False)


def _head(**fixed: Any) -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: TEXT for name in REQUIRED_PROPERTIES} | {"path": NAMED, "explanation": TEXT}
    return st.fixed_dictionaries(
        {**fields, "facts": FACTS, **{k: st.just(v) for k, v in fixed.items()}}
    )


def _stats(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, float]]:
    return st.dictionaries(st.sampled_from(names), FIGURE, max_size=len(names))


CELLS = st.builds(
    lambda head, **own: CellRecord(**head, **own),
    _head(),
    event_detail=TEXT,
    mount=st.dictionaries(st.sampled_from(["fstype", "source", "mount_point"]), TEXT),
    event_seconds=st.none() | st.floats(min_value=0, max_value=1e6),
    ready_seconds=st.none() | st.floats(min_value=0, max_value=1e6),
    process_before=st.none() | TEXT,
    process_after=st.none() | TEXT,
    process_restarted=st.none() | st.booleans(),
    trigger_count=COUNT,
    proof=st.none() | TEXT,
    nonce=st.none() | TEXT,
    skip_reason=st.none() | TEXT,
)
LATENCY = st.builds(
    lambda head, **own: LatencyRecord(**head, **own),
    _head(hypothesis="latency"),
    size=st.integers(min_value=0, max_value=10**9),
    iterations=st.integers(min_value=0, max_value=10**6),
    instances=st.lists(
        st.builds(InstanceFigures, TEXT, TEXT, _stats(STATS), _stats(STATS)), max_size=3
    ).map(tuple),
)
THROUGHPUT = st.builds(
    lambda head, **own: ThroughputRecord(**head, **own),
    _head(hypothesis="H5"),
    iterations=st.integers(min_value=0, max_value=100),
    sizes=st.lists(
        st.builds(SizeFigures, st.integers(0, 4096), _stats(FIGURES), st.none() | TEXT), max_size=3
    ).map(tuple),
)
APPENDS = st.builds(
    lambda head, **own: AppendRecord(**head, **own),
    _head(hypothesis="H4"),
    lock=TEXT,
    append_file=TEXT,
    records_per_writer=st.integers(min_value=0, max_value=10**6),
    writers=st.lists(
        st.builds(WriterRecord, TEXT, TEXT, TEXT, COUNT, COUNT, COUNT, COUNT, SECONDS), max_size=3
    ).map(tuple),
    lines=COUNT,
    torn_lines=COUNT,
    untracked_records=COUNT,
    overlap_seconds=SECONDS,
)


def _round_trip(record: Record) -> None:
    props = record.to_properties()
    assert len({name for name, _ in props}) == len(props), "a property name is written twice"
    assert type(record).from_properties(dict(props)) == record


@given(CELLS)
def test_a_cell_record_reads_back_as_itself(record: CellRecord) -> None:
    """Path and container cells, judged or skipped: every field survives its properties."""
    _round_trip(record)


@given(LATENCY)
def test_a_latency_record_reads_back_as_itself(record: LatencyRecord) -> None:
    """Latency on any number of instances, with any statistics of each."""
    _round_trip(record)


@given(THROUGHPUT)
def test_a_throughput_record_reads_back_as_itself(record: ThroughputRecord) -> None:
    """H5: sizes measured, skipped, or with figures missing."""
    _round_trip(record)


@given(APPENDS)
def test_an_append_record_reads_back_as_itself(record: AppendRecord) -> None:
    """H4: writers with counts known or not, and times as Python prints them."""
    _round_trip(record)


def test_figures_are_kept_as_written() -> None:
    """A record keeps figures to the decimals it writes, so what it holds is what reads back."""
    row = InstanceFigures("i", "h", {"median": 1 / 3}, {})
    assert row.write_ms == {"median": 0.3333}
    assert SizeFigures(1, {"read_mib_s": 2 / 3, "other": 1.0}).figures == {"read_mib_s": 0.6667}


# --- malformed properties ---------------------------------------------------------------------


def test_a_cell_without_required_properties_names_them() -> None:
    """A cell lacking required properties: one RecordError naming each, in their order."""
    with pytest.raises(RecordError, match=r"^lacks the properties path, observed$"):
        CellRecord.from_properties(
            {n: "x" for n in REQUIRED_PROPERTIES if n not in ("path", "observed")}
        )


@pytest.mark.parametrize(
    ("kind", "name", "value"),
    [
        (CellRecord, "trigger_count", "once"),
        (CellRecord, "event_seconds", "1.5s"),
        (LatencyRecord, "instance_count", "²"),
        (LatencyRecord, "write_ms.1.median", "fast"),
        (ThroughputRecord, "size_mib.1", "big"),
        (AppendRecord, "writer.1.lost", "many"),
        (AppendRecord, "overlap_seconds", "\u0661"),  # ARABIC-INDIC DIGIT ONE
    ],
)
def test_a_malformed_number_is_a_record_error(kind: type[Record], name: str, value: str) -> None:
    """A number that is none (or not ASCII decimal) is a RecordError, not a ValueError leak."""
    good = {
        CellRecord: "path-persists-with-every-fact",
        LatencyRecord: "latency-measured",
        ThroughputRecord: "throughput-measured-and-skipped",
        AppendRecord: "appends-intact",
    }[kind]
    props = dict(_properties(REPRESENTATIVE[good]()))
    with pytest.raises(RecordError, match=r"^has malformed properties$"):
        kind.from_properties({**props, name: value})


# --- through a JUnit file written by pytest ---------------------------------------------------

#: Text JUnit XML carries: non-ASCII, markup characters, a newline and a tab.
AWKWARD = 'ü… <a href="x">&amp;</a> | line one\nline two\tend'


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("path-persists-with-every-fact", {"explanation": AWKWARD}),
        ("skipped-container", {"skip_reason": AWKWARD}),
        ("latency-measured", {"explanation": AWKWARD}),
        ("throughput-measured-and-skipped", {"facts": {"sku": AWKWARD}}),
        ("appends-damaged-observe", {"lock": AWKWARD}),
    ],
)
def test_a_record_reads_back_from_a_junit_file_pytest_wrote(
    pytester: pytest.Pytester, name: str, change: Mapping[str, object]
) -> None:
    """Each kind of record, as a test records it and pytest's junitxml writes it, reads back
    (through the report's reader) as the record it was."""
    props = _properties(REPRESENTATIVE[name]())
    kind = record_type(dict(props)["hypothesis"])
    record = replace(kind.from_properties(dict(props)), **change)
    pytester.makeini("[pytest]\njunit_family = xunit1\n")
    pytester.makepyfile(
        f"""
        def test_evidence(request):
            request.node.user_properties.extend({list(record.to_properties())!r})
        """
    )
    junit = pytester.path / "out.xml"
    pytester.runpytest("-p", "no:appservice_fs", f"--junitxml={junit}").assert_outcomes(passed=1)
    run = read_junit(junit)
    read = [e.record for e in (*run.cells, *run.latency, *run.throughput, *run.appends)]
    assert read == [record]


@pytest.mark.parametrize(
    ("kind", "name", "value", "message"),
    [
        (LatencyRecord, "instance_count", "999999999", "instance_count 999999999, but a count"),
        (ThroughputRecord, "size_count", "1001", "size_count 1001, but a count is 0 to 1000"),
        (AppendRecord, "writers", "-1", "writers -1, but a count is 0 to 1000"),
        (AppendRecord, "writers", "3", "writers 3 but lacks writer.3.name"),
        (LatencyRecord, "instance_count", "3", "instance_count 3 but lacks instance.3"),
    ],
)
def test_a_count_is_bounded_by_its_entries_and_a_cap(
    kind: type[Record], name: str, value: str, message: str
) -> None:
    """A count is a loop bound read from another job's file: one beyond 0 to 1000, or beyond
    the entries there, is a RecordError at once (999999999 looped for minutes before)."""
    good = {
        LatencyRecord: "latency-measured",
        ThroughputRecord: "throughput-measured-and-skipped",
        AppendRecord: "appends-intact",
    }[kind]
    props = dict(_properties(REPRESENTATIVE[good]()))
    assert props.get(name) in ("1", "2")  # the representative has one or two entries
    with pytest.raises(RecordError, match=f"^has {message}"):
        kind.from_properties({**props, name: value})
