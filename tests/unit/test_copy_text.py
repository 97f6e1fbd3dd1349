import io

from callcentre.common.pg import _ChunkReader, copy_text


def test_copy_text_escapes_what_copy_would_misread():
    assert copy_text(None) == "\\N"
    assert copy_text("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert copy_text(-5) == "-5"
    assert copy_text("1>3>2") == "1>3>2"


def test_chunk_reader_returns_every_byte_in_order():
    reader = _ChunkReader(iter([b"abc", b"", b"defgh", b"i"]))
    out = io.BytesIO()
    while data := reader.read(2):
        out.write(data)
    assert out.getvalue() == b"abcdefghi"
