"""Bucket-name and key rules, and listing pages checked against a naive recomputation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.objects.errors import InvalidBucketName, InvalidObjectName, KeyTooLong
from tandem.objects.listing import s3_order, select_page
from tandem.objects.names import check_bucket_name, check_key


@pytest.mark.parametrize(
    "name",
    ["abc", "sagemaker-us-east-1-000000000000", "a.b-c", "endpoints", "dashboard", "0" * 63],
)
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "A" * 5,
        "Bad_Name",
        "a" * 64,
        "-abc",
        "abc-",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "sthree-x",
        "amzn-s3-demo-x",
        "abc-s3alias",
        "abc--ol-s3",
        "abc.mrap",
        "abc--x-s3",
        ".tandem",
        "a/b",
    ],
)
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidBucketName):
        check_bucket_name(name)


@pytest.mark.parametrize(
    "key", ["a", "a/b.txt", "dir/", "a b+c%d?#~", "é/ü.txt", "x" * 255, "a\\b", "...", "a/.b"]
)
def test_keys_kept_as_files(key: str) -> None:
    assert check_key("b", key) == key


@pytest.mark.parametrize(
    "key", ["", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "/abs", "a//b", "a\x00b", "//",
            "x" * 256, "a/" + "é" * 128]
)
def test_keys_that_could_leave_the_bucket_are_refused(key: str) -> None:
    with pytest.raises(InvalidObjectName):
        check_key("b", key)


def test_keys_over_1024_bytes_are_too_long() -> None:
    longest = ("é" * 100 + "/") * 5 + "é" * 9 + "x"
    assert len(longest.encode()) == 1024
    check_key("b", longest)
    with pytest.raises(KeyTooLong):
        check_key("b", longest + "y")


def _naive(keys: list[str], prefix: str, delimiter: str) -> tuple[list[str], list[str]]:
    """Every key and common prefix of a full listing, in S3 order."""
    contents, prefixes = [], set()
    for key in keys:
        if not key.startswith(prefix):
            continue
        at = key.find(delimiter, len(prefix)) if delimiter else -1
        if at >= 0:
            prefixes.add(key[: at + len(delimiter)])
        else:
            contents.append(key)
    return sorted(contents, key=s3_order), sorted(prefixes, key=s3_order)


_alphabet = st.sampled_from(["a", "b", "/", "-", "é", "+"])


@settings(max_examples=300, deadline=None)
@given(
    keys=st.sets(st.text(_alphabet, min_size=1, max_size=6), max_size=30),
    prefix=st.text(_alphabet, max_size=2),
    delimiter=st.sampled_from(["", "/", "b"]),
    page=st.integers(min_value=1, max_value=5),
)
def test_pages_join_into_the_full_listing(
    keys: set[str], prefix: str, delimiter: str, page: int
) -> None:
    ordered = sorted(keys, key=s3_order)
    contents: list[str] = []
    prefixes: list[str] = []
    after = None
    for _ in range(len(ordered) + 2):
        names, commons, truncated = select_page(
            ordered, prefix=prefix, delimiter=delimiter, after=after, max_keys=page
        )
        assert len(names) + len(commons) <= page
        contents += names
        prefixes += commons
        if not truncated:
            break
        after = max([*names, *commons], key=s3_order)
    else:
        pytest.fail("the listing never ended")
    assert (contents, prefixes) == _naive(ordered, prefix, delimiter)


def test_max_keys_zero_is_an_empty_untruncated_page() -> None:
    assert select_page(["a", "b"], max_keys=0) == ([], [], False)
