# xtask's observer: records what a Python tool reads, then runs the tool as `python -m` would.
# Usage: python -c <this> <read-set file> -m <module> [args...]
# Each line of the read-set file is "<kind>\t<absolute path>[\t<mtime_ns>:<size>]": r = opened
# for reading (with its stat when opened, so a file changed while the tool ran is noticed),
# l = listed, s = probed (stat: exists? file or folder?). Files under the interpreter's own
# prefixes are left out: the interpreter's identity covers them.
import os
import sys


def _xtask_main():
    out_file = sys.argv[1]
    if sys.argv[2] != "-m":
        raise SystemExit("xtask observer: expected -m <module>")
    module = sys.argv[3]
    prefixes = set()
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        prefixes.add(os.path.realpath(p).rstrip(os.sep) + os.sep)
        prefixes.add(os.path.abspath(p).rstrip(os.sep) + os.sep)
    skip = tuple(sorted(prefixes)) + ("/dev/", "/proc/", "/sys/")
    seen = {}
    busy = [False]
    real_stat, real_lstat = os.stat, os.lstat
    abspath = os.path.abspath
    fspath = os.fspath

    def note(kind, path):
        if busy[0]:
            return
        busy[0] = True
        try:
            if path is None:
                path = "."
            if isinstance(path, int):
                return
            path = fspath(path)
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if path.startswith("<"):
                return  # "<string>", "<frozen runpy>": code without a file
            path = abspath(path)
            if path.startswith(skip):
                return
            kinds = seen.setdefault(path, {})
            if kind not in kinds:
                stamp = ""
                if kind == "r":
                    try:
                        st = real_stat(path)
                        stamp = "%d:%d" % (st.st_mtime_ns, st.st_size)
                    except OSError:
                        pass
                kinds[kind] = stamp
        except Exception:
            pass
        finally:
            busy[0] = False

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if mode is not None and any(c in mode for c in "wax+"):
                return
            if mode is None and flags is not None and flags & (os.O_WRONLY | os.O_RDWR):
                return
            note("r", path)
        elif event in ("os.listdir", "os.scandir"):
            note("l", args[0])

    # Files probed with os.stat (config discovery: is there a pytest.ini here?) raise no audit
    # event; wrap the Python-level functions every probe goes through.
    def stat(path, *a, **k):
        note("s", path)
        return real_stat(path, *a, **k)

    def lstat(path, *a, **k):
        note("s", path)
        return real_lstat(path, *a, **k)

    os.stat, os.lstat = stat, lstat

    # What the interpreter read before this hook existed: modules imported at start-up
    # (sitecustomize, usercustomize, what .pth files import) and the folders searched for them.
    for name, m in list(sys.modules.items()):
        f = getattr(m, "__file__", None)
        if f:
            note("r", f)
    # A new sitecustomize.py in any of them is then a changed listing.
    for entry in sys.path:
        note("l", entry or ".")

    def write():
        with open(out_file + ".tmp", "w", encoding="utf-8", errors="surrogateescape") as f:
            for path, kinds in sorted(seen.items()):
                for kind, stamp in sorted(kinds.items()):
                    f.write(kind + "\t" + path + ("\t" + stamp if stamp else "") + "\n")
        os.replace(out_file + ".tmp", out_file)

    sys.addaudithook(hook)
    # As `python -m`: `-c` already put the working folder first on sys.path.
    sys.argv = [module] + sys.argv[4:]
    import runpy

    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        busy[0] = True
        write()


_xtask_main()
