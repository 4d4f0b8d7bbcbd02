"""The (day x account) grid that every snapshot feature is computed on.

Windows are trailing calendar days ending with the as-of day, read off running totals so a
window of any length costs the same. Matrices are day-major with one leading row standing for
"before the grid": snapshot rows come sorted by (as-of date, account), so their cells lie in
increasing order and every lookup reads memory front to back (scattered lookups cost ten times
as much at millions of rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class GridRows:
    """Snapshot rows placed on a grid: ``account`` and ``day`` (grid numbering), and ``cell``,
    their position in the grid's padded day-major matrices."""

    account: np.ndarray
    day: np.ndarray
    cell: np.ndarray
    _earlier: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.account)

    def cells_before(self, lag: int, n_accounts: int) -> np.ndarray:
        """Cells ``lag`` days before the rows' days, or the leading "before the grid" row
        (cell == account) for those that fall before it; kept, as windows share lags."""
        if lag not in self._earlier:
            self._earlier[lag] = np.maximum(self.cell - lag * n_accounts, self.account)
        return self._earlier[lag]


@dataclass
class _Scratch:
    """A grid's reusable matrix of one type, and how many times it has been handed out.

    ``padded`` is the matrix and one spare cell after it, where additions that fall off the
    grid land (cheaper than filtering them out first); a stacked one holds a padded matrix
    per quantity, one after the other."""

    padded: np.ndarray
    lease: int = 0

    @property
    def matrix(self) -> np.ndarray:
        return self.padded[..., :-1]


@dataclass(frozen=True)
class GridDays:
    """The accounts and days that grid features are numbered by."""

    accounts: pd.Index
    first_day: pd.Timestamp
    n_days: int

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @cached_property
    def _account_ids(self) -> pa.Array:
        return pa.array(self.accounts.astype(str), pa.string())

    def account_positions(self, account_ids: pd.Series) -> np.ndarray:
        """Each id's position in ``accounts`` (-1 where not among them), matched in Arrow:
        making Python strings of a few hundred thousand ids first costs a second."""
        ids = pa.array(account_ids.astype(pd.ArrowDtype(pa.string())))
        return pc.index_in(ids, value_set=self._account_ids).fill_null(-1).to_numpy()

    def day_index(self, timestamps: pd.Series) -> np.ndarray:
        days = pd.to_datetime(timestamps)
        if getattr(days.dt, "tz", None) is not None:
            days = days.dt.tz_convert("UTC").dt.tz_localize(None)
        return ((days.dt.normalize() - self.first_day).dt.days).to_numpy()

    def rows(self, account: np.ndarray, day: np.ndarray) -> GridRows:
        """Snapshot rows at grid accounts ``account`` and grid days ``day``."""
        account, day = np.asarray(account, np.int64), np.asarray(day, np.int64)
        return GridRows(account, day, (day + 1) * self.n_accounts + account)


@dataclass(frozen=True)
class DayGrid(GridDays):
    """Accounts x days matrices that every day's features are read from."""

    _scratch: dict[tuple[np.dtype, int], _Scratch] = field(default_factory=dict,
                                                           compare=False, repr=False)

    def twin(self) -> DayGrid:
        """The same grid with scratch matrices of its own, for use on another thread."""
        return DayGrid(self.accounts, self.first_day, self.n_days)

    def _cells(self, account: np.ndarray, day: np.ndarray, spare: int, *,
               before_to_leading_row: bool) -> np.ndarray:
        """Padded-matrix cells of (account, day) rows, made in one array worked in place (at
        10^7 user-days every temporary is 100 MB of memory that is slow to fault in).

        Rows after the grid, or of no grid account (-1), go to the ``spare`` cell after the
        matrix (cheaper than filtering them out). Rows before the grid go to the leading row
        when ``before_to_leading_row`` (totals: windows subtract it away; counts of what is
        still open need it), else to the spare cell too.
        """
        account = np.asarray(account)
        cell = np.maximum(day, -1).astype(np.int64, copy=False)
        cell += 1
        cell *= self.n_accounts
        cell += account
        np.minimum(cell, spare, out=cell)
        if len(account) and account.min() < 0:
            cell[account < 0] = spare
        if not before_to_leading_row:
            cell[np.less(day, 0)] = spare
        return cell

    def _add(self, scratch: _Scratch, account: np.ndarray, day: np.ndarray,
             weights: np.ndarray | int) -> None:
        """Add ``weights`` per account and day into a scratch matrix (rows before the grid in
        its leading row, rows off it in the spare cell)."""
        cell = self._cells(account, day, len(scratch.padded) - 1, before_to_leading_row=True)
        # add.at, not bincount: bincount sums weights as floats, ten times slower
        np.add.at(scratch.padded, cell, weights)

    def _scratch_matrix(self, dtype: np.dtype, fill: float, width: int = 0) -> _Scratch:
        """The grid's one padded matrix of ``dtype`` (with ``width``, of that many
        quantities side by side per cell), filled with ``fill`` and leased anew.

        Running totals are read at the rows as soon as they are made, so one matrix per type
        serves them all: fresh memory is slow to fault in, and a fresh 100 MB matrix per
        total cost more than its arithmetic. A ``Running`` of an earlier lease refuses to be
        read. A grid is therefore used by one thread at a time.
        """
        dtype = np.dtype(dtype)
        scratch = self._scratch.get((dtype, width))
        if scratch is None:
            cells = (self.n_days + 1) * self.n_accounts + 1
            scratch = self._scratch[dtype, width] = _Scratch(
                np.empty((width, cells) if width else cells, dtype))
        scratch.padded.fill(fill)
        scratch.lease += 1
        return scratch

    def _running(self, scratch: _Scratch, step: np.ufunc = np.add) -> Running:
        """Running totals (or ``step``, e.g. maximum) over days of a scratch matrix, in
        place."""
        accumulate_rows(scratch.matrix.reshape(self.n_days + 1, self.n_accounts), step)
        return Running(scratch, self.n_accounts)

    def latest(self, account: np.ndarray, day: np.ndarray) -> Running:
        """Per account, the latest of ``day`` on or before each day (-1e6 when none)."""
        latest = self._scratch_matrix(np.float64, -1e6)
        cells = self._cells(account, day, len(latest.padded) - 1, before_to_leading_row=False)
        latest.padded[cells] = day
        return self._running(latest, np.maximum)

    def totals(self, account: np.ndarray, day: np.ndarray,
               weights: np.ndarray | None = None) -> Running:
        """Running totals of ``weights`` (default 1) per account up to each day, in the
        weights' type (integers stay integers)."""
        if weights is None:
            weights, dtype = 1, np.dtype(np.int64)
        else:
            weights = np.asarray(weights)
            dtype = np.promote_types(weights.dtype, np.int64)  # no overflow of small ints
        scratch = self._scratch_matrix(dtype, 0)
        self._add(scratch, account, day, weights)
        return self._running(scratch)

    def stacked_totals(self, account: np.ndarray, day: np.ndarray,
                       weights: np.ndarray) -> list[Running]:
        """Running totals of several quantities (a row of ``weights`` each) made at once:
        their cells are computed once, and one matrix holds them all.

        The totals are int32: counts are, and int32 sums move half the memory. A running
        total may wrap past 2^31, but a window, the difference of two, is exact while its
        own sum stays below 2^31: read them with ``Running.at`` and subtract in int32.
        """
        weights = np.asarray(weights)
        scratch = self._scratch_matrix(np.int32, 0, width=len(weights))
        cell = self._cells(account, day, scratch.padded.shape[1] - 1,
                           before_to_leading_row=True)
        unique = bool((cell[1:] > cell[:-1]).all())  # one row per cell, as account-days
        for padded, quantity in zip(scratch.padded, weights, strict=True):
            if unique:
                padded[cell] = quantity
            else:
                np.add.at(padded, cell, quantity)
            accumulate_rows(padded[:-1].reshape(self.n_days + 1, self.n_accounts))
        return [Running(scratch, self.n_accounts, quantity) for quantity in range(len(weights))]

    def either(self, account: np.ndarray, day: np.ndarray, bits: np.ndarray,
               window: int) -> np.ndarray:
        """Padded matrix, flattened: per account and day d, the bitwise OR of the ``bits``
        (non-negative integers, at most one per account and day) over days (d-window, d].
        Read it at ``GridRows.cell``.

        OR has no inverse, so no running total gives it: each step ORs every row with the
        one ``span`` rows earlier, doubling the days it covers, and a last step with an
        overlap makes up the window. A handful of passes over a matrix of small integers.
        """
        dtype = np.min_scalar_type(int(bits.max())) if len(bits) else np.uint8
        padded = np.zeros((self.n_days + 1) * self.n_accounts + 1, dtype=dtype)
        padded[self._cells(account, day, len(padded) - 1, before_to_leading_row=False)] = bits
        matrix = padded[:-1].reshape(self.n_days + 1, self.n_accounts)
        span = 1
        # ufuncs read overlapping operands as they were before the call
        while 2 * span <= window:
            matrix[span:] |= matrix[:-span]
            span *= 2
        if span < window:
            matrix[window - span:] |= matrix[:span - window]
        return matrix.reshape(-1)

    def open_counts(self, account: np.ndarray, start_day: np.ndarray,
                    end_day: np.ndarray) -> Running:
        """Count of intervals [start_day, end_day) of each account that cover each day: +1
        at the start, -1 at the end, summed along the days. Read it with ``Running.at``."""
        scratch = self._scratch_matrix(np.int64, 0)
        self._add(scratch, account, start_day, 1)
        self._add(scratch, account, end_day, -1)
        return self._running(scratch)


@dataclass(frozen=True)
class FewDayGrid(GridDays):
    """A ``DayGrid``'s totals, latest days and open counts for the rows of a few as-of days
    (a morning's one, training's month-ends), read off the items themselves.

    A matrix costs days x accounts whatever the items: at 10^5 accounts, 240 days of a few
    hundred thousand tickets or invoices cost seconds of matrix work for one day's rows. A
    read here costs one pass over the items per as-of day. Rows come as snapshot rows do, in
    blocks of increasing accounts (one block per as-of day); each block is read in one pass.
    """

    def totals(self, account: np.ndarray, day: np.ndarray,
               weights: np.ndarray | None = None) -> ItemTotals:
        """What ``DayGrid.totals`` gives, read at rows."""
        if weights is None:
            weights = np.ones(len(np.asarray(account)), np.int64)
        return ItemTotals(self, account, day, weights)

    def latest(self, account: np.ndarray, day: np.ndarray) -> LatestDay:
        """What ``DayGrid.latest`` gives, read at rows."""
        return LatestDay(self, account, day)

    def open_counts(self, account: np.ndarray, start_day: np.ndarray,
                    end_day: np.ndarray) -> ItemTotals:
        """What ``DayGrid.open_counts`` gives, read at rows."""
        account = np.asarray(account)
        return ItemTotals(self, np.concatenate([account, account]),
                          np.concatenate([start_day, end_day]),
                          np.repeat(np.array([1, -1], np.int64), len(account)))


def _row_blocks(rows: GridRows) -> list[slice]:
    """Runs of rows whose accounts increase: each account at most once per run."""
    starts = np.flatnonzero(np.diff(rows.account) <= 0) + 1
    edges = [0, *starts.tolist(), len(rows)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


class ItemTotals:
    """Running totals of items (account, day, weight) read at rows: the sum of the weights
    of the row's account through day d - lag. As on a ``DayGrid``, items before the grid
    count on every day, items after it or of no grid account never."""

    def __init__(self, grid: FewDayGrid, account: np.ndarray, day: np.ndarray,
                 weights: np.ndarray) -> None:
        account, day = np.asarray(account), np.asarray(day)
        weights = np.broadcast_to(np.asarray(weights), account.shape)
        kept = (account >= 0) & (day < grid.n_days)
        self.n_accounts = grid.n_accounts
        self.account = account[kept].astype(np.int64, copy=False)
        self.day = day[kept]
        self.weights = weights[kept]
        # the weights' type, integers widened as a DayGrid's running totals are
        self.dtype = np.promote_types(self.weights.dtype, np.int64)

    def at(self, rows: GridRows, lag: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """Total through day d - lag for each row's day d (what was before the grid when
        that falls before it)."""
        result = np.zeros(len(rows), self.dtype) if out is None else out
        limit = np.zeros(self.n_accounts, np.int64)  # read only at the block's accounts
        for block in _row_blocks(rows):
            # before the grid: everything before it
            limit[rows.account[block]] = np.maximum(rows.day[block] - lag, -1)
            counted = self.day <= limit[self.account]
            # bincount sums in float64: exact for the integer counts and scores summed here
            sums = np.bincount(self.account[counted], self.weights[counted],
                               minlength=self.n_accounts)
            result[block] = sums[rows.account[block]]
        return result

    def window(self, rows: GridRows, window: int, lag: int = 0) -> np.ndarray:
        """Sum over days (d-lag-window, d-lag] for each row's day d."""
        total = self.at(rows, lag)
        total -= self.at(rows, lag + window)
        return total


class LatestDay:
    """Per account, the latest item day on or before each row's day (-1e6 when none); as on
    a ``DayGrid``, items before or after the grid are not seen."""

    def __init__(self, grid: FewDayGrid, account: np.ndarray, day: np.ndarray) -> None:
        account, day = np.asarray(account), np.asarray(day)
        kept = (account >= 0) & (day >= 0) & (day < grid.n_days)
        self.n_accounts = grid.n_accounts
        self.account = account[kept].astype(np.int64, copy=False)
        self.day = day[kept].astype(np.float64)

    def at(self, rows: GridRows, lag: int = 0) -> np.ndarray:
        result = np.empty(len(rows), np.float64)
        limit = np.zeros(self.n_accounts, np.float64)  # read only at the block's accounts
        latest = np.empty(self.n_accounts, np.float64)
        for block in _row_blocks(rows):
            limit[rows.account[block]] = rows.day[block] - lag
            seen = self.day <= limit[self.account]
            latest.fill(-1e6)
            np.maximum.at(latest, self.account[seen], self.day[seen])
            result[block] = latest[rows.account[block]]
        return result


#: The grids the features of tickets, invoices, NPS and CS touches read from.
TableGrid = DayGrid | FewDayGrid


def accumulate_rows(matrix: np.ndarray, step: np.ufunc = np.add) -> None:
    """In place, each row of ``matrix`` becomes ``step`` of itself and the (already
    accumulated) row before it: running totals down the leading axis."""
    # row by row: numpy's cumsum along the leading axis of a C-ordered matrix is 5x slower
    for row in range(1, len(matrix)):
        step(matrix[row], matrix[row - 1], out=matrix[row])


class Running:
    """Running totals of one (day x account) quantity, read at snapshot rows."""

    def __init__(self, scratch: _Scratch, n_accounts: int, quantity: int | None = None) -> None:
        self._scratch = scratch
        self._lease = scratch.lease
        self._quantity = quantity  # its row of a stacked scratch matrix
        self.n_accounts = n_accounts

    def at(self, rows: GridRows, lag: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """Total through day d - lag for each row's day d (zero before the grid), written
        into ``out`` when given (a buffer reused across reads saves faulting in fresh
        memory)."""
        if self._scratch.lease != self._lease:
            raise RuntimeError("these running totals were overwritten: the grid has made "
                               "others of their type since; read each before the next")
        cells = rows.cell if lag == 0 else rows.cells_before(lag, self.n_accounts)
        matrix = self._scratch.matrix
        if self._quantity is not None:
            matrix = matrix[self._quantity]
        return matrix.take(cells, out=out)

    def window(self, rows: GridRows, window: int, lag: int = 0) -> np.ndarray:
        """Sum over days (d-lag-window, d-lag] for each row's day d."""
        total = self.at(rows, lag)
        total -= self.at(rows, lag + window)  # in place: fresh memory is slow to fault in
        return total


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, NaN elsewhere."""
    result = np.full(np.broadcast_shapes(np.shape(numerator), np.shape(denominator)), np.nan)
    np.divide(numerator, denominator, out=result, where=np.asarray(denominator) > 0)
    return result


def change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Relative change (current - previous) / previous; undefined when previous is 0."""
    return ratio(current - previous, previous)
