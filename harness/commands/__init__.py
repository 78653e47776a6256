"""Sub-commands of ``harness``. Each module exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (taking the parsed args, returning an exit code)."""
