"""keep.py: a shard with only some of its members (a member filter).

    ais etl init keep --mode worker --cmd 'ais-etl-python ETL_DIR/keep.py'
    ais get ais://wds/shard-000001.tar small.tar --etl keep --etl-args jpg,cls
    ais etl bucket keep ais://wds ais://wds-jpg --etl-args jpg

Arguments: the extensions to keep, comma separated ("jpg,cls"). The input
is a tar shard (plain, gzip, bzip2 or xz compressed); the output is a
plain tar of the members whose names end in one of them, in their order,
with their names, modes and times: WebDataset samples with fewer files.
Directories and links are kept too.
"""
import io
import tarfile


def transform(data: bytes, name: str, args: str) -> bytes:
    exts = tuple("." + e.strip().lstrip(".") for e in args.split(",") if e.strip())
    if not exts:
        raise ValueError("no extensions to keep (--etl-args jpg,cls)")
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for m in src:
            if m.isfile():
                if m.name.endswith(exts):
                    dst.addfile(m, src.extractfile(m))
            elif m.isdir() or m.issym():
                dst.addfile(m)
    return out.getvalue()
