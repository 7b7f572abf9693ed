"""README.md is the front door: its commands match CI and its Python examples run."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_ci_runs_exactly_the_readme_test_command():
    readme = read("README.md")
    setup_block = re.search(r"## Set up and prove it.*?```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(setup_block) == 2, "README's set-up block holds exactly two commands"
    install_and_main, test_command = setup_block
    assert install_and_main.startswith('python -m pip install -e ".[test]"')
    ci_lines = [line for line in read(".ci", "run").splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test_command
    assert 'python -m pip install -e ".[test]"' in ci_lines


def test_readme_python_examples_run():
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", read("README.md"), re.S):
        exec(compile(block, "README.md", "exec"), namespace)
