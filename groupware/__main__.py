"""``python -m groupware`` is the same as the ``groupware`` command."""

from groupware.cli import run

if __name__ == "__main__":
    run()
