#!/usr/bin/env python3
"""POSIX cases, each with its outcome: run on a local file system and on an
aisfs mount by test_fuse_posix_cmp.sh, which compares the two listings.

usage: posix_cases.py ROOT [--user]

ROOT is an empty directory; each case works in its own subdirectory. Every
case prints one line "NAME: OUTCOME", OUTCOME being "ok" (and what the
case reads back: a mode, a size, a link count) or the errno name. With
--user only the cases of an unprivileged user run (ROOT prepared by a root
run of the same script: see prepare_user).
"""
import ctypes
import errno
import os
import stat
import sys

ROOT = sys.argv[1]
USER = "--user" in sys.argv
RESULTS = []


def outcome(fn):
    try:
        r = fn()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "ok" if r is None else "ok " + str(r)


def case(name):
    def wrap(fn):
        d = os.path.join(ROOT, name)
        if not USER:
            os.mkdir(d)
        RESULTS.append((name, outcome(lambda: fn(d))))
        return fn
    return wrap


def write(p, data=b"x"):
    with open(p, "wb") as f:
        f.write(data)


def mode(p):
    return oct(stat.S_IMODE(os.lstat(p).st_mode))


def renameat2(a, b, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    r = libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def root_cases():
    # ---- open and create
    @case("open_missing")
    def _(d):
        os.close(os.open(d + "/none", os.O_RDONLY))

    @case("open_excl_existing")
    def _(d):
        write(d + "/f")
        os.close(os.open(d + "/f", os.O_CREAT | os.O_EXCL | os.O_WRONLY))

    @case("open_dir_for_writing")
    def _(d):
        os.close(os.open(d, os.O_WRONLY))

    @case("open_through_a_file")
    def _(d):
        write(d + "/f")
        os.close(os.open(d + "/f/x", os.O_RDONLY))

    @case("create_in_missing_dir")
    def _(d):
        os.close(os.open(d + "/no/f", os.O_CREAT | os.O_WRONLY))

    @case("o_directory_on_a_file")
    def _(d):
        write(d + "/f")
        os.close(os.open(d + "/f", os.O_RDONLY | os.O_DIRECTORY))

    @case("create_name_too_long")
    def _(d):
        os.close(os.open(d + "/" + "n" * 256, os.O_CREAT | os.O_WRONLY))

    @case("open_trunc")
    def _(d):
        write(d + "/f", b"12345")
        os.close(os.open(d + "/f", os.O_WRONLY | os.O_TRUNC))
        return os.stat(d + "/f").st_size

    @case("create_mode_0")
    def _(d):
        os.close(os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0))
        return mode(d + "/f")

    @case("create_mode_0750")
    def _(d):
        old = os.umask(0)
        try:
            os.close(os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o750))
        finally:
            os.umask(old)
        return mode(d + "/f")

    @case("open_nofollow_link")
    def _(d):
        write(d + "/f")
        os.symlink("f", d + "/l")
        os.close(os.open(d + "/l", os.O_RDONLY | os.O_NOFOLLOW))

    @case("append_mode")
    def _(d):
        write(d + "/f", b"ab")
        fd = os.open(d + "/f", os.O_WRONLY | os.O_APPEND)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"c")
        os.close(fd)
        return open(d + "/f", "rb").read().decode()

    # ---- truncate
    @case("truncate_grow")
    def _(d):
        write(d + "/f", b"ab")
        os.truncate(d + "/f", 10)
        return repr(open(d + "/f", "rb").read())

    @case("truncate_shrink")
    def _(d):
        write(d + "/f", b"abcdef")
        os.truncate(d + "/f", 2)
        return repr(open(d + "/f", "rb").read())

    @case("truncate_dir")
    def _(d):
        os.truncate(d, 0)

    @case("truncate_missing")
    def _(d):
        os.truncate(d + "/none", 0)

    @case("ftruncate_read_only")
    def _(d):
        write(d + "/f")
        fd = os.open(d + "/f", os.O_RDONLY)
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    # ---- unlink
    @case("unlink_missing")
    def _(d):
        os.unlink(d + "/none")

    @case("unlink_dir")
    def _(d):
        os.mkdir(d + "/s")
        os.unlink(d + "/s")

    @case("unlink_link_keeps_target")
    def _(d):
        write(d + "/f", b"t")
        os.symlink("f", d + "/l")
        os.unlink(d + "/l")
        return open(d + "/f").read()

    @case("unlink_open_file")
    def _(d):
        write(d + "/f", b"still")
        with open(d + "/f", "rb") as f, open(d + "/f", "rb") as g:
            g.read(2)
            os.unlink(d + "/f")
            data = f.read().decode() + g.read().decode()
        return data + " " + str(os.path.exists(d + "/f"))

    # ---- mkdir and rmdir
    @case("mkdir_existing")
    def _(d):
        os.mkdir(d + "/s")
        os.mkdir(d + "/s")

    @case("mkdir_over_file")
    def _(d):
        write(d + "/f")
        os.mkdir(d + "/f")

    @case("mkdir_missing_parent")
    def _(d):
        os.mkdir(d + "/no/s")

    @case("mkdir_mode_0700")
    def _(d):
        os.mkdir(d + "/s", 0o700)
        return mode(d + "/s")

    @case("rmdir_not_empty")
    def _(d):
        os.mkdir(d + "/s")
        write(d + "/s/f")
        os.rmdir(d + "/s")

    @case("rmdir_file")
    def _(d):
        write(d + "/f")
        os.rmdir(d + "/f")

    @case("rmdir_missing")
    def _(d):
        os.rmdir(d + "/none")

    @case("rmdir_dot")
    def _(d):
        os.mkdir(d + "/s")
        os.rmdir(d + "/s/.")

    @case("rmdir_empty")
    def _(d):
        os.mkdir(d + "/s")
        os.rmdir(d + "/s")
        return os.path.exists(d + "/s")

    # ---- rename
    @case("rename_over_file")
    def _(d):
        write(d + "/a", b"A")
        write(d + "/b", b"B")
        os.rename(d + "/a", d + "/b")
        return open(d + "/b").read() + " " + str(os.path.exists(d + "/a"))

    @case("rename_file_over_dir")
    def _(d):
        write(d + "/a")
        os.mkdir(d + "/s")
        os.rename(d + "/a", d + "/s")

    @case("rename_dir_over_file")
    def _(d):
        os.mkdir(d + "/s")
        write(d + "/a")
        os.rename(d + "/s", d + "/a")

    @case("rename_dir_over_nonempty_dir")
    def _(d):
        os.mkdir(d + "/s")
        os.mkdir(d + "/t")
        write(d + "/t/f")
        os.rename(d + "/s", d + "/t")

    @case("rename_dir_over_empty_dir")
    def _(d):
        os.mkdir(d + "/s")
        write(d + "/s/f", b"in")
        os.mkdir(d + "/t")
        os.rename(d + "/s", d + "/t")
        return open(d + "/t/f").read()

    @case("rename_missing")
    def _(d):
        os.rename(d + "/none", d + "/x")

    @case("rename_into_own_subdir")
    def _(d):
        os.makedirs(d + "/s/sub")
        os.rename(d + "/s", d + "/s/sub/s")

    @case("rename_noreplace_existing")
    def _(d):
        write(d + "/a")
        write(d + "/b")
        renameat2(d + "/a", d + "/b", 1)  # RENAME_NOREPLACE

    @case("rename_to_itself")
    def _(d):
        write(d + "/a", b"same")
        os.rename(d + "/a", d + "/a")
        return open(d + "/a").read()

    @case("rename_keeps_mode")
    def _(d):
        write(d + "/a")
        os.chmod(d + "/a", 0o751)
        os.rename(d + "/a", d + "/b")
        return mode(d + "/b")

    # ---- chmod and chown
    @case("chmod_setuid")
    def _(d):
        write(d + "/f")
        os.chmod(d + "/f", 0o4755)
        return mode(d + "/f")

    @case("chmod_dir_sticky")
    def _(d):
        os.mkdir(d + "/s")
        os.chmod(d + "/s", 0o1777)
        return mode(d + "/s")

    @case("chmod_missing")
    def _(d):
        os.chmod(d + "/none", 0o644)

    @case("chown_file")
    def _(d):
        write(d + "/f")
        os.chown(d + "/f", 1234, 5678)
        st = os.stat(d + "/f")
        return "%d:%d" % (st.st_uid, st.st_gid)

    @case("chown_keeps_with_minus_one")
    def _(d):
        write(d + "/f")
        os.chown(d + "/f", 1234, 5678)
        os.chown(d + "/f", -1, 99)
        st = os.stat(d + "/f")
        return "%d:%d" % (st.st_uid, st.st_gid)

    @case("chown_clears_setuid")
    def _(d):
        write(d + "/f")
        os.chmod(d + "/f", 0o6755)
        os.chown(d + "/f", 1, 1)
        return mode(d + "/f")

    @case("chown_dir")
    def _(d):
        os.mkdir(d + "/s")
        os.chown(d + "/s", 42, 43)
        st = os.stat(d + "/s")
        return "%d:%d" % (st.st_uid, st.st_gid)

    @case("lchown_link")
    def _(d):
        write(d + "/f")
        os.symlink("f", d + "/l")
        os.chown(d + "/l", 7, 8, follow_symlinks=False)
        a, b = os.lstat(d + "/l"), os.stat(d + "/f")
        return "%d:%d %d:%d" % (a.st_uid, a.st_gid, b.st_uid, b.st_gid)

    # ---- link and symlink
    @case("link_file")
    def _(d):
        write(d + "/f", b"L")
        os.link(d + "/f", d + "/g")
        return open(d + "/g").read() + " nlink " + str(os.stat(d + "/g").st_nlink)

    @case("link_dir")
    def _(d):
        os.mkdir(d + "/s")
        os.link(d + "/s", d + "/t")

    @case("link_to_existing")
    def _(d):
        write(d + "/f")
        write(d + "/g")
        os.link(d + "/f", d + "/g")

    @case("link_missing")
    def _(d):
        os.link(d + "/none", d + "/g")

    @case("symlink_existing")
    def _(d):
        write(d + "/f")
        os.symlink("x", d + "/f")

    @case("symlink_empty_target")
    def _(d):
        os.symlink("", d + "/l")

    @case("symlink_read")
    def _(d):
        os.symlink("some/where", d + "/l")
        st = os.lstat(d + "/l")
        return os.readlink(d + "/l") + " " + str(st.st_size)

    @case("readlink_file")
    def _(d):
        write(d + "/f")
        os.readlink(d + "/f")

    @case("mkfifo")
    def _(d):
        os.mkfifo(d + "/p")

    # ---- utimensat
    @case("utime_ns")
    def _(d):
        write(d + "/f")
        os.utime(d + "/f", ns=(1900000000123456789, 1950000000987654321))
        st = os.stat(d + "/f")
        return "%d %d" % (st.st_atime_ns, st.st_mtime_ns)

    @case("utime_omit_atime")
    def _(d):
        write(d + "/f")
        os.utime(d + "/f", ns=(1900000000000000001, 1950000000000000002))
        libc = ctypes.CDLL(None, use_errno=True)

        class ts(ctypes.Structure):
            _fields_ = [("s", ctypes.c_long), ("ns", ctypes.c_long)]
        UTIME_OMIT = (1 << 30) - 2
        t = (ts * 2)(ts(0, UTIME_OMIT), ts(1960000000, 3))
        if libc.utimensat(-100, (d + "/f").encode(), t, 0) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        st = os.stat(d + "/f")
        return "%d %d" % (st.st_atime_ns, st.st_mtime_ns)

    @case("utime_dir")
    def _(d):
        os.mkdir(d + "/s")
        os.utime(d + "/s", ns=(1000000000000000007, 1100000000000000009))
        st = os.stat(d + "/s")
        return "%d %d" % (st.st_atime_ns, st.st_mtime_ns)

    @case("utime_link_nofollow")
    def _(d):
        write(d + "/f")
        os.symlink("f", d + "/l")
        os.utime(d + "/l", ns=(1, 1200000000000000000),
                 follow_symlinks=False)
        return "%d %d" % (os.lstat(d + "/l").st_mtime_ns,
                          os.stat(d + "/f").st_mtime_ns == 1200000000000000000)

    @case("utime_missing")
    def _(d):
        os.utime(d + "/none", None)

    @case("ctime_moves_on_chmod")
    def _(d):
        write(d + "/f")
        c0 = os.stat(d + "/f").st_ctime_ns
        os.utime(d + "/f", ns=(1, 2))  # moves it too
        c1 = os.stat(d + "/f").st_ctime_ns
        os.chmod(d + "/f", 0o600)
        c2 = os.stat(d + "/f").st_ctime_ns
        return "%s %s" % (c1 >= c0, c2 >= c1 and c2 > 2)

    prepare_user()


def prepare_user():
    """What the unprivileged cases act on: root's files and directories."""
    u = os.path.join(ROOT, "user")
    os.mkdir(u)
    os.chmod(u, 0o755)
    write(u + "/rootfile", b"r")
    os.chmod(u + "/rootfile", 0o644)
    write(u + "/secret", b"s")
    os.chmod(u + "/secret", 0o600)
    os.mkdir(u + "/rootdir")
    os.mkdir(u + "/sticky")
    os.chmod(u + "/sticky", 0o1777)
    write(u + "/sticky/roots")
    os.mkdir(u + "/open")
    os.chmod(u + "/open", 0o777)
    write(u + "/open/roots")


def user_cases():
    u = os.path.join(ROOT, "user")

    def uc(name, fn):
        RESULTS.append(("user_" + name, outcome(fn)))

    uc("create_in_root_dir", lambda: write(u + "/new"))
    uc("mkdir_in_root_dir", lambda: os.mkdir(u + "/newdir"))
    uc("rmdir_in_root_dir", lambda: os.rmdir(u + "/rootdir"))
    uc("unlink_in_root_dir", lambda: os.unlink(u + "/rootfile"))
    uc("read_secret", lambda: open(u + "/secret").read())
    uc("read_rootfile", lambda: open(u + "/rootfile").read())
    uc("write_rootfile", lambda: write(u + "/rootfile"))
    uc("chmod_rootfile", lambda: os.chmod(u + "/rootfile", 0o666))
    uc("chown_rootfile", lambda: os.chown(u + "/rootfile", os.getuid(), -1))
    uc("utime_now_rootfile", lambda: os.utime(u + "/rootfile", None))
    uc("utime_set_rootfile", lambda: os.utime(u + "/rootfile", (1, 1)))
    uc("unlink_in_sticky", lambda: os.unlink(u + "/sticky/roots"))
    uc("unlink_in_open_dir", lambda: os.unlink(u + "/open/roots"))

    def own():
        write(u + "/open/mine")
        os.chmod(u + "/open/mine", 0o640)
        st = os.stat(u + "/open/mine")
        return "%d:%d %s" % (st.st_uid, st.st_gid, mode(u + "/open/mine"))
    uc("create_in_open_dir", own)
    uc("chown_own_to_root", lambda: os.chown(u + "/open/mine", 0, -1))
    uc("chgrp_own_to_other", lambda: os.chgrp(u + "/open/mine", 0)
       if hasattr(os, "chgrp") else os.chown(u + "/open/mine", -1, 0))
    uc("utime_set_own", lambda: os.utime(u + "/open/mine", (5, 6)))


if USER:
    user_cases()
else:
    root_cases()
for name, out in RESULTS:
    print("%s: %s" % (name, out))
