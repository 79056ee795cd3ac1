"""Reading delimited exports: encoding, separator, quoting and line numbers are found."""

from __future__ import annotations

import pytest

from hallboard.imports.errors import ImportFileError
from hallboard.imports.text import decode, read_table


def test_decode_prefers_a_byte_order_mark() -> None:
    """A UTF-8 BOM decides the encoding and is not part of the text."""
    text, codec = decode("f.txt", "\ufeffMÜL,1\n".encode())
    assert codec == "utf-8-sig"
    assert text == "MÜL,1\n"


def test_decode_reads_windows_1252_when_the_bytes_are_not_utf8() -> None:
    """Umlauts and the euro sign of an "ANSI" export decode as Windows-1252."""
    text, codec = decode("f.txt", "MÜL,€\n".encode("cp1252"))
    assert (text, codec) == ("MÜL,€\n", "cp1252")


def test_decode_falls_back_to_latin1_for_bytes_windows_1252_leaves_undefined() -> None:
    """0x81 is undefined in Windows-1252 but a valid ISO-8859-1 control character."""
    _text, codec = decode("f.txt", b"A,\x81\n")
    assert codec == "latin-1"


def test_decode_reads_utf16_with_its_mark() -> None:
    """A UTF-16 export (with its BOM) is read, although its bytes contain NULs."""
    text, codec = decode("f.txt", "MÜL,1\n".encode("utf-16"))
    assert codec == "utf-16"
    assert text.lstrip("\ufeff") == "MÜL,1\n"


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty_file"), (b"\r\n  \n", "empty_file"), (b"1,2\x00,3", "binary")],
)
def test_decode_refuses_empty_and_binary_files(data: bytes, code: str) -> None:
    """An empty file or one with NUL bytes is an import error naming the file."""
    with pytest.raises(ImportFileError) as caught:
        decode("GPU014.TXT", data)
    assert caught.value.problems[0].code == code
    assert caught.value.problems[0].file == "GPU014.TXT"


def test_declared_iso_8859_1_is_read_as_windows_1252() -> None:
    """As browsers do: a page declaring ISO-8859-1 may hold Windows-1252 quotes."""
    text, codec = decode("p.htm", "„Ü“".encode("cp1252"), declared="iso-8859-1")
    assert (text, codec) == ("„Ü“", "cp1252")


@pytest.mark.parametrize(
    ("content", "separator"),
    [
        ('1,"a;b",3,4\n5,"c;d",7,8\n', ","),
        ('1;"a,b";3;4\n5;"c,d";7;8\n', ";"),
        ("1\ta,b\t3\t4\n5\tc;d\t7\t8\n", "\t"),
    ],
)
def test_the_separator_is_the_one_that_gives_enough_fields(content: str, separator: str) -> None:
    """Commas or semicolons inside quoted text do not fool the separator choice."""
    fmt, rows = read_table("f.txt", content.encode(), min_fields=4)
    assert fmt.delimiter == separator
    assert [len(r.fields) for r in rows] == [4, 4]


def test_rows_are_trimmed_and_keep_their_physical_line_numbers() -> None:
    """Blank lines are skipped; a quoted newline does not shift later line numbers."""
    data = b'1, " S" ,x\r\n\r\n2,"two\r\nlines",y\r\n3,z,w\r\n'
    fmt, rows = read_table("f.txt", data, min_fields=3)
    assert fmt.line_ending == "CRLF"
    assert fmt.quoted
    assert [(r.line, r.fields) for r in rows] == [
        (1, ("1", "S", "x")),
        (3, ("2", "two\r\nlines", "y")),
        (5, ("3", "z", "w")),
    ]


def test_a_file_without_any_separator_is_refused() -> None:
    """A text with one value per line cannot be a GPU export: the error says so."""
    with pytest.raises(ImportFileError) as caught:
        read_table("f.txt", b"hello\nworld\n", min_fields=7)
    assert caught.value.problems[0].code == "separator"


def test_a_quote_left_open_at_the_end_is_malformed_quoting_on_its_line() -> None:
    """A file cut inside a quoted value names the line where the cut row starts."""
    with pytest.raises(ImportFileError) as caught:
        read_table("f.txt", b'1,"a",2\n2,"b",3\n3,"cut', min_fields=3)
    problem = caught.value.problems[0]
    assert (problem.code, problem.line) == ("quoting", 3)
