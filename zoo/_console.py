"""A quiet, readable console for the zoo's command lines (issue 17).

TensorFlow and the libraries around it (LiteRT, tf2onnx) print C++ INFO/WARNING log lines
(``I0000 ... port.cc:153] oneDNN custom operations are on ...``), absl's notice ``WARNING: All
log messages before absl::InitializeLog() is called are written to STDERR``, Python INFO logs
(``I1202 ... functional_saver.py:440] Sharding callback duration``) and deprecation warnings
among a command's own output. ``TF_CPP_MIN_LOG_LEVEL=2`` hides most of the C++ lines but not
those absl writes before TensorFlow initialises its logging (TF 2.21 prints them at import and
again when a second TensorFlow library loads), so :func:`quiet` also filters the process's
stderr (file descriptor 2, which C++ writes to) by pattern. ERROR and FATAL lines always pass.

**One place for every entry point.** ``import zoo`` (``zoo/__init__.py``) calls
:func:`configure` before anything imports TensorFlow. It quiets the console when the running
program is one of the zoo's command lines: ``python -m zoo.<module>`` (``zoo.track``,
``zoo.demo``, ...) or a script in the repository's ``recipes/``, ``export/``, ``datasets/`` or
``benchmarks/``. ``--verbose`` on the command line (or ``ZOO_VERBOSE=1``) shows everything. A
program of your own that imports zoo is left alone (call :func:`quiet` to get the same).

Example:
    >>> import zoo._console
    >>> zoo._console.is_hidden("I0000 00:00:1796.1   18757 port.cc:153] oneDNN custom operations")
    True
    >>> zoo._console.is_hidden("step      0  val NME 12.07%")
    False
"""
import atexit
import faulthandler
import logging
import os
import re
import sys
import threading
import warnings

SCRIPT_FOLDERS = ("recipes", "export", "datasets", "benchmarks")
"""Folders of the repository whose scripts are zoo command lines."""

VERBOSE_HELP = ("Show TensorFlow's C++ INFO/WARNING logs and library deprecation notices "
                "(hidden by default).")

# Whole lines (or the tail of a line that a progress bar started) that are never shown.
_HIDDEN = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    # absl / glog C++ lines at INFO or WARNING: I0000 00:00:1796179131.170941   18757 port.cc:153]
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+\.(?:cc|cpp|cxx|c|h):\d+\] .*"
    # the second line of cpu_feature_guard.cc's notice
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\."
    # LiteRT's interpreter notices
    r"|INFO: (?:Created TensorFlow Lite XNNPACK delegate for CPU|Initialized TensorFlow Lite "
    r"runtime)\."
    # ONNX Runtime's own INFO/WARNING lines (coloured): 2026-12-02 02:52:43.82 [W:onnxruntime:...
    r"|(?:\x1b\[[0-9;]*m)?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[[IW]:onnxruntime:.*")
_STARTS_HIDDEN = re.compile(r"WARNING: All log|[IW]\d{4} \d\d:|To enable the following|INFO: "
                            r"|(?:\x1b\[[0-9;]*m)?\d{4}-\d\d-\d\d ")

# Python-side notices: deprecations raised inside these libraries, and their INFO loggers.
_LIBRARIES = (r"(?:tensorflow|tf_keras|keras|tf2onnx|onnx|onnxruntime|ai_edge_litert|google|absl"
              r"|h5py)")
# TensorFlow logs its deprecation notices ("... is deprecated ... Instructions for updating:")
# and export chatter at INFO/WARNING; errors still show.
_LOGGERS = ("tensorflow", "tf2onnx", "h5py")

_state = {"quiet": False, "filter": None}


def is_hidden(line):
    """Whether a stderr line is one of the library notices :func:`quiet` hides.

    Args:
        line: one line of text (str or bytes), without or with its newline.

    Returns:
        bool.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    return _HIDDEN.fullmatch(line.rstrip("\r\n")) is not None


def _strip_hidden(line):
    """``(kept, hidden)``: ``line`` (bytes, no newline) without a notice that ends it.

    A notice can follow a progress bar's partial line (``train: 0%|...I0000 ... port.cc``);
    then the bar's part is kept, without the newline that ended the notice.
    """
    text = line.decode("utf-8", "replace")
    match = _HIDDEN.search(text)
    if match is None or match.end() != len(text.rstrip("\r")):
        return line, False
    return text[:match.start()].encode("utf-8"), True


class _StderrFilter:
    """Sends file descriptor 2 through a pipe; a thread copies it to the real stderr, minus
    the lines :func:`is_hidden` matches. Crash tracebacks (``faulthandler``) bypass it."""

    def __init__(self):
        self.real_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._read_fd = read_fd
        self._crash_file = os.fdopen(os.dup(self.real_fd), "w")
        faulthandler.enable(file=self._crash_file)
        self._thread = threading.Thread(target=self._pump, name="zoo-stderr-filter", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _write(self, data):
        while data:
            written = os.write(self.real_fd, data)
            data = data[written:]

    def _pump(self):
        pending = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = []
            for line in lines:
                kept, hidden = _strip_hidden(line)
                out.append(kept if hidden else kept + b"\n")
            # A partial line (a progress bar) goes out at once unless a notice starts in it.
            if pending and not _STARTS_HIDDEN.search(pending.decode("utf-8", "replace")):
                out.append(pending)
                pending = b""
            if out:
                self._write(b"".join(out))
        if pending:
            self._write(_strip_hidden(pending)[0])

    def close(self):
        """Restores fd 2 and lets the thread copy what is left (at exit)."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.real_fd, 2)  # closes the pipe's last write end (unless a child holds it)
        self._thread.join(timeout=2.0)


def _argv_says_verbose(argv):
    for arg in argv:
        if arg in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1"):
            return True
    return False


def wants_verbose(argv=None):
    """``--verbose`` in ``argv`` (default ``sys.argv``) or ``ZOO_VERBOSE=1`` in the environment."""
    argv = sys.argv[1:] if argv is None else argv
    return _argv_says_verbose(argv) or os.environ.get("ZOO_VERBOSE", "").lower() in (
        "1", "true", "yes")


def quiet():
    """Hides TensorFlow's C++ INFO/WARNING lines, library INFO logs and deprecation notices.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set; it must come before TensorFlow is
    imported), filters file descriptor 2 (see the module docstring), ignores
    ``DeprecationWarning``/``FutureWarning`` raised inside TensorFlow, Keras, tf2onnx, ONNX,
    LiteRT, protobuf, absl and h5py, and sets the TensorFlow, tf2onnx and h5py loggers to ERROR.
    The zoo's own warnings and every ERROR still show. Safe to call more than once.

    Returns:
        None.
    """
    if _state["quiet"]:
        return
    _state["quiet"] = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARIES + r"(\.|$)")
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        _state["filter"] = _StderrFilter()
    except OSError:  # no usable fd 2 (a detached process): nothing to filter
        _state["filter"] = None


def is_entry_point(orig_argv=None, main_file=None):
    """Whether the running program is one of the zoo's command lines.

    Args:
        orig_argv: the interpreter's command line (default ``sys.orig_argv``).
        main_file: the ``__main__`` script (default ``sys.modules["__main__"].__file__``).

    Returns:
        True for ``python -m zoo.<module>`` and for a script in the repository's
        ``recipes/``, ``export/``, ``datasets/`` or ``benchmarks/`` folders.
    """
    orig_argv = list(getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv)
    index = 1
    while index < len(orig_argv):
        arg = orig_argv[index]
        if arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            module = arg[2:] or (orig_argv[index + 1] if index + 1 < len(orig_argv) else "")
            return module == "zoo" or module.startswith("zoo.")
        if arg in ("-c", "-") or not arg.startswith("-"):
            break  # a command string, stdin or the script itself
        index += 2 if arg in ("-X", "-W") else 1  # options that take a value
    if main_file is None:
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file:
        return False
    folder = os.path.dirname(os.path.realpath(main_file))
    repository = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return (os.path.basename(folder) in SCRIPT_FOLDERS
            and os.path.dirname(folder) == repository)


def define_verbose_flag():
    """Defines the absl flag ``--verbose`` (the absl scripts' parser rejects unknown flags).

    With ``allow_override``, so a script that defines its own ``--verbose`` replaces it.
    """
    from absl import flags

    if "verbose" not in flags.FLAGS:
        flags.DEFINE_boolean("verbose", False, VERBOSE_HELP, allow_override=True)


def configure():
    """Called by ``import zoo``: quiets the console of a zoo command line unless ``--verbose``.

    Returns:
        True when the console was quieted.
    """
    if not is_entry_point():
        return False
    try:
        define_verbose_flag()
    except ImportError:
        pass
    if wants_verbose():
        return False
    quiet()
    return True
