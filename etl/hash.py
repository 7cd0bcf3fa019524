"""hash.py: the hex digest of each object, and a newline.

    ais etl init hash --mode worker --cmd 'ais-etl-python ETL_DIR/hash.py'
    ais get ais://b/obj - --etl hash [--etl-args md5|sha1|sha256|sha512]

The algorithm is the reader's --etl-args, sha256 by default; any other
name fails that object.
"""
import hashlib

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def transform(data: bytes, name: str, args: str) -> bytes:
    algorithm = args or "sha256"
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown hash {algorithm!r} (one of {', '.join(ALGORITHMS)})")
    return hashlib.new(algorithm, data).hexdigest().encode() + b"\n"
