#!/usr/bin/env python3
"""QMP and screen helpers for hardware/image/test (Python standard library only).

  qmp.py screendump SOCKET OUT.ppm        the guest's screen (QMP screendump, PPM)
  qmp.py quit SOCKET                      ends QEMU
  qmp.py cmd SOCKET COMMAND [JSON-ARGS]   any QMP command (prints its return value as JSON)
  qmp.py png2ppm IN.png OUT.ppm           an 8-bit RGB(A) PNG as PPM (fast to compare again)
  qmp.py compare SCREEN.ppm REF.ppm [OTHER.ppm ...]
      prints the share of pixels of SCREEN that match REF (each channel within 32), and the same
      for every OTHER; exits 0 when SCREEN matches REF best and at least --min (default 0.90).
  qmp.py pointer SOCKET FX FY             moves the absolute pointer (usb-tablet) to the screen
                                          fraction FX, FY (0..1), as a hand on a touch screen would
  qmp.py patch SCREEN.ppm REF.ppm FX FY R exits 0 when every pixel within R pixels of (FX, FY)
                                          matches REF (each channel within 32): no cursor drawn
  qmp.py rotate IN.ppm OUT.ppm DEG        IN turned DEG (90, 180, 270) degrees clockwise
"""
import json
import socket
import struct
import sys
import zlib


def qmp(sock_path, command, arguments=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock_path)
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    while "return" not in json.loads(f.readline()):
        pass
    msg = {"execute": command}
    if arguments:
        msg["arguments"] = arguments
    f.write(json.dumps(msg) + "\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            return None
        reply = json.loads(line)
        if "return" in reply or "error" in reply:
            s.close()
            if "error" in reply:
                raise SystemExit("qmp %s: %s" % (command, reply["error"]))
            return reply["return"]


def read_ppm(path):
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    if fields[0] != b"P6" or fields[3] != b"255":
        raise SystemExit("%s: not a binary 8-bit PPM" % path)
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos:pos + w * h * 3], 3


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("%s: not a PNG" % path)
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise SystemExit("%s: only 8-bit RGB/RGBA, non-interlaced PNG" % path)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return w, h, bytes(out), bpp


def similarity(screen, ref, step=4):
    (w, h, a, abpp), (rw, rh, b, bbpp) = screen, ref
    if (w, h) != (rw, rh):
        return 0.0
    same = total = 0
    for y in range(0, h, step):
        for x in range(0, w, step):
            i, j = (y * w + x) * abpp, (y * w + x) * bbpp
            total += 1
            if all(abs(a[i + k] - b[j + k]) <= 32 for k in range(3)):
                same += 1
    return same / total


def main(argv):
    if len(argv) >= 3 and argv[0] == "screendump":
        qmp(argv[1], "screendump", {"filename": argv[2]})
    elif len(argv) >= 2 and argv[0] == "quit":
        qmp(argv[1], "quit")
    elif len(argv) >= 3 and argv[0] == "cmd":
        args = json.loads(argv[3]) if len(argv) >= 4 else None
        print(json.dumps(qmp(argv[1], argv[2], args)))
    elif len(argv) >= 3 and argv[0] == "png2ppm":
        w, h, px, bpp = read_png(argv[1])
        rgb = px if bpp == 3 else bytes(b for i, b in enumerate(px) if i % 4 != 3)
        with open(argv[2], "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h))
            f.write(rgb)
    elif len(argv) >= 4 and argv[0] == "pointer":
        x, y = (max(0, min(0x7FFF, int(float(v) * 0x7FFF))) for v in argv[2:4])
        qmp(argv[1], "input-send-event", {"events": [
            {"type": "abs", "data": {"axis": "x", "value": x}},
            {"type": "abs", "data": {"axis": "y", "value": y}},
        ]})
    elif len(argv) >= 6 and argv[0] == "patch":
        (w, h, a, abpp), (rw, rh, b, bbpp) = read_ppm(argv[1]), read_ppm(argv[2])
        if (w, h) != (rw, rh):
            print("sizes differ: %dx%d and %dx%d" % (w, h, rw, rh))
            return 1
        cx, cy, r = int(float(argv[3]) * w), int(float(argv[4]) * h), int(argv[5])
        bad = 0
        for y in range(max(0, cy - r), min(h, cy + r + 1)):
            for x in range(max(0, cx - r), min(w, cx + r + 1)):
                i, j = (y * w + x) * abpp, (y * w + x) * bbpp
                if any(abs(a[i + k] - b[j + k]) > 32 for k in range(3)):
                    bad += 1
        print("patch at %d,%d radius %d: %d pixels differ" % (cx, cy, r, bad))
        return 0 if bad == 0 else 1
    elif len(argv) >= 4 and argv[0] == "rotate":
        w, h, px, bpp = read_ppm(argv[1])
        deg = int(argv[3]) % 360
        if deg == 0:
            ow, oh, src = w, h, lambda x, y: (x, y)
        elif deg == 90:
            ow, oh, src = h, w, lambda x, y: (y, h - 1 - x)
        elif deg == 180:
            ow, oh, src = w, h, lambda x, y: (w - 1 - x, h - 1 - y)
        elif deg == 270:
            ow, oh, src = h, w, lambda x, y: (w - 1 - y, x)
        else:
            raise SystemExit("rotate: 0, 90, 180 or 270 degrees")
        out = bytearray(ow * oh * 3)
        for y in range(oh):
            for x in range(ow):
                sx, sy = src(x, y)
                i = (sy * w + sx) * bpp
                o = (y * ow + x) * 3
                out[o:o + 3] = px[i:i + 3]
        with open(argv[2], "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (ow, oh))
            f.write(bytes(out))
    elif len(argv) >= 3 and argv[0] == "compare":
        minimum = 0.90
        args = argv[1:]
        if "--min" in args:
            i = args.index("--min")
            minimum = float(args[i + 1])
            del args[i:i + 2]
        screen = read_ppm(args[0])
        scores = [similarity(screen, read_ppm(p)) for p in args[1:]]
        print(" ".join("%s=%.3f" % (p.rsplit("/", 1)[-1], s) for p, s in zip(args[1:], scores)))
        best = scores[0] >= minimum and all(scores[0] > s for s in scores[1:])
        return 0 if best else 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
