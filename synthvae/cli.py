"""The ``synthvae`` command: one verb per job.

stdout carries data only (CSV rows, schema JSON, evaluation figures); progress and
messages go to stderr. Bad input ends with one ``error: ...`` line and exit status 1
(bad data) or 2 (bad usage, click's own parse errors included); Ctrl-C ends with 130.
``--debug`` shows the traceback instead. TensorFlow is
imported only by the verbs that need it, so ``--help`` answers at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
import warnings

import click

from synthvae.errors import SynthVAEError

DEFAULT_MODEL = "model.synthvae"


def _fail(message, code):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _friendly(func):
    """Turn synthvae's own errors (and Ctrl-C) into one line and an exit status."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except SynthVAEError as exc:
            if debug:
                raise
            _fail(str(exc), exc.exit_code)
        except FileNotFoundError as exc:
            if debug:
                raise
            _fail(f"no such file: {exc.filename}", 1)
        except KeyboardInterrupt:
            _fail("interrupted; nothing was written", 130)
        except BrokenPipeError:
            # The reader (head, less) went away: not an error for a data producer.
            sys.stderr.close()
            os._exit(0)
        except OSError as exc:
            # The file system failed (a full disk, no permission) where no writer named it.
            if debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}", 1)

    return wrapper


# click >= 8.2 signals a bare "synthvae" with this error; it shows the help.
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _OneLineGroup(click.Group):
    """A group whose usage errors (unknown option, out-of-range value) are one
    ``error: ...`` line and exit status 2, like synthvae's own errors."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NoArgsIsHelp as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _fail(_usage_message(exc), exc.exit_code)
        except click.exceptions.Abort:
            _fail("interrupted; nothing was written", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


def _usage_message(exc):
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


@click.group(cls=_OneLineGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show full tracebacks and TensorFlow's own log lines.")
@click.version_option(package_name="synthvae", message="synthvae %(version)s")
def main(debug):
    """Synthetic rows for a table, learned by a variational autoencoder.

    \b
    Typical use:
      synthvae fit data.csv                 learn the table, write ./model.synthvae
      synthvae sample 10000 > synth.csv     new rows, CSV with a header on stdout
      synthvae schema data.csv > s.json     see (and edit) how columns are read
      synthvae inspect model.synthvae       review what a model file holds
      synthvae report data.csv synth.csv    compare them in report.html

    Every command prints data on stdout and everything else on stderr. Exit
    status: 0 success, 1 bad data or file, 2 bad usage, 130 interrupted.
    """
    if debug:
        os.environ["SYNTHVAE_DEBUG"] = "1"


@main.command()
@click.argument("data", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--model", "model_path", default=DEFAULT_MODEL, show_default=True,
              help="Where to write the model file (written to a temporary name, then renamed).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Most passes over the data (training stops earlier once the held-out loss stops improving).  "
                   "[default: from the table's size: 300 up to 1,000 rows, 100 from 5,000 rows up]")
@click.option("--seed", type=int, default=None,
              help="Random seed: the same seed on the same data gives the same model.")
@click.option("--schema", "schema_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Schema JSON (as written by 'synthvae schema') to use instead of inferring one.")
@click.option("--encoding", type=click.Choice(["quantile", "mode"]), default=None,
              help="How numbers and dates are encoded: normal scores by quantile, or Gaussian-mixture modes.  [default: quantile]")
@click.option("--strategy", type=click.Choice(["mirrored", "multiworker"]), default=None,
              help="Data-parallel training with TensorFlow: 'mirrored' over all GPUs of this machine, "
                   "'multiworker' over the workers named in TF_CONFIG (every worker runs the same command; "
                   "only the chief writes the model).  [default: Keras' default device]")
@click.option("--precision", type=click.Choice(["float32", "mixed"]), default="float32", show_default=True,
              help="'mixed': train in float16 on a GPU (bfloat16 on a CPU), losses in float32. "
                   "The model file is float32 either way.")
@click.option("--stream/--no-stream", default=None,
              help="Read DATA in chunks instead of whole: transformers are fitted on a random sample of "
                   "200,000 rows and each epoch streams the table, so memory stays bounded.  "
                   "[default: DATA is read whole when its first rows say that fits well in the memory "
                   "available; else in chunks, and its float32 matrix is held in memory when that fits, "
                   "else streamed]")
@click.option("--no-value-protection", "unprotected", is_flag=True,
              help="Keep rare categories (seen in fewer than 5 rows), exact extremes and exact counts in the "
                   "model, which protection withholds by default because such values can identify people.")
@click.option("--epsilon", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Train with differential privacy spending this epsilon (adding or removing one row). "
                   "Needs --schema declaring the columns' kinds; levels, ranges, quantiles and missing rates not declared "
                   "are released with noise for a tenth of epsilon. Every epoch runs on all rows.")
@click.option("--delta", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
              help="The delta of --epsilon.  [default: 1 / (10 x rows)]")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@_friendly
def fit(data, model_path, epochs, seed, schema_path, encoding, quiet, strategy, precision, stream, unprotected,
        epsilon, delta):
    """Learn the table in DATA (a CSV or Parquet file, or a folder of such parts) and
    write a model file.

    Column kinds are inferred (see 'synthvae schema'); '?', 'NA' and empty cells
    are missing values. Progress goes to stderr: one line updated in place on a
    terminal, a line per epoch into a file or a pipe.
    """
    from synthvae.estimator import SynthVAE
    from synthvae.io import read_table
    from synthvae.schema import load_schema

    from synthvae.errors import UsageError

    if os.path.isdir(model_path):  # found before training, not after
        from synthvae.errors import DataError

        raise DataError(f"cannot write {model_path}: it is a folder; give a file name")
    hold = False  # --stream: read the table again each epoch
    if epsilon is not None and schema_path is None:
        raise UsageError("--epsilon needs --schema FILE declaring the columns and their kinds (levels and ranges "
                         "are released with noise unless declared): inferring them would read the private data")
    if delta is not None and epsilon is None:
        raise UsageError("--delta is only used with --epsilon")
    if epsilon is not None and stream:
        raise UsageError("--epsilon trains on a table in memory: drop --stream")
    if epsilon is not None:
        stream = False
    if stream is None:
        from synthvae.stream import read_whole

        stream, hold = not read_whole(data), None
    frame = None if stream else read_table(data)
    schema = load_schema(schema_path) if schema_path else None
    params = {"random_state": seed, "verbose": not quiet}
    if epochs is not None:
        params["epochs"] = epochs
    if encoding is not None:
        params["encoding"] = encoding
    if strategy is not None:
        params["strategy"] = strategy
    if precision != "float32":
        params["precision"] = precision
    if unprotected:
        from synthvae.estimator import UNPROTECTED_WARNING

        params["value_protection"] = False
        click.echo(f"warning: {UNPROTECTED_WARNING}", err=True)
    if epsilon is not None:
        params.update(epsilon=epsilon, delta=delta)
        if schema.rules is None and not quiet:
            click.echo("note: with --epsilon no rules are discovered in the rows (that would read them without "
                       "noise); rules declared in the schema file are kept", err=True)
    with _interrupt_sticks() as interrupted, warnings.catch_warnings():
        # Said once above, in the command's own words.
        warnings.filterwarnings("ignore", message="value protection is off")
        if stream:
            model = SynthVAE(**params).fit_stream(data, schema=schema, hold=hold)
        else:
            model = SynthVAE(**params).fit(frame, schema=schema)
        if interrupted():
            raise KeyboardInterrupt
    if not model.is_chief_:
        # A multi-worker non-chief trained its share; the chief writes the model.
        if not quiet:
            click.echo("worker done (the chief writes the model)", err=True)
        return
    model.save(model_path)
    if model.privacy_ is not None:  # the ledger's line, even with --quiet
        from synthvae.accounting import Ledger

        click.echo(Ledger(**model.privacy_).summary(), err=True)
    if not quiet:
        click.echo(f"wrote {model_path} ({model.n_rows_} rows, {len(model.schema_.names)} columns learned)", err=True)


@contextlib.contextmanager
def _interrupt_sticks():
    """Ctrl-C during fit raises KeyboardInterrupt as usual and also sets a flag that
    training checks after every epoch and fit checks before anything is written, so an
    interrupt that library code swallowed still stops the command."""
    from synthvae.backend import import_keras

    import_keras()  # with TensorFlow's start-up noise silenced, before training imports it
    from synthvae import training

    def on_sigint(signum, frame):
        training.stop_at_epoch_end()
        raise KeyboardInterrupt

    training.clear_stop()
    if threading.current_thread() is not threading.main_thread():
        yield training.stop_requested  # only the main thread may set signal handlers (and receives SIGINT)
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield training.stop_requested
    finally:
        signal.signal(signal.SIGINT, previous)


# Unknown options are let through so that "sample -5" reaches the count check
# (and its message) instead of being read as an option named -5.
@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("n", type=str)
@click.option("-m", "--model", "model_path", default=DEFAULT_MODEL, show_default=True,
              help="Model file written by 'synthvae fit'.")
@click.option("--seed", type=int, default=None,
              help="Random seed of this draw: the same seed gives byte-identical output.")
@click.option("-o", "--output", type=click.Path(path_type=str), default=None,
              help="Write here instead of stdout; '.parquet' names give Parquet, others CSV.")
@click.option("--argmax", is_flag=True,
              help="Give each categorical column its most likely value instead of drawing one.")
@click.option("--shard", "shard_text", default=None, metavar="I/K",
              help="Write only shard I of K, counted from 1 (1/4 .. 4/4): a complete file with the header "
                   "holding rows N*(I-1)//K to N*I//K. The K shards' rows in order are exactly those of "
                   "'sample N' with the same seed, so each can run on its own machine. Needs a seed "
                   "(--seed, or one given to 'fit').")
@click.option("--where", "where", multiple=True, metavar="COND",
              help="Only rows where COND holds, e.g. \"sex=Female\" or \"age>=40\" (==, =, != on categories; "
                   ">=, <=, >, < on numbers and dates). Repeat to AND several.")
@click.option("--reject-copies", "reject_copies", type=click.Path(dir_okay=True, path_type=str), default=None,
              help="Replace rows that equal, or nearly equal, a row of this table (e.g. the training data) "
                   "by further draws; the count replaced goes to stderr.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads making rows.  [default: one per core]  The rows are the same for any number.")
@_friendly
def sample(n, model_path, seed, output, argmax, shard_text, where, reject_copies, threads):
    """Write N new rows (CSV with a header) to stdout or --output.

    Each column is written as the training file wrote it (its missing cell, decimals,
    spellings, date format: the schema's written formats), in the file's layout; a
    .parquet output keeps the training file's Arrow types.

    Rows are made and written in chunks, so any N runs in bounded memory.
    With --where every row satisfies every condition: a condition text that cannot
    be read is a usage error (exit 2); one the model says can never hold (unknown
    column or value, empty range) is a data error (exit 1), found before any rows
    are made. Category values match exactly, else ignoring surrounding spaces.
    """
    # Rows are made on one thread per core (--threads), each running its own matrix
    # products: BLAS's threads would only compete with them. Set before NumPy loads.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    _keep_freed_memory()
    from synthvae.errors import UsageError
    from synthvae.io import integer_columns_for_output, output_format, renderer, write_rendered
    from synthvae.sampling import Sampler

    count = _parse_count(n)
    shard = None
    if shard_text is not None:
        from synthvae.shard import parse_shard

        shard = parse_shard(shard_text)
    if where:
        from synthvae.condition_parsing import normalize

        normalize(where=list(where))  # malformed text is a usage error before the model loads
    if output is not None and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise UsageError(f"cannot write {output}: the folder {os.path.dirname(output) or '.'} does not exist")
    model = Sampler.load(model_path)
    if seed is None:
        seed = model.random_state
    if shard is not None and seed is None:
        raise UsageError("--shard needs --seed (this model was fitted without one): "
                         "shards drawn with fresh randomness would not fit together")
    fmt = output_format(output)
    guard = None
    if reject_copies is not None:
        from synthvae.copyguard import CopyGuard

        if model.privacy is not None:
            click.echo("warning: --reject-copies compares the rows drawn with the rows given, so which rows it "
                       "replaces depends on them: its output is not covered by the model's differential privacy",
                       err=True)
        from synthvae.io import read_table

        guard = CopyGuard(read_table(reject_copies), model.schema, name=os.path.basename(reject_copies))
    integer_columns = _integer_columns(model)
    parts = model.iter_sample(count, random_state=seed, argmax=argmax, start=0, stop=count, shard=shard,
                              where=list(where), reject_copies=guard, threads=threads,
                              render=renderer(fmt, integer_columns, model.schema))
    header = integer_columns_for_output(model.sample(0), integer_columns)
    write_rendered(parts, output if output is not None else sys.stdout, fmt, header, model.schema)
    if guard is not None:
        click.echo(guard.message(), err=True)


def _keep_freed_memory():
    """Have the C allocator keep the memory a chunk of rows frees for the next chunk.

    Every chunk makes the same large temporaries (a few megabytes each). By default
    glibc returns them to the system when they are freed and takes fresh pages again
    for the next chunk: on Adult about 160,000 page faults and a tenth of the CPU time
    for a million rows, in the kernel, where the threads making rows also wait for each
    other. Keeping up to 256 MiB of freed memory, and serving blocks of up to 32 MiB
    from it, cuts that to a quarter. Only this command's own process is tuned; other
    C libraries have no such setting, and are left as they are."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or no mallopt in it
        return
    trim_threshold, mmap_threshold = -1, -3  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD in <malloc.h>
    mallopt(trim_threshold, 256 << 20)
    mallopt(mmap_threshold, 32 << 20)


def _integer_columns(model):
    return [c.name for c in model.schema.columns if c.kind == "integer"]


def _parse_count(text):
    from synthvae.errors import UsageError
    from synthvae.sampling import MAX_ROWS

    try:
        count = int(text)
    except ValueError:
        raise UsageError(f"N must be a whole number of rows, got {text!r}") from None
    if count < 0:
        raise UsageError(f"N must be 0 or more, got {count}")
    if count > MAX_ROWS:
        raise UsageError(f"N must be at most 10**12 (1000000000000), got {text.strip()[:40]!r}")
    return count


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=True, path_type=str), default=DEFAULT_MODEL)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (every level listed).")
@_friendly
def inspect(model_path, as_json):
    """Print what the model file MODEL holds, to review it before it is shared:
    columns, kinds and formats, the values kept (category levels, ranges, table sizes),
    rules between columns, the protection applied, training, parameters and versions.

    The file is checked as 'sample' checks it; no network is built.
    """
    from synthvae.inspection import describe_model, format_description

    info = describe_model(model_path)
    click.echo(json.dumps(info, indent=2, ensure_ascii=False) if as_json else format_description(info))


@main.command()
@click.argument("data", type=click.Path(dir_okay=True, path_type=str))
@_friendly
def schema(data):
    """Print the schema inferred for DATA as JSON, with the rules its rows obey.

    Edit it (a column's kind, say; delete, edit or add a rule) and pass it to
    'synthvae fit --schema FILE'. It validates against schemas/table.schema.json.
    Columns of kind "personal" (names, e-mail addresses, phone numbers, free text)
    are regenerated as new values, never learned; stderr names them.
    """
    from synthvae.io import read_table
    from synthvae.rules import discover
    from synthvae.schema import infer_schema

    frame = read_table(data)
    inferred = infer_schema(frame)
    inferred.rules = discover(frame, inferred)
    click.echo(inferred.to_json())
    personal = [f"{c.name} ({c.personal})" for c in inferred.columns if c.kind == "personal"]
    if personal:
        click.echo(f"personal columns, regenerated and never learned: {', '.join(personal)} "
                   "(set their kind to categorical to learn them)", err=True)


def _comparison_inputs(func):
    """REAL, SYNTH, --holdout, --target and --schema: what 'evaluate' and 'report' read."""
    decorators = [
        click.argument("real", type=click.Path(dir_okay=True, path_type=str)),
        click.argument("synth", type=click.Path(dir_okay=True, path_type=str)),
        click.option("--holdout", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Real rows not used for training: enables efficacy, detection and privacy figures."),
        click.option("--target", default=None, help="Column to predict for the efficacy figure (needs --holdout)."),
        click.option("--schema", "schema_path", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Schema JSON to read column kinds from instead of inferring them from REAL."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _read_comparison(real, synth, holdout, target, schema_path):
    """The keyword arguments of metrics.evaluate, read from the files named on the command line."""
    from synthvae.io import read_table
    from synthvae.schema import load_schema

    return {
        "real": read_table(real),
        "synth": read_table(synth),
        "holdout": read_table(holdout) if holdout else None,
        "target": target,
        "schema": load_schema(schema_path) if schema_path else None,
    }


@main.command()
@_comparison_inputs
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_friendly
def evaluate(real, synth, holdout, target, schema_path, as_json):
    """Score SYNTH against REAL: column shapes, pair trends, and with --holdout
    machine-learning efficacy, detectability and privacy (distance to closest record)."""
    from synthvae.metrics import evaluate as run_evaluation
    from synthvae.metrics import format_report

    result = run_evaluation(**_read_comparison(real, synth, holdout, target, schema_path))
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@main.command()
@_comparison_inputs
@click.option("-o", "--output", type=click.Path(path_type=str), default="report.html",
              show_default=True, help="Where to write the HTML page (written to a temporary name, then renamed).")
@_friendly
def report(real, synth, holdout, target, schema_path, output):
    """Write one self-contained HTML page comparing SYNTH with REAL.

    The page holds the figures of 'synthvae evaluate' with what each means, a
    real-versus-synthetic plot per column, the pair-trend matrices as heatmaps and,
    with --holdout, the distance-to-closest-record histograms. Images are embedded:
    the file opens offline.
    """
    from synthvae.report import write_report

    title = f"{os.path.basename(synth)} against {os.path.basename(real)}"
    write_report(path=output, title=title, **_read_comparison(real, synth, holdout, target, schema_path))
    click.echo(f"wrote {output}", err=True)
