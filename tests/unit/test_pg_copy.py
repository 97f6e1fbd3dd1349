import io

from callcentre.common.pg import _ChunkReader


def test_chunk_reader_returns_every_byte_in_order():
    reader = _ChunkReader(iter([b"abc", b"", b"defgh", b"i"]))
    out = io.BytesIO()
    while data := reader.read(2):
        out.write(data)
    assert out.getvalue() == b"abcdefghi"
