"""Reading CSV tables: when the first row is a header, and when it is a typo."""

import numpy as np
import pytest

from matnn.csvfile import read_table


def table(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_a_first_row_of_text_only_is_a_header(tmp_path):
    values, names = read_table(table(tmp_path, "weight,height,female\n-2,-1,1\n25,6,0\n"))
    assert names == ("weight", "height", "female")
    np.testing.assert_array_equal(values, [[-2, -1, 1], [25, 6, 0]])


def test_a_first_row_of_numbers_only_is_data(tmp_path):
    values, names = read_table(table(tmp_path, "1,2,1\n3,4,0\n"))
    assert names is None
    np.testing.assert_array_equal(values, [[1, 2, 1], [3, 4, 0]])


@pytest.mark.parametrize("first, column, field", [("1,2x,1", 2, "2x"), ("1,,0", 2, ""),
                                                  ("one,2,3", 1, "one")])
def test_a_first_row_mixing_numbers_and_text_is_an_error(tmp_path, first, column, field):
    # Taken as a header, the typo would silently drop the first sample.
    path = table(tmp_path, f"\n{first}\n3,4,0\n")
    with pytest.raises(ValueError) as info:
        read_table(path)
    assert str(info.value).startswith(
        f"{path}: line 2, column {column}: {field!r} is not a number, but other fields "
        "of this first row are")


def test_the_caller_can_say_there_is_a_header(tmp_path):
    values, names = read_table(table(tmp_path, "x1,2x,y\n1,2,1\n"), header=True)
    assert names == ("x1", "2x", "y")
    np.testing.assert_array_equal(values, [[1, 2, 1]])
    values, names = read_table(table(tmp_path, "1,2,1\n3,4,0\n"), header=True)
    assert names == ("1", "2", "1")
    np.testing.assert_array_equal(values, [[3, 4, 0]])


def test_the_caller_can_say_there_is_none(tmp_path):
    values, names = read_table(table(tmp_path, "1,2,1\n3,4,0\n"), header=False)
    assert names is None and values.shape == (2, 3)
    path = table(tmp_path, "a,b,c\n3,4,0\n")
    with pytest.raises(ValueError, match="line 1, column 1: 'a' is not a number"):
        read_table(path, header=False)


def test_header_must_be_a_bool_or_none(tmp_path):
    with pytest.raises(TypeError, match="header must be True, False or None, got 'yes'"):
        read_table(table(tmp_path, "1,2\n"), header="yes")
