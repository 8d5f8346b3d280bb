"""Writing fails cleanly: a full disk, a read-only or forbidden folder, or a path that is a
folder is one error naming the path and the cause; nothing half-written is left and an
earlier file at the path is intact. Faults are simulated (the tests run as root, where
file modes do not stop a write)."""

import errno
import zipfile

import pytest
from click.testing import CliRunner

from synthvae.cli import main
from synthvae.errors import DataError
from synthvae.io import atomic_path, write_chunks


def fault(code):
    def raise_it(*args, **kwargs):
        raise OSError(code, "simulated")

    return raise_it


@pytest.fixture(scope="module")
def model_file(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "m.synthvae"
    fitted.save(path)
    return path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    "code, words",
    [(errno.ENOSPC, "no space left"), (errno.EROFS, "the file system is read-only"), (errno.EACCES, "permission denied")],
)
def test_a_failing_folder_is_one_error_naming_path_and_cause(tmp_path, monkeypatch, code, words):
    import tempfile

    target = tmp_path / "out.csv"
    target.write_text("earlier\n")
    monkeypatch.setattr(tempfile, "mkstemp", fault(code))
    with pytest.raises(DataError, match=f"cannot write {target}: {words}"):
        with atomic_path(target):
            pass
    assert target.read_text() == "earlier\n" and not leftovers(tmp_path)


def test_a_path_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="it is a folder"):
        with atomic_path(tmp_path):
            pass


def test_full_disk_while_saving_a_model_keeps_the_earlier_file(fitted, model_file, tmp_path, monkeypatch):
    target = tmp_path / "model.synthvae"
    target.write_bytes(model_file.read_bytes())
    before = target.read_bytes()
    monkeypatch.setattr(zipfile.ZipFile, "writestr", fault(errno.ENOSPC))
    with pytest.raises(DataError, match=f"cannot write {target}: no space left on the device"):
        fitted.save(target)
    assert target.read_bytes() == before and not leftovers(tmp_path)


def test_full_disk_while_writing_rows(fitted, tmp_path, monkeypatch):
    from synthvae import io as sio

    target = tmp_path / "synth.csv"
    target.write_text("earlier\n")
    monkeypatch.setattr(sio, "_csv_body", fault(errno.ENOSPC))
    with pytest.raises(DataError, match=f"cannot write {target}: no space left"):
        write_chunks(fitted.iter_sample(100, random_state=0), target, "csv")
    assert target.read_text() == "earlier\n" and not leftovers(tmp_path)


def one_line(result, *words, out=""):
    assert result.exit_code == 1, result.stderr
    assert result.stdout == out
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_command_line_sample_and_report_write_failures(model_file, tmp_path, monkeypatch):
    from synthvae import io as sio

    runner = CliRunner()
    one_line(runner.invoke(main, ["sample", "5", "-m", str(model_file), "-o", str(tmp_path)]), str(tmp_path), "folder")
    monkeypatch.setattr(sio, "_csv_body", fault(errno.ENOSPC))
    target = tmp_path / "s.csv"
    one_line(runner.invoke(main, ["sample", "5", "-m", str(model_file), "-o", str(target)]), str(target), "no space")
    assert not target.exists() and not leftovers(tmp_path)
    # What went out before the disk filled cannot be taken back: the header, here.
    piped = runner.invoke(main, ["sample", "5", "-m", str(model_file)])
    one_line(piped, "standard output", "no space", out=piped.stdout)
    assert piped.stdout.count("\n") == 1


def test_command_line_fit_to_a_folder_stops_before_training(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,k\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(30)))
    result = CliRunner().invoke(main, ["fit", str(data), "-o", str(tmp_path), "--epochs", "1", "-q"])
    one_line(result, str(tmp_path), "it is a folder")


def test_report_to_a_full_disk(tmp_path, monkeypatch, mixed_frame):
    import pathlib

    from synthvae.report import write_report

    target = tmp_path / "report.html"
    target.write_text("earlier")
    monkeypatch.setattr(pathlib.Path, "write_text", fault(errno.ENOSPC))
    real = mixed_frame.drop(columns=["id"]).head(120)
    with pytest.raises(DataError, match=f"cannot write {target}: no space left"):
        write_report(real, real.sample(frac=1, random_state=0), target)
    monkeypatch.undo()
    assert target.read_text() == "earlier" and not leftovers(tmp_path)
