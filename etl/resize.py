"""resize.py: decode an image, resize and centre-crop it, encode it again.

    ais etl init resize --mode worker --workers 4 \\
        --cmd 'ais-etl-python ETL_DIR/resize.py'
    ais get ais://b/img.jpg small.jpg --etl resize --etl-args 224
    ais get ais://b/img.jpg img.npy --etl resize --etl-args 224,npy
    aisfs mount -o etl=resize,etl_args=224 ... /mnt/train-224

Arguments: SIZE[,FORMAT]. The shorter side is scaled to SIZE pixels and
the centre SIZE x SIZE square is cut out (the usual "resize, centre crop"
of image training); FORMAT is jpeg (the default, quality 90), png, or npy:
a uint8 array of SIZE x SIZE x 3 (RGB) in NumPy's .npy format, what a data
loader hands a model. Any image Pillow reads is taken (JPEG, PNG, WebP,
...); JPEGs are decoded at the smallest scale that still covers SIZE.
"""
import io

from PIL import Image

FORMATS = ("jpeg", "png", "npy")


def parse(args):
    parts = (args or "224").split(",")
    if len(parts) > 2 or not parts[0].isdigit():
        raise ValueError(f"arguments {args!r}: expected SIZE[,jpeg|png|npy]")
    size = int(parts[0])
    fmt = parts[1] if len(parts) == 2 else "jpeg"
    if not 1 <= size <= 8192 or fmt not in FORMATS:
        raise ValueError(f"arguments {args!r}: SIZE 1..8192, FORMAT one of {', '.join(FORMATS)}")
    return size, fmt


def transform(data: bytes, name: str, args: str) -> bytes:
    size, fmt = parse(args)
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (size, size))
        im = im.convert("RGB")
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    im = im.crop((left, top, left + size, top + size))
    out = io.BytesIO()
    if fmt == "npy":
        import numpy

        numpy.save(out, numpy.asarray(im, dtype=numpy.uint8))
    elif fmt == "png":
        im.save(out, "PNG")
    else:
        im.save(out, "JPEG", quality=90)
    return out.getvalue()
