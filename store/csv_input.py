"""CSV input: rows converted as text, ragged rows rejected one by one, only empty fields null."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from journeys.schema import JOURNEY_SCHEMA
from store.errors import LoaderError
from store.input_rows import InputChunk, convert_records
from store.validation import Rejection


def read_csv(path: Path, batch_rows: int) -> Iterator[InputChunk]:
    with path.open("rb") as handle:
        header = handle.readline().decode(errors="replace").strip().split(",")
    ragged: dict[int, str] = {}  # data row number → raw line

    def note_ragged(row: pacsv.InvalidRow) -> str:
        # row.number counts the header line; data rows are numbered from 1. (A ragged row that
        # is not UTF-8 never reaches here: pyarrow raises, and the load stops with LoaderError.)
        ragged[(row.number or 0) - 1] = row.text
        return "skip"

    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=True,
        null_values=[""],  # only an empty field is null: "NA" and "null" are text
    )
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=note_ragged),
            convert_options=options,
        )
    except pa.ArrowInvalid as exc:
        raise LoaderError(f"{path}: cannot read further: {exc}") from None
    cursor = _RowCursor(ragged)
    for batch in _batches(reader, path):
        records = batch.to_pylist()
        for start in range(0, len(records), batch_rows):
            part = records[start : start + batch_rows]
            numbers = [cursor.next_good() for _ in part]
            yield from cursor.ragged_chunks()
            chunk = convert_records(list(part), numbers[0] if numbers else 1)
            chunk.numbers = numbers
            yield chunk
    cursor.finish()
    yield from cursor.ragged_chunks()


def _batches(reader: pacsv.CSVStreamingReader, path: Path) -> Iterator[pa.RecordBatch]:
    """The reader's batches; a read error becomes a :class:`LoaderError`, not ArrowInvalid."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise LoaderError(f"{path}: cannot read further: {exc}") from None
        yield batch


class _RowCursor:
    """Numbers the good CSV rows around the ragged ones and turns the ragged ones into rejects."""

    def __init__(self, ragged: dict[int, str]) -> None:
        self._ragged = ragged
        self._next = 1
        self._due: list[int] = []

    def next_good(self) -> int:
        """The number of the next good row; ragged rows passed on the way become due."""
        while self._next in self._ragged:
            self._due.append(self._next)
            self._next += 1
        number = self._next
        self._next += 1
        return number

    def finish(self) -> None:
        """After the last batch: every ragged row left is due."""
        self._due.extend(sorted(n for n in self._ragged if n >= self._next))
        self._next = max([self._next, *(n + 1 for n in self._ragged)])

    def ragged_chunks(self) -> Iterator[InputChunk]:
        """One chunk (no table rows) with a rejection per ragged row that became due."""
        if not self._due:
            return
        due, self._due = self._due, []
        raw = [{"line": self._ragged.pop(n)} for n in due]
        rejections = [
            Rejection(i, "*", "row has a different number of fields than the header")
            for i in range(len(due))
        ]
        yield InputChunk(JOURNEY_SCHEMA.empty_table(), raw, due[0], rejections, numbers=due)
