"""for_each_share: every index of the range once, in share_count shares, on several threads,
errors passed on."""

import threading

import numba
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels._threads import for_each_share, share_count


@given(count=st.integers(0, 50), threads=st.integers(1, numba.config.NUMBA_NUM_THREADS))
def test_the_shares_cover_the_range_once_and_are_balanced(count, threads):
    shares = []
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        for_each_share(lambda start, stop, tag: shares.append((start, stop, tag)), count, "x")
        announced = share_count(count)  # what kernels with an accumulator per share allocate
    finally:
        numba.set_num_threads(before)
    covered = sorted(i for start, stop, _ in shares for i in range(start, stop))
    assert covered == list(range(count))
    assert len(shares) == max(1, min(threads, count)) == announced
    sizes = [stop - start for start, stop, _ in shares]
    assert max(sizes) - min(sizes) <= 1 and {tag for *_, tag in shares} == {"x"}


def test_the_shares_run_at_the_same_time_each_on_a_thread_of_its_own():
    threads = numba.get_num_threads()
    barrier = threading.Barrier(threads, timeout=10)  # broken, and raising, unless all arrive
    seen = set()

    def kernel(start, stop):
        seen.add(threading.get_ident())
        barrier.wait()

    for_each_share(kernel, threads)
    assert len(seen) == threads and threading.get_ident() in seen  # the caller takes one


def test_an_error_in_a_share_reaches_the_caller():
    def kernel(start, stop):
        if start == 0:
            raise ValueError("share 0 failed")

    with pytest.raises(ValueError, match="share 0 failed"):
        for_each_share(kernel, 4)
