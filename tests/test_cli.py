"""The stn-np command line: the gradcheck table, exit statuses, one-line errors."""

import subprocess
import sys

from stn_np.checks import all_cases
from stn_np.cli import main


def test_gradcheck_lists_every_op_and_exits_zero(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for case in all_cases():
        assert any(line.split()[:1] == [case.name] and line.rstrip().endswith("OK") for line in out.splitlines()), case.name
    assert f"{len(all_cases())}/{len(all_cases())} ops passed" in out


def test_gradcheck_single_op_and_seed(capsys):
    assert main(["gradcheck", "--op", "matmul", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "matmul" in out and "1/1 ops passed (seed 7)" in out


def test_gradcheck_failure_exits_one(capsys, monkeypatch):
    from stn_np import Function, checks
    from stn_np.cli import gradcheck as gradcheck_cli

    class Wrong(Function):
        """z = 2x with the wrong backward g."""

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return g

    wrong = checks.Case("wrong", Wrong.apply, lambda rng: (rng.standard_normal(3),))
    monkeypatch.setattr(gradcheck_cli, "get_case", lambda name: wrong)
    assert main(["gradcheck", "--op", "wrong", "-v"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "0/1 ops passed" in out and "numerical" in out


def test_errors_are_one_line_with_status_two(capsys):
    assert main(["gradcheck", "--op", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stn-np: error: --op: expected one of ") and "got 'nope'" in err and err.count("\n") == 1
    assert main(["gradcheck", "--seed", "x"]) == 2
    err = capsys.readouterr().err
    assert "invalid int value" in err and err.count("\n") == 1
    assert main([]) == 2


def test_console_script_runs_as_module():
    proc = subprocess.run([sys.executable, "-m", "stn_np.cli", "gradcheck", "--op", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
